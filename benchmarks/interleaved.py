"""Throughput ratios measured in ONE process, the rows' epochs interleaved.

``python -m benchmarks.run`` gives every row its own process (its own peak
memory) but measures the rows minutes apart; on a shared machine that adds
noise to every ratio. This script builds the textbook reference and tfvae's
default model in one process and times one epoch of each in turn, ``--rounds``
times, so slow spells of the machine hit every row alike. Rows:

- ``reference``: the textbook model of ``benchmarks/reference.py`` on the
  textbook pipeline (Keras defaults, tf.data autotuning on);
- ``ref-noat``: the same model on the same pipeline with
  :func:`tfvae.data.pipeline_options` (autotuning off);
- ``default``: a tfvae model compiled with tfvae's defaults, on the pipeline
  with :func:`tfvae.data.pipeline_options`, trained with ``fit``;
- ``default-spe1``: the same with one step per call (tfvae's CPU default
  before 32);
- ``default-noguard``: ``default`` with a plain gradient step instead of
  :func:`tfvae.models.gradient_step`'s non-finite guard (what the guard
  costs; not an option of the library). Not in the default ``--rows``.

It prints each row's examples/s per round and its median and best ratio to
``reference``.

    python -m benchmarks.interleaved                          # MLP VAE, batch 128
    python -m benchmarks.interleaved --model conv --batch-size 1024 --examples 8192
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import tensorflow as tf

from benchmarks.reference import reference_model
from benchmarks.run import LATENT_DIM, MODELS, build_tfvae, training_data
from tfvae.data import pipeline_options

ROWS = ("reference", "ref-noat", "default", "default-spe1", "default-noguard")
DEFAULT_ROWS = ROWS[:4]


def plain_train_step(model):
    """A train_step without the non-finite guard: tape, apply, record (measures what the guard costs)."""

    def train_step(data):
        with tf.GradientTape() as tape:
            terms = model.loss_terms(data, training=True)
            loss = tf.reduce_mean(terms["loss"])
        gradients = tape.gradient(loss, model.trainable_variables)
        model.optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        model.steps_done.assign_add(1)
        return model.update_term_trackers(terms, model.batch_size_of(data))

    return train_step


def build_row(name: str, model_name: str):
    """The compiled model of row ``name`` and whether it gets tfvae's pipeline options."""
    if name in ("reference", "ref-noat"):
        model = reference_model(model_name, LATENT_DIM)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        return model, name == "ref-noat"
    model = build_tfvae(model_name)
    if name == "default-noguard":
        model.train_step = plain_train_step(model)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), **({"steps_per_execution": 1} if name == "default-spe1" else {}))
    return model, True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.interleaved", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=MODELS, default="mlp")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--examples", type=int, default=8192, help="examples per epoch")
    parser.add_argument("--rounds", type=int, default=8, help="timed epochs per row, interleaved")
    parser.add_argument("--rows", default=",".join(DEFAULT_ROWS), help=f"comma-separated, from {', '.join(ROWS)}")
    args = parser.parse_args(argv)
    names = args.rows.split(",")
    if names[0] != "reference" or not set(names) <= set(ROWS):
        parser.error(f"--rows: start with reference, choose from {', '.join(ROWS)}")

    keras.utils.set_random_seed(0)
    textbook = training_data(args.examples, args.batch_size)
    tuned = textbook.with_options(pipeline_options())
    rows = {}
    for name in names:
        model, uses_options = build_row(name, args.model)
        data = tuned if uses_options else textbook
        model.fit(data, epochs=1, verbose=0)  # warm-up: tracing
        rows[name] = (model, data)
    seconds = {name: [] for name in names}
    for _ in range(args.rounds):
        for name, (model, data) in rows.items():
            start = time.perf_counter()
            model.fit(data, epochs=1, verbose=0)
            seconds[name].append(time.perf_counter() - start)
    print(f"{args.model} model, batch {args.batch_size}, {args.examples} examples/epoch, {args.rounds} interleaved rounds")
    reference = seconds["reference"]
    for name in names:
        rates = " ".join(f"{args.examples / s:7.0f}" for s in seconds[name])
        median = statistics.median(reference) / statistics.median(seconds[name])
        best = min(reference) / min(seconds[name])
        print(f"{name:13s} examples/s {rates}   ratio: median {median:4.2f}  best {best:4.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
