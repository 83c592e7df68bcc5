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


def tables(rows: list[tuple[str, str, float]], top: int) -> str:
    """The top ``top`` tests, the time per module and the totals, as markdown."""
    total = sum(seconds for _, _, seconds in rows)
    lines = [f"{len(rows)} tests, {total:.0f} s of test time in all.", "",
             f"| the {top} longest tests | s |", "| --- | ---: |"]
    lines += [f"| `{module}::{name}` | {seconds:.1f} |"
              for module, name, seconds in sorted(rows, key=lambda r: -r[2])[:top]]
    per_module: dict[str, list[float]] = collections.defaultdict(list)
    for module, _, seconds in rows:
        per_module[module].append(seconds)
    lines += ["", "| module | tests | s |", "| --- | ---: | ---: |"]
    lines += [f"| `{module}` | {len(times)} | {sum(times):.1f} |"
              for module, times in sorted(per_module.items(), key=lambda kv: -sum(kv[1]))]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.durations", description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="pytest's --junitxml report")
    parser.add_argument("--top", type=int, default=30, help="how many of the longest tests to list")
    args = parser.parse_args(argv)
    if not args.report.is_file():
        parser.error(f"no such report: {args.report}")
    print(tables(read(args.report), args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
