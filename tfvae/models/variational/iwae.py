r"""The importance-weighted autoencoder (IWAE): a VAE trained on a tighter bound.

With ``k`` draws ``z_1..z_k ~ q(z|x)`` and the importance weights
``w_i = p(x|z_i) p(z_i) / q(z_i|x)``, Burda et al.'s bound is

.. math::

    \log p(x) \ge \mathcal{L}_k(x) = \mathbb{E}\Big[\log \frac{1}{k} \sum_{i=1}^k w_i\Big],
    \qquad \mathcal{L}_1 = \mathrm{ELBO} \le \mathcal{L}_k \le \mathcal{L}_{k+1} \to \log p(x).

Its reparameterised gradient weighs each draw's ``\nabla \log w_i`` by its
normalised weight ``w_i / \sum_j w_j``, so the encoder is no longer punished
for draws the decoder explains badly: the posterior may be broader than the
VAE's, and more latent units stay active. The model is the VAE (same
encoder, decoder, prior, builders, serving signatures); only the objective
changes. ``k = 1`` is the VAE with a Monte-Carlo rate.

Rainforth et al. (2018) show the encoder's gradient gets noisier relative to
its size as ``k`` grows (the decoder's improves), so a large ``k`` is not
always better for the encoder.

References:
  Burda, Y., Grosse, R. & Salakhutdinov, R. (2016). Importance Weighted
  Autoencoders. ICLR. arXiv:1509.00519.
  Rainforth, T. et al. (2018). Tighter Variational Bounds are Not Necessarily
  Better. ICML. arXiv:1802.04537.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

from tfvae.models.variational.vae import VAE
from tfvae.registry import MODELS, serializable
from tfvae.validation import check_int

tfd = tfp.distributions


def log_importance_weights(x, q: tfd.Distribution, z, likelihood: tfd.Distribution,
                           prior: tfd.Distribution, log_q: tf.Tensor | None = None) -> tf.Tensor:
    r"""The log importance weights ``log w_i = log p(x|z_i) + log p(z_i) - log q(z_i|x)``, nats.

    The one home of the weights: the IWAE's training bound, the IWAE
    log-likelihood estimate (:func:`tfvae.metrics.iwae_log_likelihood`) and the
    anomaly scores all call it. ``E_q[w] = p(x)``, so ``log mean_i w_i``
    estimates ``log p(x)`` from below (:func:`iwae_bound`).

    Args:
      x: data ``[B, *data_shape]``.
      q: the posterior ``q(z|x)``, batch shape ``[B]``.
      z: draws from ``q``, sample dimension first: ``[S, B, latent_dim]``.
      likelihood: ``p(x|z)`` for every draw (batch shape ``[S, B]``).
      prior: ``p(z)``.
      log_q: ``log q(z|x)`` of the draws, ``[S, B]``, when the caller has it
        (the posterior head's ``sample_and_log_prob``: a flow's ``log_prob`` of
        an arbitrary ``z`` inverts the flow); ``None``: ``q.log_prob(z)``.

    Returns:
      ``[S, B]`` float32.
    """
    return likelihood.log_prob(x) + prior.log_prob(z) - (q.log_prob(z) if log_q is None else log_q)


def iwae_bound(log_weights) -> tf.Tensor:
    r"""The ``k``-sample bound from ``k`` log importance weights per example (Burda et al. 2016).

    .. math:: \mathcal{L}_k = \log \frac{1}{k} \sum_{i=1}^k w_i
              = \operatorname{logsumexp}_i(\log w_i) - \log k,

    computed with the maximum shifted out (no overflow; an example whose
    weights are all zero gives ``-inf``). The one home of the bound: the
    IWAE's objective, the IWAE estimate of :mod:`tfvae.metrics` and the
    anomaly scores all call it.

    Args:
      log_weights: ``[k, B]`` (or ``[k]``) log weights (:func:`log_importance_weights`), any float dtype.

    Returns:
      ``[B]`` (or a scalar), in the dtype of ``log_weights``.

    References:
      Burda, Y., Grosse, R. & Salakhutdinov, R. (2016). Importance Weighted
      Autoencoders. ICLR. arXiv:1509.00519.
    """
    log_weights = tf.convert_to_tensor(log_weights)
    count = tf.cast(tf.shape(log_weights)[0], log_weights.dtype)
    return tf.reduce_logsumexp(log_weights, axis=0) - tf.math.log(count)


@MODELS.register("iwae")
@serializable
class IWAE(VAE):
    r"""A VAE whose loss is the negative ``k``-sample importance-weighted bound ``-L_k``.

    The loss terms are ``loss = -iwae_bound``, ``iwae_bound`` (``L_k``, the
    bound trained on, nats per example), and the VAE's ``elbo``,
    ``distortion`` and ``rate`` averaged over the same ``k`` draws (so
    ``iwae_bound >= elbo`` up to the rate's estimator: analytic by default).
    Its serving ``score`` is ``-iwae_bound`` from the row's seed, with those
    terms beside it.

    Args:
      *args: as for :class:`VAE` (``VAE.mlp``/``VAE.conv`` build it too:
        ``IWAE.mlp(k=5)``).
      k: importance samples per example (``k = 1``: the VAE's bound).
      **kwargs: the :class:`VAE`'s, except ``beta``, ``free_bits`` and
        ``kl_warmup_steps``, which weigh a rate the bound does not have, and
        ``num_samples``, which is ``k`` here.

    Raises:
      ValueError: ``k`` is not a positive int, or an option the bound has no
        place for is set.
    """

    loss_term_names = ("loss", "iwae_bound", "elbo", "distortion", "rate")
    score_term_names = ("iwae_bound", "elbo", "distortion", "rate")
    score_bound = "iwae_bound"  # the served score is -L_k, from k draws per example
    config_options = tuple(sorted({*VAE.config_options, "k"} - {"beta", "free_bits", "kl_warmup_steps", "num_samples"}))

    def __init__(self, *args, k: int = 5, **kwargs):
        k = check_int(k, "k")
        num_samples = kwargs.pop("num_samples", k)  # the VAE's config names k num_samples
        if num_samples != k:
            raise ValueError(f"IWAE takes k ({k}) and not num_samples ({num_samples}): they are the same number")
        for option, neutral in (("beta", 1.0), ("free_bits", 0.0), ("kl_warmup_steps", 0)):
            if kwargs.get(option, neutral) != neutral:
                raise ValueError(
                    f"IWAE's bound has no rate weight: {option} must be {neutral}, got {kwargs[option]!r} "
                    "(a weighted rate is beta_vae's; warm-up and free bits are the VAE's)"
                )
        super().__init__(*args, num_samples=k, **kwargs)

    @property
    def k(self) -> int:
        """Importance samples per example."""
        return self.num_samples

    @property
    def needs_log_q(self) -> bool:
        """Always: the importance log-weights read ``log q(z|x)`` of every draw."""
        return True

    def elbo_terms(self, x, q, z, likelihood, prior, log_q=None) -> dict[str, tf.Tensor]:
        """The VAE's terms and ``iwae_bound = logsumexp_i(log w_i) - log k``, each ``[B]``.

        Args:
          x: data ``[B, *data_shape]``.
          q: the posterior ``q(z|x)``.
          z: its ``k`` draws ``[k, B, latent_dim]``.
          likelihood: ``p(x|z)`` for every draw (batch ``[k, B]``).
          prior: ``p(z)``.
          log_q: ``log q(z|x)`` of the draws, ``[k, B]`` (``None``: ``q.log_prob(z)``).
        """
        terms = super().elbo_terms(x, q, z, likelihood, prior, log_q)
        terms["iwae_bound"] = iwae_bound(log_importance_weights(x, q, z, likelihood, prior, log_q))
        return terms

    def objective(self, terms) -> tf.Tensor:
        return -terms["iwae_bound"]

    def get_config(self) -> dict:
        config = super().get_config()
        for option in ("beta", "free_bits", "kl_warmup_steps"):
            config.pop(option, None)
        config["k"] = config.pop("num_samples")
        return config


__all__ = ["IWAE", "iwae_bound", "log_importance_weights"]
