"""How fast the ``tfvae`` command answers when it has nothing to train.

``--help``, a misspelt model name, a bad ``--set`` and every mistake a path
can reveal (a run directory that is missing, a file, or has no checkpoint
yet; ``sample --out`` without an image extension; ``export --keras`` not
ending in ``.keras``; ``evaluate --out`` into a missing directory; a dataset
path that does not exist) must answer before TensorFlow is imported: the
target is under 1.5 s wall time each on the 2-core CPU machine. The runs and
files those rows name are made in a temporary directory, without training
(a ``config.json``, and an empty checkpoint list for a "trained" run).
Each row runs the real ``tfvae`` console script (the one next to this
Python) in a fresh process, ``--rounds`` times, the rows interleaved so a
slow spell of the machine hits every row alike; it prints the
median wall time, the peak memory of the process and the ratio to the
reference row ``import tensorflow`` (what each command would cost at least if
it imported TensorFlow), plus ``python -c pass`` as the floor.

    python -m benchmarks.cli_startup                 # 5 rounds
    python -m benchmarks.cli_startup --rounds 11 --json results/cli_startup.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 1.5

REFERENCE = "import tensorflow"


def tfvae_command() -> list[str]:
    """The installed console script beside this interpreter, else ``python -m tfvae.cli``."""
    script = Path(sys.executable).with_name("tfvae")
    if script.exists():
        return [str(script)]
    found = shutil.which("tfvae")
    return [found] if found else [sys.executable, "-m", "tfvae.cli"]


def make_runs(workdir: Path) -> dict[str, Path]:
    """The runs and files the mistake rows name, in ``workdir``, without training.

    ``untrained``: a ``config.json`` only; ``trained``: the same and an empty
    ``checkpoints/checkpoint`` list (what the command checks before loading);
    ``file``: a file. The config is written by a child process: importing
    tfvae here would grow this process, and a child's peak memory counts the
    pages it shares with this one before it runs its program.
    """
    config = subprocess.run([sys.executable, "-c", "from tfvae.config import ExperimentConfig; "
                             "print(ExperimentConfig().to_json())"], capture_output=True, text=True, check=True).stdout
    paths = {name: workdir / name for name in ("untrained", "trained", "file", "missing")}
    for name in ("untrained", "trained"):
        (paths[name] / "checkpoints").mkdir(parents=True)
        (paths[name] / "config.json").write_text(config)
    (paths["trained"] / "checkpoints" / "checkpoint").write_text("")
    paths["file"].write_text("not a run")
    return paths


def rows(workdir: Path | None = None) -> dict[str, tuple[list[str], int]]:
    """Row name -> (command line, expected exit status); with ``workdir``, also the path mistakes (made there)."""
    tfvae = tfvae_command()
    table = {
        "python -c pass": ([sys.executable, "-c", "pass"], 0),
        REFERENCE: ([sys.executable, "-c", "import tensorflow"], 0),
        "tfvae --help": ([*tfvae, "--help"], 0),
        "tfvae train --help": ([*tfvae, "train", "--help"], 0),
        "tfvae train vea": ([*tfvae, "train", "vea"], 2),
        "tfvae train vae --set train.epoch=3": ([*tfvae, "train", "vae", "--set", "train.epoch=3"], 2),
        "tfvae train vae --epochs 0": ([*tfvae, "train", "vae", "--epochs", "0"], 2),
        "tfvae configs": ([*tfvae, "configs"], 0),
    }
    if workdir is not None:
        run = make_runs(workdir)
        table.update({
            "tfvae evaluate MISSING": ([*tfvae, "evaluate", str(run["missing"])], 2),
            "tfvae plot FILE": ([*tfvae, "plot", str(run["file"])], 2),
            "tfvae export UNTRAINED": ([*tfvae, "export", str(run["untrained"])], 2),
            "tfvae sample RUN --out DIR": ([*tfvae, "sample", str(run["trained"]), "--out", str(workdir / "grid")], 2),
            "tfvae export RUN --keras m.h5": ([*tfvae, "export", str(run["trained"]), "--keras", str(workdir / "m.h5")],
                                              2),
            "tfvae evaluate RUN --out MISSING/m.json": (
                [*tfvae, "evaluate", str(run["trained"]), "--out", str(run["missing"] / "m.json")], 2),
            "tfvae train vae --dataset npz:MISSING": (
                [*tfvae, "train", "vae", "--dataset", f"npz:{run['missing']}.npz", "--out", str(workdir / "new")], 2),
        })
    return table


def run_once(command: list[str], expected: int) -> tuple[float, float]:
    """Wall seconds and peak resident MiB of one fresh process running ``command``."""
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as a user's shell has it
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != expected:
            stderr.seek(0)
            said = stderr.read().decode(errors="replace")[-500:]
            raise RuntimeError(f"{' '.join(command)} exited {process.returncode}, expected {expected}: {said}")
    return seconds, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def measure(rounds: int) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="tfvae-cli-startup-") as workdir:
        return _measure(rows(Path(workdir)), rounds)


def _measure(table: dict[str, tuple[list[str], int]], rounds: int) -> list[dict]:
    times: dict[str, list[float]] = {name: [] for name in table}
    memory: dict[str, float] = dict.fromkeys(table, 0.0)
    for _ in range(rounds):
        for name, (command, expected) in table.items():
            seconds, mib = run_once(command, expected)
            times[name].append(seconds)
            memory[name] = max(memory[name], mib)
    reference = statistics.median(times[REFERENCE])
    report = []
    for name in table:
        median = statistics.median(times[name])
        report.append({"row": name, "median_s": round(median, 3), "best_s": round(min(times[name]), 3),
                       "peak_rss_mib": round(memory[name], 1), "ratio_to_import_tensorflow": round(median / reference, 3),
                       "meets_target": median < TARGET_S if name.startswith("tfvae") else None})
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="fresh processes per row (median reported)")
    parser.add_argument("--json", type=Path, help="also write the table here")
    args = parser.parse_args(argv)
    report = measure(args.rounds)
    print(f"{'row':40s} {'median s':>9s} {'best s':>8s} {'peak MiB':>9s} {'/ import tf':>12s}  target < {TARGET_S} s")
    for row in report:
        verdict = {True: "ok", False: "MISSED", None: ""}[row["meets_target"]]
        print(f"{row['row']:40s} {row['median_s']:9.3f} {row['best_s']:8.3f} {row['peak_rss_mib']:9.1f} "
              f"{row['ratio_to_import_tensorflow']:12.3f}  {verdict}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"rounds": args.rounds, "rows": report}, indent=2) + "\n")
    return 0 if all(row["meets_target"] is not False for row in report) else 1


if __name__ == "__main__":
    sys.exit(main())
