"""``GenerativeModel``: the model contract, one ``loss_terms`` for ``fit`` and custom loops.

This module is the contract (what every model declares and how Keras drives
it). The steps both drivers share, :func:`gradient_step` and
:func:`evaluation_step`, and the non-finite policy (:class:`NonFiniteError`,
:class:`NonFiniteGuard`) live in :mod:`tfvae.models.steps` (imported here
under their usual names); the ``jit_compile="auto"`` trial in
:mod:`tfvae.jit_trial`.
"""

from __future__ import annotations

import dataclasses
import inspect

import keras
import numpy as np
import tensorflow as tf

from tfvae.distribute import (
    UnsupportedStrategyError,
    is_distributed,
    is_multi_worker,
)
from tfvae.models.contract import (
    Capabilities,
    ServingError,
    ServingInput,
    ServingSignature,
    Update,
    data_input,
)
from tfvae.models.seeding import ReplicaSeedGenerator, seeding_builder, seeding_constructor
from tfvae.models.steps import (
    NonFiniteError,
    NonFiniteGuard,
    evaluation_step,
    gradient_step,
    nonfinite_mode,
    raise_nonfinite,
)
from tfvae.performance import AUTO, resolve_jit_compile, resolve_steps_per_execution
from tfvae.progress import with_progress_logger
from tfvae.validation import check_data_range

__all__ = [
    "GenerativeModel",
    "NonFiniteError",
    "NonFiniteGuard",
    "ReplicaSeedGenerator",
    "evaluation_step",
    "gradient_step",
    "nonfinite_mode",
    "raise_nonfinite",
]


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


def _optimizer_for(update: Update, chosen, learning_rate: float | None):
    """``chosen`` (an optimizer), or one made for ``update``: from its declaration, or from ``chosen``'s name."""
    if chosen is None:
        return update.make_optimizer(learning_rate)
    if isinstance(chosen, str):  # a name: that optimizer with the update's learning rate
        return dataclasses.replace(update, optimizer=chosen, optimizer_settings={}).make_optimizer(learning_rate)
    return chosen


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
    #: ``train_loop`` long enough for a trial (:class:`tfvae.jit_trial.JitTrial`); None otherwise.
    jit_trial = None

    loss_term_names: tuple[str, ...] = ("loss",)
    #: whether the family takes class conditioning: ``"none"``, ``"option"`` (a model is conditional when
    #: made with ``num_classes``; ``model.options.conditional = true`` in a config) or ``"always"``
    conditioning: str = "none"
    #: builder (class method) name -> the generic ``[model]`` config fields it takes
    #: (``latent_dim``, ``hidden_units``, ``activation``, ``filters``); a config with
    #: another ``model.architecture`` is refused by name. Empty: not built from a config.
    architectures: dict[str, tuple[str, ...]] = {}
    #: the ``model.options`` keys (and ``model.beta`` / ``kl`` / ``num_samples``) the builders take
    config_options: tuple[str, ...] = ()
    #: the objective reads :attr:`dataset_size` (batch-level estimators such as beta-TCVAE's
    #: minibatch-weighted sampling): training refuses to start without it
    needs_dataset_size: bool = False
    _dataset_size: int | None = None

    @property
    def dataset_size(self) -> int | None:
        """The number of training examples, when known (``fit`` / ``train_loop`` on arrays and ``tfvae train`` set
        it; :meth:`set_dataset_size` for a ``tf.data`` pipeline); ``None`` otherwise."""
        return self._dataset_size

    def set_dataset_size(self, size: int) -> None:
        """Tell the model how many examples it trains on (read by objectives that need it, :attr:`needs_dataset_size`).

        Raises:
          ValueError: ``size`` is not a positive integer.
        """
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"the dataset size must be a positive integer, got {size!r}")
        if size != self._dataset_size:
            self._dataset_size = int(size)
            if self.needs_dataset_size:  # an objective that reads it is traced again; others keep their trace
                self.train_function = None

    def observe_training_data(self, x) -> None:
        """Take the dataset size from training data whose length is known (arrays); refuse to go on without one.

        Called by ``fit`` and :func:`tfvae.loops.train_loop` before they trace a step.

        Raises:
          ValueError: :attr:`needs_dataset_size` and neither ``x`` nor :meth:`set_dataset_size` gave it.
        """
        first = tf.nest.flatten(x)[0] if x is not None and not isinstance(x, tf.data.Dataset) else None
        if isinstance(first, np.ndarray) and first.ndim and len(first):
            self.set_dataset_size(len(first))
        if self.needs_dataset_size and self._dataset_size is None:
            raise ValueError(f"{type(self).__name__}'s objective needs the training set size: call "
                             "model.set_dataset_size(n) before training on a tf.data pipeline")

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
            cls.__init__ = seeding_constructor(cls.__dict__["__init__"])
        for name in cls.architectures:
            builder = cls.__dict__.get(name)
            if isinstance(builder, classmethod):
                setattr(cls, name, classmethod(seeding_builder(builder.__func__)))

    @property
    def conditional(self) -> bool:
        """Whether every example comes with a class label (``(x, y)`` batches, ``condition=``)."""
        return False

    @property
    def updates(self) -> tuple[Update, ...]:
        """The updates one training step makes (:class:`~tfvae.models.contract.Update`); the first is ``optimizer``'s.

        One update by default: ``"loss"`` over every trainable variable. A
        family that trains a second network by its own loss (FactorVAE's
        discriminator) declares a second one, with its variables and optimizer settings.
        """
        return (Update("model"),)

    def update_variables(self) -> dict[str, list]:
        """Update name -> the trainable variables it moves (the first takes those no other one names).

        Raises:
          ValueError: two updates name the same variable, or an update other than the first names none.
        """
        updates = self.updates
        named = {u.name: list(u.variables(self)) for u in updates[1:]}
        if updates[0].variables is not None:
            named = {updates[0].name: list(updates[0].variables(self)), **named}
        owner: dict[int, str] = {}
        for name, variables in named.items():
            for variable in variables:
                if id(variable) in owner:
                    raise ValueError(f"updates {owner[id(variable)]!r} and {name!r} both move {variable.path}")
                owner[id(variable)] = name
        if updates[0].name not in named:
            named = {updates[0].name: [v for v in self.trainable_variables if id(v) not in owner], **named}
        return named

    def update_optimizers(self) -> dict[str, keras.optimizers.Optimizer]:
        """Update name -> its optimizer, once compiled: ``model.optimizer`` first, then the others' in order."""
        first = self.updates[0].name
        return {first: getattr(self, "optimizer", None), **getattr(self, "_update_optimizers", {})}

    def prepare_update_optimizers(self, optimizer=None, learning_rates=None) -> dict[str, keras.optimizers.Optimizer]:
        """Make, wrap and build the optimizers of every update (called by ``compile`` and ``train_loop``).

        Args:
          optimizer: the first update's optimizer (default ``model.optimizer``), or a dict
            ``{update name: optimizer}`` (missing ones are made from the update's declaration).
          learning_rates: update name -> step size, for the optimizers made here.

        Returns:
          update name -> built optimizer (a ``LossScaleOptimizer`` under ``mixed_float16``).

        Raises:
          ValueError: a dict or ``learning_rates`` names no update of the model.
        """
        updates = self.updates
        names = [u.name for u in updates]
        learning_rates = dict(learning_rates or {})
        given = dict(optimizer) if isinstance(optimizer, dict) else {names[0]: optimizer}
        for source, keys in (("optimizer", given), ("learning_rates", learning_rates)):
            unknown = sorted(set(keys) - set(names))
            if unknown:
                raise ValueError(f"{source} names {unknown}, which {type(self).__name__} has no update for "
                                 f"(its updates: {names})")
        variables = self.update_variables()
        existing = getattr(self, "_update_optimizers", {})
        made = {}
        for update in updates:
            chosen = given.get(update.name)
            if chosen is None and update.name != names[0]:
                chosen = existing.get(update.name)
            chosen = _optimizer_for(update, chosen, learning_rates.get(update.name))
            scaled = isinstance(chosen, keras.optimizers.LossScaleOptimizer)
            if self.dtype_policy.name == "mixed_float16" and not scaled:
                chosen = keras.optimizers.LossScaleOptimizer(chosen)
            if not chosen.built:
                chosen.build(variables[update.name])
            made[update.name] = chosen
        self._update_optimizers = {name: made[name] for name in names[1:]}
        return made

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

    def data_support(self) -> tuple[float, float] | None:
        """The interval of data values the model's likelihood models (``None``: any real, or not data values).

        :meth:`fit` and ``tfvae train`` refuse data outside it by name
        (:func:`tfvae.validation.check_data_range`): 0..255 floats into a
        Bernoulli likelihood train without error but model nothing.
        """
        return None

    def check_data_values(self, x) -> None:
        """Refuse an array of data whose values leave :meth:`data_support` (one pass over ``x``).

        Raises:
          DataRangeError: values outside the support, or NaN (the message says what to do).
        """
        support = self.data_support()
        x = np.asarray(x)
        if support is None or not x.size or not np.issubdtype(x.dtype, np.floating):
            return  # integer data is refused by dtype where it is used
        check_data_range(float(np.min(x)), float(np.max(x)), support, self.likelihood_description())

    def likelihood_description(self) -> str:
        """``"the bernoulli likelihood of VAE"``: how the messages name what models the data."""
        return f"{type(self).__name__}"

    def served_data(self, shape=None, kind: str = "data", min_length: int = 1) -> ServingInput:
        """The serving input of this model's data: ``shape`` (default ``data_shape``) within :meth:`data_support`."""
        shape = self.data_shape if shape is None else shape
        return data_input(shape, self.data_support(), self.likelihood_description(), kind=kind, min_length=min_length)

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

    def compile(self, optimizer="adam", jit_compile="auto", steps_per_execution="auto", learning_rates=None,
                **kwargs):
        """Keras ``compile`` with tfvae's speed defaults; the optimizers' variables are created right away.

        Args:
          optimizer: a Keras optimizer or its name: the first update's (``model.optimizer``); or a
            dict ``{update name: optimizer}`` giving any of the :attr:`updates`' optimizers. An update
            given none gets a fresh one from its declaration (:meth:`~tfvae.models.contract.Update.make_optimizer`).
          learning_rates: update name -> step size of the optimizers made from a declaration.
          jit_compile: XLA for the training step; ``"auto"``: the first calls
            of ``fit`` time both on the run's batches and keep the faster when
            it runs at least :data:`tfvae.jit_trial.TRIAL_MIN_STEPS`
            steps (:mod:`tfvae.jit_trial`; the result is
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
        first = self.updates[0]
        given = dict(optimizer) if isinstance(optimizer, dict) else {first.name: optimizer}
        super().compile(
            optimizer=_optimizer_for(first, given.get(first.name), (learning_rates or {}).get(first.name)),
            jit_compile=resolve_jit_compile(jit_compile, distributed),
            steps_per_execution=resolve_steps_per_execution(steps_per_execution, distributed_fit=distributed),
            **kwargs,
        )
        self._update_optimizers = {}
        if self.optimizer is not None:
            self.prepare_update_optimizers({**given, first.name: self.optimizer}, learning_rates)

    def fit(self, x=None, *args, **kwargs):
        """Keras ``fit``; a ``tf.data.Dataset`` is taken in its own order (``shuffle=False``).

        tfvae datasets reshuffle themselves every epoch, and Keras would only
        warn that it ignores ``shuffle=True`` for them. The progress bar is a
        :class:`tfvae.progress.ProgressLogger`: it counts the steps really run
        (Keras' own overshoots its total when the last ``steps_per_execution``
        call of an epoch runs fewer steps).
        """
        self._check_keras_driver("fit")
        self.observe_training_data(x)
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)
        elif isinstance(x, np.ndarray):  # arrays in memory: one cheap pass (a dataset is not read twice)
            self.check_data_values(x)
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
        """Resolve ``jit_compile="auto"`` before ``fit`` traces its step (:mod:`tfvae.jit_trial`)."""
        self._pending_jit_trial = None
        if getattr(self, "_jit_requested", None) != AUTO or is_distributed(self.distribute_strategy):
            return
        from tfvae import jit_trial

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
        from tfvae import jit_trial

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

    def unpack_data(self, data):
        """The model's inputs of a batch (``x``, ``(x,)``, ``(x, y)``, ...), checked; families override it.

        Raises:
          DataShapeError: a batch of another shape than the model takes (both shapes named).
        """
        return data

    def check_batch_spec(self, element_spec) -> None:
        """Refuse, before anything is traced, batches whose static shapes the model does not take.

        ``element_spec`` is a ``tf.data`` dataset's (nested ``tf.TensorSpec``);
        the check traces :meth:`unpack_data` alone on it (nothing runs), so a
        wrong shape is a :class:`DataShapeError` naming both shapes instead of
        an error from inside the traced training step.
        """
        if not all(isinstance(spec, tf.TensorSpec) for spec in tf.nest.flatten(element_spec)):
            return  # ragged or sparse batches: left to the step
        tf.function(lambda batch: self.unpack_data(batch), autograph=False).get_concrete_function(element_spec)

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
        gradient_step(self, self.update_optimizers(), data)  # records the step's terms (see gradient_step)
        return {tracker.name: tracker.result() for tracker in self.term_trackers}

    def test_step(self, data):
        return evaluation_step(self, data)  # records the batch's terms, as evaluate_loop does

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
        # Keras saves model.optimizer alone: the other updates' optimizers are kept beside the weights
        for name, optimizer in getattr(self, "_update_optimizers", {}).items():
            for i, variable in enumerate(optimizer.variables):
                store[f"optimizer_{name}_{i}"] = variable

    def load_own_variables(self, store):
        own = self._trainable_variables + self._non_trainable_variables
        for i, variable in enumerate(own):
            variable.assign(store[f"{i}"])
        keys = set(store.keys())
        for i, generator in enumerate(self._all_seed_generators()):
            if self._seed_key(i) in keys:
                generator.state.assign(store[self._seed_key(i)])
        for name, optimizer in getattr(self, "_update_optimizers", {}).items():  # compiled when the file was saved
            for i, variable in enumerate(optimizer.variables):
                if f"optimizer_{name}_{i}" in keys:
                    variable.assign(store[f"optimizer_{name}_{i}"])

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.saving.serialize_keras_object(self.dtype_policy),
            "seed": self.seed,
        }
