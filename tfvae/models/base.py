"""``GenerativeModel``: one ``loss_terms`` contract for ``fit`` and custom loops."""

from __future__ import annotations

import keras
import tensorflow as tf

from tfvae.distribute import (
    UnsupportedStrategyError,
    global_batch_mean,
    is_multi_worker,
    replica_seed,
)


class ReplicaSeedGenerator(keras.random.SeedGenerator):
    """A ``keras.random.SeedGenerator`` whose seeds differ between ``tf.distribute`` replicas.

    Every replica of a step reads the same state; ``next()`` folds the
    replica's id into the seed (:func:`tfvae.distribute.replica_seed`), so two
    replicas never draw the same noise. With one replica (no strategy) the
    seeds are those of a plain ``SeedGenerator``.
    """

    def next(self, ordered=True):
        return replica_seed(super().next(ordered=ordered))


def gradient_step(model: GenerativeModel, optimizer: keras.optimizers.Optimizer, data) -> dict[str, tf.Tensor]:
    """One optimisation step on ``model.loss_terms(data)``; returns the terms.

    Shared by :meth:`GenerativeModel.train_step` (Keras ``fit``) and
    :func:`tfvae.loops.train_loop`, so both drivers compute the same update.
    ``optimizer.scale_loss`` applies dynamic loss scaling when the optimizer
    is a ``keras.optimizers.LossScaleOptimizer`` (``mixed_float16``), and the
    wrapper unscales the gradients again in ``apply_gradients``.

    Under ``tf.distribute`` (called inside ``strategy.run``) each replica
    minimises its share of the GLOBAL batch mean
    (:func:`tfvae.distribute.global_batch_mean`); the optimizer sums the
    replicas' gradients. The returned terms are this replica's batch means.
    """
    variables = model.trainable_variables
    with tf.GradientTape() as tape:
        terms = model.loss_terms(data, training=True)
        loss = optimizer.scale_loss(global_batch_mean(terms["loss"], model.batch_size_of(data)))
    gradients = tape.gradient(loss, variables)
    optimizer.apply_gradients(zip(gradients, variables))
    model.steps_done.assign_add(1)
    return terms


class GenerativeModel(keras.Model):
    """Base of every tfvae model: subclasses write ``loss_terms`` once.

    ``loss_terms(data, training)`` returns a dict of scalar float32 tensors with
    one entry per name in ``loss_term_names``; ``"loss"`` is minimised. Keras
    ``fit``/``evaluate`` (through ``train_step``/``test_step``) and
    :mod:`tfvae.loops` all call it, and each term is tracked by its own
    ``keras.metrics.Mean`` weighted by the batch size, so epoch values are
    per-example means.

    Args:
      seed: seed of the model's ``keras.random.SeedGenerator``; every random
        draw in ``loss_terms`` comes from it, so the same seed gives the same run.
    """

    loss_term_names: tuple[str, ...] = ("loss",)

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
        self.term_trackers = [keras.metrics.Mean(name=name) for name in self.loss_term_names]

    def compile(self, optimizer="adam", **kwargs):
        """Keras ``compile``; the optimizer's variables are created right away.

        Building them here (the model is built at construction) means a ``fit``
        that failed on bad data can simply be called again with good data:
        otherwise its first trace would stop before the optimizer built its
        slots and the retry would create variables in a traced function.
        """
        super().compile(optimizer=optimizer, **kwargs)
        if self.optimizer is not None and not self.optimizer.built:
            self.optimizer.build(self.trainable_variables)

    def fit(self, x=None, *args, **kwargs):
        """Keras ``fit``; a ``tf.data.Dataset`` is taken in its own order (``shuffle=False``).

        tfvae datasets reshuffle themselves every epoch, and Keras would only
        warn that it ignores ``shuffle=True`` for them.
        """
        self._check_keras_driver("fit")
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)
        return super().fit(x, *args, **kwargs)

    def evaluate(self, x=None, *args, **kwargs):
        """Keras ``evaluate`` (not under ``MultiWorkerMirroredStrategy``: use ``tfvae.loops.evaluate_loop``)."""
        self._check_keras_driver("evaluate")
        return super().evaluate(x, *args, **kwargs)

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
        terms = gradient_step(self, self.optimizer, data)
        return self.update_term_trackers(terms, self.batch_size_of(data))

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
