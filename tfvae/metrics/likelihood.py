r"""Likelihood metrics: ELBO terms, the IWAE log-likelihood, bits/dim, reconstruction errors.

Everything is per example, in nats (``bits_per_dim`` converts), float32 with
float64 accumulation where sums get long.

The importance-weighted estimate of Burda et al. (2016)::

    log p(x) ~ log (1/k) sum_{i=1..k} w_i,   w_i = p(x|z_i) p(z_i) / q(z_i|x),   z_i ~ q(z|x)

is a lower bound on ``log p(x)`` in expectation, equal to the ELBO at
``k = 1``, non-decreasing in ``k`` and consistent as ``k -> inf``. For
``k`` in the thousands the decoder runs on ``chunk_size`` samples at a time and
the sum is accumulated as a running log-sum-exp, so memory does not grow with
``k``.

References:
  Burda, Y., Grosse, R. & Salakhutdinov, R. (2016). Importance Weighted
  Autoencoders. ICLR.
  Theis, L., van den Oord, A. & Bethge, M. (2016). A note on the evaluation
  of generative models. ICLR.
  Kong, A. (1992). A note on importance sampling using standardized weights.
  Technical report 348, University of Chicago (the effective sample size).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from tfvae.functions import traced_method
from tfvae.metrics.capabilities import (
    prior_distribution,
    require_elbo,
    require_unconditional,
)
from tfvae.random import as_seed

__all__ = [
    "BITS_PER_DIM_CONVENTIONS",
    "IWAEEstimate",
    "bits_per_dim",
    "bits_per_dim_convention",
    "elbo_terms",
    "iwae_log_likelihood",
    "log_importance_weights",
    "reconstruction_errors",
]

BITS_PER_DIM_CONVENTIONS = ("discrete", "dequantized")
"""``"discrete"``: the NLL is of a probability mass function (Bernoulli on binary
data, discretised likelihoods). ``"dequantized"``: the NLL is of a density on
``[0, 1]^D`` evaluated on uniformly dequantised 8-bit data ``(k + u) / 256``."""

_BCE_EPS = 1e-7


def elbo_terms(model, x, num_samples: int | None = None) -> dict[str, tf.Tensor]:
    """Per-example ``elbo``, ``distortion`` and ``rate`` (nats, shape ``[B]``).

    The model's own estimator (:meth:`tfvae.VAE.elbo`: its KL method, with
    ``num_samples`` Monte-Carlo draws for the distortion).

    Args:
      model: a model of the VAE family.
      x: a batch of data, ``(B, *data_shape)``.
      num_samples: Monte-Carlo samples (default: the model's ``num_samples``).

    Raises:
      ModelCapabilityError: the model has no ELBO (a deterministic autoencoder).
    """
    require_elbo(model)
    return dict(model.elbo(x, num_samples=num_samples))


def log_importance_weights(model, x, z) -> tf.Tensor:
    """``log p(x|z) + log p(z) - log q(z|x)`` for codes ``z`` of shape ``[S, B, latent_dim]``.

    Args:
      model: a model with a prior (the VAE family).
      x: data ``(B, *data_shape)``.
      z: codes, sample dimension first.

    Returns:
      ``[S, B]`` float32 log-weights, in nats.
    """
    q = model.encode(x)
    prior = prior_distribution(model)
    return model.decode(z).log_prob(x) + prior.log_prob(z) - q.log_prob(z)


@dataclass(frozen=True)
class IWAEEstimate:
    """The importance-weighted log-likelihood of a batch, per example.

    Attributes:
      log_likelihood: ``log p_k(x)``, ``[B]`` float64, nats.
      mc_stderr: the estimator's own Monte-Carlo standard error of
        ``log p_k(x)`` per example (delta method, see
        :func:`iwae_log_likelihood`), ``[B]``.
      effective_sample_size: Kong's ``(sum w)^2 / sum w^2`` per example, in ``[1, k]``.
      k: importance samples per example.
    """

    log_likelihood: np.ndarray
    mc_stderr: np.ndarray
    effective_sample_size: np.ndarray
    k: int

    @property
    def nll(self) -> np.ndarray:
        """The negative log-likelihood estimate, ``-log p_k(x)``, nats."""
        return -self.log_likelihood


def _chunk(model, x, z) -> tuple[tf.Tensor, tf.Tensor]:
    """``logsumexp`` of the log-weights and of twice them over one chunk of draws ``z``."""
    log_w = log_importance_weights(model, x, z)
    return tf.reduce_logsumexp(log_w, axis=0), tf.reduce_logsumexp(2.0 * log_w, axis=0)


def iwae_log_likelihood(
    model,
    x,
    k: int = 5000,
    chunk_size: int = 500,
    seed=None,
) -> IWAEEstimate:
    r"""Importance-weighted estimate of ``log p(x)`` per example (Burda et al. 2016).

    The ``k`` codes ``z_i ~ q(z|x)`` are drawn once (``[k, B, latent_dim]``,
    32 MB for ``k = 5000``, ``B = 100``, ``latent_dim = 16``); the decoder, which
    dominates memory and time, then runs on ``chunk_size`` of them at a time
    and ``log sum_i w_i`` is accumulated as a running log-sum-exp in float64.
    The codes do not depend on ``chunk_size``, so any chunking gives the same
    estimate up to float rounding.

    The Monte-Carlo standard error comes from the delta method on
    ``log(mean w)``::

        se(log p_k) ~ sd(w) / (sqrt(k) mean(w)) = sqrt(1 / ESS - 1 / k),
        ESS = (sum w)^2 / sum w^2

    accumulated with a second running log-sum-exp of ``2 log w``. It measures
    the noise of the estimate for a fixed ``x`` and is reliable when
    ``ESS`` is large; with heavy-tailed weights (``ESS`` near 1) it
    underestimates. It does not include the estimator's downward bias, about
    ``-se^2 / 2``.

    Args:
      model: a model of the VAE family (a prior and a stochastic posterior).
      x: data ``(B, *data_shape)``.
      k: importance samples per example (``k = 1`` is a one-sample ELBO
        estimate with a Monte-Carlo KL).
      chunk_size: samples decoded at a time; memory is about
        ``chunk_size * B`` decoder activations.
      seed: an int (reproducible), a length-2 int tensor, or ``None`` (fresh
        draws). The model's own seed generator is left alone.

    Returns:
      An :class:`IWAEEstimate`.

    Raises:
      ModelCapabilityError: the model has no prior.
      ValueError: ``k`` or ``chunk_size`` below 1.

    References:
      Burda, Y., Grosse, R. & Salakhutdinov, R. (2016). Importance Weighted
      Autoencoders. ICLR.
    """
    k, chunk_size = int(k), int(chunk_size)
    if k < 1 or chunk_size < 1:
        raise ValueError(f"k and chunk_size must be >= 1, got k={k}, chunk_size={chunk_size}")
    prior_distribution(model)  # fail early, with the message, for models without a prior
    x = tf.convert_to_tensor(x)
    q = model.encode(x)
    z = model.posterior.sample(q, k, as_seed(seed))
    chunk = traced_method(model, "iwae_chunk", _chunk, reduce_retracing=True)  # batch after batch: one trace
    batch = int(z.shape[1])
    lse = np.full(batch, -np.inf)
    lse_sq = np.full(batch, -np.inf)
    for start in range(0, k, chunk_size):
        part, part_sq = chunk(x, z[start : start + chunk_size])
        lse = np.logaddexp(lse, part.numpy().astype(np.float64))
        lse_sq = np.logaddexp(lse_sq, part_sq.numpy().astype(np.float64))
    ess = np.exp(2.0 * lse - lse_sq)
    mc_stderr = np.sqrt(np.maximum(1.0 / ess - 1.0 / k, 0.0))
    return IWAEEstimate(lse - math.log(k), mc_stderr, ess, k)


def bits_per_dim(nll_nats, num_dims: int, convention: str = "discrete", num_levels: int = 256):
    r"""Convert a per-example negative log-likelihood in nats to bits per dimension.

    ``"discrete"`` (a probability mass function: Bernoulli on binarised data,
    or any discretised likelihood)::

        bpd = NLL / (D ln 2)

    ``"dequantized"`` (a density ``p`` on ``[0, 1]^D`` fitted to uniformly
    dequantised data ``y = (k + u) / L``, ``k`` in ``0..L-1``, ``u ~ U[0, 1)``;
    ``tfvae.data.load_dataset(dequantize=True)`` with ``L = 256``). On the
    integer scale ``k + u`` in ``[0, L)^D`` the density is ``p(y) / L^D``, and its
    NLL there bounds the discrete NLL of ``k`` from above (Theis et al. 2016)::

        bpd = (NLL + D ln L) / (D ln 2) = NLL / (D ln 2) + log2 L

    A density evaluated on data scaled by ``1/255`` without noise has no
    bits/dim that compares with papers; neither has a Bernoulli likelihood on
    grey levels (binary cross-entropy), see :func:`bits_per_dim_convention`.

    Args:
      nll_nats: negative log-likelihood per example (scalar or array), nats.
      num_dims: ``D``, the number of data dimensions (784 for MNIST).
      convention: ``"discrete"`` or ``"dequantized"``.
      num_levels: ``L``, quantisation levels of the data (256 for 8 bits).

    References:
      Theis, L., van den Oord, A. & Bethge, M. (2016). A note on the
      evaluation of generative models. ICLR.
    """
    if convention not in BITS_PER_DIM_CONVENTIONS:
        raise ValueError(f"convention must be one of {BITS_PER_DIM_CONVENTIONS}, got {convention!r}")
    if int(num_dims) < 1 or int(num_levels) < 2:
        raise ValueError(f"num_dims must be >= 1 and num_levels >= 2, got {num_dims}, {num_levels}")
    nll = np.asarray(nll_nats, dtype=np.float64)
    if convention == "dequantized":
        nll = nll + num_dims * math.log(num_levels)
    return nll / (num_dims * math.log(2.0))


def bits_per_dim_convention(likelihood, binarize: str | None, dequantize: bool) -> tuple[str | None, str]:
    """Which :func:`bits_per_dim` convention applies to a likelihood head and its data.

    Args:
      likelihood: the model's likelihood head (``model.likelihood``).
      binarize: how the data was binarised (``None``, ``"static"``, ``"dynamic"``).
      dequantize: whether the data was uniformly dequantised.

    Returns:
      ``(convention or None, why)``: ``None`` when no bits/dim comparable with
      papers exists for this pairing.
    """
    from tfvae.distributions import BernoulliLikelihood

    discrete = isinstance(likelihood, BernoulliLikelihood)
    if discrete and binarize:
        return "discrete", "Bernoulli likelihood on binarised data: NLL / (D ln 2)"
    if discrete:
        return None, "Bernoulli likelihood on grey levels is a cross-entropy, not a normalised likelihood"
    if dequantize:
        return "dequantized", "density on [0, 1]^D of dequantised 8-bit data: (NLL + D ln 256) / (D ln 2)"
    return None, "a density on data that was not dequantised has no comparable bits/dim (train with dequantize)"


def reconstruction_errors(model, x) -> dict[str, tf.Tensor]:
    r"""Errors of the deterministic reconstruction ``x_hat = E[p(x | z = E[q(z|x)])]``.

    * ``mse``: mean over data dimensions of ``(x - x_hat)^2``;
    * ``bce``: binary cross-entropy summed over data dimensions, nats
      (``x_hat`` clipped to ``[1e-7, 1 - 1e-7]``; data in ``[0, 1]``);
    * ``nll``: ``-log p(x | z = E[q(z|x)])``, the distortion a deterministic
      autoencoder minimises (its training loss), nats.

    Args:
      model: any model of the Autoencoder contract.
      x: data ``(B, *data_shape)``.

    Returns:
      Each entry of shape ``[B]``, float32.
    """
    require_unconditional(model)
    likelihood = model.decode(model.encode(x).mean())
    x_hat = likelihood.mean()
    x = tf.cast(x, x_hat.dtype)
    axes = list(range(1, len(x.shape)))
    clipped = tf.clip_by_value(x_hat, _BCE_EPS, 1.0 - _BCE_EPS)
    bce = -tf.reduce_sum(x * tf.math.log(clipped) + (1.0 - x) * tf.math.log1p(-clipped), axis=axes)
    return {
        "mse": tf.reduce_mean(tf.square(x - x_hat), axis=axes),
        "bce": bce,
        "nll": -likelihood.log_prob(x),
    }
