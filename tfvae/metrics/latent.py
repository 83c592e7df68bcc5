r"""Latent-space metrics: active units and the KL per latent dimension.

Active units (Burda et al. 2016, section 5.2): dimension ``u`` is active when
the posterior mean moves with the data,

    A_u = Cov_x( E_{q(z|x)}[z_u] ) > 0.01,

i.e. the variance over the data set of the ``u``-th posterior mean. A
collapsed dimension has ``q(z_u|x) ~ p(z_u)`` for every ``x``, so its mean does
not move and its KL is near zero. The threshold suits a standard normal prior;
for a deterministic autoencoder (no prior) the code variances are reported
but their scale is arbitrary.

Per-dimension KL: ``mean_x KL(q(z_u|x) || p(z_u))`` for a diagonal Gaussian
posterior and a factorised Gaussian prior, in closed form per dimension; the
dimensions sum to the rate.

References:
  Burda, Y., Grosse, R. & Salakhutdinov, R. (2016). Importance Weighted
  Autoencoders. ICLR.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from tfvae.kl import PerDimensionKLError, per_dimension_kl
from tfvae.metrics.capabilities import ModelCapabilityError, prior_distribution, require_unconditional

__all__ = ["ACTIVE_UNIT_THRESHOLD", "ActiveUnits", "active_units", "kl_per_dimension", "posterior_means"]

ACTIVE_UNIT_THRESHOLD = 0.01
"""Burda et al.'s threshold on the variance of the posterior means."""


def posterior_means(model, x) -> tf.Tensor:
    """The posterior's code per example, ``[B, latent_dim]``: ``E[q(z|x)]`` where it exists (``model.embed``).

    The code of a deterministic autoencoder; a flow posterior's documented point.
    """
    require_unconditional(model)
    return model.embed(x)


@dataclass(frozen=True)
class ActiveUnits:
    """Activity of each latent dimension.

    Attributes:
      variance: ``A_u``, the variance over the data of the posterior means, ``[latent_dim]``.
      threshold: the activity threshold.
    """

    variance: np.ndarray
    threshold: float = ACTIVE_UNIT_THRESHOLD

    @property
    def active(self) -> np.ndarray:
        """Boolean mask of the active dimensions."""
        return self.variance > self.threshold

    @property
    def count(self) -> int:
        """Number of active dimensions."""
        return int(self.active.sum())

    @property
    def order(self) -> np.ndarray:
        """Dimensions from most to least active."""
        return np.argsort(-self.variance, kind="stable")


def active_units(means, threshold: float = ACTIVE_UNIT_THRESHOLD) -> ActiveUnits:
    """Active units from posterior means collected over a data set.

    Args:
      means: ``[N, latent_dim]`` posterior means (:func:`posterior_means` of
        every example of, e.g., the test set), ``N >= 2``.
      threshold: a dimension is active when its variance exceeds this.

    Returns:
      :class:`ActiveUnits` (the population variance, ``ddof=0``, computed in float64).

    References:
      Burda, Y., Grosse, R. & Salakhutdinov, R. (2016). Importance Weighted
      Autoencoders. ICLR.
    """
    means = np.asarray(means, dtype=np.float64)
    if means.ndim != 2 or len(means) < 2:
        raise ValueError(f"means must have shape (N >= 2, latent_dim), got {means.shape}")
    return ActiveUnits(means.var(axis=0), float(threshold))


def kl_per_dimension(model, x) -> tf.Tensor:
    """``KL(q(z_u|x) || p(z_u))`` for each example and latent dimension, nats.

    Args:
      model: a VAE-family model with a diagonal Gaussian posterior and a
        factorised Gaussian prior (``MultivariateNormalDiag`` or
        ``Independent(Normal)``).
      x: data ``(B, *data_shape)``.

    Returns:
      ``[B, latent_dim]``; the sum over the last axis is the analytic rate.

    Raises:
      ModelCapabilityError: no prior, or a posterior or prior that is not
        diagonal Gaussian (the rule of :func:`tfvae.kl.per_dimension_kl`).
    """
    prior = prior_distribution(model)
    try:
        return per_dimension_kl(model.encode(x), prior)
    except PerDimensionKLError as error:
        raise ModelCapabilityError(f"{type(model).__name__}: {error}") from error
