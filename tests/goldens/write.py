"""Write the golden files of every conformance family (or of those named): ``python -m tests.goldens.write [NAME ...]``.

Run it from the repository root when a family is added (its golden is missing and
``test_every_family_has_a_golden`` fails) or when a change breaks saved files on purpose; then say
what changed in docs/saving.md ("Compatibility of saved files"). See ``golden.py`` for what is written.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:  # the tests' own import root (pyproject: pythonpath = ["tests"])
    sys.path.insert(0, str(TESTS))


def main(argv: list[str] | None = None) -> int:
    import argparse

    import keras
    from conformance.families import FAMILIES
    from goldens.golden import MAX_TOTAL_BYTES, golden_dir, total_bytes, write

    parser = argparse.ArgumentParser(prog="python -m tests.goldens.write", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="families to write (default: all)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(FAMILIES))
    if unknown:
        parser.error(f"no conformance family named {', '.join(unknown)} (known: {', '.join(sorted(FAMILIES))})")
    for name in args.names or sorted(FAMILIES):
        keras.utils.set_random_seed(1234)  # as tests/conftest.py: the families' builds are seeded anyway
        write(name, FAMILIES[name], golden_dir(name))
        size = sum(p.stat().st_size for p in golden_dir(name).rglob("*") if p.is_file())
        print(f"{name}: {size / 1000:.0f} kB in {golden_dir(name)}")
    print(f"goldens: {total_bytes() / 1e6:.2f} MB in all (limit {MAX_TOTAL_BYTES / 1e6:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
