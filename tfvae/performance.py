"""The training step's speed defaults, chosen from measurements.

``jit_compile="auto"`` and ``steps_per_execution="auto"`` (the defaults of
:meth:`tfvae.models.GenerativeModel.compile`, :func:`tfvae.loops.train_loop`
and the ``[train]`` table of a config) resolve here, once, when training is
set up:

==================  =========================  ==========================
device              ``jit_compile``             ``steps_per_execution``
==================  =========================  ==========================
GPU / TPU           trial, else ``True`` (XLA)  ``32``
CPU only            trial, else ``False``       ``32``
any, under a        ``False`` (the cross-replica  ``1`` for Keras ``fit``,
``tf.distribute``   all-reduce does not compile)  32 for the custom loop
strategy
==================  =========================  ==========================

Why (``benchmarks/RESULTS.md``, ``python -m benchmarks.run``): on an H100
the MLP VAE at batch 128 runs at 0.26x the textbook reference in graph mode
without XLA and at 1.84x with XLA and 32 steps per call (the conv VAE 0.37x
and 1.54x): per-op launch latency dominates models this small. On a 2-core
CPU, 32 steps per call ran the MLP VAE 1.13x faster at batch 128 and the
conv VAE, the VQ-VAE and the MLP VAE at batch 1024 1.03-1.06x (measured in
one process, ``python -m benchmarks.interleaved``), while XLA ran the conv VAE at 0.25-0.73x
with 1.2-1.5x the peak memory and the MLP VAE at batch 1024 at 0.77-0.91x.
Batch-level callbacks then run once per 32 steps (Keras' rule for
``steps_per_execution``). Pass explicit values to override.

"trial": as these figures show, whether XLA pays off depends on the model,
the batch and the device, so a run of at least
:data:`tfvae.jit_trial.TRIAL_MIN_STEPS` steps first times its own
step both ways, alternating its first calls on its real batches, and keeps
the faster (:mod:`tfvae.jit_trial`); the
rule in the table is for shorter runs, and what :func:`resolve_jit_compile`
returns before the trial.
"""

from __future__ import annotations

import numbers

import tensorflow as tf

AUTO = "auto"
AUTO_STEPS_PER_EXECUTION = 32


def has_accelerator() -> bool:
    """Whether TensorFlow sees a GPU or TPU."""
    return any(device.device_type in ("GPU", "TPU") for device in tf.config.list_physical_devices())


def resolve_jit_compile(value: bool | str, distributed: bool = False) -> bool:
    """``value``, or for ``"auto"``: XLA on an accelerator, off on a CPU or under a strategy.

    This is the static rule; the drivers then replace it by a timed trial for
    long runs (:mod:`tfvae.jit_trial`).

    Raises:
      ValueError: ``value`` is neither a bool nor ``"auto"``.
    """
    if value == AUTO:
        return has_accelerator() and not distributed
    if isinstance(value, bool):
        return value
    raise ValueError(f"jit_compile must be True, False or 'auto', got {value!r}")


def resolve_steps_per_execution(value: int | str, distributed_fit: bool = False) -> int:
    """``value``, or for ``"auto"``: 32 steps per ``tf.function`` call, 1 for Keras ``fit`` under a strategy.

    Args:
      value: an integer >= 1 or ``"auto"``.
      distributed_fit: the setting is for Keras ``fit`` (``compile``) under a
        ``tf.distribute`` strategy. Keras' multi-step ``fit`` fails there
        (``InvalidArgumentError``: an unfed placeholder in its ``has_next``
        loop, TensorFlow 2.21 / Keras 3.15), so ``"auto"`` is 1 and a larger
        value is refused. The custom loop runs 32 steps per call under a
        strategy.

    Raises:
      ValueError: ``value`` is not ``"auto"`` or an integer >= 1, or is > 1
        with ``distributed_fit``.
    """
    if value == AUTO:
        return 1 if distributed_fit else AUTO_STEPS_PER_EXECUTION
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"steps_per_execution must be an integer >= 1 or 'auto', got {value!r}")
    if distributed_fit and value > 1:
        raise ValueError(
            f"steps_per_execution={value} is not supported for Keras fit under a tf.distribute strategy "
            "(Keras' multi-step fit fails there): pass 1 or 'auto', or train with tfvae.loops.train_loop, "
            "which runs several steps per call under a strategy"
        )
    return int(value)


#: The Keras mixed-precision policies ``precision`` may name, besides ``"auto"``.
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
#: /proc/cpuinfo flags of a CPU that computes bfloat16 natively (AVX512_BF16 dot products, AMX tiles).
BFLOAT16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def _read_cpuinfo() -> str | None:
    """The text of ``/proc/cpuinfo``, or ``None`` off Linux or where it cannot be read."""
    import sys

    if not sys.platform.startswith("linux"):
        return None
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def cpu_computes_bfloat16() -> bool:
    """Whether this CPU has AVX512_BF16 or AMX (``/proc/cpuinfo`` flags); ``False`` where unknown (not Linux)."""
    text = _read_cpuinfo()
    if not text:
        return False
    flags = set()
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "flags":
            flags.update(value.split())
    return any(flag in flags for flag in BFLOAT16_CPU_FLAGS)


def gpus_compute_bfloat16(gpus) -> bool:
    """Whether every GPU of ``gpus`` has compute capability >= 8.0 (Ampere or newer: bfloat16 tensor cores)."""
    for gpu in gpus:
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        if capability is None or tuple(capability) < (8, 0):  # e.g. a ROCm GPU, which reports none: unknown
            return False
    return True


def resolve_precision(value: str) -> str:
    """``value``, or for ``"auto"``: ``"mixed_bfloat16"`` where the device computes bfloat16 natively, else ``"float32"``.

    ``"auto"`` is ``"mixed_bfloat16"`` when TensorFlow sees GPUs and every one
    has compute capability >= 8.0, or sees no GPU and the CPU has the
    ``avx512_bf16`` or ``amx_bf16`` flag (read from ``/proc/cpuinfo`` on Linux;
    on other systems the CPU is taken not to). Anywhere else (a GPU older than
    Ampere, a CPU without them) it is ``"float32"``. It is resolved once, when
    training is set up, the same way under a ``tf.distribute`` strategy;
    :func:`tfvae.experiment.train` records the policy it picked in the run's
    ``summary.json`` (``"precision"``). Heads, log-probabilities, KL terms and
    losses stay float32 under either mixed policy.

    Args:
      value: ``"auto"``, ``"float32"``, ``"mixed_float16"`` or ``"mixed_bfloat16"``.

    Raises:
      ValueError: ``value`` is none of these.
    """
    if value == AUTO:
        gpus = tf.config.list_physical_devices("GPU")
        native = gpus_compute_bfloat16(gpus) if gpus else cpu_computes_bfloat16()
        return "mixed_bfloat16" if native else "float32"
    if value in PRECISIONS:
        return value
    raise ValueError(f"precision must be one of {[*PRECISIONS, AUTO]}, got {value!r}")
