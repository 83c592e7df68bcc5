"""Run ``tfvae`` commands through the CLI's entry point, one chain after another, in ONE process.

Usage: ``python door.py PLAN.json`` where the plan is
``{"chains": {name: [{"argv": [arg, ...], "needed": bool}, ...]}, "report": PATH}``.
Every command of a chain is ``tfvae.cli.main(argv)`` (what the ``tfvae``
script runs); a chain stops when a ``needed`` command (one whose output the
later ones read: ``train``) does not exit with 0. The report holds, per chain, each command's
argv, exit status, seconds, and the tail of what it printed, plus the
traceback of an exception.

One process per chain would spend most of the door importing TensorFlow
(about 7 CPU seconds each on 2 cores); tests/test_cli.py runs the script
itself (``python -m tfvae.cli``) for the exit statuses and ``--help``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def run(argv: list[str]) -> dict:
    from tfvae.cli import main

    out = io.StringIO()
    start = time.perf_counter()
    result = {"argv": argv}
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            status = main(argv)
    except SystemExit as exit_:  # argparse
        status = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:  # noqa: BLE001 -- reported, with its traceback
        status, result["traceback"] = "exception", traceback.format_exc()
    result.update(status=status, seconds=round(time.perf_counter() - start, 2), output=out.getvalue()[-3000:])
    return result


def main() -> None:
    with open(sys.argv[1]) as handle:
        plan = json.load(handle)
    report = {}
    for name, commands in plan["chains"].items():
        import keras

        keras.backend.clear_session()  # each chain starts from a fresh Keras state, as a new process would
        keras.mixed_precision.set_global_policy("float32")
        report[name] = []
        for command in commands:
            report[name].append(run(command["argv"]))
            if command["needed"] and report[name][-1]["status"] != 0:
                break
        with open(plan["report"], "w") as handle:  # after every chain: a crash keeps what ran
            json.dump(report, handle, indent=1)


if __name__ == "__main__":
    main()
