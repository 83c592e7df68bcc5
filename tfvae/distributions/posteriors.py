"""Posterior heads q(z|x)."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

from tfvae import random
from tfvae.distributions.base import LatentHead
from tfvae.registry import serializable

tfd = tfp.distributions


@serializable
class DiagonalGaussianPosterior(LatentHead):
    r"""Diagonal Gaussian posterior with a softplus scale and a floor.

    The network outputs ``2 * latent_dim`` numbers ``[m, r]`` per example::

        q(z|x) = N(z; m, diag(s^2)),   s = softplus(r) + scale_floor

    returned as ``tfd.MultivariateNormalDiag`` so the KL against the
    :class:`~tfvae.distributions.priors.StandardNormalPrior` is analytic.
    The floor keeps ``log s`` finite when the encoder pushes ``r`` to -inf.

    Args:
      latent_dim: size of z.
      scale_floor: smallest standard deviation (> 0).

    References:
      Kingma, D. P. & Welling, M. (2014). Auto-Encoding Variational Bayes.
    """

    def __init__(self, latent_dim: int, scale_floor: float = 1e-4, **kwargs):
        super().__init__(latent_dim, **kwargs)
        if not scale_floor > 0:
            raise ValueError(f"scale_floor must be > 0, got {scale_floor}")
        self.scale_floor = float(scale_floor)

    @property
    def params_shape(self) -> tuple[int, ...]:
        return (2 * self.latent_dim,)

    def call(self, params) -> tfd.MultivariateNormalDiag:
        params = self._float32(params)
        loc, raw_scale = tf.split(params, 2, axis=-1)
        scale = tf.math.softplus(raw_scale) + self.scale_floor
        return tfd.MultivariateNormalDiag(loc=loc, scale_diag=scale)

    def sample(self, distribution, num_samples, seed):
        loc = distribution.loc
        scale = distribution.stddev()
        shape = tf.concat([[num_samples], tf.shape(loc)], axis=0)
        return loc + scale * random.normal(shape, seed, loc.dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "scale_floor": self.scale_floor}


@serializable
class PointMassPosterior(LatentHead):
    """Point-mass posterior ``q(z|x) = delta(z - f(x))`` for deterministic autoencoders.

    It keeps the :class:`~tfvae.models.Autoencoder` contract (``encode``
    returns a distribution) for models without a stochastic code; ``mean()``
    and ``sample()`` are the code itself.

    Args:
      latent_dim: size of z.
    """

    @property
    def params_shape(self) -> tuple[int, ...]:
        return (self.latent_dim,)

    def call(self, params) -> tfd.Distribution:
        return tfd.Independent(tfd.Deterministic(loc=self._float32(params)), reinterpreted_batch_ndims=1)

    def sample(self, distribution, num_samples, seed):
        loc = distribution.distribution.loc
        return tf.broadcast_to(loc, tf.concat([[num_samples], tf.shape(loc)], axis=0))
