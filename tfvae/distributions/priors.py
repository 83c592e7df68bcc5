"""Priors p(z)."""

from __future__ import annotations

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfvae import random
from tfvae.distributions.base import LatentHead
from tfvae.registry import serializable

tfd = tfp.distributions


@serializable
class StandardNormalPrior(LatentHead):
    """Isotropic standard normal prior ``p(z) = N(0, I)``.

    ``prior()`` returns a ``tfd.MultivariateNormalDiag`` with event shape
    ``[latent_dim]``, the same family as
    :class:`~tfvae.distributions.posteriors.DiagonalGaussianPosterior`, so
    ``tfd.kl_divergence(q, prior())`` has its closed form.

    Args:
      latent_dim: size of z.
    """

    @property
    def params_shape(self) -> tuple[int, ...]:
        return ()

    def call(self, condition=None) -> tfd.MultivariateNormalDiag:
        return tfd.MultivariateNormalDiag(
            loc=tf.zeros([self.latent_dim], tf.float32), scale_diag=tf.ones([self.latent_dim], tf.float32)
        )

    def sample(self, distribution, num_samples, seed):
        return random.normal([num_samples, self.latent_dim], seed, tf.float32)


@serializable
class ConditionalGaussianPrior(LatentHead):
    """A learned conditional prior ``p(z|y) = N(m_y, diag(s_y^2))``, one Gaussian per class.

    ``prior(y)`` looks the class's parameters up in a table (initialised to
    ``N(0, I)``) and returns a ``tfd.MultivariateNormalDiag`` with batch shape
    ``[B]``, so the KL against a diagonal Gaussian posterior stays analytic.

    Args:
      latent_dim: size of z.
      num_classes: number of classes ``y`` takes.

    References:
      Sohn, K., Lee, H. & Yan, X. (2015). Learning Structured Output
      Representation using Deep Conditional Generative Models. NeurIPS.
    """

    def __init__(self, latent_dim: int, num_classes: int, **kwargs):
        super().__init__(latent_dim, **kwargs)
        if int(num_classes) < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes = int(num_classes)
        self.table = self.add_weight(
            name="table",
            shape=(self.num_classes, 2 * self.latent_dim),
            initializer=keras.initializers.Constant(0.0),
            trainable=True,
        )

    @property
    def params_shape(self) -> tuple[int, ...]:
        return ()

    def call(self, condition=None) -> tfd.MultivariateNormalDiag:
        if condition is None:
            raise ValueError("ConditionalGaussianPrior needs the class labels: prior(y)")
        params = tf.gather(self.table, tf.cast(condition, tf.int32))
        loc, raw = tf.split(params, 2, axis=-1)
        # softplus(raw + log(e - 1)) is 1 at raw = 0: the table starts at N(0, I)
        scale = tf.math.softplus(raw + 0.5413248546129181) + 1e-4
        return tfd.MultivariateNormalDiag(loc=loc, scale_diag=scale)

    def sample(self, distribution, num_samples, seed):
        loc, scale = distribution.loc, distribution.stddev()
        shape = tf.concat([[num_samples], tf.shape(loc)], axis=0)
        return loc + scale * random.normal(shape, seed, loc.dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "num_classes": self.num_classes}
