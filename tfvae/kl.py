"""KL divergence between a posterior and a prior, analytic or Monte Carlo.

The rate term of the ELBO is

    rate(x) = KL(q(z|x) || p(z)) = E_q[log q(z|x) - log p(z)].

``method="analytic"`` uses the closed form TFP registers for the pair of
families (e.g. ``MultivariateNormalDiag`` || ``MultivariateNormalDiag``)::

    KL(N(m, s^2) || N(0, 1)) = -1/2 sum_d (1 + log s_d^2 - m_d^2 - s_d^2)

and falls back to Monte Carlo when no closed form is registered. ``"mc"``
always averages ``log q(z) - log p(z)`` over the leading sample dimensions of
``z``: pass the same ``z`` the distortion term used, so both terms see one
draw (the estimator of Kingma & Welling, 2014, eq. 6).

References:
  Kingma, D. P. & Welling, M. (2014). Auto-Encoding Variational Bayes. ICLR.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

KL_METHODS = ("analytic", "mc")


def has_analytic_kl(q: tfd.Distribution, p: tfd.Distribution) -> bool:
    """Whether TFP registers a closed-form KL for ``type(q)`` || ``type(p)``."""
    try:
        tfd.kl_divergence(q, p)
    except NotImplementedError:
        return False
    return True


def kl_divergence(
    q: tfd.Distribution,
    p: tfd.Distribution,
    z: tf.Tensor | None = None,
    method: str = "analytic",
) -> tf.Tensor:
    """KL(q || p) for each batch member of ``q``.

    Args:
      q: the posterior, batch shape ``[B]`` (any event shape).
      p: the prior, broadcastable against ``q``.
      z: samples from ``q`` with leading sample dimensions, ``[S, B, ...]`` (or
        ``[B, ...]``). Needed for ``"mc"`` and for the analytic fallback.
      method: ``"analytic"`` or ``"mc"``.

    Returns:
      A float tensor of shape ``q.batch_shape``, in nats.
    """
    if method not in KL_METHODS:
        raise ValueError(f"kl method must be one of {KL_METHODS}, got {method!r}")
    if method == "analytic":
        try:
            return tfd.kl_divergence(q, p)
        except NotImplementedError:
            if z is None:
                raise NotImplementedError(
                    f"no analytic KL is registered for {type(q).__name__} || {type(p).__name__}; "
                    "pass samples z for a Monte-Carlo estimate or use method='mc'"
                ) from None
    if z is None:
        raise ValueError("method='mc' needs samples z drawn from q")
    log_ratio = q.log_prob(z) - p.log_prob(z)
    sample_ndims = log_ratio.shape.rank - q.batch_shape.rank
    if sample_ndims > 0:
        log_ratio = tf.reduce_mean(log_ratio, axis=list(range(sample_ndims)))
    return log_ratio
