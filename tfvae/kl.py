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

from tfvae.errors import TfvaeError

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
    log_q: tf.Tensor | None = None,
) -> tf.Tensor:
    """KL(q || p) for each batch member of ``q``.

    Args:
      q: the posterior, batch shape ``[B]`` (any event shape).
      p: the prior, broadcastable against ``q``.
      z: samples from ``q`` with leading sample dimensions, ``[S, B, ...]`` (or
        ``[B, ...]``). Needed for ``"mc"`` and for the analytic fallback.
      method: ``"analytic"`` or ``"mc"``.
      log_q: ``log q(z)`` of those samples, shaped like them without the
        event (``[S, B]``), when the caller has it already (a flow posterior's
        ``sample_and_log_prob``: its ``log_prob`` of an arbitrary ``z`` inverts
        the flow). ``None``: ``q.log_prob(z)``.

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
    log_ratio = (q.log_prob(z) if log_q is None else log_q) - p.log_prob(z)
    sample_ndims = log_ratio.shape.rank - q.batch_shape.rank
    if sample_ndims > 0:
        log_ratio = tf.reduce_mean(log_ratio, axis=list(range(sample_ndims)))
    return log_ratio


class PerDimensionKLError(TfvaeError, ValueError):
    """A posterior or prior that is not a diagonal Gaussian has no per-dimension KL."""


def is_diagonal_gaussian(distribution: tfd.Distribution) -> bool:
    """Whether ``distribution`` is a Gaussian with independent dimensions, the one kind with a per-dimension KL.

    ``MultivariateNormalDiag``, ``Normal``, or either wrapped in ``Independent``;
    not a mixture (a MoG or VampPrior), whose KL does not split over dimensions.
    """
    base = distribution.distribution if isinstance(distribution, tfd.Independent) else distribution
    return isinstance(base, (tfd.MultivariateNormalDiag, tfd.Normal))


def per_dimension_kl(q: tfd.Distribution, p: tfd.Distribution) -> tf.Tensor:
    r"""``KL(q(z_u|x) || p(z_u))`` per latent dimension ``u``, analytic, nats.

    For diagonal Gaussians the KL splits over the dimensions, and each is the
    closed form

    .. math::

        \mathrm{KL}_u = \log \frac{\sigma_{p,u}}{\sigma_{q,u}}
            + \frac{\sigma_{q,u}^2 + (\mu_{q,u} - \mu_{p,u})^2}{2 \sigma_{p,u}^2} - \frac{1}{2},

    whose sum over ``u`` is the analytic rate :func:`kl_divergence`. The one
    home of the rule: a VAE's free bits and the metric
    :func:`tfvae.metrics.kl_per_dimension` both call it.

    Args:
      q: the posterior, a diagonal Gaussian with batch shape ``[B]`` (:func:`is_diagonal_gaussian`).
      p: the prior, a diagonal Gaussian broadcastable against ``q``.

    Returns:
      ``[B, latent_dim]`` float tensor.

    Raises:
      PerDimensionKLError: ``q`` or ``p`` is not a diagonal Gaussian (its KL does not split over dimensions).
    """
    for distribution, what in ((q, "posterior"), (p, "prior")):
        if not is_diagonal_gaussian(distribution):
            raise PerDimensionKLError(
                f"a per-dimension KL needs a diagonal Gaussian {what}; got {type(distribution).__name__}")
    return tfd.kl_divergence(_marginals(q), _marginals(p))


def _marginals(gaussian: tfd.Distribution) -> tfd.Normal:
    """A diagonal Gaussian's independent ``Normal`` marginals, from its location and scale parameters."""
    base = gaussian.distribution if isinstance(gaussian, tfd.Independent) else gaussian
    return tfd.Normal(base.loc, base.stddev())
