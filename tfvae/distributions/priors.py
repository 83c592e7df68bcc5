"""Priors p(z)."""

from __future__ import annotations

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
