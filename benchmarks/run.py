"""tfvae benchmark harness: training and IWAE throughput as ratios to a textbook VAE.

One invocation measures, in one process, the textbook Keras VAE of
``benchmarks/reference.py`` and the tfvae rows (drivers x precision x XLA x
steps per execution) on the same architecture and the same ``tf.data``
pipeline, then IWAE evaluation throughput, prints a table and writes
``benchmarks/results/<date>-<device>.json``.

Throughput is examples/second over an epoch, the median of ``--epochs`` timed
epochs after one warm-up epoch (tracing, XLA compilation). An epoch is
``--examples`` digits (the 4000 embedded training digits, tiled), held in
memory and binarised dynamically in the pipeline. Every ratio is against the
reference row of the same model and batch size, measured minutes apart in
the same process: these machines are shared, so compare ratios, not absolutes.

    python -m benchmarks.run --quick        # < 5 minutes on 2 CPU cores
    python -m benchmarks.run                # the full table
    python -m benchmarks.run --models mlp --batch-sizes 1024 --precisions mixed_bfloat16 --jit on

Peak memory is the accelerator's allocator peak per row (GPU only; on a CPU
the column is empty).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.reference import reference_model  # noqa: E402
from tfvae import VAE  # noqa: E402
from tfvae.data import load_arrays  # noqa: E402
from tfvae.loops import train_loop  # noqa: E402
from tfvae.metrics.likelihood import iwae_log_likelihood  # noqa: E402

LATENT_DIM = 16
RESULTS_DIR = Path(__file__).resolve().parent / "results"


# ------------------------------------------------------------------ data
def training_data(examples: int, batch_size: int, seed: int = 0) -> tf.data.Dataset:
    """``examples`` digit images in [0, 1] (tiled, shuffled once), binarised afresh each epoch."""
    x, _ = load_arrays("digits", "train")
    x = np.asarray(x, np.float32) / 255.0  # the embedded digits are uint8
    x = np.resize(x, (examples, *x.shape[1:]))
    np.random.default_rng(seed).shuffle(x)
    return (
        tf.data.Dataset.from_tensor_slices(x)
        .batch(batch_size)
        .map(lambda b: tf.cast(tf.random.uniform(tf.shape(b)) < b, tf.float32), num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


# ------------------------------------------------------------------ timing
class EpochTimer(keras.callbacks.Callback):
    """Wall-clock seconds of each epoch and its final logs."""

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []
        self.logs: list[dict] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)
        self.logs.append(dict(logs or {}))


def gpu_peak_reset() -> None:
    if tf.config.list_physical_devices("GPU"):
        tf.config.experimental.reset_memory_stats("GPU:0")


def gpu_peak_mib() -> float | None:
    if not tf.config.list_physical_devices("GPU"):
        return None
    return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20


def build_tfvae(architecture: str) -> VAE:
    builder = VAE.mlp if architecture == "mlp" else VAE.conv
    return builder(latent_dim=LATENT_DIM, seed=0)


def train_flops_per_example(model: keras.Model) -> float:
    """Dense-layer training FLOPs per example: 3 x forward (2 per multiply-add), matmuls only.

    Convolutions are not counted, so for the conv model this is a lower bound.
    """
    total = 0
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.Dense) and layer.built:
            total += 2 * int(layer.kernel.shape[0]) * int(layer.kernel.shape[1])
    return 3.0 * total


def measure(
    architecture: str,
    driver: str,
    precision: str,
    jit: bool | str,
    steps: int,
    data: tf.data.Dataset,
    examples: int,
    epochs: int,
) -> dict:
    """Train one configuration for ``1 + epochs`` epochs; time the last ``epochs``."""
    keras.mixed_precision.set_global_policy(precision)
    keras.utils.set_random_seed(0)
    try:
        timer = EpochTimer()
        gpu_peak_reset()
        if driver == "reference":
            model = reference_model(architecture, LATENT_DIM)
            model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit, steps_per_execution=steps)
            model.fit(data, epochs=1 + epochs, verbose=0, callbacks=[timer])
            jit = bool(model.jit_compile)
        else:
            model = build_tfvae(architecture)
            model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit, steps_per_execution=steps)
            if driver == "fit":
                model.fit(data, epochs=1 + epochs, verbose=0, callbacks=[timer])
            else:
                train_loop(
                    model, data, epochs=1 + epochs, steps_per_execution=steps, jit_compile=jit, verbose=0, callbacks=[timer]
                )
        timed = timer.seconds[1:]
        rate = examples / statistics.median(timed)
        return {
            "model": architecture,
            "driver": driver,
            "precision": precision,
            "jit": bool(jit),
            "steps_per_execution": steps,
            "examples_per_s": rate,
            "epoch_seconds": timed,
            "final_loss": float(timer.logs[-1]["loss"]),
            "peak_gpu_mib": gpu_peak_mib(),
            "train_tflops": rate * train_flops_per_example(model) / 1e12,
        }
    finally:
        keras.mixed_precision.set_global_policy("float32")


def measure_iwae(k: int, batch: int, chunk_size: int, repeats: int) -> dict:
    """Importance samples/second of ``iwae_log_likelihood`` on a float32 MLP VAE (untrained: speed only)."""
    model = build_tfvae("mlp")
    x, _ = load_arrays("digits", "test")
    x = tf.constant(np.asarray(x[:batch]) > 127, tf.float32)  # uint8 digits, binarised at the midpoint
    iwae_log_likelihood(model, x, k=min(k, chunk_size), chunk_size=chunk_size, seed=0)  # trace
    times = []
    for repeat in range(repeats):
        start = time.perf_counter()
        iwae_log_likelihood(model, x, k=k, chunk_size=chunk_size, seed=repeat)
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    return {"k": k, "batch": batch, "chunk_size": chunk_size, "seconds": seconds, "samples_per_s": k * batch / seconds}


# ------------------------------------------------------------------ table
def device_name() -> str:
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return details.get("device_name", "GPU")
    return f"CPU {platform.machine()} x{os.cpu_count()}"


def parse_list(text: str, kind=str) -> list:
    return [kind(item) for item in text.split(",") if item]


def parse_jit(text: str) -> list[bool]:
    values = {"off": False, "on": True}
    try:
        return [values[item] for item in parse_list(text)]
    except KeyError as error:
        raise argparse.ArgumentTypeError(f"--jit takes 'off', 'on' or 'off,on', got {text!r}") from error


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a small table (< 5 minutes on 2 CPU cores)")
    parser.add_argument("--models", type=parse_list, default=None, help="mlp,conv")
    parser.add_argument("--batch-sizes", type=lambda t: parse_list(t, int), default=None, help="128,1024")
    parser.add_argument("--drivers", type=parse_list, default=None, help="fit,loop")
    parser.add_argument("--precisions", type=parse_list, default=None, help="float32,mixed_bfloat16,mixed_float16")
    parser.add_argument("--jit", type=parse_jit, default=None, help="off, on, or off,on")
    parser.add_argument("--steps-per-execution", type=lambda t: parse_list(t, int), default=None, help="e.g. 1,32")
    parser.add_argument("--examples", type=int, default=None, help="examples per epoch")
    parser.add_argument("--epochs", type=int, default=None, help="timed epochs per row (after one warm-up)")
    parser.add_argument("--iwae-k", type=int, default=None, help="importance samples (0 skips the IWAE row)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="folder for the JSON results")
    args = parser.parse_args(argv)

    quick = args.quick
    models = args.models or (["mlp"] if quick else ["mlp", "conv"])
    batch_sizes = args.batch_sizes or ([128] if quick else [128, 1024])
    drivers = args.drivers or ["fit", "loop"]
    precisions = args.precisions or (["float32"] if quick else ["float32", "mixed_bfloat16", "mixed_float16"])
    jits = args.jit or ([False] if quick else [False, True])
    spes = args.steps_per_execution or [1]
    examples = args.examples or (8000 if quick else 16000)
    epochs = args.epochs or (3 if quick else 5)
    iwae_k = (1000 if quick else 5000) if args.iwae_k is None else args.iwae_k
    for name in models:
        if name not in ("mlp", "conv"):
            parser.error(f"unknown model {name!r}; choose from mlp, conv")
    for driver in drivers:
        if driver not in ("fit", "loop"):
            parser.error(f"unknown driver {driver!r}; choose from fit, loop")

    device = device_name()
    print(f"device: {device}; TF {tf.__version__}, Keras {keras.__version__}; {examples} examples/epoch, "
          f"median of {epochs} timed epochs after 1 warm-up", flush=True)
    header = f"{'model':5} {'batch':>5} {'driver':9} {'precision':15} {'jit':5} {'spe':>4} {'examples/s':>11} {'ratio':>6} {'loss':>8} {'peak MiB':>9} {'TFLOP/s':>8}"
    print(header, flush=True)
    rows = []
    for architecture in models:
        for batch_size in batch_sizes:
            data = training_data(examples, batch_size)
            configurations = [("reference", "float32", "auto", 1)] + [
                (driver, precision, jit, spe)
                for precision in precisions
                for jit in jits
                for driver in drivers
                for spe in spes
            ]
            reference_rate = None
            for driver, precision, jit, spe in configurations:
                row = measure(architecture, driver, precision, jit, spe, data, examples, epochs)
                row["batch_size"] = batch_size
                reference_rate = reference_rate or row["examples_per_s"]
                row["ratio"] = row["examples_per_s"] / reference_rate
                rows.append(row)
                peak = f"{row['peak_gpu_mib']:.0f}" if row["peak_gpu_mib"] is not None else "-"
                print(
                    f"{architecture:5} {batch_size:>5} {driver:9} {precision:15} {str(row['jit']):5} {spe:>4} "
                    f"{row['examples_per_s']:>11.0f} {row['ratio']:>6.2f} {row['final_loss']:>8.2f} {peak:>9} "
                    f"{row['train_tflops']:>8.3f}",
                    flush=True,
                )
    iwae = None
    if iwae_k > 0:
        iwae = measure_iwae(iwae_k, batch=100, chunk_size=500, repeats=3)
        print(f"IWAE k={iwae['k']}, batch {iwae['batch']}, chunk {iwae['chunk_size']}: "
              f"{iwae['samples_per_s']:.3g} importance samples/s ({iwae['seconds']:.2f} s per batch)", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y-%m-%dT%H%M%S")
    slug = "".join(c if c.isalnum() else "-" for c in device).strip("-").lower()
    path = args.out / f"{stamp}-{slug}.json"
    path.write_text(
        json.dumps(
            {
                "command": " ".join(["python -m benchmarks.run", *(argv if argv is not None else sys.argv[1:])]),
                "date": stamp,
                "device": device,
                "tensorflow": tf.__version__,
                "keras": keras.__version__,
                "examples_per_epoch": examples,
                "timed_epochs": epochs,
                "rows": rows,
                "iwae": iwae,
            },
            indent=2,
        )
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
