"""The suite's time as markdown tables (docs/tests.md): ``python -m tests.durations RUN.xml [--top 30]``.

``RUN.xml`` is pytest's JUnit report of a run (``python -m pytest --junitxml RUN.xml``); each test's time
there is its setup, call and teardown together, so a module-scoped fixture counts in the first test that
uses it. Under pytest-xdist the times of tests that ran side by side add up to more than the wall time.
"""

from __future__ import annotations

import argparse
import collections
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def read(path: Path) -> list[tuple[str, str, float]]:
    """``(module path, test name, seconds)`` per test case of a JUnit report."""
    rows = []
    for case in ET.parse(path).getroot().iter("testcase"):
        module = case.get("classname", "").replace(".", "/") + ".py"
        rows.append((module, case.get("name", ""), float(case.get("time", 0.0))))
    return rows


def tables(rows: list[tuple[str, str, float]], top: int, modules: int | None = None) -> str:
    """The top ``top`` tests, the time per module (the ``modules`` longest; all by default) and the totals,
    as markdown."""
    total = sum(seconds for _, _, seconds in rows)
    lines = [f"{len(rows)} tests, {total:.0f} s of test time in all.", "",
             f"| the {top} longest tests | s |", "| --- | ---: |"]
    lines += [f"| `{module}::{name}` | {seconds:.1f} |"
              for module, name, seconds in sorted(rows, key=lambda r: -r[2])[:top]]
    per_module: dict[str, list[float]] = collections.defaultdict(list)
    for module, _, seconds in rows:
        per_module[module].append(seconds)
    lines += ["", "| module | tests | s |", "| --- | ---: | ---: |"]
    ranked = sorted(per_module.items(), key=lambda kv: -sum(kv[1]))
    lines += [f"| `{module}` | {len(times)} | {sum(times):.1f} |" for module, times in ranked[:modules]]
    rest = ranked[modules:] if modules is not None else []
    if rest:
        lines.append(f"| {len(rest)} other modules | {sum(len(t) for _, t in rest)} | "
                     f"{sum(sum(t) for _, t in rest):.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.durations", description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="pytest's --junitxml report")
    parser.add_argument("--top", type=int, default=30, help="how many of the longest tests to list")
    parser.add_argument("--modules", type=int, help="how many of the longest modules to list (default: all)")
    args = parser.parse_args(argv)
    if not args.report.is_file():
        parser.error(f"no such report: {args.report}")
    print(tables(read(args.report), args.top, args.modules))
    return 0


if __name__ == "__main__":
    sys.exit(main())
