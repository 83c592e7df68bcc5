"""Every ```python block of README.md and docs/**/*.md runs.

A block is self-contained unless the line right before its fence is an HTML
comment with directives (several are separated by ``;``):

- ``<!-- continue -->``: the block continues the previous ```python block of
  the same page; the chain runs in one namespace, as one test.
- ``<!-- slow -->``: the block (and so its chain) is marked ``slow``.
- ``<!-- no-run: reason -->``: the block is collected and skipped with that
  reason (for code that needs a GPU, a server or several machines).

Blocks run in this process, in a fresh temporary working directory, with the
Keras session cleared and the float32 policy restored afterwards, so a block
writes nothing outside its directory and leaves no state behind. The default
``python -m pytest`` runs the fast chains; ``-m slow`` runs the rest.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
DIRECTIVE = re.compile(r"^\s*<!--(.*)-->\s*$")
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")
KNOWN = ("continue", "slow", "no-run")


@dataclasses.dataclass
class Block:
    page: Path
    index: int  # the block's position among the page's python blocks, from 0
    line: int  # 1-based line of the first code line
    source: str
    directives: dict[str, str]


def _directives(comment_line: str) -> dict[str, str]:
    match = DIRECTIVE.match(comment_line)
    if not match:
        return {}
    found = {}
    parts = match.group(1).split(";")
    for i, part in enumerate(parts):
        name, _, value = part.strip().partition(":")
        name = name.strip()
        if name == "no-run":  # the reason is the rest of the comment, ";" included
            found[name] = ";".join([value, *parts[i + 1:]]).strip()
            break
        if name in KNOWN:
            found[name] = value.strip()
    return found


def python_blocks(page: Path) -> list[Block]:
    """The ```python blocks of a page, with the directives on the line before each fence."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence, info = match.groups()
        body, j = [], i + 1
        while j < len(lines) and not (
            lines[j].strip().startswith(fence[0] * len(fence)) and lines[j].strip().strip(fence[0]) == ""
        ):
            body.append(lines[j][len(indent):] if lines[j].startswith(indent) else lines[j])
            j += 1
        if info == "python":
            before = lines[i - 1] if i > 0 else ""
            blocks.append(Block(page, len(blocks), i + 2, "\n".join(body) + "\n", _directives(before)))
        i = j + 1
    return blocks


def chains() -> list:
    """One pytest param per chain of blocks (a block and the blocks that continue it)."""
    params = []
    for page in PAGES:
        current: list[Block] = []
        groups: list[list[Block]] = []
        for block in python_blocks(page):
            if "continue" in block.directives and current:
                current.append(block)
            else:
                current = [block]
                groups.append(current)
        for group in groups:
            rel = page.relative_to(ROOT).as_posix()
            first, last = group[0].index, group[-1].index
            ident = f"{rel}:{first}" if first == last else f"{rel}:{first}-{last}"
            marks = []
            if any("slow" in b.directives for b in group):
                marks.append(pytest.mark.slow)
            reasons = [b.directives["no-run"] for b in group if "no-run" in b.directives]
            if reasons:
                marks.append(pytest.mark.skip(reason=f"no-run: {reasons[0] or 'no reason given'}"))
            params.append(pytest.param(group, id=ident, marks=marks))
    return params


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """A fresh working directory and Keras session; float32 policy afterwards."""
    import keras

    monkeypatch.chdir(tmp_path)
    keras.backend.clear_session(free_memory=False)  # fresh layer names and graph; gc.collect() costs ~0.4 s
    yield tmp_path
    keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("chain", chains())
def test_code_block_runs(chain, isolated):
    namespace = {"__name__": "__doc_block__"}
    for block in chain:
        rel = block.page.relative_to(ROOT).as_posix()
        code = compile(block.source, f"{rel}:{block.line}", "exec")
        exec(code, namespace)  # noqa: S102 - the documentation's own examples


def test_every_directive_is_known_and_no_run_has_a_reason():
    problems = []
    for page in PAGES:
        lines = page.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            match = DIRECTIVE.match(line)
            if not match:
                continue
            parts = [p.strip() for p in match.group(1).split(";")]
            names = [p.partition(":")[0].strip() for p in parts]
            if not any(n in KNOWN for n in names):
                continue  # an ordinary comment
            if "no-run" in names:  # its reason runs to the end of the comment
                parts, names = parts[: names.index("no-run") + 1], names[: names.index("no-run") + 1]
            nxt = lines[number] if number < len(lines) else ""
            fence = FENCE.match(nxt)
            if not fence or fence.group(3) != "python":
                problems.append(f"{page.relative_to(ROOT)}:{number}: directive not right before a ```python fence")
            for part, name in zip(parts, names):
                if name not in KNOWN:
                    problems.append(f"{page.relative_to(ROOT)}:{number}: unknown directive {part!r}")
                if name == "no-run" and not part.partition(":")[2].strip():
                    problems.append(f"{page.relative_to(ROOT)}:{number}: no-run needs a reason")
    assert not problems, "\n".join(problems)


def test_the_collector_finds_the_blocks():
    """Guards the parser: the README and the guides have python blocks, and chains start a page."""
    blocks = {page: python_blocks(page) for page in PAGES}
    assert blocks[ROOT / "README.md"], "README.md has no ```python block"
    assert sum(map(len, blocks.values())) >= 20
    for page, found in blocks.items():
        if found:
            assert "continue" not in found[0].directives, f"{page}: the first block cannot continue"
