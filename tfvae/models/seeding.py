"""Seeding a model: its initial weights from ``seed=`` and a seed stream that differs between replicas.

:class:`GenerativeModel.__init_subclass__ <tfvae.models.base.GenerativeModel>` wraps every family's
constructor and builders with :func:`seeding_constructor` / :func:`seeding_builder`, so the same
``seed`` gives the same initial weights; :class:`ReplicaSeedGenerator` is the model's random stream.
"""

from __future__ import annotations

import functools
import inspect

import keras

from tfvae.distribute import replica_seed
from tfvae.random import seeded_weights

__all__ = ["ReplicaSeedGenerator", "seeding_builder", "seeding_constructor"]


class ReplicaSeedGenerator(keras.random.SeedGenerator):
    """A ``keras.random.SeedGenerator`` whose seeds differ between ``tf.distribute`` replicas.

    Every replica of a step reads the same state; ``next()`` folds the
    replica's id into the seed (:func:`tfvae.distribute.replica_seed`), so two
    replicas never draw the same noise. With one replica (no strategy) the
    seeds are those of a plain ``SeedGenerator``.
    """

    def next(self, ordered=True):
        return replica_seed(super().next(ordered=ordered))


def seeding_constructor(init):
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


def seeding_builder(build):
    """A builder class method run inside :func:`~tfvae.random.seeded_weights` of its ``seed=``."""

    @functools.wraps(build)
    def builder(cls, *args, **kwargs):
        with seeded_weights(kwargs.get("seed")):
            return build(cls, *args, **kwargs)

    return builder
