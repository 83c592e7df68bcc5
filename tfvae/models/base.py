"""``GenerativeModel``: one ``loss_terms`` contract for ``fit`` and custom loops."""

from __future__ import annotations

import keras
import tensorflow as tf


def replica_scaled(loss: tf.Tensor) -> tf.Tensor:
    """Divide a per-replica batch-mean loss by the number of replicas in sync.

    Under ``tf.distribute`` the optimizer sums gradients across replicas, so
    ``mean over the local batch / replicas`` is the mean over the global batch
    (equal local batches). Outside a strategy this is the identity.
    """
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss if replicas == 1 else loss / tf.cast(replicas, loss.dtype)


def gradient_step(model: "GenerativeModel", optimizer: keras.optimizers.Optimizer, data) -> dict[str, tf.Tensor]:
    """One optimisation step on ``model.loss_terms(data)``; returns the terms.

    Shared by :meth:`GenerativeModel.train_step` (Keras ``fit``) and
    :func:`tfvae.loops.train_loop`, so both drivers compute the same update.
    ``optimizer.scale_loss`` applies dynamic loss scaling when the optimizer
    is a ``keras.optimizers.LossScaleOptimizer`` (``mixed_float16``), and the
    wrapper unscales the gradients again in ``apply_gradients``.
    """
    variables = model.trainable_variables
    with tf.GradientTape() as tape:
        terms = model.loss_terms(data, training=True)
        loss = optimizer.scale_loss(replica_scaled(terms["loss"]))
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
        self.seed_generator = keras.random.SeedGenerator(seed, name="seed_generator")
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
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)
        return super().fit(x, *args, **kwargs)

    def compile_from_config(self, config):
        """Recompile a loaded model (``keras.saving.load_model``) with its saved optimizer."""
        self.compile(**keras.saving.deserialize_keras_object(config))

    @property
    def metrics(self):
        return list(self.term_trackers)

    def loss_terms(self, data, training: bool = False) -> dict[str, tf.Tensor]:
        raise NotImplementedError

    def update_term_trackers(self, terms: dict[str, tf.Tensor], batch_size) -> dict[str, tf.Tensor]:
        """Accumulate the terms; return the running means (Keras log values)."""
        weight = tf.cast(batch_size, tf.float32)
        for tracker in self.term_trackers:
            tracker.update_state(terms[tracker.name], sample_weight=weight)
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
