"""The tf.data epoch-end stall that :func:`tfvae.data.pipeline_options` avoids.

Trains the textbook MLP VAE of ``benchmarks/reference.py`` one epoch at a
time, as Keras ``fit`` does (a new iterator per epoch, the old one destroyed),
on the benchmark's pipeline with tf.data autotuning on (TensorFlow's default)
and off (tfvae's), alternating, and prints per epoch the training seconds and
the seconds spent destroying the finished iterator, plus each setting's mean
epoch time. With autotuning on, destroying an iterator can wait out the
autotuning thread's sleep, with the CPU idle.

    python -m benchmarks.epoch_stall                       # 8192 examples per epoch, 8 epochs each
    python -m benchmarks.epoch_stall --examples 32768 --epochs 6
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
from benchmarks.run import LATENT_DIM, training_data
from tfvae.data import pipeline_options


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.epoch_stall", description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=8192, help="examples per epoch")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=8, help="epochs per setting")
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(0)
    model = reference_model("mlp", LATENT_DIM)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    step = tf.function(model.train_step)
    textbook = training_data(args.examples, args.batch_size)
    settings = {"autotune on (TF default)": textbook, "autotune off (tfvae)": textbook.with_options(pipeline_options())}
    for batch in textbook.take(1):
        step(batch)  # trace once
    seconds = {name: [] for name in settings}
    for epoch in range(args.epochs):
        for name, dataset in settings.items():
            iterator = iter(dataset)
            start = time.perf_counter()
            for batch in iterator:
                step(batch)
            model.trainable_variables[0].numpy()
            trained = time.perf_counter()
            del iterator  # what fit does at the end of an epoch
            destroyed = time.perf_counter()
            seconds[name].append(destroyed - start)
            print(f"epoch {epoch + 1}  {name:26s} train {trained - start:6.2f} s  destroy iterator {destroyed - trained:6.2f} s")
    print()
    for name, values in seconds.items():
        print(f"{name:26s} mean epoch {statistics.mean(values):6.2f} s  (median {statistics.median(values):.2f}, max {max(values):.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
