"""Variational autoencoders: ``VAE`` and ``BetaVAE``."""

from __future__ import annotations

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfvae.distributions import DiagonalGaussianPosterior, DistributionHead, Likelihood, StandardNormalPrior
from tfvae.kl import KL_METHODS, kl_divergence
from tfvae.models.autoencoder import Autoencoder, _deserialize
from tfvae.registry import MODELS, serializable
from tfvae.validation import check_data_shape

tfd = tfp.distributions


@MODELS.register("vae")
@serializable
class VAE(Autoencoder):
    r"""Variational autoencoder trained on the (beta-weighted) negative ELBO.

    For each example, with ``L = num_samples`` reparameterised draws
    ``z_l ~ q(z|x)``::

        distortion(x) = -1/L sum_l log p(x | z_l)
        rate(x)       = KL(q(z|x) || p(z))        (analytic, or MC on the same z_l)
        elbo(x)       = -(distortion(x) + rate(x))
        loss          = mean_batch(distortion + beta * rate)

    Sums run over data and latent dimensions; everything is in nats per
    example, float32 whatever the mixed-precision policy.

    Args:
      encoder, decoder, posterior, likelihood: as for :class:`Autoencoder`.
      prior: prior head; defaults to :class:`StandardNormalPrior`.
      beta: weight of the rate term (1 is the ELBO; > 1 is the beta-VAE).
      kl: ``"analytic"`` (closed form when TFP registers one, else MC) or ``"mc"``.
      num_samples: Monte-Carlo samples ``L`` per example.
      seed: seed of the model's random draws.

    References:
      Kingma, D. P. & Welling, M. (2014). Auto-Encoding Variational Bayes. ICLR.
      Rezende, D. J., Mohamed, S. & Wierstra, D. (2014). Stochastic
      Backpropagation and Approximate Inference in Deep Generative Models. ICML.
    """

    loss_term_names = ("loss", "elbo", "distortion", "rate")
    default_posterior = DiagonalGaussianPosterior

    def __init__(
        self,
        encoder: keras.layers.Layer,
        decoder: keras.layers.Layer,
        posterior: DistributionHead,
        likelihood: Likelihood,
        prior: DistributionHead | None = None,
        beta: float = 1.0,
        kl: str = "analytic",
        num_samples: int = 1,
        seed: int | None = None,
        **kwargs,
    ):
        if kl not in KL_METHODS:
            raise ValueError(f"kl must be one of {KL_METHODS}, got {kl!r}")
        if int(num_samples) < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}")
        if not float(beta) >= 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        posterior = _deserialize(posterior)
        self.prior = _deserialize(prior) if prior is not None else StandardNormalPrior(posterior.latent_dim, name="prior")
        self.beta = float(beta)
        self.kl = kl
        self.num_samples = int(num_samples)
        super().__init__(encoder, decoder, posterior, likelihood, seed=seed, **kwargs)

    def build(self, input_shape=None):
        super().build(input_shape)
        self.prior()

    def prior_distribution(self) -> tfd.Distribution:
        """The prior ``p(z)`` as a ``tfd.Distribution`` (event shape ``[latent_dim]``)."""
        return self.prior()

    def per_example_terms(self, x, training=False, num_samples=None, seed=None):
        """Per-example ``elbo``, ``distortion`` and ``rate`` (``[B]``, nats).

        Args:
          x: checked float data ``[B, *data_shape]``.
          training: whether layers run in training mode.
          num_samples: Monte-Carlo samples (default: the model's ``num_samples``).
          seed: a length-2 stateless seed for the draws; default: the model's
            seed generator (which then moves on).
        """
        q = self._encode(x, training)
        seed = self.seed_generator.next() if seed is None else seed
        z = self.posterior.sample(q, num_samples or self.num_samples, seed)
        distortion = -tf.reduce_mean(self._decode(z, training).log_prob(x), axis=0)
        rate = kl_divergence(q, self.prior(), z=z, method=self.kl)
        return {"elbo": -(distortion + rate), "distortion": distortion, "rate": rate}

    def objective(self, terms):
        return terms["distortion"] + self.beta * terms["rate"]

    def elbo(self, x, condition=None, num_samples: int | None = None, seed=None) -> dict[str, tf.Tensor]:
        """Per-example ``elbo``, ``distortion`` and ``rate`` in nats, each of shape ``[B]``.

        Args:
          x: float data of shape ``(batch, *data_shape)``.
          condition: unused by unconditional models.
          num_samples: Monte-Carlo samples (default: the model's ``num_samples``).
          seed: a length-2 stateless seed (default: the model's seed generator).
        """
        self._check_condition(condition)
        return self.per_example_terms(check_data_shape(x, self.data_shape), False, num_samples, seed)

    def sample(self, num_samples: int, seed=None) -> tf.Tensor:
        """Decode ``num_samples`` draws from the prior; returns the likelihood means.

        Args:
          num_samples: how many examples.
          seed: a length-2 int seed; defaults to the model's seed generator.
        """
        seed = self.seed_generator.next() if seed is None else seed
        z = self.prior.sample(self.prior(), int(num_samples), seed)
        return self._decode(z, False).mean()

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "prior": keras.saving.serialize_keras_object(self.prior),
            "beta": self.beta,
            "kl": self.kl,
            "num_samples": self.num_samples,
        }


@MODELS.register("beta_vae")
@serializable
class BetaVAE(VAE):
    """The beta-VAE: a :class:`VAE` whose rate is weighted by ``beta`` (default 4).

    Same loss as :class:`VAE` (no copied objective); ``beta > 1`` trades
    reconstruction for a more factorised code.

    References:
      Higgins, I. et al. (2017). beta-VAE: Learning Basic Visual Concepts with a
      Constrained Variational Framework. ICLR.
    """

    def __init__(self, *args, beta: float = 4.0, **kwargs):
        super().__init__(*args, beta=beta, **kwargs)
