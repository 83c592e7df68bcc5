"""The Python versions tfvae supports: pyproject.toml says them once, and CI tries both ends.

CI runs the full suite on one Python and ``.ci/smoke`` (install, train, export, load) on the
lowest and the highest version of ``requires-python``. These checks are cheap and run here, on
whatever Python the suite runs on: pyproject's range and classifiers agree; every supported
version gets the dependencies the code needs there (a Keras, tomli below 3.11); CI smoke-tests
the two ends; and no source file uses syntax or standard-library modules that one end lacks.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
SOURCES = sorted(p for d in ("tfvae", "tests", "benchmarks", "training") for p in (ROOT / d).rglob("*.py"))

#: standard-library modules by the version that added them (used unguarded, they break older Pythons)
ADDED = {"tomllib": (3, 11), "wsgiref.types": (3, 11)}
#: names added to standard-library modules, by version
ADDED_NAMES = {
    ("typing", "Self"): (3, 11), ("typing", "Never"): (3, 11), ("typing", "LiteralString"): (3, 11),
    ("typing", "assert_never"): (3, 11), ("typing", "reveal_type"): (3, 11), ("typing", "Required"): (3, 11),
    ("typing", "NotRequired"): (3, 11), ("typing", "Unpack"): (3, 11), ("typing", "TypeVarTuple"): (3, 11),
    ("typing", "dataclass_transform"): (3, 11), ("typing", "override"): (3, 12),
    ("typing", "TypeAliasType"): (3, 12), ("typing", "ReadOnly"): (3, 13), ("typing", "TypeIs"): (3, 13),
    ("enum", "StrEnum"): (3, 11), ("datetime", "UTC"): (3, 11), ("asyncio", "TaskGroup"): (3, 11),
    ("asyncio", "timeout"): (3, 11), ("contextlib", "chdir"): (3, 11), ("hashlib", "file_digest"): (3, 11),
    ("itertools", "batched"): (3, 12), ("warnings", "deprecated"): (3, 13),
}
#: standard-library modules by the version that removed them (PEP 594 and distutils/imp)
REMOVED = {
    **dict.fromkeys(["distutils", "imp", "asynchat", "asyncore", "smtpd"], (3, 12)),
    **dict.fromkeys(
        ["aifc", "audioop", "cgi", "cgitb", "chunk", "crypt", "imghdr", "lib2to3", "mailcap", "msilib", "nis",
         "nntplib", "ossaudiodev", "pipes", "sndhdr", "spwd", "sunau", "telnetlib", "uu", "xdrlib"],
        (3, 13),
    ),
}


def _version(text: str) -> tuple[int, int]:
    major, minor = text.split(".")[:2]
    return int(major), int(minor)


def classifier_versions() -> list[tuple[int, int]]:
    found = [re.fullmatch(r"Programming Language :: Python :: (3\.\d+)", c) for c in PROJECT.get("classifiers", [])]
    return sorted(_version(m.group(1)) for m in found if m)


SUPPORTED = classifier_versions()
LOWEST, HIGHEST = (SUPPORTED[0], SUPPORTED[-1]) if SUPPORTED else ((0, 0), (0, 0))


def test_requires_python_and_the_classifiers_name_the_same_versions():
    assert SUPPORTED, "pyproject.toml lists no 'Programming Language :: Python :: 3.X' classifier"
    assert SUPPORTED == [(3, m) for m in range(LOWEST[1], HIGHEST[1] + 1)], f"not a contiguous range: {SUPPORTED}"
    spec = SpecifierSet(PROJECT["requires-python"])
    window = [(3, m) for m in range(30)]
    admitted = [v for v in window if spec.contains(f"{v[0]}.{v[1]}.0") and spec.contains(f"{v[0]}.{v[1]}.99")]
    assert admitted == SUPPORTED, (
        f"requires-python {PROJECT['requires-python']!r} admits {admitted}, the classifiers say {SUPPORTED}"
    )
    if any(spec.contains(f"3.{m}.0") for m in range(HIGHEST[1] + 1, 40)):
        pytest.fail(f"requires-python {PROJECT['requires-python']!r} has no upper bound: pin it below an untested 3.X")


@pytest.mark.parametrize("version", SUPPORTED, ids=[f"{v[0]}.{v[1]}" for v in SUPPORTED])
def test_every_supported_version_gets_the_dependencies_the_code_needs(version):
    env = {"python_version": f"{version[0]}.{version[1]}", "python_full_version": f"{version[0]}.{version[1]}.0"}
    requirements = [Requirement(r) for r in PROJECT["dependencies"]]
    applying = {r.name.lower() for r in requirements if r.marker is None or r.marker.evaluate(env)}
    for needed in ("tensorflow", "keras", "tensorflow-probability"):
        assert needed in applying, f"no {needed} requirement applies on Python {env['python_version']}"
    if version < ADDED["tomllib"] and any("tomllib" in p.read_text(encoding="utf-8") for p in SOURCES):
        assert "tomli" in applying, f"the code reads TOML but Python {env['python_version']} has no tomllib nor tomli"


def test_ci_smoke_tests_the_lowest_and_the_highest_version():
    smoke = ROOT / ".ci" / "smoke"
    assert smoke.is_file() and (ROOT / ".ci" / "smoke_check.py").is_file()
    run = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    called = set()
    for line in run.splitlines():
        line = line.split("#", 1)[0]
        m = re.search(r"\.ci/smoke\s+\S*?(3\.\d+)", line)
        if m:
            called.add(_version(m.group(1)))
    missing = [f"{v[0]}.{v[1]}" for v in (LOWEST, HIGHEST) if v not in called]
    assert not missing, f".ci/run does not run '.ci/smoke' on Python {', '.join(missing)}"


def _guarded(tree: ast.AST) -> set[int]:
    """Line numbers of imports inside ``try:`` blocks (a fallback import is fine)."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try):
            for inner in node.body:
                lines.update(n.lineno for n in ast.walk(inner) if isinstance(n, (ast.Import, ast.ImportFrom)))
    return lines


def test_no_source_uses_what_the_lowest_or_the_highest_version_lacks():
    problems = []
    for path in SOURCES:
        source = path.read_text(encoding="utf-8")
        where = path.relative_to(ROOT)
        try:  # the grammar of the lowest version (except*, PEP 695 'type' statements, ...)
            tree = ast.parse(source, str(path), feature_version=LOWEST)
        except SyntaxError as error:
            problems.append(f"{where}:{error.lineno}: {error.msg} (Python {LOWEST[0]}.{LOWEST[1]})")
            continue
        guarded = _guarded(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                pairs = [(alias.name, None) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                pairs = [(node.module, alias.name) for alias in node.names] + [(node.module, None)]
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                pairs = [(node.value.id, node.attr)]
            else:
                continue
            for module, name in pairs:
                added = ADDED.get(module) if name is None else ADDED_NAMES.get((module, name))
                if added and added > LOWEST and node.lineno not in guarded:
                    problems.append(f"{where}:{node.lineno}: {module}{'.' + name if name else ''} is new in {added}")
                removed = REMOVED.get(module.split(".")[0]) if name is None else None
                if removed and removed <= HIGHEST and node.lineno not in guarded:
                    problems.append(f"{where}:{node.lineno}: {module} is gone from Python {removed[0]}.{removed[1]}")
    assert not problems, "\n".join(sorted(set(problems)))
