"""tfvae benchmark harness: training and IWAE throughput as ratios to a textbook model.

One invocation measures the textbook Keras models of
``benchmarks/reference.py`` and the tfvae rows (tfvae's defaults, then
drivers x precision x XLA x steps per execution) on the same architecture
and the same ``tf.data`` pipeline (the textbook one for the reference; with
tfvae's :func:`tfvae.data.pipeline_options`, autotuning off, for tfvae's
rows), then IWAE evaluation throughput, prints a
table and writes ``benchmarks/results/<date>-<device>.json``.

Each row runs in its own Python process (:func:`spawn`), so its peak memory
is its own: the process's high-water resident set (``peak RSS``) and, on a
GPU, the allocator peak. Throughput is examples/second over an epoch, the
median of ``--epochs`` timed epochs after one warm-up epoch (tracing, XLA
compilation). An epoch is ``--examples`` digits (the 4000 embedded training
digits, tiled), held in memory and binarised dynamically in the pipeline.
After training every row reports its held-out loss on 1000 test digits
(negative ELBO for VAEs, distortion for the VQ-VAE; nats). Every ratio is
against the reference row of the same model and batch size, measured
minutes apart: these machines are shared, so compare ratios, not absolutes.

    python -m benchmarks.run --quick        # < 5 minutes on 2 CPU cores
    python -m benchmarks.run                # the full table
    python -m benchmarks.run --models mlp --batch-sizes 1024 --precisions mixed_bfloat16 --jit on

Rows: ``reference`` (the textbook model, Keras defaults), ``ref-noat``
(the same textbook model on the pipeline with tfvae's
:func:`tfvae.data.pipeline_options`: how much of a ratio is the pipeline's),
``default`` (a tfvae model compiled with tfvae's defaults, trained with
``fit``: what users get), then ``fit`` and ``loop`` for every precision x ``--jit`` x
``--steps-per-execution``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf

from benchmarks.reference import reference_model
from tfvae import VAE, VQVAE
from tfvae.data import load_arrays, pipeline_options
from tfvae.loops import train_loop
from tfvae.metrics.likelihood import iwae_log_likelihood
from tfvae.models.base import GenerativeModel

LATENT_DIM = 16
MODELS = ("mlp", "conv", "vqvae")
RESULTS_DIR = Path(__file__).resolve().parent / "results"
ROW_PREFIX = "ROW "
#: the reference model on tfvae's pipeline options (tf.data autotuning off): separates the pipeline from the model
NO_AUTOTUNE_REFERENCE = "ref-noat"


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


def train_flops_per_example(model: keras.Model) -> float:
    """Dense-layer training FLOPs per example: 3 x forward (2 per multiply-add), matmuls only.

    Convolutions are not counted, so for the conv model this is a lower bound.
    """
    total = 0
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.Dense) and layer.built:
            total += 2 * int(layer.kernel.shape[0]) * int(layer.kernel.shape[1])
    return 3.0 * total


def build_tfvae(architecture: str) -> GenerativeModel:
    if architecture == "vqvae":
        return VQVAE.conv(embedding_dim=LATENT_DIM, seed=0)
    builder = VAE.mlp if architecture == "mlp" else VAE.conv
    return builder(latent_dim=LATENT_DIM, seed=0)


def test_images(count: int = 1000) -> tf.Tensor:
    """The first ``count`` held-out digits, binarised once with a fixed seed (the same for every row)."""
    x, _ = load_arrays("digits", "test")
    x = np.asarray(x[:count], np.float32) / 255.0
    return tf.constant(np.random.default_rng(1).random(x.shape) < x, tf.float32)


def held_out_loss(model: keras.Model, x: tf.Tensor, passes: int = 5) -> float:
    """Mean per-example held-out loss in nats, averaged over ``passes`` posterior draws.

    VAEs: the negative ELBO (one-sample reconstruction term, analytic KL);
    VQ-VAEs: the distortion. The reference models compute it in their own
    ``test_loss``; tfvae models from their ``loss_terms``.
    """
    keras.utils.set_random_seed(1)
    values = []
    for _ in range(passes):
        for start in range(0, int(x.shape[0]), 250):
            batch = x[start : start + 250]
            if hasattr(model, "test_loss"):
                values.append(model.test_loss(batch).numpy())
            else:
                terms = model.per_example_terms(batch) if hasattr(model, "per_example_terms") else None
                if terms is not None and "elbo" in terms:
                    values.append(-terms["elbo"].numpy())
                else:
                    values.append(np.full(int(batch.shape[0]), float(model.loss_terms(batch)["distortion"])))
    return float(np.mean(np.concatenate(values)))


def rss_mib() -> float:
    """Resident set size of this process now (Linux ``/proc``; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return 0.0


def peak_rss_mib() -> float:
    """High-water resident set size of this process (``ru_maxrss``, KiB on Linux)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(spec: dict) -> dict:
    """Train one row (``1 + epochs`` epochs, the last ``epochs`` timed) in this process; see :func:`spawn`.

    ``spec`` keys: ``model``, ``batch_size``, ``driver`` (``reference``,
    ``default``: tfvae's own defaults through ``fit``, ``fit``, ``loop``),
    ``precision``, ``jit`` (bool or ``None`` for the default), ``spe``
    (int or ``None``), ``examples``, ``epochs``.
    """
    architecture, driver, precision = spec["model"], spec["driver"], spec["precision"]
    examples, epochs = spec["examples"], spec["epochs"]
    keras.mixed_precision.set_global_policy(precision)
    keras.utils.set_random_seed(0)
    data = training_data(examples, spec["batch_size"])
    if driver != "reference":  # tfvae's own pipelines turn tf.data autotuning off (tfvae.data.pipeline)
        data = data.with_options(pipeline_options())
    x_test = test_images()
    rss_before = rss_mib()
    timer = EpochTimer()
    gpu_peak_reset()
    # None: the model's own default (Keras' "auto" / 1 for the reference, tfvae's "auto" otherwise)
    speed = {k: v for k, v in (("jit_compile", spec["jit"]), ("steps_per_execution", spec["spe"])) if v is not None}
    textbook = driver in ("reference", NO_AUTOTUNE_REFERENCE)
    model = reference_model(architecture, LATENT_DIM) if textbook else build_tfvae(architecture)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), **speed)
    if driver == "loop":
        train_loop(model, data, epochs=1 + epochs, verbose=0, callbacks=[timer], **speed)
    else:
        model.fit(data, epochs=1 + epochs, verbose=0, callbacks=[timer])
    jit, spe = bool(model.jit_compile), int(model.steps_per_execution)  # what compile resolved
    timed = timer.seconds[1:]
    rate = examples / statistics.median(timed)
    return {
        **spec,
        "jit": jit,
        "spe": spe,
        "examples_per_s": rate,
        "epoch_seconds": timed,
        "final_loss": float(timer.logs[-1]["loss"]),
        "held_out_loss": held_out_loss(model, x_test),
        "peak_gpu_mib": gpu_peak_mib(),
        "peak_rss_mib": peak_rss_mib(),
        "train_rss_mib": peak_rss_mib() - rss_before,
        "train_tflops": rate * train_flops_per_example(model) / 1e12,
    }


def spawn(spec: dict) -> dict:
    """Run :func:`measure` (or the IWAE row) in a fresh Python process; its result, or ``{"error": ...}``.

    One process per row makes the process peak memory a per-row figure and
    keeps rows from sharing caches, compiled kernels or allocator state.
    """
    command = [sys.executable, "-m", "benchmarks.run", "--row", json.dumps(spec)]
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(command, check=False, capture_output=True, text=True, cwd=root, env=env)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(ROW_PREFIX):
            return json.loads(line[len(ROW_PREFIX):])
    tail = [line for line in (done.stderr or "").splitlines() if line.strip()][-3:]
    return {**spec, "error": f"exit {done.returncode}: " + " | ".join(tail)}


def measure_iwae(spec: dict) -> dict:
    """Importance samples/second of ``iwae_log_likelihood`` on a float32 MLP VAE (untrained: speed only)."""
    k, batch, chunk_size = spec["k"], spec["batch"], spec["chunk_size"]
    model = build_tfvae("mlp")
    x = test_images(batch)
    iwae_log_likelihood(model, x, k=min(k, chunk_size), chunk_size=chunk_size, seed=0)  # trace
    times = []
    for repeat in range(spec["repeats"]):
        start = time.perf_counter()
        iwae_log_likelihood(model, x, k=k, chunk_size=chunk_size, seed=repeat)
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    return {**spec, "seconds": seconds, "samples_per_s": k * batch / seconds, "peak_rss_mib": peak_rss_mib()}


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


HEADER = (
    f"{'model':5} {'batch':>5} {'driver':9} {'precision':15} {'jit':5} {'spe':>4} {'examples/s':>11} "
    f"{'ratio':>6} {'loss':>8} {'test':>8} {'RSS MiB':>8} {'mem':>5} {'GPU MiB':>8} {'TFLOP/s':>8}"
)


def format_row(row: dict) -> str:
    start = f"{row['model']:5} {row['batch_size']:>5} {row['driver']:9} {row['precision']:15}"
    if "error" in row:
        return f"{start} failed: {row['error'][:200]}"
    gpu = f"{row['peak_gpu_mib']:.0f}" if row.get("peak_gpu_mib") is not None else "-"
    memory = f"{row['memory_ratio']:.2f}" if row.get("memory_ratio") is not None else "-"
    return (
        f"{start} {row['jit']!s:5} {row['spe']:>4} {row['examples_per_s']:>11.0f} {row['ratio']:>6.2f} "
        f"{row['final_loss']:>8.2f} {row['held_out_loss']:>8.2f} {row['peak_rss_mib']:>8.0f} {memory:>5} "
        f"{gpu:>8} {row['train_tflops']:>8.3f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a small table (< 5 minutes on 2 CPU cores)")
    parser.add_argument("--models", type=parse_list, default=None, help="mlp,conv,vqvae")
    parser.add_argument("--batch-sizes", type=lambda t: parse_list(t, int), default=None, help="128,1024")
    parser.add_argument("--drivers", type=parse_list, default=None, help="fit,loop")
    parser.add_argument("--precisions", type=parse_list, default=None, help="float32,mixed_bfloat16,mixed_float16")
    parser.add_argument("--jit", type=parse_jit, default=None, help="off, on, or off,on")
    parser.add_argument("--steps-per-execution", type=lambda t: parse_list(t, int), default=None, help="e.g. 1,32")
    parser.add_argument("--examples", type=int, default=None, help="examples per epoch")
    parser.add_argument("--epochs", type=int, default=None, help="timed epochs per row (after one warm-up)")
    parser.add_argument("--iwae-k", type=int, default=None, help="importance samples (0 skips the IWAE row)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="folder for the JSON results")
    parser.add_argument("--row", help=argparse.SUPPRESS)  # internal: run one row in this process
    args = parser.parse_args(argv)

    if args.row:
        spec = json.loads(args.row)
        result = measure_iwae(spec) if spec.get("kind") == "iwae" else measure(spec)
        print(ROW_PREFIX + json.dumps(result), flush=True)
        return 0

    quick = args.quick
    models = args.models or (["mlp"] if quick else list(MODELS))
    batch_sizes = args.batch_sizes or ([128] if quick else [128, 1024])
    drivers = args.drivers if args.drivers is not None else (["loop"] if quick else ["fit", "loop"])
    precisions = args.precisions or (["float32"] if quick else ["float32", "mixed_bfloat16", "mixed_float16"])
    jits = args.jit or ([False] if quick else [False, True])
    spes = args.steps_per_execution or [1]
    examples = args.examples or (8000 if quick else 16000)
    epochs = args.epochs or 3
    iwae_k = (1000 if quick else 5000) if args.iwae_k is None else args.iwae_k
    for name in models:
        if name not in MODELS:
            parser.error(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    for driver in drivers:
        if driver not in ("fit", "loop"):
            parser.error(f"unknown driver {driver!r}; choose from fit, loop")

    device = device_name()
    print(f"device: {device}; TF {tf.__version__}, Keras {keras.__version__}; {examples} examples/epoch, "
          f"median of {epochs} timed epochs after 1 warm-up; one process per row", flush=True)
    print("ratio: throughput / reference; mem: peak RSS / reference's; loss: last training epoch; "
          "test: held-out loss (nats)", flush=True)
    print(HEADER, flush=True)
    rows = []
    for architecture in models:
        for batch_size in batch_sizes:
            base = {"model": architecture, "batch_size": batch_size, "examples": examples, "epochs": epochs}
            specs = [
                {**base, "driver": "reference", "precision": "float32", "jit": None, "spe": None},
                {**base, "driver": NO_AUTOTUNE_REFERENCE, "precision": "float32", "jit": None, "spe": None},
                {**base, "driver": "default", "precision": "float32", "jit": None, "spe": None},
            ] + [
                {**base, "driver": driver, "precision": precision, "jit": jit, "spe": spe}
                for precision in precisions
                for jit in jits
                for driver in drivers
                for spe in spes
            ]
            reference = None
            for spec in specs:
                row = spawn(spec)
                if "error" not in row:
                    reference = reference or row
                    row["ratio"] = row["examples_per_s"] / reference["examples_per_s"]
                    row["memory_ratio"] = row["peak_rss_mib"] / reference["peak_rss_mib"]
                rows.append(row)
                print(format_row(row), flush=True)
    iwae = None
    if iwae_k > 0:
        iwae = spawn({"kind": "iwae", "k": iwae_k, "batch": 100, "chunk_size": 500, "repeats": 3})
        if "error" in iwae:
            print(f"IWAE failed: {iwae['error']}", flush=True)
        else:
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
