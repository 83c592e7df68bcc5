"""``jit_compile="auto"``: XLA or not, decided by timing both on the model itself.

Whether XLA pays off depends on the model, the batch and the device: on the
2-core CPU of ``benchmarks/RESULTS.md`` it ran the MLP VAE 1.2-1.6x faster at
batch 128 but 0.77-0.91x at batch 1024 and 0.25-0.73x on every conv VAE row;
on an H100 it won on every row. A fixed rule gets some of these wrong, so a
training run of at least :data:`TRIAL_MIN_STEPS` steps first times the
model's real training step both ways (:func:`run_jit_trial`) and keeps the
faster. The trial:

- compiles the step with and without XLA (the same :func:`gradient_step`
  both drivers run, ``steps_per_execution`` steps per call as in training)
  on a batch of the training data's shape and dtype (synthetic values, so
  the data's own iterators, and with them the run's data order, are
  untouched);
- times ``rounds`` calls of each, alternated, and compares the best time
  per step of each;
- puts every variable it moved (weights, optimizer slots and iterations,
  the model's random state and step counter, the term trackers) back as it
  was, so training proceeds exactly as if no trial had run;
- is cached per model class, model config, batch shape, device and step
  settings for the life of the process (:func:`cached_trial`), so a run that
  trains in several calls (one epoch at a time, resuming) pays it once.

Shorter runs (tests, smoke runs) skip the trial and keep the static rule of
:func:`tfvae.performance.resolve_jit_compile` (XLA on an accelerator only).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import time
from collections.abc import Hashable

import keras
import numpy as np
import tensorflow as tf

#: Runs planned to take fewer optimisation steps than this skip the trial.
TRIAL_MIN_STEPS = 2000

#: Timed calls of each variant (after one warm-up call that traces and compiles it).
TRIAL_ROUNDS = 3

_CACHE: dict[Hashable, JitTrial] = {}


@dataclasses.dataclass(frozen=True)
class JitTrial:
    """What a ``jit_compile="auto"`` trial measured and chose.

    Attributes:
      jit_compile: the choice (True: XLA).
      xla_step_s: best seconds per optimisation step with XLA.
      graph_step_s: best seconds per optimisation step without XLA.
      cost_s: wall seconds the trial took (both compilations included).
      cached: the choice came from an earlier trial of the same model
        config, batch shape, device and step settings in this process.
    """

    jit_compile: bool
    xla_step_s: float
    graph_step_s: float
    cost_s: float
    cached: bool = False

    @property
    def speedup(self) -> float:
        """How many times faster XLA ran than the plain graph (below 1: slower)."""
        return self.graph_step_s / self.xla_step_s

    def as_dict(self) -> dict[str, float | bool]:
        return {"jit_compile": self.jit_compile, "xla_step_s": round(self.xla_step_s, 6),
                "graph_step_s": round(self.graph_step_s, 6), "xla_speedup": round(self.speedup, 3),
                "trial_cost_s": round(self.cost_s, 2), "cached": self.cached}

    def describe(self) -> str:
        """One line for a progress log."""
        chosen = "XLA on" if self.jit_compile else "XLA off"
        return (f"jit_compile='auto': {chosen} (XLA ran the step {self.speedup:.2f}x the speed of the plain graph; "
                + ("decided by an earlier trial)" if self.cached else f"trial took {self.cost_s:.1f} s)"))


def decide(model: keras.Model, optimizer: keras.optimizers.Optimizer, element_spec, batch_size: int | None,
           steps: int | None, steps_per_execution: int, on_nonfinite: str, fallback: bool, verbose: int = 0) -> bool:
    """``jit_compile`` for a run of ``steps`` steps: the trial's choice, or ``fallback`` for a short run.

    Sets ``model.jit_trial`` to the :class:`JitTrial` (None when no trial
    ran) and prints :meth:`JitTrial.describe` when ``verbose``.

    Args:
      model: the model about to train.
      optimizer: the optimizer it trains with.
      element_spec: the structure of one training batch (``dataset.element_spec``).
      batch_size: examples per batch (None: unknown, no trial).
      steps: the optimisation steps the run will take (None: unknown, a trial).
      steps_per_execution: steps per traced call.
      on_nonfinite: the step's non-finite mode.
      fallback: the static choice (:func:`tfvae.performance.resolve_jit_compile`).
      verbose: print the decision.
    """
    model.jit_trial = None
    if batch_size is None or not wants_trial(steps):
        return fallback
    trial = cached_trial(model, optimizer, trial_batch(element_spec, batch_size), steps_per_execution, on_nonfinite)
    model.jit_trial = trial
    if verbose:
        print(trial.describe())
    return trial.jit_compile


def decide_for_fit(model: keras.Model, x, args: tuple, kwargs: dict, on_nonfinite: str) -> bool | None:
    """:func:`decide` for ``model.fit(x, *args, **kwargs)``; None for input it cannot read (generators, dicts)."""
    bound = inspect.signature(keras.Model.fit).bind_partial(model, x, *args, **kwargs).arguments
    epochs, initial_epoch = int(bound.get("epochs", 1)), int(bound.get("initial_epoch", 0))
    if isinstance(x, tf.data.Dataset):
        spec, batch_size = x.element_spec, batch_size_of(x)
        steps = planned_steps(x, epochs, initial_epoch)
        if bound.get("steps_per_epoch") is not None:
            steps = int(bound["steps_per_epoch"]) * max(epochs - initial_epoch, 0)
    elif isinstance(x, (np.ndarray, tf.Tensor)):
        batch_size = int(bound.get("batch_size") or 32)
        spec = tf.TensorSpec((None, *x.shape[1:]), tf.as_dtype(x.dtype))
        steps = -(-int(x.shape[0]) // batch_size) * max(epochs - initial_epoch, 0)
    else:
        return None
    return decide(model, model.optimizer, spec, batch_size, steps, int(model.steps_per_execution), on_nonfinite,
                  bool(model.jit_compile), verbose=int(bound.get("verbose", 1) not in (0, "0")))


def planned_steps(dataset: tf.data.Dataset, epochs: int, initial_epoch: int = 0) -> int | None:
    """Optimisation steps a run over ``dataset`` will take, or None when its length is unknown."""
    cardinality = int(dataset.cardinality())
    if cardinality < 0:  # tf.data.INFINITE_CARDINALITY or UNKNOWN_CARDINALITY
        return None
    return cardinality * max(int(epochs) - int(initial_epoch), 0)


def wants_trial(steps: int | None) -> bool:
    """Whether a run of ``steps`` steps (None: unknown) is long enough to pay for a trial."""
    return steps is None or steps >= TRIAL_MIN_STEPS


def trial_batch(element_spec, batch_size: int, seed: int = 0):
    """A batch of ``batch_size`` examples with the structure, shapes and dtypes of ``element_spec``.

    Floating tensors are uniform in [0, 1) (valid pixels and probabilities),
    integer and boolean ones are zeros (a valid label or token).
    """
    generator = tf.random.Generator.from_seed(seed)

    def make(spec: tf.TensorSpec):
        shape = [batch_size if dim is None else dim for dim in spec.shape.as_list()]
        if shape:
            shape[0] = batch_size
        if spec.dtype.is_floating:
            return tf.cast(generator.uniform(shape), spec.dtype)
        return tf.zeros(shape, spec.dtype)

    return tf.nest.map_structure(make, element_spec)


def batch_size_of(dataset: tf.data.Dataset, default: int | None = None) -> int | None:
    """The batch size of a batched ``dataset``: its static leading dimension, else the ``batch`` it was made with."""
    first = tf.nest.flatten(dataset.element_spec)[0]
    if first.shape.rank and first.shape[0] is not None:
        return int(first.shape[0])
    node = dataset
    while node is not None:
        size = getattr(node, "_batch_size", None)  # tf.data's BatchDataset (and padded/ragged batch)
        if size is not None:
            return int(size)
        node = getattr(node, "_input_dataset", None)
    return default


def _device() -> str:
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU")
    if devices:
        return devices[0].device_type + ":" + tf.config.experimental.get_device_details(
            tf.config.list_physical_devices(devices[0].device_type)[0]).get("device_name", "?")
    return "CPU"


def _config_key(model: keras.Model) -> str:
    try:
        config = {k: v for k, v in model.get_config().items() if k != "name"}  # vae_1, vae_2: the same model
        return json.dumps(config, sort_keys=True, default=repr)
    except Exception:  # noqa: BLE001  (a model without a config: cache per instance only)
        return f"id:{id(model)}"


def cached_trial(model: keras.Model, optimizer: keras.optimizers.Optimizer, batch, steps_per_execution: int,
                 on_nonfinite: str) -> JitTrial:
    """:func:`run_jit_trial`, once per model config, batch shape, device and step settings in this process."""
    shapes = tuple((tuple(t.shape), t.dtype.name) for t in tf.nest.flatten(batch))
    key = (type(model).__qualname__, _config_key(model), shapes, _device(), type(optimizer).__name__,
           keras.mixed_precision.global_policy().name, int(steps_per_execution), on_nonfinite)
    if key in _CACHE:
        return dataclasses.replace(_CACHE[key], cached=True)
    trial = run_jit_trial(model, optimizer, batch, steps_per_execution, on_nonfinite)
    _CACHE[key] = trial
    return trial


def run_jit_trial(model: keras.Model, optimizer: keras.optimizers.Optimizer, batch, steps_per_execution: int,
                  on_nonfinite: str, rounds: int = TRIAL_ROUNDS) -> JitTrial:
    """Time the model's training step with and without XLA; every variable is put back afterwards.

    Args:
      model: a built :class:`~tfvae.models.GenerativeModel`.
      optimizer: the optimizer training will use (built, or built here).
      batch: one batch of the training data's structure (e.g. :func:`trial_batch`).
      steps_per_execution: steps per traced call, as in training.
      on_nonfinite: the training step's non-finite mode.
      rounds: timed calls of each variant.

    Returns:
      The :class:`JitTrial`; XLA is chosen when it is faster per step. A
      variant that fails to compile loses (XLA: a graph-only op).
    """
    from tfvae.models.base import gradient_step

    started = time.perf_counter()
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    variables = _state_of(model, optimizer)
    saved = [v.numpy().copy() for v in variables]
    steps = int(steps_per_execution)

    def runner(jit_compile: bool):
        step = tf.function(lambda data: gradient_step(model, optimizer, data, on_nonfinite=on_nonfinite),
                           jit_compile=jit_compile)

        @tf.function
        def run(data):
            for _ in tf.range(steps):
                step(data)

        return run

    times: dict[bool, float] = {}
    logger, level = tf.get_logger(), tf.get_logger().level
    logger.setLevel("ERROR")  # each trial traces new functions: not the retracing TensorFlow warns about
    try:
        runners = {}
        for jit in (False, True):
            try:
                runners[jit] = runner(jit)
                runners[jit](batch)  # trace and compile
            except Exception:  # noqa: BLE001  (e.g. an op XLA cannot compile: that variant loses)
                runners.pop(jit, None)
                times[jit] = float("inf")
        for _ in range(rounds):
            for jit, run in runners.items():
                tick = time.perf_counter()
                run(batch)
                _sync(model)
                times[jit] = min(times.get(jit, float("inf")), (time.perf_counter() - tick) / steps)
    finally:
        logger.setLevel(level)
        for variable, value in zip(variables, saved):
            variable.assign(value)
    return JitTrial(jit_compile=times[True] < times[False], xla_step_s=times[True], graph_step_s=times[False],
                    cost_s=time.perf_counter() - started)


def _state_of(model: keras.Model, optimizer: keras.optimizers.Optimizer) -> list[tf.Variable]:
    """Every variable a training step may move: the model's, its trackers', the optimizer's (each once)."""
    seen: dict[int, tf.Variable] = {}
    metrics = [*model.metrics, *model.term_trackers]
    for variable in [*model.variables, *optimizer.variables, *(v for metric in metrics for v in metric.variables)]:
        seen.setdefault(id(variable), variable)
    return list(seen.values())


def _sync(model: keras.Model) -> None:
    """Wait for the device: read a scalar the step wrote."""
    float(tf.convert_to_tensor(model.steps_done).numpy())
