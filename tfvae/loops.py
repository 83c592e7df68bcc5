"""A custom ``tf.function`` training loop over the same ``loss_terms`` as ``fit``.

Use it when you want the loop in your own hands (a custom schedule, one
optimizer per update, ``tf.distribute`` with ``strategy.run``) but not a second
copy of the objective: each step is :func:`tfvae.models.gradient_step`, the
function ``GenerativeModel.train_step`` uses under ``fit``.

``steps_per_execution`` runs that many steps inside one ``tf.function`` call
(fewer Python round trips, as in ``fit``); ``jit_compile=True`` compiles each
step with XLA (the data iterator stays outside the compiled region).

Under ``tf.distribute`` (a model built and compiled inside
``strategy.scope()``, see :mod:`tfvae.distribute`) each step runs on every
replica with ``strategy.run``: the data is the GLOBAL batch, split between
the replicas by :func:`tfvae.distribute.distribute_dataset`, and the loss is
averaged over the global batch. This loop is the supported driver for
``MultiWorkerMirroredStrategy`` (Keras 3 ``fit`` is not, keras-team/keras#20585).

Example::

    model = tfvae.VAE.mlp(seed=0)
    history = train_loop(model, dataset, epochs=5,
                         optimizer=keras.optimizers.Adam(1e-3))
    history["elbo"][-1]         # per-example ELBO of the last epoch, nats
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Iterable

import keras
import tensorflow as tf

from tfvae import jit_trial
from tfvae.data.pipeline import in_memory_batches
from tfvae.distribute import distribute_dataset, is_distributed, is_multi_worker
from tfvae.functions import traced_for
from tfvae.models.base import GenerativeModel
from tfvae.models.steps import (
    NonFiniteGuard,
    evaluation_step,
    gradient_step,
    nonfinite_mode,
    raise_nonfinite,
)
from tfvae.performance import AUTO, resolve_jit_compile, resolve_steps_per_execution
from tfvae.progress import Progbar


def _strategy_of(model: GenerativeModel) -> tf.distribute.Strategy | None:
    """The strategy the model was built under (``None``: TensorFlow's default, one device)."""
    strategy = model.distribute_strategy
    return strategy if is_distributed(strategy) else None


def _prepare_optimizers(model: GenerativeModel, optimizer, strategy) -> dict[str, keras.optimizers.Optimizer]:
    """Update name -> built optimizer (:meth:`GenerativeModel.prepare_update_optimizers`), the first one first."""
    first = model.updates[0].name
    given = dict(optimizer) if isinstance(optimizer, dict) else {first: optimizer}
    if given.get(first) is None:
        given[first] = getattr(model, "optimizer", None)
    if given[first] is None:
        raise ValueError("train_loop needs an optimizer: pass optimizer=... or compile the model first")
    # Under a strategy the optimizers' variables (slots, iterations, loss scale)
    # must be created in its scope, as the model's were.
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        return model.prepare_update_optimizers(given)


def _as_dataset(data, batch_size: int | None) -> tf.data.Dataset:
    if isinstance(data, (tf.data.Dataset, tf.distribute.DistributedDataset)):
        return data
    if batch_size is None:
        raise ValueError("pass batch_size when the data is an array, not a tf.data.Dataset")
    return in_memory_batches(data, batch_size)


def _execution(model: GenerativeModel, jit_compile: bool | str, steps_per_execution: int | str):
    """``(strategy, jit_compile, steps_per_execution)`` resolved for a loop over ``model``.

    ``"auto"`` values as :mod:`tfvae.performance` resolves them; the strategy
    is the one the model was built under (``None``: one device).

    Raises:
      ValueError: ``jit_compile=True`` under a strategy.
    """
    strategy = _strategy_of(model)
    jit_compile = resolve_jit_compile(jit_compile, strategy is not None)
    steps_per_execution = int(resolve_steps_per_execution(steps_per_execution))
    if strategy is not None and jit_compile:
        raise ValueError(
            "jit_compile=True does not work under a tf.distribute strategy here (the step's cross-replica "
            "all-reduce cannot be compiled with XLA): train with jit_compile=False"
        )
    return strategy, jit_compile, steps_per_execution


def _runner(model: GenerativeModel, key: tuple, step: Callable, steps_per_execution: int, jit_compile: bool,
            strategy, check_health: bool) -> Callable:
    """The runner of ``step(model, batch)`` (:func:`_make_runner`), traced once per model and ``key``.

    Repeated calls (one epoch at a time, resuming, warm-up then timing) reuse
    one trace, as Keras caches its train_function (:func:`tfvae.functions.traced_for`).
    """

    def make():
        owner = weakref.ref(model)  # the cached runner must not keep the model alive

        def one_step(batch):
            step(owner(), batch)

        return _make_runner(tf.function(one_step, jit_compile=jit_compile), steps_per_execution, strategy,
                            owner if check_health else None)

    return traced_for(model, key, make)


def _make_runner(step_fn, steps_per_execution: int, strategy: tf.distribute.Strategy | None = None,
                 owner: Callable[[], GenerativeModel] | None = None):
    """A ``tf.function`` running up to ``steps_per_execution`` steps; returns how many ran.

    With ``owner`` (a weak reference to the model) it returns ``(steps, healthy)``,
    ``healthy`` being whether every term tracker of the model is still finite (a failed step under
    ``on_nonfinite="stop"`` leaves them non-finite, see
    :func:`tfvae.models.gradient_step`).
    """
    if strategy is None:
        replicated = step_fn
    else:
        # Every replica (on every worker) runs the step on its share of the
        # batch; strategy.run sits in a function of its own, as in Keras.
        @tf.function
        def replicated(batch):
            strategy.run(step_fn, args=(batch,))

    @tf.function
    def run(iterator):
        def more(steps, batch):
            return tf.logical_and(steps < steps_per_execution, batch.has_value())

        def step(steps, batch):
            replicated(batch.get_value())
            steps += 1
            # Fetch the next batch only when this call takes another step. On a
            # distributed iterator every worker agrees whether a batch is left
            # (replicas without examples get empty ones).
            return steps, tf.cond(steps < steps_per_execution, iterator.get_next_as_optional, lambda: batch)

        # The batch is loop state and the step runs in the loop's body, not in
        # a tf.cond after a `break`: there MirroredStrategy's replica threads
        # capture placeholders that are never fed.
        steps, _ = tf.while_loop(more, step, [tf.constant(0), iterator.get_next_as_optional()])
        if owner is None:
            return steps
        healthy = tf.reduce_all(tf.stack([tf.math.is_finite(t.result()) for t in owner().term_trackers]))
        return steps, healthy

    return run


def _cardinality(dataset: tf.data.Dataset) -> int | None:
    if not isinstance(dataset, tf.data.Dataset):  # already distributed: unknown
        return None
    n = int(dataset.cardinality())
    return n if n >= 0 else None


def _run_epoch(model, dataset, runner, progbar_title, verbose, strategy=None, epoch=None) -> dict[str, float]:
    for tracker in model.term_trackers:
        tracker.reset_state()
    target = _cardinality(dataset)
    if strategy is not None:
        dataset = distribute_dataset(strategy, dataset)
    # Reading a tracker under MultiWorkerMirroredStrategy is a collective
    # (its per-replica sums are all-reduced across workers): every worker
    # reads after every call, whatever its verbosity, so they stay in step.
    sync_reads = is_multi_worker(strategy)
    # counts the steps each call really ran (the last may run fewer than steps_per_execution)
    bar = Progbar(target, stateful_metrics=model.loss_term_names, verbose=verbose) if verbose else None
    if bar is not None and progbar_title:
        print(progbar_title)
    iterator = iter(dataset)
    done = 0
    while True:
        ran = runner(iterator)
        if isinstance(ran, tuple):  # a training runner: stop at a non-finite step
            ran, healthy = ran
            if not bool(healthy):
                raise_nonfinite(model, epoch)
        ran = int(ran)
        if ran == 0:
            break
        done += ran
        if bar is not None or sync_reads:
            values = [(t.name, float(t.result())) for t in model.term_trackers]
            if bar is not None:
                bar.update(done, values)
    if done == 0:
        raise ValueError("the dataset yielded no batches")
    results = {t.name: float(t.result()) for t in model.term_trackers}
    if bar is not None and (target is None or done < target):  # not ended by reaching its target
        bar.finish(done, list(results.items()))
    return results


def train_loop(
    model: GenerativeModel,
    data,
    *,
    epochs: int = 1,
    optimizer: keras.optimizers.Optimizer | None = None,
    batch_size: int | None = None,
    steps_per_execution: int | str = "auto",
    jit_compile: bool | str = "auto",
    validation_data=None,
    initial_epoch: int = 0,
    callbacks: list[keras.callbacks.Callback] | None = None,
    verbose: int = 1,
    on_nonfinite: str | None = None,
) -> dict[str, list[float]]:
    """Train ``model`` with a hand-written ``tf.function`` loop.

    Args:
      model: a :class:`~tfvae.models.GenerativeModel`.
      data: a batched ``tf.data.Dataset`` (re-iterated each epoch), or arrays
        with ``batch_size``. Under a strategy its batches are global batches
        (a ``tf.distribute.DistributedDataset`` is used as it is).
      epochs: passes over ``data``.
      optimizer: defaults to ``model.optimizer`` (from ``compile``); or a dict
        ``{update name: optimizer}`` for a model with several
        :attr:`~tfvae.models.GenerativeModel.updates` (those not given: the
        compiled ones, else made from their declarations). Wrapped in
        a ``LossScaleOptimizer`` under ``mixed_float16``.
      batch_size: batch size when ``data`` is an array.
      steps_per_execution: optimisation steps per ``tf.function`` call;
        ``"auto"``: 32 (:mod:`tfvae.performance`).
      jit_compile: compile each step with XLA; ``"auto"``: the first calls
        time both on the run's batches and keep the faster for a run of at
        least :data:`tfvae.jit_trial.TRIAL_MIN_STEPS` steps (the
        result is ``model.jit_trial``), else on with a GPU/TPU and off on a
        CPU; off under a strategy.
      validation_data: optional data evaluated after each epoch (``val_`` keys).
      initial_epoch: epoch to start from (when resuming); runs epochs
        ``initial_epoch .. epochs - 1``, as ``fit`` does.
      callbacks: Keras callbacks; the loop calls their train and epoch hooks
        (``on_epoch_end`` gets the epoch's logs) and stops when one sets
        ``model.stop_training``. Batch hooks are not called.
      verbose: 0 silent, 1 a progress bar per epoch.
      on_nonfinite: a step whose loss terms or gradients are not finite is
        never applied; ``"stop"`` then raises
        :class:`~tfvae.models.base.NonFiniteError` (naming the step and the
        term) at the end of that ``tf.function`` call, ``"skip"`` goes on
        (the epoch warns how many steps it skipped). Default:
        ``model.on_nonfinite``, else ``"stop"``.

    Returns:
      ``{term: [value per epoch run]}`` for every name in ``model.loss_term_names``
      (and ``val_<term>`` with validation data).

    Raises:
      NonFiniteError: a non-finite step under ``on_nonfinite="stop"``; the
        model holds the weights of the step before, and no ``on_epoch_end``
        hook ran for the failed epoch.
    """
    if int(epochs) < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if not 0 <= int(initial_epoch) <= int(epochs):
        raise ValueError(f"initial_epoch must be in [0, epochs={epochs}], got {initial_epoch}")
    mode = nonfinite_mode(model, on_nonfinite)
    requested = jit_compile
    strategy, jit_compile, steps_per_execution = _execution(model, jit_compile, steps_per_execution)
    model.observe_training_data(data)  # the dataset size, for objectives that need it
    optimizers = _prepare_optimizers(model, optimizer, strategy)
    optimizer = optimizers[model.updates[0].name]
    dataset = _as_dataset(data, batch_size)
    if strategy is None:  # a wrong shape named here, not from inside the traced step
        model.check_batch_spec(dataset.element_spec)
    pending = None
    if requested == AUTO and strategy is None:  # a long enough run times both (tfvae.jit_trial)
        jit_compile = jit_trial.decide(
            model, optimizer, dataset.element_spec, jit_trial.batch_size_of(dataset, batch_size),
            jit_trial.planned_steps(dataset, epochs, initial_epoch), steps_per_execution, mode, jit_compile,
            verbose,
        )
        if isinstance(jit_compile, jit_trial.PendingTrial):
            pending, jit_compile = jit_compile, jit_compile.fallback

    def train_runner(jit: bool):
        def step(model, batch):
            gradient_step(model, optimizers, batch, on_nonfinite=mode)  # records the terms in the trackers

        key = ("train", *optimizers.values(), steps_per_execution, jit, id(strategy), mode)
        return _runner(model, key, step, steps_per_execution, jit, strategy, check_health=True)

    if pending is None:
        runner = train_runner(bool(jit_compile))
    else:
        def decided(trial: jit_trial.JitTrial) -> None:
            model.jit_trial = trial

        variants = {jit: train_runner(jit) for jit in (False, True)}
        runner = pending.alternate(variants, lambda ran: int(ran[0]), decided, batches_per_call=steps_per_execution,
                                   randomness=lambda *args: jit_trial.step_randomness(model, variants[False], *args))

    def evaluator():  # compiled as the trial chose, once it has
        jit = model.jit_trial.jit_compile if pending is not None and model.jit_trial is not None else jit_compile
        return _evaluation_runner(model, steps_per_execution, jit, strategy)

    history: dict[str, list[float]] = {}
    hooks = keras.callbacks.CallbackList([*(callbacks or []), NonFiniteGuard(mode, optimizer)], model=model)
    model.stop_training = False
    hooks.on_train_begin()
    for epoch in range(int(initial_epoch), int(epochs)):
        hooks.on_epoch_begin(epoch)
        title = f"Epoch {epoch + 1}/{epochs}"
        results = _run_epoch(model, dataset, runner, title, verbose, strategy, epoch)
        if validation_data is not None:
            val = _run_epoch(model, _as_dataset(validation_data, batch_size), evaluator(), None, 0, strategy)
            results.update({f"val_{k}": v for k, v in val.items()})
            if verbose:
                print("  " + "  ".join(f"val_{k}: {v:.4f}" for k, v in val.items()))
        for key, value in results.items():
            history.setdefault(key, []).append(value)
        hooks.on_epoch_end(epoch, dict(results))
        if model.stop_training:
            break
    hooks.on_train_end()
    return history


def _evaluation_runner(model: GenerativeModel, steps_per_execution: int, jit_compile: bool, strategy=None):
    key = ("evaluate", int(steps_per_execution), bool(jit_compile), id(strategy))
    return _runner(model, key, evaluation_step, int(steps_per_execution), bool(jit_compile), strategy,
                   check_health=False)


def evaluate_loop(
    model: GenerativeModel,
    data,
    *,
    batch_size: int | None = None,
    steps_per_execution: int | str = "auto",
    jit_compile: bool | str = "auto",
    verbose: int = 1,
) -> dict[str, float]:
    """Per-example means of every loss term over ``data`` (no training).

    Args:
      model: a :class:`~tfvae.models.GenerativeModel`.
      data: a batched ``tf.data.Dataset``, or arrays with ``batch_size``.
      batch_size: batch size when ``data`` is an array.
      steps_per_execution: batches per ``tf.function`` call (``"auto"`` as in :func:`train_loop`).
      jit_compile: compile each step with XLA (``"auto"`` as in :func:`train_loop`).
      verbose: 0 silent, 1 a progress bar.
    """
    strategy, jit_compile, steps_per_execution = _execution(model, jit_compile, steps_per_execution)
    runner = _evaluation_runner(model, steps_per_execution, jit_compile, strategy)
    return _run_epoch(model, _as_dataset(data, batch_size), runner, None, verbose, strategy)


__all__: Iterable[str] = ["evaluate_loop", "train_loop"]
