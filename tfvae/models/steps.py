"""The training and evaluation steps both drivers share, and the non-finite policy.

Keras ``fit`` / ``evaluate`` (:meth:`GenerativeModel.train_step` and
``test_step``) and the custom loop (:mod:`tfvae.loops`) run the same two
functions on the model's ``loss_terms``: :func:`gradient_step` (one
optimisation step, with the non-finite guard) and :func:`evaluation_step`.
What a driver does about a non-finite step (:class:`NonFiniteError`,
:func:`raise_nonfinite`, the :class:`NonFiniteGuard` callback) lives here
too. The model contract itself is :mod:`tfvae.models.base`.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING

import keras
import tensorflow as tf

from tfvae.config import NONFINITE_MODES
from tfvae.distribute import global_batch_mean
from tfvae.errors import TfvaeError

if TYPE_CHECKING:
    from tfvae.models.base import GenerativeModel

__all__ = [
    "NonFiniteError",
    "NonFiniteGuard",
    "evaluation_step",
    "gradient_step",
    "nonfinite_mode",
    "raise_nonfinite",
]


class NonFiniteError(TfvaeError, FloatingPointError):
    """A training step gave a NaN or infinite loss term or gradient (``on_nonfinite="stop"``).

    The step's update was not applied: the model and optimizer hold the
    values of the step before, and a run's newest checkpoint is the last good one.
    """


def nonfinite_mode(model: GenerativeModel, on_nonfinite: str | None = None) -> str:
    """The non-finite policy in force: ``on_nonfinite``, else ``model.on_nonfinite``, else ``"stop"``."""
    mode = on_nonfinite if on_nonfinite is not None else getattr(model, "on_nonfinite", "stop")
    if mode not in NONFINITE_MODES:
        raise ValueError(f"on_nonfinite must be one of {list(NONFINITE_MODES)}, got {mode!r}")
    return mode


def _all_finite(tensors) -> tf.Tensor:
    r"""Whether no element of ``tensors`` is NaN or infinite: one sum per tensor, exact.

    A sum is finite only when every term is (NaN + x is NaN, inf + x is inf,
    inf - inf is NaN), so finite sums prove every element finite at the cost
    of one reduction per tensor, with no boolean copy of the gradients as
    ``is_finite`` makes (that copy cost 8-12% of the MLP VAE's step on a CPU).
    The converse fails: finite elements can sum beyond float32's range
    (``1e36`` x 1000, or ``[3e38, 3e38, -3e38, -3e38]`` summed left to right),
    so where a sum is not finite the elementwise check decides
    (``tf.cond``: only such steps pay for it)::

        all_finite(g_1..g_n) = all_i isfinite(sum g_i)  or  all_i all_j isfinite(g_ij)

    Both branches are plain reductions, so the check runs under XLA and in a
    replica context alike. float16 tensors are summed in float32.
    """
    present = [t.values if isinstance(t, tf.IndexedSlices) else t for t in tensors if t is not None]
    if not present:
        return tf.constant(True)

    def total(t: tf.Tensor) -> tf.Tensor:
        if t.dtype == tf.float16:  # its range ends at 65504: sum in float32
            t = tf.cast(t, tf.float32)
        return tf.cast(tf.reduce_sum(t), tf.float32)

    def elementwise() -> tf.Tensor:
        return tf.reduce_all(tf.stack([tf.reduce_all(tf.math.is_finite(t)) for t in present]))

    sums_finite = tf.reduce_all(tf.math.is_finite(tf.stack([total(t) for t in present])))
    return tf.cond(sums_finite, lambda: tf.constant(True), elementwise)


def _apply_if(condition: tf.Tensor, optimizer, gradients, variables) -> None:
    """``optimizer.apply_gradients`` only where ``condition`` (the same on every replica) holds."""

    def apply(grads):
        optimizer.apply_gradients(zip(grads, variables))

    context = tf.distribute.get_replica_context()
    if context is None or tf.__internal__.distribute.strategy_supports_no_merge_call():
        tf.cond(condition, lambda: apply(gradients), lambda: None)
        return

    # MirroredStrategy on CPUs aggregates gradients with merge_call, which
    # cannot sit in a tf.cond branch in replica context: take the decision in
    # cross-replica context (as keras.optimizers.LossScaleOptimizer does).
    def decide(distribution, condition, grads):
        condition = distribution.experimental_local_results(condition)[0]
        tf.cond(condition, lambda: distribution.extended.call_for_each_replica(apply, args=(grads,)), lambda: None)

    context.merge_call(decide, args=(condition, gradients))


def gradient_step(model: GenerativeModel, optimizer, data, on_nonfinite: str | None = None) -> dict[str, tf.Tensor]:
    """One optimisation step on ``model.loss_terms(data)``: every update of ``model.updates``; records the terms.

    Shared by :meth:`GenerativeModel.train_step` (Keras ``fit``) and
    :func:`tfvae.loops.train_loop`, so both drivers compute the same update.
    ``optimizer`` is the first update's optimizer, or a dict ``{update name:
    optimizer}`` (:meth:`GenerativeModel.update_optimizers`); the other
    updates' optimizers then come from the model (``compile`` or
    ``prepare_update_optimizers`` made them). One forward pass gives the
    terms; each update :class:`~tfvae.models.contract.Update` takes the
    gradient of its own term's batch mean over its own variables on that
    pass, and is applied at the steps its ``every`` names.
    ``optimizer.scale_loss`` applies dynamic loss scaling when the optimizer
    is a ``keras.optimizers.LossScaleOptimizer`` (``mixed_float16``), and the
    wrapper unscales the gradients again in ``apply_gradients``.

    The step's terms are added to ``model.term_trackers`` (weighted by the
    batch size), whose results are the drivers' logs.

    Non-finite steps: when a loss term or a gradient (of any update) holds a
    NaN or an infinity NO update is applied (weights, optimizer slots and
    iterations stay as they were; one ``tf.cond`` per update, so this holds under XLA
    too), and neither is the state the forward pass moved: every
    non-trainable variable of the model (EMA codebook counts, sums and codes,
    seed-generator states, moving statistics) is put back to its value before
    the step. ``on_nonfinite`` (default ``model.on_nonfinite``, else ``"stop"``):

    - ``"stop"``: the step's terms are recorded as they are (a NaN or
      infinite term leaves its tracker non-finite; a non-finite gradient with
      finite terms leaves every tracker's count NaN) and every later step
      does nothing until the trackers are reset, so ``model.steps_done`` stays
      at the last good step. The drivers see the non-finite logs and raise
      :class:`NonFiniteError` (:func:`raise_nonfinite`).
    - ``"skip"``: nothing is recorded for the step, ``steps_done`` counts it
      (the only state that moves), training goes on.

    Under ``mixed_float16`` the ``LossScaleOptimizer`` already skips steps whose
    scaled gradients overflow and lowers the scale: there only the loss terms
    are checked.

    Under ``tf.distribute`` (called inside ``strategy.run``) each replica
    minimises its share of the GLOBAL batch mean
    (:func:`tfvae.distribute.global_batch_mean`); the optimizer sums the
    replicas' gradients, and the replicas agree on whether a step is applied.
    The returned terms are this replica's batch means.
    """
    mode = nonfinite_mode(model, on_nonfinite)
    updates = model.updates
    optimizers = _optimizers_of(model, optimizer, updates)
    variables = model.update_variables()
    batch_size = model.batch_size_of(data)
    # the state the forward pass itself moves (EMA codebooks, seed generators, moving
    # statistics): read before it runs, put back when the step is not applied
    state = [v for v in model.non_trainable_variables if v is not model.steps_done]
    state_before = [tf.identity(v) for v in state]
    with tf.GradientTape(persistent=len(updates) > 1) as tape:
        terms = model.loss_terms(data, training=True)
        losses = [optimizers[u.name].scale_loss(global_batch_mean(terms[u.loss], batch_size)) for u in updates]
    gradients = {u.name: tape.gradient(loss, variables[u.name]) for u, loss in zip(updates, losses)}
    del tape

    empty = tf.equal(batch_size, 0)  # a replica's share of a small last batch: its means are NaN by nature
    terms_ok = tf.logical_or(_all_finite(list(terms.values())), empty)
    checked = [g for u in updates if not isinstance(optimizers[u.name], keras.optimizers.LossScaleOptimizer)
               for g in gradients[u.name]]
    gradients_ok = tf.logical_or(_all_finite(checked), empty) if checked else tf.constant(True)
    if mode == "stop":  # an earlier step of this epoch failed: do nothing until the driver stops
        stopped = tf.logical_not(_all_finite([tracker.result() for tracker in model.term_trackers]))
    else:
        stopped = tf.constant(False)
    context = tf.distribute.get_replica_context()
    if context is not None and context.num_replicas_in_sync > 1:  # every replica takes the same decision
        failures = context.all_reduce(
            tf.distribute.ReduceOp.SUM,
            tf.cast(tf.stack([tf.logical_not(terms_ok), tf.logical_not(gradients_ok), stopped]), tf.float32),
        )
        terms_ok, gradients_ok, stopped = failures[0] == 0, failures[1] == 0, failures[2] > 0
    finite = tf.logical_and(terms_ok, gradients_ok)
    apply = tf.logical_and(finite, tf.logical_not(stopped))
    for update in updates:
        due = apply if update.every == 1 else tf.logical_and(apply, model.steps_done % update.every == 0)
        _apply_if(due, optimizers[update.name], gradients[update.name], variables[update.name])
    for variable, before in zip(state, state_before):  # no tf.cond: the same update under every strategy
        variable.assign(tf.where(apply, tf.convert_to_tensor(variable), before))

    weight = tf.cast(batch_size, tf.float32)
    if mode == "stop":
        first_failure = tf.logical_and(tf.logical_not(finite), tf.logical_not(stopped))
        gradient_failure = tf.logical_and(first_failure, terms_ok)
        weight = tf.where(apply, weight, tf.where(gradient_failure, float("nan"), tf.where(first_failure, weight, 0.0)))
        model.steps_done.assign_add(tf.cast(apply, tf.int64))
    else:
        weight = tf.where(apply, weight, 0.0)
        model.steps_done.assign_add(1)
    model.update_term_trackers(terms, weight)
    return terms


def _optimizers_of(model: GenerativeModel, optimizer, updates) -> dict:
    """Update name -> optimizer: ``optimizer`` (the first update's, or a dict), the others from the model."""
    given = dict(optimizer) if isinstance(optimizer, dict) else {updates[0].name: optimizer}
    known = {**model.update_optimizers(), **given} if len(updates) > 1 else given
    missing = [u.name for u in updates if known.get(u.name) is None]
    if missing:
        raise ValueError(f"{type(model).__name__}'s update(s) {missing} have no optimizer: compile the model, or "
                         "call model.prepare_update_optimizers() before the step")
    return known


def evaluation_step(model: GenerativeModel, data) -> dict[str, tf.Tensor]:
    """One evaluation step: ``model.loss_terms(data, training=False)`` added to the term trackers.

    Shared by :meth:`GenerativeModel.test_step` (Keras ``evaluate`` and
    ``fit``'s validation) and :func:`tfvae.loops.evaluate_loop`, as
    :func:`gradient_step` is for training. Returns the trackers' running means.
    """
    terms = model.loss_terms(data, training=False)
    return model.update_term_trackers(terms, model.batch_size_of(data))


def _read(variable) -> float:
    """A scalar variable's value in Python (also a mirrored or sync-on-read one under ``tf.distribute``)."""
    return float(tf.convert_to_tensor(getattr(variable, "value", variable)).numpy())


def raise_nonfinite(model: GenerativeModel, epoch: int | None = None) -> None:
    """Raise the :class:`NonFiniteError` that the model's term trackers describe (see :func:`gradient_step`)."""
    totals = {t.name: (_read(t.total), _read(t.count)) for t in model.term_trackers}
    step = int(_read(model.steps_done)) + 1
    where = f"step {step}" + (f" (epoch {epoch + 1})" if epoch is not None else "")
    advice = (
        "; the update was not applied, the weights are those of the step before. Lower the learning rate or "
        "check the data, or set on_nonfinite='skip' (train.on_nonfinite, --on-nonfinite skip) to skip such steps"
    )
    if totals and all(not math.isfinite(count) for _, count in totals.values()):
        raise NonFiniteError(f"non-finite gradient at {where}: the loss terms are finite{advice}")
    bad = {name: total for name, (total, _) in totals.items() if not math.isfinite(total)}
    if not bad:
        raise NonFiniteError(f"non-finite loss at {where}{advice}")
    # name a component first (distortion, rate, ...), then the sums it makes non-finite (loss, elbo)
    first = next((name for name in bad if name not in ("loss", "elbo")), next(iter(bad)))
    others = ", ".join(f"{name} {value}" for name, value in bad.items() if name != first)
    raise NonFiniteError(
        f"non-finite loss at {where}: term {first!r} is {bad[first]}" + (f" ({others})" if others else "") + advice
    )


class NonFiniteGuard(keras.callbacks.Callback):
    """Stops training with :class:`NonFiniteError` after a non-finite step (``on_nonfinite="stop"``).

    :meth:`GenerativeModel.fit` and :func:`tfvae.loops.train_loop` add it
    themselves. It checks the logs after each execution (the term trackers
    turn non-finite at a failed step, see :func:`gradient_step`) and raises
    before the epoch ends, so no callback saves anything of the failed epoch.
    Under ``"skip"`` it warns at the end of an epoch how many steps were skipped.
    """

    def __init__(self, on_nonfinite: str | None = None, optimizer: keras.optimizers.Optimizer | None = None):
        super().__init__()
        self.on_nonfinite = on_nonfinite
        self.optimizer = optimizer
        self.epoch: int | None = None
        self._start: tuple[int, int] | None = None

    def _optimizer(self):
        return self.optimizer if self.optimizer is not None else getattr(self.model, "optimizer", None)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        optimizer = self._optimizer()
        self._start = None if optimizer is None else (int(_read(self.model.steps_done)), int(_read(optimizer.iterations)))

    def on_train_batch_end(self, batch, logs=None):
        if logs and not all(math.isfinite(float(value)) for value in logs.values()):
            raise_nonfinite(self.model, self.epoch)

    def on_epoch_end(self, epoch, logs=None):
        optimizer = self._optimizer()
        if self._start is None or isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            return  # under loss scaling, skipped steps are mostly routine overflows
        skipped = (int(_read(self.model.steps_done)) - self._start[0]) - (int(_read(optimizer.iterations)) - self._start[1])
        if skipped > 0 and nonfinite_mode(self.model, self.on_nonfinite) == "skip":
            warnings.warn(
                f"epoch {epoch + 1}: skipped {skipped} training step(s) whose loss or gradient was not finite "
                "(on_nonfinite='skip')",
                RuntimeWarning,
                stacklevel=2,
            )
