"""Training throughput of the MLP VAE: drivers x precision x XLA, as ratios.

Every configuration trains the same model (784-512-256-16, Bernoulli) on the
embedded digits in the same process; the reference is Keras ``fit`` in
float32 graph mode. Each configuration gets a warm-up epoch (tracing and
compiling) and then ``--epochs`` timed epochs; the figure is examples/second
over the timed epochs, and the ratio is against the reference measured in the
same run (these machines are shared and noisy: compare ratios, not absolutes).

    python benchmarks/train_throughput.py                 # all rows, ~2 minutes on 2 cores
    python benchmarks/train_throughput.py --epochs 5 --batch-size 256
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfvae import VAE  # noqa: E402
from tfvae.data import load_dataset  # noqa: E402
from tfvae.loops import train_loop  # noqa: E402

ROWS = [
    # (driver, precision, jit_compile, steps_per_execution)
    ("fit", "float32", False, 1),
    ("fit", "float32", False, 32),
    ("fit", "float32", True, 1),
    ("fit", "mixed_bfloat16", False, 1),
    ("fit", "mixed_float16", False, 1),
    ("loop", "float32", False, 1),
    ("loop", "float32", False, 32),
    ("loop", "float32", True, 32),
    ("loop", "mixed_bfloat16", False, 32),
]


def measure(driver: str, precision: str, jit: bool, steps: int, data, epochs: int) -> float:
    keras.mixed_precision.set_global_policy(precision)
    try:
        model = VAE.mlp(latent_dim=16, seed=0)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit, steps_per_execution=steps)

        def run(n):
            if driver == "fit":
                model.fit(data, epochs=n, shuffle=False, verbose=0)
            else:
                train_loop(model, data, epochs=n, steps_per_execution=steps, jit_compile=jit, verbose=0)

        run(1)  # warm-up: tracing / XLA compilation
        start = time.perf_counter()
        run(epochs)
        seconds = time.perf_counter() - start
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return epochs * 4000 / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per row")
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()
    data = load_dataset("digits", "train", batch_size=args.batch_size, binarize="dynamic")
    device = tf.config.list_physical_devices("GPU") or [platform.processor() or platform.machine()]
    print(f"device: {device}; cores: {os.cpu_count()}; batch {args.batch_size}; {args.epochs} timed epochs")
    print(f"{'driver':6} {'precision':15} {'jit':5} {'spe':>4} {'examples/s':>11} {'ratio':>6}")
    reference = None
    for driver, precision, jit, steps in ROWS:
        rate = measure(driver, precision, jit, steps, data, args.epochs)
        reference = reference or rate
        print(f"{driver:6} {precision:15} {str(jit):5} {steps:>4} {rate:>11.0f} {rate / reference:>6.2f}", flush=True)


if __name__ == "__main__":
    main()
