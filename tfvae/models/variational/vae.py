"""Variational autoencoders: ``VAE`` and ``BetaVAE``."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfvae.distribute import global_mean
from tfvae.distributions import (
    ConditionalGaussianPrior,
    DiagonalGaussianPosterior,
    DistributionHead,
    LatentHead,
    Likelihood,
    StandardNormalPrior,
)
from tfvae.kl import KL_METHODS, is_diagonal_gaussian, kl_divergence, per_dimension_kl
from tfvae.models.autoencoders.autoencoder import Autoencoder
from tfvae.models.builders import as_layer
from tfvae.models.contract import ServingSignature, label_input, seed_input
from tfvae.random import as_seed, derive_seed
from tfvae.registry import MODELS, POSTERIORS, PRIORS, serializable
from tfvae.validation import check_data_shape, check_int, check_number

tfd = tfp.distributions


def head_options() -> set[str]:
    """The ``model.options`` keys of every registered posterior and prior (their ``config_options``)."""
    return {option for registry in (POSTERIORS, PRIORS) for name in registry.names()
            for option in registry.get(name).config_options}


def refuse_stray_head_options(registry, name: str | None, options: dict) -> None:
    """A ``ValueError`` naming the first option in ``options`` that belongs to another head of ``registry``.

    ``name``: the head chosen (``None``: the default one).
    """
    for other in registry.names():
        stray = sorted(set(registry.get(other).config_options) & set(options))
        if other != name and stray:
            chosen = f"{name!r}" if name else f"the default {registry.kind}"
            raise ValueError(f"{stray[0]} is an option of the {registry.kind} {other!r}, not of {chosen}")


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

    Two options shape the rate term during training (``elbo`` and the
    reported ``rate`` are never changed by them):

    * KL warm-up: ``beta_t = beta * min(1, t / kl_warmup_steps)`` at training
      step ``t`` (linear annealing, Bowman et al. 2016; Sonderby et al. 2016);
    * free bits: each latent dimension's KL, averaged over the batch, counts
      as at least ``free_bits`` nats: ``sum_j max(free_bits, mean_B KL_j)``
      (Kingma et al. 2016); needs a diagonal Gaussian posterior and prior.

    Args:
      encoder, decoder, posterior, likelihood: as for :class:`Autoencoder`; the
        posterior is a :class:`~tfvae.distributions.LatentHead` (its ``point``
        is the code, its ``sample_and_log_prob`` the draws and their
        ``log q``). The builders take it by name too, a key of
        :data:`tfvae.registry.POSTERIORS`: ``VAE.mlp(posterior="iaf",
        flow_steps=2)`` (``"diagonal_gaussian"``, the default, or ``"iaf"``,
        :class:`~tfvae.distributions.IAFPosterior`), with the options the
        head declares.
      prior: prior head, or a name of :data:`tfvae.registry.PRIORS`:
        ``"standard_normal"`` (default), ``"mog"``
        (:class:`~tfvae.distributions.MixtureOfGaussiansPrior`,
        ``num_components=10``) or ``"vamp"``
        (:class:`~tfvae.distributions.VampPrior`, ``num_pseudo_inputs=50``);
        learned priors use the Monte-Carlo KL.
      beta: weight of the rate term (1 is the ELBO; > 1 is the beta-VAE).
      kl: ``"analytic"`` (closed form when TFP registers one, else MC; refused
        for a posterior without one, such as the IAF) or ``"mc"``.
      num_samples: Monte-Carlo samples ``L`` per example.
      kl_warmup_steps: steps over which beta rises linearly from 0 (0: off).
      free_bits: nats per latent dimension below which the KL is not
        penalised (0: off).
      num_classes, condition_embedding: class conditioning (as for
        :class:`Autoencoder`): the conditional VAE (Sohn et al. 2015) is this
        family with ``num_classes`` set; the ELBO is then
        ``E_q[log p(x|z,y)] - KL(q(z|x,y) || p(z|y))`` and ``sample(n,
        condition=y)`` draws examples of class ``y``.
      conditional_prior: learn ``p(z|y)``
        (:class:`~tfvae.distributions.ConditionalGaussianPrior`) instead of
        ``N(0, I)`` (needs ``num_classes``).
      seed: seed of everything the model makes: its random draws (the
        model's ``SeedGenerator``), the initial weights of the layers and
        heads made inside the constructor and the builders (a builder's
        networks, a network factory's, a named prior's means or pseudo-inputs,
        seeded with ``derive_seed(seed, "prior")``). Layers and heads you
        build yourself and pass in keep the weights they were made with:
        the model never re-initialises them (they may be trained already).
        For ``VAE(encoder, decoder, ..., seed=0)`` to give the same model
        every time, make them inside ``tfvae.random.seeded_weights(0)``, or
        pass them seeded initialisers (see docs/randomness.md).
        ``None``: Keras' unseeded initialisers and a random stream.

    References:
      Kingma, D. P. & Welling, M. (2014). Auto-Encoding Variational Bayes. ICLR.
      Rezende, D. J., Mohamed, S. & Wierstra, D. (2014). Stochastic
      Backpropagation and Approximate Inference in Deep Generative Models. ICML.
      Kingma, D. P. et al. (2016). Improved Variational Inference with Inverse
      Autoregressive Flow. NeurIPS (free bits).
      Bowman, S. R. et al. (2016). Generating Sentences from a Continuous
      Space. CoNLL (KL annealing).
      Sohn, K., Lee, H. & Yan, X. (2015). Learning Structured Output
      Representation using Deep Conditional Generative Models. NeurIPS.
    """

    loss_term_names = ("loss", "elbo", "distortion", "rate")
    #: class conditioning is an option of the family: ``VAE(..., num_classes=K)``, or in a config
    #: ``model.options = {conditional = true}`` (the dataset's classes; ``ConditionalVAE`` is this configuration)
    conditioning = "option"
    config_options = tuple(sorted({"beta", "free_bits", "kl", "kl_warmup_steps", "num_samples", "posterior", "prior",
                                   "conditional", "num_classes", "condition_embedding", "conditional_prior",
                                   *head_options()}))

    @property
    def capabilities(self):
        """The autoencoder's, with a prior to sample from, the ELBO as a likelihood bound and a stochastic encoder."""
        return super().capabilities.but(has_prior=True, likelihood_bound=True, stochastic_encoder=True)
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
        kl_warmup_steps: int = 0,
        free_bits: float = 0.0,
        seed: int | None = None,
        conditional_prior: bool = False,
        **kwargs,
    ):
        self._set_conditioning(kwargs.get("num_classes"), kwargs.get("condition_embedding"))  # before the prior
        self.conditional_prior = bool(conditional_prior)
        if self.conditional_prior:
            if kwargs.get("num_classes") is None:
                raise ValueError("conditional_prior needs num_classes: a prior p(z|y) is learned per class")
            if prior is None:
                prior = ConditionalGaussianPrior(as_layer(posterior).latent_dim, int(kwargs["num_classes"]),
                                                 name="prior")
        self.kl_warmup_steps = check_int(kl_warmup_steps, "kl_warmup_steps", minimum=0)
        self.free_bits = check_number(free_bits, "free_bits", 0.0)
        if kl not in KL_METHODS:
            raise ValueError(f"kl must be one of {KL_METHODS}, got {kl!r}")
        num_samples = check_int(num_samples, "num_samples")
        beta = check_number(beta, "beta", 0.0)
        posterior = as_layer(posterior)
        if kl == "analytic" and not posterior.analytic_kl:
            raise ValueError(f"kl='analytic' has no closed form with the {type(posterior).__name__}: "
                             "use kl='mc' (the Monte-Carlo rate on the posterior's draws)")
        if isinstance(prior, str):
            prior = self.build_prior(prior, posterior.latent_dim, as_layer(likelihood).event_shape, kwargs,
                                     seed=derive_seed(seed, "prior"))
        elif prior is None:
            refuse_stray_head_options(PRIORS, None, kwargs)
        self.prior = as_layer(prior) if prior is not None else StandardNormalPrior(posterior.latent_dim, name="prior")
        self.beta = float(beta)
        self.kl = kl
        self.num_samples = int(num_samples)
        if hasattr(self.prior, "bind"):  # priors made of the encoder (VampPrior)
            if kwargs.get("num_classes") is not None:
                raise ValueError(f"the {type(self.prior).__name__} is made of the encoder's posteriors of "
                                 "pseudo-inputs, which have no labels: a conditional VAE takes another prior")
            self.prior.bind(lambda u: self.posterior(self.encoder(u)))
        super().__init__(encoder, decoder, posterior, likelihood, seed=seed, **kwargs)

    @classmethod
    def build_prior(cls, name: str, latent_dim: int, data_shape, options: dict, seed: int | None = None):
        """The prior head registered as ``name`` in :data:`tfvae.registry.PRIORS`.

        Args:
          name: a registered prior (``standard_normal``, ``mog``, ``vamp``, or one of yours).
          latent_dim: size of z.
          data_shape: shape of one example (a VampPrior's pseudo-inputs).
          options: the model's remaining keyword arguments; the prior's own
            (its ``config_options``) are popped from it.
          seed: seed of a learned prior's initial means / pseudo-inputs (the
            constructor passes ``derive_seed(seed, "prior")`` of the model's).

        Raises:
          ValueError: an unknown name (the known ones listed), or another prior's option.
        """
        prior = PRIORS.get(name).from_options(latent_dim, options, data_shape=data_shape, seed=seed, name="prior")
        refuse_stray_head_options(PRIORS, name, options)
        return prior

    @classmethod
    def build_posterior(cls, latent_dim: int, options: dict) -> LatentHead:
        """The builders' posterior: ``options["posterior"]`` (a head, or a name of :data:`tfvae.registry.POSTERIORS`).

        Without one it is the family's :attr:`default_posterior` (a diagonal Gaussian).

        Raises:
          ValueError: an unknown name (the known ones listed), or another posterior's option.
        """
        posterior = options.pop("posterior", None)
        if isinstance(posterior, keras.layers.Layer):
            return posterior
        if posterior is None:
            head = super().build_posterior(latent_dim, options)
        else:
            head = POSTERIORS.get(posterior).from_options(latent_dim, options, name="posterior")
        refuse_stray_head_options(POSTERIORS, posterior, options)
        return head

    def build(self, input_shape=None):
        super().build(input_shape)
        q = self._encode(tf.zeros((1, *self.data_shape), tf.float32), False,
                         tf.zeros((1,), tf.int32) if self.conditional else None)
        if self.free_bits and not (is_diagonal_gaussian(self.prior()) and is_diagonal_gaussian(q)):
            raise ValueError("free_bits needs a diagonal Gaussian posterior and prior (per-dimension KL), got the "
                             f"{type(self.posterior).__name__} and the {type(self.prior).__name__}")

    def current_beta(self) -> tf.Tensor:
        """``beta`` at the current training step (after KL warm-up)."""
        if not self.kl_warmup_steps:
            return tf.constant(self.beta, tf.float32)
        progress = tf.cast(self.steps_done, tf.float32) / float(self.kl_warmup_steps)
        return self.beta * tf.minimum(1.0, progress)

    def prior_distribution(self) -> tfd.Distribution:
        """The prior ``p(z)`` as a ``tfd.Distribution`` (event shape ``[latent_dim]``)."""
        return self.prior()

    def per_example_terms(self, data, training=False, num_samples=None, seed=None):
        """Per-example ``elbo``, ``distortion`` and ``rate`` (``[B]``, nats).

        Args:
          data: checked float data ``[B, *data_shape]``, or ``(x, y)`` for a conditional model
            (:meth:`unpack_data`'s output).
          training: whether layers run in training mode.
          num_samples: Monte-Carlo samples (default: the model's ``num_samples``).
          seed: a length-2 stateless seed for the draws; default: the model's
            seed generator (which then moves on).
        """
        x, y = data if self.conditional else (data, None)
        q = self._encode(x, training, y)
        seed = self.seed_generator.next() if seed is None else seed
        num_samples = num_samples or self.num_samples
        if self.needs_log_q:
            z, log_q = self.posterior.sample_and_log_prob(q, num_samples, seed)
        else:  # an analytic rate reads no log q(z|x): not computed (eagerly, TFP's log_prob costs milliseconds)
            z, log_q = self.posterior.sample(q, num_samples, seed), None
        terms = self.elbo_terms(x, q, z, self._decode(z, training, y), self.prior_for(y), log_q)
        return {**terms, **self.code_terms(z, seed, training)}

    @property
    def needs_log_q(self) -> bool:
        """Whether the terms read ``log q(z|x)`` of the draws: a Monte-Carlo rate, or a posterior without an
        analytic KL (a flow). Families whose objective reads it (IWAE's log-weights) say so too."""
        return self.kl == "mc" or not self.posterior.analytic_kl

    def code_terms(self, z, seed, training: bool) -> dict[str, tf.Tensor]:
        """Per-example terms a family computes from the draws ``z`` ``[S, B, D]`` beside the ELBO's (none here).

        ``seed`` is the step's stateless seed (fold it for draws of your own,
        :func:`tfvae.random.fold_seed`); FactorVAE's total correlation is one.
        """
        return {}

    def elbo_terms(self, x, q, z, likelihood, prior, log_q=None) -> dict[str, tf.Tensor]:
        """The per-example terms from ``q(z|x)``, its draws ``z`` ``[S, B, D]``, ``p(x|z)`` and the prior.

        ``log_q``: ``log q(z|x)`` of the draws, ``[S, B]`` (the posterior's
        ``sample_and_log_prob``); ``None``: ``q.log_prob(z)``.
        """
        distortion = -tf.reduce_mean(likelihood.log_prob(x), axis=0)
        rate = kl_divergence(q, prior, z=z, method=self.kl, log_q=log_q)
        terms = {"elbo": -(distortion + rate), "distortion": distortion, "rate": rate}
        if self.free_bits:
            terms["rate_per_dimension"] = per_dimension_kl(q, prior)
        return terms

    def penalised_rate(self, terms) -> tf.Tensor:
        """The rate as the loss sees it, per example (free bits applied).

        With free bits the floor applies to each dimension's KL averaged over
        the GLOBAL batch (:func:`tfvae.distribute.global_mean`: the same on
        one device and on every replica of a ``tf.distribute`` step).
        """
        if not self.free_bits:
            return terms["rate"]
        floored = tf.reduce_sum(tf.maximum(self.free_bits, global_mean(terms["rate_per_dimension"])))
        return tf.fill(tf.shape(terms["rate"]), floored)

    def objective(self, terms):
        return terms["distortion"] + self.current_beta() * self.penalised_rate(terms)

    def elbo(self, x, condition=None, num_samples: int | None = None, seed=None) -> dict[str, tf.Tensor]:
        """Per-example ``elbo``, ``distortion`` and ``rate`` in nats, each of shape ``[B]``.

        Args:
          x: float data of shape ``(batch, *data_shape)``.
          condition: class labels ``(batch,)`` of a conditional model (``None`` otherwise).
          num_samples: Monte-Carlo samples (default: the model's ``num_samples``).
          seed: an int or a length-2 stateless seed (default: the model's seed generator).
        """
        x = check_data_shape(x, self.data_shape)
        y = self.check_condition(condition, x.shape[0])
        num_samples = None if num_samples is None else check_int(num_samples, "num_samples")
        data = (x, y) if self.conditional else x
        return self.per_example_terms(data, False, num_samples, as_seed(seed, self.seed_generator))

    def sample(self, num_samples: int, *, seed=None, condition=None) -> tf.Tensor:
        """Decode ``num_samples`` draws from the prior; returns the likelihood means.

        Every family samples through this one signature, ``sample(num_samples, *, seed, condition)``
        (a family that needs a trained prior takes it as ``prior=``).

        Args:
          num_samples: how many examples (0 gives an empty batch).
          seed: an int or a length-2 int seed; defaults to the model's seed generator.
          condition: class labels of a conditional model: an int, or one per sample ``(num_samples,)``;
            an unconditional model refuses them.
        """
        num_samples = check_int(num_samples, "num_samples", minimum=0)
        y = None
        if self.conditional:
            if condition is None:
                self.check_condition(None)  # the error that says labels are needed
            labels = np.asarray(condition)
            y = self.check_condition(np.broadcast_to(labels, (num_samples,)) if labels.ndim == 0 else labels,
                                     num_samples)
        else:
            self.check_condition(condition)
        seed = as_seed(seed, self.seed_generator)
        prior = self.prior_for(y)
        z = self.prior.sample(prior, 1 if self.conditional_prior else num_samples, seed)
        z = z[0] if self.conditional_prior else z  # p(z|y) has one distribution per label: one draw each
        return self._decode(z, False, y).mean()

    # ---------------------------------------------------------------- serving
    def prior_for(self, condition=None) -> tfd.Distribution:
        """The prior ``p(z)``; with ``conditional_prior``, ``p(z|y)`` for labels ``condition`` (batch ``[B]``)."""
        return self.prior(condition) if self.conditional_prior else self.prior()

    #: the per-example terms the seeded ``score`` reports beside the score
    score_term_names = ("elbo", "distortion", "rate")
    #: the bound whose negative is the ``score``
    score_bound = "elbo"

    def score_row(self, x, seed, condition=None) -> dict[str, tf.Tensor]:
        """One example's ``score = -bound`` (:attr:`score_bound`) and its terms (scalars), the draws from ``seed``.

        Args:
          x: one example ``[*data_shape]``.
          seed: its int64 ``[2]`` stateless seed.
          condition: its label (a scalar) for conditional models.
        """
        y = None if condition is None else condition[tf.newaxis]
        terms = self.elbo(x[tf.newaxis], y, seed=seed)
        return {"score": -terms[self.score_bound][0], **{name: terms[name][0] for name in self.score_term_names}}

    def sample_row(self, seed, condition=None) -> dict[str, tf.Tensor]:
        """One prior draw ``z`` ``[latent_dim]`` from ``seed`` and its decoded mean ``samples`` ``[*data_shape]``."""
        y = None if condition is None else condition[tf.newaxis]
        z = tf.reshape(self.prior.sample(self.prior_for(y), 1, seed), [1, self.latent_dim])
        return {"samples": self.likelihood_parameters(z, y)["mean"][0], "z": z[0]}

    def serving_signatures(self, prior=None, options=None) -> dict[str, ServingSignature]:
        """The autoencoder's signatures with a seeded ``score`` (the negative ELBO) and ``sample``.

        ``score`` row ``i`` is ``-elbo(x[i:i+1], seed=seed[i])`` and ``sample``
        row ``i`` decodes one prior draw from ``seed[i]``: each row is
        reproducible and independent of the others.
        """
        signatures = super().serving_signatures(prior, options)
        condition = {"condition": label_input(self.num_classes)} if self.conditional else {}
        terms = {name: tf.TensorSpec([], tf.float32) for name in ("score", *self.score_term_names)}
        signatures["score"] = ServingSignature(
            {"x": self.served_data(), **condition, "seed": seed_input()}, self.score_row,
            f"per-example negative {self.score_bound} (nats), Monte Carlo draws from seed", row_outputs=terms,
            seeded=True)
        signatures["sample"] = ServingSignature(
            {"seed": seed_input(), **condition}, self.sample_row, "decoded prior samples, one per seed row",
            row_outputs={"samples": tf.TensorSpec(self.data_shape, tf.float32),
                         "z": tf.TensorSpec([self.latent_dim], tf.float32)}, seeded=True)
        return signatures

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "prior": keras.saving.serialize_keras_object(self.prior),
            "beta": self.beta,
            "kl": self.kl,
            "num_samples": self.num_samples,
            "kl_warmup_steps": self.kl_warmup_steps,
            "free_bits": self.free_bits,
            **({"conditional_prior": True} if self.conditional_prior else {}),
        }


@MODELS.register("beta_vae")
@serializable
class BetaVAE(VAE):
    r"""The beta-VAE, optionally with capacity control.

    Without a capacity it is a :class:`VAE` whose rate is weighted by
    ``beta`` (default 4; no copied objective). With ``capacity_max > 0`` the
    loss is Burgess et al.'s

        loss = distortion + gamma * |mean_batch KL - C_t|,
        C_t = capacity_max * min(1, t / capacity_steps),

    so the KL is pushed to track a capacity that grows linearly from 0 nats
    to ``capacity_max`` over ``capacity_steps`` training steps. The running
    ``capacity`` is reported as a loss term. ``mean_batch KL`` is the mean
    over the GLOBAL batch (:func:`tfvae.distribute.global_mean`), so a
    ``tf.distribute`` step penalises the one-device gap, not each replica's.

    Args:
      *args: as for :class:`VAE`.
      beta: rate weight without capacity control.
      capacity_max: the final capacity ``C_max`` in nats (0: no capacity control).
      capacity_steps: steps over which ``C`` grows to ``capacity_max``.
      gamma: weight of ``|KL - C|``.

    References:
      Higgins, I. et al. (2017). beta-VAE: Learning Basic Visual Concepts with a
      Constrained Variational Framework. ICLR.
      Burgess, C. P. et al. (2018). Understanding disentangling in beta-VAE.
      arXiv:1804.03599.
    """

    config_options = (*VAE.config_options, "capacity_max", "capacity_steps", "gamma")

    def __init__(self, *args, beta: float = 4.0, capacity_max: float = 0.0, capacity_steps: int = 10_000,
                 gamma: float = 100.0, **kwargs):
        self.capacity_max = check_number(capacity_max, "capacity_max", 0.0)
        self.capacity_steps = check_int(capacity_steps, "capacity_steps")
        self.gamma = check_number(gamma, "gamma", 0.0)
        if self.capacity_max:
            self.loss_term_names = (*VAE.loss_term_names, "capacity")
        super().__init__(*args, beta=beta, **kwargs)

    def capacity(self) -> tf.Tensor:
        """``C_t`` at the current training step, in nats."""
        progress = tf.cast(self.steps_done, tf.float32) / float(self.capacity_steps)
        return self.capacity_max * tf.minimum(1.0, progress)

    def per_example_terms(self, x, training=False, num_samples=None, seed=None):
        terms = super().per_example_terms(x, training, num_samples, seed)
        if self.capacity_max:
            terms["capacity"] = tf.fill(tf.shape(terms["rate"]), self.capacity())
        return terms

    def objective(self, terms):
        if not self.capacity_max:
            return super().objective(terms)
        gap = tf.abs(global_mean(self.penalised_rate(terms)) - self.capacity())
        return terms["distortion"] + self.gamma * tf.fill(tf.shape(terms["rate"]), gap)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "capacity_max": self.capacity_max,
            "capacity_steps": self.capacity_steps,
            "gamma": self.gamma,
        }
