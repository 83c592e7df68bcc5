"""``GenerativeModel``: one ``loss_terms`` contract for ``fit`` and custom loops."""

from __future__ import annotations

import functools
import inspect
import math
import warnings

import keras
import tensorflow as tf

from tfvae.config import NONFINITE_MODES
from tfvae.distribute import (
    UnsupportedStrategyError,
    global_batch_mean,
    is_distributed,
    is_multi_worker,
    replica_seed,
)
from tfvae.errors import TfvaeError
from tfvae.models.contract import Capabilities, ServingError, ServingSignature
from tfvae.performance import AUTO, resolve_jit_compile, resolve_steps_per_execution
from tfvae.progress import with_progress_logger
from tfvae.random import seeded_weights


class ReplicaSeedGenerator(keras.random.SeedGenerator):
    """A ``keras.random.SeedGenerator`` whose seeds differ between ``tf.distribute`` replicas.

    Every replica of a step reads the same state; ``next()`` folds the
    replica's id into the seed (:func:`tfvae.distribute.replica_seed`), so two
    replicas never draw the same noise. With one replica (no strategy) the
    seeds are those of a plain ``SeedGenerator``.
    """

    def next(self, ordered=True):
        return replica_seed(super().next(ordered=ordered))


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
    """Whether no element of ``tensors`` is NaN or infinite, in one pass over each.

    A sum is NaN or infinite when any of its terms is (NaN + x, inf - inf,
    inf + x), so the check sums each tensor (one reduction, no boolean copy of
    the gradients as ``is_finite`` makes: that copy cost 8-12% of the MLP
    VAE's step on a CPU) and tests the sums. A tensor whose finite elements
    sum beyond the float32 range (|sum| > 3.4e38, gradients of ~1e32 and more,
    which Adam could not use either) counts as non-finite too.
    """
    def total(t) -> tf.Tensor:
        t = t.values if isinstance(t, tf.IndexedSlices) else t
        if t.dtype == tf.float16:  # its range ends at 65504: sum in float32
            t = tf.cast(t, tf.float32)
        return tf.cast(tf.reduce_sum(t), tf.float32)

    sums = [total(t) for t in tensors if t is not None]
    return tf.reduce_all(tf.math.is_finite(tf.stack(sums))) if sums else tf.constant(True)


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


def gradient_step(
    model: GenerativeModel, optimizer: keras.optimizers.Optimizer, data, on_nonfinite: str | None = None
) -> dict[str, tf.Tensor]:
    """One optimisation step on ``model.loss_terms(data)``; records and returns the terms.

    Shared by :meth:`GenerativeModel.train_step` (Keras ``fit``) and
    :func:`tfvae.loops.train_loop`, so both drivers compute the same update.
    ``optimizer.scale_loss`` applies dynamic loss scaling when the optimizer
    is a ``keras.optimizers.LossScaleOptimizer`` (``mixed_float16``), and the
    wrapper unscales the gradients again in ``apply_gradients``.

    The step's terms are added to ``model.term_trackers`` (weighted by the
    batch size), whose results are the drivers' logs.

    Non-finite steps: when a loss term or a gradient holds a NaN or an
    infinity the update is NOT applied (weights, optimizer slots and
    iterations stay as they were; one ``tf.cond``, so this holds under XLA
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
    variables = model.trainable_variables
    batch_size = model.batch_size_of(data)
    # the state the forward pass itself moves (EMA codebooks, seed generators, moving
    # statistics): read before it runs, put back when the step is not applied
    state = [v for v in model.non_trainable_variables if v is not model.steps_done]
    state_before = [tf.identity(v) for v in state]
    with tf.GradientTape() as tape:
        terms = model.loss_terms(data, training=True)
        loss = optimizer.scale_loss(global_batch_mean(terms["loss"], batch_size))
    gradients = tape.gradient(loss, variables)

    empty = tf.equal(batch_size, 0)  # a replica's share of a small last batch: its means are NaN by nature
    terms_ok = tf.logical_or(_all_finite(list(terms.values())), empty)
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        gradients_ok = tf.constant(True)
    else:
        gradients_ok = tf.logical_or(_all_finite(gradients), empty)
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
    _apply_if(apply, optimizer, gradients, variables)
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


def _seeding_constructor(init):
    """``init`` run inside :func:`~tfvae.random.seeded_weights` of its ``seed`` argument."""
    signature = inspect.signature(init)

    @functools.wraps(init)
    def constructor(self, *args, **kwargs):
        try:
            arguments = signature.bind(self, *args, **kwargs).arguments
        except TypeError:  # let the constructor itself name the bad argument
            return init(self, *args, **kwargs)
        seed = arguments.get("seed", arguments.get("kwargs", {}).get("seed"))
        with seeded_weights(seed):
            return init(self, *args, **kwargs)

    constructor.__signature__ = signature  # Keras reads the constructor's argspec (auto get_config)
    return constructor


def _seeding_builder(build):
    """A builder class method run inside :func:`~tfvae.random.seeded_weights` of its ``seed=``."""

    @functools.wraps(build)
    def builder(cls, *args, **kwargs):
        with seeded_weights(kwargs.get("seed")):
            return build(cls, *args, **kwargs)

    return builder


def _with_guard(callbacks):
    """``callbacks`` plus a :class:`NonFiniteGuard` (unless one is there)."""
    if isinstance(callbacks, keras.callbacks.CallbackList):
        if not any(isinstance(c, NonFiniteGuard) for c in callbacks.callbacks):
            callbacks.append(NonFiniteGuard())
        return callbacks
    callbacks = list(callbacks or [])
    if not any(isinstance(c, NonFiniteGuard) for c in callbacks):
        callbacks.append(NonFiniteGuard())
    return callbacks


def _with_callbacks(method, args: tuple, kwargs: dict, add) -> tuple[list, dict]:
    """``(args, kwargs)`` of a Keras ``method`` call (after ``x``) with ``add(callbacks)`` as its callbacks."""
    position = list(inspect.signature(method).parameters).index("callbacks") - 2  # less self and x
    args = list(args)
    if len(args) > position:  # callbacks given by position
        args[position] = add(args[position])
    else:
        kwargs["callbacks"] = add(kwargs.get("callbacks"))
    return args, kwargs


class GenerativeModel(keras.Model):
    """Base of every tfvae model: subclasses write ``loss_terms`` once.

    ``loss_terms(data, training)`` returns a dict of scalar float32 tensors with
    one entry per name in ``loss_term_names``; ``"loss"`` is minimised. Keras
    ``fit``/``evaluate`` (through ``train_step``/``test_step``) and
    :mod:`tfvae.loops` all call it, and each term is tracked by its own
    ``keras.metrics.Mean`` weighted by the batch size, so epoch values are
    per-example means.

    Args:
      seed: seed of the initial weights (the constructor and the builders run
        inside :func:`tfvae.random.seeded_weights`) and of the model's
        ``keras.random.SeedGenerator``; every random draw in ``loss_terms``
        comes from it, so the same seed gives the same model and the same run.
        ``None``: Keras' unseeded initialisers and a random stream.
    """

    #: What ``jit_compile="auto"`` measured and chose for the last ``fit`` or
    #: ``train_loop`` long enough for a trial (:class:`tfvae.models.jit_trial.JitTrial`); None otherwise.
    jit_trial = None

    loss_term_names: tuple[str, ...] = ("loss",)
    #: whether every example comes with a class label (``(x, y)`` batches, ``condition=``)
    conditional: bool = False
    #: builder (class method) name -> the generic ``[model]`` config fields it takes
    #: (``latent_dim``, ``hidden_units``, ``activation``, ``filters``); a config with
    #: another ``model.architecture`` is refused by name. Empty: not built from a config.
    architectures: dict[str, tuple[str, ...]] = {}
    #: the ``model.options`` keys (and ``model.beta`` / ``kl`` / ``num_samples``) the builders take
    config_options: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs):
        """Seed the initial weights from ``seed``: in the constructor and in every builder.

        Each family's ``__init__`` and its builders (the class methods named in
        ``architectures``) run inside :func:`tfvae.random.seeded_weights`, so
        ``VAE.mlp(seed=0)`` twice gives two models with the same initial
        weights (and the same random stream), while ``seed=None`` keeps Keras'
        unseeded initialisers.
        """
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _seeding_constructor(cls.__dict__["__init__"])
        for name in cls.architectures:
            builder = cls.__dict__.get(name)
            if isinstance(builder, classmethod):
                setattr(cls, name, classmethod(_seeding_builder(builder.__func__)))

    @property
    def capabilities(self) -> Capabilities:
        """What this model can do (see :mod:`tfvae.models.contract`); callers ask it, never probe."""
        return Capabilities(continuous_latent=False)

    def serving_signatures(self, prior=None, options=None) -> dict[str, ServingSignature]:
        """The model's serving signatures (see :mod:`tfvae.models.contract`), ``serving_default`` among them.

        Args:
          prior: a separately trained prior over the model's codes (VQ families).
          options: settings fixed at export time (e.g. a TD-VAE's rollout horizon).

        Raises:
          ServingError: the model serves nothing, or takes no such prior / options.
        """
        raise ServingError(f"{type(self).__name__} has no serving signatures")

    def refuse_serving_extras(self, prior=None, options=None) -> None:
        """Raise :class:`~tfvae.models.contract.ServingError` for a prior or options this family does not take."""
        name = type(self).__name__
        if prior is not None:
            raise ServingError(f"{name} is exported without a prior: its signatures take none "
                               "(a prior is exported with VQVAE / VQVAE2, whose sample signature runs it)")
        if options:
            raise ServingError(f"the signatures of {name} take no export options, got {sorted(options)} "
                               "(options are fixed at export time by families that have some, e.g. TDVAE's "
                               "rollout horizon)")

    def __init__(self, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = ReplicaSeedGenerator(seed, name="seed_generator")
        # Training steps taken (by fit or the custom loop): schedules such as KL
        # warm-up and capacity annealing read it; saved with the model.
        self.steps_done = self.add_weight(
            name="steps_done", shape=(), dtype="int64", initializer="zeros", trainable=False,
            aggregation="only_first_replica",
        )
        self.term_trackers = [self.make_term_tracker(name) for name in self.loss_term_names]

    def make_term_tracker(self, name: str) -> keras.metrics.Metric:
        """The metric that averages the term ``name`` over an epoch (a ``keras.metrics.Mean``).

        A model whose term is not a per-example mean overrides it (and
        :meth:`update_term_trackers`), e.g. ``RatingsAE`` pools per observed rating.
        """
        return keras.metrics.Mean(name=name)

    def compile(self, optimizer="adam", jit_compile="auto", steps_per_execution="auto", **kwargs):
        """Keras ``compile`` with tfvae's speed defaults; the optimizer's variables are created right away.

        Args:
          optimizer: a Keras optimizer or its name.
          jit_compile: XLA for the training step; ``"auto"``: the first calls
            of ``fit`` time both on the run's batches and keep the faster when
            it runs at least :data:`tfvae.models.jit_trial.TRIAL_MIN_STEPS`
            steps (:mod:`tfvae.models.jit_trial`; the result is
            ``model.jit_trial``), else on with a GPU or TPU and off on a CPU;
            always off under a ``tf.distribute`` strategy.
          steps_per_execution: steps per ``tf.function`` call; ``"auto"``: 32
            (1 under a ``tf.distribute`` strategy, where more is refused). See :mod:`tfvae.performance` for
            the measurements behind both.
          **kwargs: other ``keras.Model.compile`` arguments.

        Building the optimizer here (the model is built at construction) means
        a ``fit`` that failed on bad data can simply be called again with good
        data: otherwise its first trace would stop before the optimizer built
        its slots and the retry would create variables in a traced function.
        """
        distributed = is_distributed(self.distribute_strategy)
        self._jit_requested = jit_compile
        self.jit_trial = None
        super().compile(
            optimizer=optimizer,
            jit_compile=resolve_jit_compile(jit_compile, distributed),
            steps_per_execution=resolve_steps_per_execution(steps_per_execution, distributed_fit=distributed),
            **kwargs,
        )
        if self.optimizer is not None and not self.optimizer.built:
            self.optimizer.build(self.trainable_variables)

    def fit(self, x=None, *args, **kwargs):
        """Keras ``fit``; a ``tf.data.Dataset`` is taken in its own order (``shuffle=False``).

        tfvae datasets reshuffle themselves every epoch, and Keras would only
        warn that it ignores ``shuffle=True`` for them. The progress bar is a
        :class:`tfvae.progress.ProgressLogger`: it counts the steps really run
        (Keras' own overshoots its total when the last ``steps_per_execution``
        call of an epoch runs fewer steps).
        """
        self._check_keras_driver("fit")
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)
        # on_nonfinite (model.on_nonfinite) is read when the step is traced: trace again when it changed
        mode = nonfinite_mode(self)
        if getattr(self, "_traced_on_nonfinite", mode) != mode:
            self.train_function = None
        self._traced_on_nonfinite = mode
        self._decide_jit_compile(x, args, kwargs, mode)
        # the guard before the bar, as Keras appends its own bar last: a failed step raises before it is shown
        args, kwargs = _with_callbacks(
            keras.Model.fit, args, kwargs, lambda callbacks: with_progress_logger(_with_guard(callbacks))
        )
        return super().fit(x, *args, **kwargs)

    def _decide_jit_compile(self, x, args, kwargs, mode: str) -> None:
        """Resolve ``jit_compile="auto"`` before ``fit`` traces its step (:mod:`tfvae.models.jit_trial`)."""
        self._pending_jit_trial = None
        if getattr(self, "_jit_requested", None) != AUTO or is_distributed(self.distribute_strategy):
            return
        from tfvae.models import jit_trial

        chosen = jit_trial.decide_for_fit(self, x, args, kwargs, mode)
        if isinstance(chosen, jit_trial.PendingTrial):  # the first calls time both (make_train_function)
            self._pending_jit_trial, chosen = chosen, None
            self.train_function = None
        if chosen is not None and chosen != bool(self.jit_compile):
            self.jit_compile = chosen
            self.train_function = self.test_function = self.predict_function = None

    def make_train_function(self, force=False):
        """Keras' ``train_function``; both ways, alternated, while a ``jit_compile="auto"`` trial is due."""
        pending = getattr(self, "_pending_jit_trial", None)
        if pending is None or (self.train_function is not None and not force):
            return super().make_train_function(force)
        from tfvae.models import jit_trial

        self._pending_jit_trial = None
        keras_make = super().make_train_function

        def compiled():
            keras_make(force=True)
            return self.train_function

        self.train_function = jit_trial.alternating_train_function(self, pending, compiled)
        return self.train_function

    def evaluate(self, x=None, *args, **kwargs):
        """Keras ``evaluate`` (not under ``MultiWorkerMirroredStrategy``: use ``tfvae.loops.evaluate_loop``).

        Its progress bar never passes its total (a :class:`tfvae.progress.ProgressLogger`).
        """
        self._check_keras_driver("evaluate")
        args, kwargs = _with_callbacks(keras.Model.evaluate, args, kwargs, with_progress_logger)
        return super().evaluate(x, *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        """Keras ``predict``; its progress bar never passes its total (a :class:`tfvae.progress.ProgressLogger`)."""
        args, kwargs = _with_callbacks(keras.Model.predict, args, kwargs, with_progress_logger)
        return super().predict(x, *args, **kwargs)

    def _check_keras_driver(self, method: str) -> None:
        # Keras 3 reduces each step's scalar outputs with
        # strategy.reduce("MEAN", value, axis=0) under MultiWorkerMirroredStrategy,
        # which fails on scalars (keras-team/keras#20585): say so up front.
        if is_multi_worker(self.distribute_strategy):
            loop = "train_loop" if method == "fit" else "evaluate_loop"
            raise UnsupportedStrategyError(
                f"Keras {method} does not work under MultiWorkerMirroredStrategy in Keras 3 "
                f"(keras-team/keras#20585): use the custom loop, tfvae.loops.{loop} "
                "(on the command line: --driver loop)"
            )

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Under a tf.distribute strategy Keras 3 (TF backend) pulls a first batch
        # from a fresh iterator before fit/evaluate to build the model
        # symbolically, even when everything is built. That pull (1) reduces
        # the replicas' parts of the batch elementwise, which fails when the
        # batch does not split evenly (AddN: [500, ...] != [499, ...]), and
        # (2) starts one pass over the data, so a dataset that reshuffles
        # every pass trains on the next order, not the one-device order. tfvae
        # models are built at construction and compile() builds the optimizer:
        # with nothing left to build, skip it (Keras' own _symbolic_build
        # would do nothing either).
        built = (
            all(layer.built for layer in self._flatten_layers())
            and (self.optimizer is None or self.optimizer.built)
            and all(getattr(part, "built", True) for part in (getattr(self, "_compile_metrics", None),
                                                               getattr(self, "_compile_loss", None)) if part)
        )
        if not built:
            super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def compile_from_config(self, config):
        """Recompile a loaded model (``keras.saving.load_model``) with its saved optimizer."""
        self.compile(**keras.saving.deserialize_keras_object(config))

    @property
    def metrics(self):
        return list(self.term_trackers)

    def loss_terms(self, data, training: bool = False) -> dict[str, tf.Tensor]:
        raise NotImplementedError

    def update_term_trackers(self, terms: dict[str, tf.Tensor], batch_size) -> dict[str, tf.Tensor]:
        """Accumulate the terms; return the running means (Keras log values).

        A batch of no examples (a replica's share of a last, small batch under
        ``tf.distribute``) adds nothing: its NaN means are not accumulated.
        """
        weight = tf.cast(batch_size, tf.float32)
        for tracker in self.term_trackers:
            value = terms[tracker.name]
            value = tf.where(weight > 0, value, tf.zeros_like(value))
            tracker.update_state(value, sample_weight=weight)
        return {tracker.name: tracker.result() for tracker in self.term_trackers}

    def batch_size_of(self, data) -> tf.Tensor:
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        first = tf.nest.flatten(x)[0]
        return tf.shape(first)[0]

    def train_step(self, data):
        gradient_step(self, self.optimizer, data)  # records the step's terms (see gradient_step)
        return {tracker.name: tracker.result() for tracker in self.term_trackers}

    def test_step(self, data):
        terms = self.loss_terms(data, training=False)
        return self.update_term_trackers(terms, self.batch_size_of(data))

    # Seed generators' states live outside the layers' own variables, so Keras
    # would not save them: store them (the model's first, then those of its
    # layers, e.g. recurrent cells) beside the model's own variables, so a
    # reloaded model continues the same random streams.
    def _all_seed_generators(self) -> list:
        seen, generators = set(), []
        for layer in self._flatten_layers(include_self=True):
            for generator in getattr(layer, "_seed_generators", []):
                if id(generator) not in seen:
                    seen.add(id(generator))
                    generators.append(generator)
        return generators

    @staticmethod
    def _seed_key(index: int) -> str:
        return "seed_generator_state" if index == 0 else f"seed_generator_state_{index}"

    def save_own_variables(self, store):
        super().save_own_variables(store)
        for i, generator in enumerate(self._all_seed_generators()):
            store[self._seed_key(i)] = generator.state

    def load_own_variables(self, store):
        own = self._trainable_variables + self._non_trainable_variables
        for i, variable in enumerate(own):
            variable.assign(store[f"{i}"])
        keys = set(store.keys())
        for i, generator in enumerate(self._all_seed_generators()):
            if self._seed_key(i) in keys:
                generator.state.assign(store[self._seed_key(i)])

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.saving.serialize_keras_object(self.dtype_policy),
            "seed": self.seed,
        }
