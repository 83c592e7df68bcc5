"""What the non-finite guard of :func:`tfvae.models.gradient_step` costs per step, before and after.

Five variants of one training step of the MLP VAE (784-512-256-16), each in
its own ``tf.function`` running ``--steps`` steps per call on one fixed
binarised batch, timed in one process with the calls interleaved for
``--rounds`` rounds (best time per step of each, so slow spells of a shared
machine do not decide):

- ``plain``: tape, ``apply_gradients``, step counter, trackers: no guard;
- ``guard-before``: ``gradient_step`` with the finiteness check it had until
  2026-12-03 (``reduce_all(is_finite(g))`` per gradient: a boolean copy of
  every gradient, then a reduction);
- ``guard-sum``: ``gradient_step`` with the check it had until issue 31
  (one ``reduce_sum`` per gradient, the sums tested: finite gradients whose
  sum overflows float32 counted as non-finite);
- ``guard-now``: ``gradient_step`` as it is (the same sums; only where one is
  not finite, a ``tf.cond`` runs the elementwise ``is_finite`` check, so
  the check is exact);
- ``guard-no-gradient-check``: ``gradient_step`` without the gradient check
  (what the rest of the guard costs: the ``tf.cond``, the state restore).

    python -m benchmarks.guard_cost
    python -m benchmarks.guard_cost --batch-size 1024 --jit
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf

import tfvae.models.steps as step_functions
from benchmarks.interleaved import plain_train_step
from tfvae.models import VAE


def _is_finite_copy(tensors) -> tf.Tensor:
    """The check before 2026-12-03, kept here only to measure against."""
    checks = [tf.reduce_all(tf.math.is_finite(t)) for t in tensors if t is not None]
    return tf.reduce_all(tf.stack(checks)) if checks else tf.constant(True)


def _sum_only(tensors) -> tf.Tensor:
    """The check until issue 31 (inexact: an overflowing finite sum failed it), kept only to measure against."""
    sums = [tf.cast(tf.reduce_sum(t), tf.float32) for t in tensors if t is not None]
    return tf.reduce_all(tf.math.is_finite(tf.stack(sums))) if sums else tf.constant(True)


_NOW = step_functions._all_finite


def _terms_only(tensors) -> tf.Tensor:
    """Checks the loss terms (a few small tensors) but not the gradients."""
    return _NOW(tensors) if len(tensors) < 8 else tf.constant(True)


@contextlib.contextmanager
def _check(function):
    original = step_functions._all_finite
    step_functions._all_finite = function
    try:
        yield
    finally:
        step_functions._all_finite = original


def _model(batch_size: int) -> VAE:
    model = VAE.mlp(latent_dim=16, hidden_units=(512, 256), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def variants(batch: tf.Tensor, steps: int, jit_compile: bool) -> dict[str, callable]:
    made = {}
    for name, check in (("guard-before", _is_finite_copy), ("guard-sum", _sum_only), ("guard-now", None),
                        ("guard-no-gradient-check", _terms_only), ("plain", None)):
        model = _model(int(batch.shape[0]))
        if name == "plain":
            def one(train_step=plain_train_step(model)):
                train_step(batch)
        else:
            def one(model=model):
                step_functions.gradient_step(model, model.optimizer, batch)
        step = tf.function(one, jit_compile=jit_compile)

        @tf.function
        def run(step=step):
            for _ in tf.range(steps):
                step()

        with _check(check) if check is not None else contextlib.nullcontext():
            run()  # traced here, with this variant's check
        made[name] = run
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=32, help="steps per call")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--jit", action="store_true", help="compile each step with XLA")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    batch = tf.constant((rng.random((args.batch_size, 28, 28, 1)) < 0.3).astype("float32"))
    runs = variants(batch, args.steps, args.jit)
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(args.rounds):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            best[name] = min(best[name], (time.perf_counter() - started) / args.steps)
    plain = best["plain"]
    print(f"MLP VAE, batch {args.batch_size}, {'XLA' if args.jit else 'graph'}, best of {args.rounds} calls "
          f"of {args.steps} steps")
    for name, seconds in best.items():
        print(f"{name:25s} {seconds * 1e3:8.3f} ms/step  {seconds / plain:6.3f}x plain "
              f"(guard cost {100 * (seconds / plain - 1):+5.1f}%)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"batch_size": args.batch_size, "jit": args.jit, "rounds": args.rounds,
                                         "ms_per_step": {k: round(v * 1e3, 4) for k, v in best.items()}}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
