"""The matrix-multiply ceiling of this device at the MLP VAE's shapes.

``python -m benchmarks.matmul_peak`` times ``tf.matmul`` alone (graph mode,
median of repeats) at the three dense-layer shapes of a training step of the
784-512-256-16 MLP VAE at batch 128 (forward ``[128, 784] x [784, 512]``; the
backward products ``[784, 128] x [128, 512]`` and ``[128, 512] x [512, 784]``)
and at large square shapes, in float32 and bfloat16, and prints GFLOP/s.

The benchmark table's ``TFLOP/s`` column counts the same dense-layer FLOPs per
training example, so a training row can be read against this ceiling: a step
cannot run its matmuls faster than they run alone.
"""

from __future__ import annotations

import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf

SHAPES = ((128, 784, 512), (784, 128, 512), (128, 512, 784), (1024, 1024, 1024), (2048, 2048, 2048))


def gflops(m: int, k: int, n: int, dtype: tf.DType, seconds: float = 1.0) -> float:
    """GFLOP/s of an ``[m, k] x [k, n]`` product in ``dtype``: median of 5 timings of ~``seconds`` / 5 each."""
    a = tf.cast(tf.random.stateless_normal((m, k), seed=(0, 1)), dtype)
    b = tf.cast(tf.random.stateless_normal((k, n), seed=(0, 2)), dtype)
    product = tf.function(lambda a, b: tf.reduce_sum(tf.cast(tf.matmul(a, b), tf.float32)))
    product(a, b).numpy()
    flops = 2.0 * m * k * n
    start = time.perf_counter()
    product(a, b).numpy()
    repeats = max(3, int(seconds / 5 / max(time.perf_counter() - start, 1e-6)))
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeats):
            product(a, b).numpy()
        timings.append((time.perf_counter() - start) / repeats)
    return flops / statistics.median(timings) / 1e9


def main() -> int:
    print(f"{'dtype':9} {'m x k x n':>18} {'GFLOP/s':>8}")
    for dtype in (tf.float32, tf.bfloat16):
        for m, k, n in SHAPES:
            print(f"{dtype.name:9} {f'{m}x{k}x{n}':>18} {gflops(m, k, n, dtype):>8.0f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
