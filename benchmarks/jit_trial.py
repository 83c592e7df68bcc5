"""Does ``jit_compile="auto"``'s trial pick the faster step, and what does it cost?

For each case (model, batch size) this script, in one process:

1. trains a fresh tfvae model with ``fit`` and ``jit_compile="auto"`` until
   its trial has decided (what ``fit`` does in the first calls of a run of
   at least ``TRIAL_MIN_STEPS`` steps: both variants alternated on the
   run's real batches) and records its choice, its per-step times and its
   cost in seconds;
2. trains two more copies with ``fit``, one with ``jit_compile=True`` and
   one with ``False``, their epochs interleaved for ``--rounds`` rounds, and
   reports each one's median examples/s;
3. says whether the trial chose the variant that was faster in (2), and what
   the trial costs in epochs of the chosen variant.

    python -m benchmarks.jit_trial                                  # mlp/128, mlp/1024, conv/128
    python -m benchmarks.jit_trial --cases mlp:128 --rounds 6 --json results/jit_trial.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import tensorflow as tf

from benchmarks.run import MODELS, build_tfvae, training_data
from tfvae import jit_trial

DEFAULT_CASES = ("mlp:128", "mlp:1024", "conv:128")


class _StopWhenDecided(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = self.model.jit_trial is not None


def measure_case(architecture: str, batch_size: int, examples: int, rounds: int) -> dict:
    data = training_data(examples, batch_size)
    probe = build_tfvae(architecture)
    probe.compile(optimizer=keras.optimizers.Adam(1e-3))  # jit_compile="auto"
    jit_trial._CACHE.clear()
    jit_trial.TRIAL_MIN_STEPS = 0  # the trial on this short run, as on a long one
    probe.fit(data, epochs=1000, verbose=0, callbacks=[_StopWhenDecided()])
    trial = probe.jit_trial

    models = {}
    for jit in (False, True):
        model = build_tfvae(architecture)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit)
        model.fit(data, epochs=1, verbose=0)  # trace / compile outside the timing
        models[jit] = model
    speeds: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(rounds):
        for jit, model in models.items():
            started = time.perf_counter()
            model.fit(data, epochs=1, verbose=0)
            speeds[jit].append(examples / (time.perf_counter() - started))
    graph, xla = statistics.median(speeds[False]), statistics.median(speeds[True])
    faster = xla > graph
    chosen_epoch_s = examples / (xla if trial.jit_compile else graph)
    return {
        "case": f"{architecture}:{batch_size}",
        "trial": trial.as_dict(),
        "fit_examples_per_s": {"graph": round(graph), "xla": round(xla)},
        "fit_xla_speedup": round(xla / graph, 3),
        "trial_chose_the_faster": trial.jit_compile == faster,
        "trial_cost_in_epochs": round(trial.cost_s / chosen_epoch_s, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=",".join(DEFAULT_CASES), help=f"MODEL:BATCH, MODEL in {', '.join(MODELS)}")
    parser.add_argument("--examples", type=int, default=8192, help="examples per timed epoch")
    parser.add_argument("--rounds", type=int, default=4, help="timed epochs per variant, interleaved")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    results = []
    for case in args.cases.split(","):
        architecture, batch_size = case.split(":")
        results.append(measure_case(architecture, int(batch_size), args.examples, args.rounds))
        row = results[-1]
        t = row["trial"]
        print(f"{row['case']:10s} trial: XLA {'on ' if t['jit_compile'] else 'off'} (step speed-up {t['xla_speedup']:.2f}x, "
              f"cost {t['trial_cost_s']:.1f} s = {row['trial_cost_in_epochs']:.2f} epochs of {args.examples}) | fit: "
              f"graph {row['fit_examples_per_s']['graph']} ex/s, XLA {row['fit_examples_per_s']['xla']} ex/s "
              f"({row['fit_xla_speedup']:.2f}x) | trial chose the faster: {row['trial_chose_the_faster']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"device": tf.config.list_physical_devices()[-1].device_type,
                                         "examples": args.examples, "rounds": args.rounds, "cases": results},
                                        indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
