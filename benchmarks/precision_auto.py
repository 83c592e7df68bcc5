"""Held-out ELBO and training speed of ``tfvae train --precision auto`` against float32.

Issue 20: ``precision = "auto"`` (``mixed_bfloat16`` where the device computes
bfloat16 natively, else float32) may only be recommended if the held-out ELBO
of ``tfvae train vae`` and ``tfvae train conv_vae`` with it is within 0.5 nat
of float32 at the same epochs. Each row here is the real ``tfvae train``
command in its own process, into a temporary directory (never ``runs/``); the
two precisions alternate (ABBA over rounds), so a busy spell of a shared
machine hits both alike. Round ``r`` trains with seed ``--seed + r`` for both
precisions, so the ELBO difference of a round compares like with like and the
spread over rounds shows what a seed alone moves.

It reads each run's ``summary.json``: ``test.elbo`` (the held-out ELBO, per
example in nats, evaluated in the policy the run trained in), ``train_seconds``
and ``precision`` (the policy ``auto`` resolved to). With ``--evaluate`` (the
default) it also runs ``tfvae evaluate RUN --iwae-k 0``, which rebuilds the
model in float32 and scores it on a static binarisation of the test split: the
same yardstick for both precisions' weights.

    python -m benchmarks.precision_auto                       # vae and conv_vae at their configs' epochs, 1 round
    python -m benchmarks.precision_auto --rounds 2 --json benchmarks/results/precision-auto.json
    python -m benchmarks.precision_auto --configs vae --epochs 5 --no-evaluate
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
from pathlib import Path

from benchmarks.cli_startup import tfvae_command as _tfvae

TOLERANCE_NATS = 0.5


def train_one(config: str, precision: str, seed: int, epochs: int | None, out: Path, evaluate: bool,
              overrides: list[str] = ()) -> dict:
    """Run ``tfvae train CONFIG --precision PRECISION`` into ``out``; its summary (and float32 evaluation)."""
    command = [*_tfvae(), "train", config, "--precision", precision, "--seed", str(seed), "--out", str(out)]
    if epochs is not None:
        command += ["--epochs", str(epochs)]
    for override in overrides:
        command += ["--set", override]
    # Not --quiet: the log says what jit_compile="auto" chose (a timed trial on runs of >= 500 steps).
    log = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
    summary = json.loads((out / "summary.json").read_text())
    jit = [line.strip() for line in log.splitlines() if line.strip().startswith("jit_compile=")]
    row = {
        "config": config,
        "asked": precision,
        "precision": summary.get("precision", precision),
        "seed": seed,
        "epochs": summary["epochs"],
        "train_seconds": summary["train_seconds"],
        "elbo": summary["test"]["elbo"],
        "jit": summary.get("jit_compile", jit[-1] if jit else None),
        "command": " ".join(["tfvae", *command[len(_tfvae()):]]).replace(str(out), "TMP"),
    }
    if evaluate:
        metrics = out / "metrics_float32.json"
        subprocess.run([*_tfvae(), "evaluate", str(out), "--iwae-k", "0", "--quiet", "--out", str(metrics)],
                       check=True, stdout=subprocess.DEVNULL)
        row["elbo_float32_eval"] = json.loads(metrics.read_text())["elbo"]["mean"]
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default="vae,conv_vae", help="training configs, comma-separated")
    parser.add_argument("--precision", default="auto", help="the precision compared with float32")
    parser.add_argument("--epochs", type=int, help="epochs for every run (default: each config's own)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds; round r uses seed --seed + r")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--evaluate", action=argparse.BooleanOptionalAction, default=True,
                        help="also score each run's weights in float32 with `tfvae evaluate --iwae-k 0`")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="passed to every `tfvae train` (e.g. a smaller model for a smoke test)")
    parser.add_argument("--json", help="write every row here")
    args = parser.parse_args(argv)
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="tfvae-precision-") as tmp:
        for r in range(args.rounds):
            for config in configs:
                order = ["float32", args.precision] if r % 2 == 0 else [args.precision, "float32"]  # ABBA
                for precision in order:
                    out = Path(tmp) / f"{config}-{precision}-{r}"
                    row = train_one(config, precision, args.seed + r, args.epochs, out, args.evaluate, args.set)
                    row["round"] = r
                    rows.append(row)
                    print(f"round {r} {config:9s} {precision:>14s} -> {row['precision']:14s} seed {row['seed']} "
                          f"{row['epochs']} epochs: {row['train_seconds']:7.1f} s, elbo {row['elbo']:.2f}"
                          + (f", float32 eval {row['elbo_float32_eval']:.2f}" if args.evaluate else "")
                          + (f"; {row['jit']}" if row["jit"] else ""), flush=True)
    print()
    print("| config | epochs | auto -> | ELBO float32 | ELBO auto | diff (nats) | float32-eval diff | "
          "train s float32 | train s auto | speed-up |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    verdict = {"train": True, "float32_eval": True}
    for config in configs:
        base = [row for row in rows if row["config"] == config and row["asked"] == "float32"]
        other = [row for row in rows if row["config"] == config and row["asked"] == args.precision]
        diffs = [o["elbo"] - b["elbo"] for b, o in zip(base, other)]
        evaluated = [o["elbo_float32_eval"] - b["elbo_float32_eval"] for b, o in zip(base, other)
                     if "elbo_float32_eval" in b]
        speed = [b["train_seconds"] / o["train_seconds"] for b, o in zip(base, other)]
        verdict["train"] &= all(abs(d) <= TOLERANCE_NATS for d in diffs)
        verdict["float32_eval"] &= all(abs(d) <= TOLERANCE_NATS for d in evaluated)

        def fmt(values, spec=".2f"):
            return "/".join(format(v, spec) for v in values)

        print(f"| {config} | {base[0]['epochs']} | {other[0]['precision']} | {fmt([b['elbo'] for b in base])} | "
              f"{fmt([o['elbo'] for o in other])} | {fmt(diffs, '+.2f')} | {fmt(evaluated, '+.2f') or '-'} | "
              f"{fmt([b['train_seconds'] for b in base], '.1f')} | {fmt([o['train_seconds'] for o in other], '.1f')} | "
              f"{statistics.median(speed):.2f}x ({fmt(speed)}) |")
    def answer(ok):
        return "yes" if ok else "NO"

    print(f"\nELBO within {TOLERANCE_NATS} nat of float32 in every round (diff = {args.precision} - float32; "
          f"positive is better): summary.json {answer(verdict['train'])}"
          + (f", float32 re-evaluation {answer(verdict['float32_eval'])}" if args.evaluate else ""))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"rows": rows, "within_tolerance": verdict}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
