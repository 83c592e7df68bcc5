r"""Likelihood metrics: ELBO terms, the IWAE log-likelihood, bits/dim, reconstruction errors.

Everything is per example, in nats (``bits_per_dim`` converts), float32 with
float64 accumulation where sums get long.

The importance-weighted estimate of Burda et al. (2016)::

    log p(x) ~ log (1/k) sum_{i=1..k} w_i,   w_i = p(x|z_i) p(z_i) / q(z_i|x),   z_i ~ q(z|x)

is a lower bound on ``log p(x)`` in expectation, equal to the ELBO at
``k = 1``, non-decreasing in ``k`` and consistent as ``k -> inf``. For
``k`` in the thousands the decoder runs on ``chunk_size`` samples at a time;
only the ``[k, B]`` log-weights are kept (``1/latent_dim`` of the codes'
memory), so the decoder's memory does not grow with ``k``.

References:
  Burda, Y., Grosse, R. & Salakhutdinov, R. (2016). Importance Weighted
  Autoencoders. ICLR.
  Theis, L., van den Oord, A. & Bethge, M. (2016). A note on the evaluation
  of generative models. ICLR.
  Kong, A. (1992). A note on importance sampling using standardized weights.
  Technical report 348, University of Chicago (the effective sample size).
  Efron, B. & Stein, C. (1981). The jackknife estimate of variance. The
  Annals of Statistics 9(3), 586-596 (the Monte-Carlo standard error).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from tfvae.functions import traced_method
from tfvae.metrics.capabilities import require_elbo, require_unconditional
from tfvae.models.variational import iwae
from tfvae.random import as_seed

__all__ = [
    "BITS_PER_DIM_CONVENTIONS",
    "IWAEEstimate",
    "bits_per_dim",
    "bits_per_dim_convention",
    "elbo_terms",
    "iwae_from_log_weights",
    "iwae_log_likelihood",
    "log_importance_weights",
    "reconstruction_errors",
]

BITS_PER_DIM_CONVENTIONS = ("discrete", "dequantized")
"""``"discrete"``: the NLL is of a probability mass function (Bernoulli on binary
data, discretised likelihoods). ``"dequantized"``: the NLL is of a density on
``[0, 1]^D`` evaluated on uniformly dequantised 8-bit data ``(k + u) / 256``."""

_BCE_EPS = 1e-7


def elbo_terms(model, x, num_samples: int | None = None, seed=None) -> dict[str, tf.Tensor]:
    """Per-example ``elbo``, ``distortion`` and ``rate`` (nats, shape ``[B]``).

    The model's own estimator (:meth:`tfvae.VAE.elbo`: its KL method, with
    ``num_samples`` Monte-Carlo draws for the distortion).

    Args:
      model: a model of the VAE family.
      x: a batch of data, ``(B, *data_shape)``.
      num_samples: Monte-Carlo samples (default: the model's ``num_samples``).
      seed: an int (reproducible), a length-2 int seed, or ``None`` (fresh
        draws, :func:`tfvae.random.as_seed`). The model's own seed generator is
        left alone either way.

    Raises:
      ModelCapabilityError: the model declares no likelihood bound (a deterministic autoencoder, a WAE).
    """
    require_elbo(model)
    return dict(model.elbo(x, num_samples=num_samples, seed=as_seed(seed)))


def log_importance_weights(model, x, z) -> tf.Tensor:
    """``log p(x|z) + log p(z) - log q(z|x)`` for codes ``z`` of shape ``[S, B, latent_dim]``.

    The model's distributions put through the one rule,
    :func:`tfvae.models.variational.iwae.log_importance_weights`.

    Args:
      model: a model with a likelihood bound (``capabilities.likelihood_bound``: the VAE family).
      x: data ``(B, *data_shape)``.
      z: codes, sample dimension first.

    Returns:
      ``[S, B]`` float32 log-weights, in nats.

    Raises:
      ModelCapabilityError: the model declares no likelihood bound.
    """
    require_elbo(model)
    return iwae.log_importance_weights(x, model.encode(x), z, model.decode(z), model.prior_distribution())


@dataclass(frozen=True)
class IWAEEstimate:
    """The importance-weighted log-likelihood of a batch, per example.

    Attributes:
      log_likelihood: ``log p_k(x)``, ``[B]`` float64, nats.
      mc_stderr: the estimator's own Monte-Carlo standard error of
        ``log p_k(x)`` per example: the spread of the estimate over seeds for
        a fixed ``x`` (the jackknife, see :func:`iwae_from_log_weights`), ``[B]``.
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


def _logsumexp(a: np.ndarray) -> np.ndarray:
    """``log sum_i exp(a_i)`` over axis 0, shifted by the maximum (float64)."""
    top = np.max(a, axis=0)
    shift = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return shift + np.log(np.sum(np.exp(a - shift), axis=0))


def iwae_from_log_weights(log_w, spare=None) -> IWAEEstimate:
    r"""The IWAE estimate, its Monte-Carlo standard error and the effective sample size, from log-weights.

    With ``k`` log-weights ``l_i = log w_i`` per example (``[k, B]``), the
    estimate is ``L = log (1/k) sum_i w_i``. Its standard error over seeds is
    the jackknife's (Efron & Stein 1981), computed from the normalised weights
    ``p_i = w_i / sum_j w_j``: the estimate without draw ``i`` is
    ``L_(i) = log((sum_j w_j - w_i) / (k - 1)) = L + log(1 - p_i) + log(k / (k - 1))``, so::

        se^2 = (k - 1) / k * sum_i (d_i - mean(d))^2,   d_i = log(1 - p_i)      (k >= 2)

    ``d`` of the largest weight is ``logsumexp(others) - logsumexp(all)``
    (exact when that weight holds nearly all the mass). Efron and Stein show
    ``E[se^2] >= (k - 1) / k * Var(L_{k-1})``, which is ``Var(L_k)`` to first
    order (the variance falls as ``1 / k``): the jackknife does not
    underestimate heavy-tailed weights the way the plug-in delta method
    ``sqrt(1 / ESS - 1 / k)`` does (``0`` at ``k = 1``, and 1.1-1.75x too small
    at ``k = 10..1000`` on a trained VAE), and it includes the curvature of the
    log. Equal weights (the exact posterior) give ``se = 0``.

    At ``k = 1`` there is no draw to leave out: the error then comes from
    ``spare``, the log-weight of one more independent draw per example that
    the estimate does not use, ``se = |l_1 - spare| / sqrt(2)``, whose square
    is an unbiased estimate of ``Var(log w) = Var(L_1)`` (one degree of freedom
    per example: noisy alone, sound summed over examples). Without ``spare``
    it is ``nan``.

    Args:
      log_w: ``[k, B]`` log importance weights, nats.
      spare: ``[B]`` log-weights of one more draw, for the error at ``k = 1`` only.

    Returns:
      An :class:`IWAEEstimate` (float64).

    References:
      Efron, B. & Stein, C. (1981). The jackknife estimate of variance. The
      Annals of Statistics 9(3), 586-596.
      Nowozin, S. (2018). Debiasing evidence approximations: on
      importance-weighted autoencoders and jackknife variational inference. ICLR.
    """
    log_w = np.asarray(log_w, dtype=np.float64)
    if log_w.ndim != 2 or log_w.shape[0] < 1:
        raise ValueError(f"log_w must have shape [k, B] with k >= 1, got {log_w.shape}")
    k, batch = log_w.shape
    lse = _logsumexp(log_w)
    ess = np.exp(2.0 * lse - _logsumexp(2.0 * log_w))
    if k >= 2:
        se = np.sqrt(_jackknife_variance(log_w, lse))
    elif spare is not None:
        se = np.abs(log_w[0] - np.asarray(spare, dtype=np.float64)) / math.sqrt(2.0)
    else:
        se = np.full(batch, np.nan)
    return IWAEEstimate(iwae.iwae_bound(log_w).numpy(), se, ess, k)


def _jackknife_variance(log_w: np.ndarray, lse: np.ndarray) -> np.ndarray:
    """``(k - 1) / k * sum_i (d_i - mean d)^2`` with ``d_i = log(1 - p_i)``, per column of ``log_w`` ``[k, B]``."""
    k, batch = log_w.shape
    top, columns = np.argmax(log_w, axis=0), np.arange(batch)
    others = log_w.copy()
    others[top, columns] = -np.inf
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.log1p(-np.minimum(np.exp(log_w - lse), 1.0))
        d[top, columns] = _logsumexp(others) - lse  # the largest weight: no cancellation in 1 - p
        return (k - 1) / k * np.sum((d - d.mean(axis=0)) ** 2, axis=0)


def _log_weights(model, x, z) -> tf.Tensor:
    """The ``[S, B]`` log-weights of one chunk of draws ``z`` (traced once per model)."""
    return log_importance_weights(model, x, z)


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
    dominates memory and time, then runs on ``chunk_size`` of them at a time,
    and ``log (1/k) sum_i w_i`` is a log-sum-exp of the ``[k, B]`` log-weights
    in float64. The codes do not depend on ``chunk_size``, so any chunking
    gives the same estimate up to float rounding.

    The Monte-Carlo standard error ``mc_stderr`` is the jackknife's over the
    ``k`` draws (:func:`iwae_from_log_weights`)::

        se^2 = (k - 1) / k * sum_i (d_i - mean(d))^2,   d_i = log(1 - w_i / sum_j w_j)

    It measures the spread of the estimate over seeds for a fixed ``x``
    (tested against that spread). At ``k = 1`` one more code is drawn and
    decoded for the error only, ``se = |log w_1 - log w_2| / sqrt(2)``; the
    estimate is ``log w_1``. The error does not include the estimator's
    downward bias, about ``-se^2 / 2``.

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
      ModelCapabilityError: the model declares no likelihood bound.
      ValueError: ``k`` or ``chunk_size`` below 1.

    References:
      Burda, Y., Grosse, R. & Salakhutdinov, R. (2016). Importance Weighted
      Autoencoders. ICLR.
      Efron, B. & Stein, C. (1981). The jackknife estimate of variance. The
      Annals of Statistics 9(3), 586-596.
    """
    k, chunk_size = int(k), int(chunk_size)
    if k < 1 or chunk_size < 1:
        raise ValueError(f"k and chunk_size must be >= 1, got k={k}, chunk_size={chunk_size}")
    require_elbo(model)  # fail early, with the message, for models without a likelihood bound
    x = tf.convert_to_tensor(x)
    q = model.encode(x)
    draws = max(k, 2)  # k = 1: a second, spare draw for the standard error only
    z = model.posterior.sample(q, draws, as_seed(seed))
    chunk = traced_method(model, "iwae_log_weights", _log_weights, reduce_retracing=True)  # one trace per model
    log_w = np.concatenate([chunk(x, z[start : start + chunk_size]).numpy().astype(np.float64)
                            for start in range(0, draws, chunk_size)])
    return iwae_from_log_weights(log_w[:k], spare=log_w[1] if k == 1 else None)


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
    x_hat = model.reconstruct(x)  # the one mean reconstruction
    nll = -model.decode(model.embed(x)).log_prob(x)  # the likelihood at the model's code
    x = tf.cast(x, x_hat.dtype)
    axes = list(range(1, len(x.shape)))
    clipped = tf.clip_by_value(x_hat, _BCE_EPS, 1.0 - _BCE_EPS)
    bce = -tf.reduce_sum(x * tf.math.log(clipped) + (1.0 - x) * tf.math.log1p(-clipped), axis=axes)
    return {
        "mse": tf.reduce_mean(tf.square(x - x_hat), axis=axes),
        "bce": bce,
        "nll": nll,
    }
