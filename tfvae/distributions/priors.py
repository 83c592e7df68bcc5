"""Priors p(z)."""

from __future__ import annotations

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfvae import random
from tfvae.distributions.base import LatentHead, bounded_scale
from tfvae.registry import PRIORS, serializable
from tfvae.validation import check_int, check_ints

tfd = tfp.distributions


@PRIORS.register("standard_normal")
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


@serializable
class ConditionalGaussianPrior(LatentHead):
    """A learned conditional prior ``p(z|y) = N(m_y, diag(s_y^2))``, one Gaussian per class.

    ``prior(y)`` looks the class's parameters up in a table (initialised to
    ``N(0, I)``) and returns a ``tfd.MultivariateNormalDiag`` with batch shape
    ``[B]``, so the KL against a diagonal Gaussian posterior stays analytic.

    Args:
      latent_dim: size of z.
      num_classes: number of classes ``y`` takes.

    References:
      Sohn, K., Lee, H. & Yan, X. (2015). Learning Structured Output
      Representation using Deep Conditional Generative Models. NeurIPS.
    """

    def __init__(self, latent_dim: int, num_classes: int, **kwargs):
        super().__init__(latent_dim, **kwargs)
        self.num_classes = check_int(num_classes, "num_classes")
        self.table = self.add_weight(
            name="table",
            shape=(self.num_classes, 2 * self.latent_dim),
            initializer=keras.initializers.Constant(0.0),
            trainable=True,
        )

    @property
    def params_shape(self) -> tuple[int, ...]:
        return ()

    def call(self, condition=None) -> tfd.MultivariateNormalDiag:
        if condition is None:
            raise ValueError("ConditionalGaussianPrior needs the class labels: prior(y)")
        params = tf.gather(self.table, tf.cast(condition, tf.int32))
        loc, raw = tf.split(params, 2, axis=-1)
        # softplus(raw + log(e - 1)) is 1 at raw = 0: the table starts at N(0, I)
        scale = bounded_scale(raw + 0.5413248546129181, 1e-4)
        return tfd.MultivariateNormalDiag(loc=loc, scale_diag=scale)

    def sample(self, distribution, num_samples, seed):
        loc, scale = distribution.loc, distribution.stddev()
        shape = tf.concat([[num_samples], tf.shape(loc)], axis=0)
        return loc + scale * random.normal(shape, seed, loc.dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "num_classes": self.num_classes}


@PRIORS.register("mog")
@serializable
class MixtureOfGaussiansPrior(LatentHead):
    r"""A learned mixture-of-Gaussians prior ``p(z) = sum_k pi_k N(z; m_k, diag(s_k^2))``.

    Means start spread out (``N(0, 1)`` draws from ``seed``), scales at 1,
    weights uniform; all are trainable. There is no closed-form KL against a
    Gaussian posterior: the VAE uses the Monte-Carlo estimate on its samples.

    Args:
      latent_dim: size of z.
      num_components: number of mixture components ``K``.
      seed: seed of the initial means (an int >= 0). A VAE that builds the
        prior from a name passes one derived from its own ``seed``
        (:func:`tfvae.random.derive_seed`). ``None``: Keras' unseeded
        initialiser, which inside :func:`tfvae.random.seeded_weights` follows
        that block's seed and elsewhere differs on every construction.
    """

    config_options = ("num_components",)

    @classmethod
    def from_options(cls, latent_dim, options, data_shape=None, seed=None, name=None):
        """As :meth:`LatentHead.from_options`, with ``seed`` seeding the initial means."""
        return cls(latent_dim, options.pop("num_components", 10), seed=seed, name=name)

    def __init__(self, latent_dim: int, num_components: int = 10, seed: int | None = None, **kwargs):
        super().__init__(latent_dim, **kwargs)
        self.num_components = check_int(num_components, "num_components")
        self.seed = _check_seed(seed)
        shape = (self.num_components, self.latent_dim)
        self.locs = self.add_weight(name="locs", shape=shape,
                                    initializer=keras.initializers.RandomNormal(stddev=1.0, seed=self.seed))
        self.raw_scales = self.add_weight(name="raw_scales", shape=shape,
                                          initializer=keras.initializers.Constant(0.5413248546129181))
        self.logits = self.add_weight(name="logits", shape=(self.num_components,), initializer="zeros")

    @property
    def params_shape(self) -> tuple[int, ...]:
        return ()

    def call(self, condition=None) -> tfd.Distribution:
        components = tfd.MultivariateNormalDiag(self.locs, bounded_scale(self.raw_scales, 1e-4))
        return tfd.MixtureSameFamily(tfd.Categorical(logits=self.logits), components)

    def get_config(self) -> dict:
        return {**super().get_config(), "num_components": self.num_components, "seed": self.seed}


@PRIORS.register("vamp")
@serializable
class VampPrior(LatentHead):
    r"""The VampPrior: the encoder's posterior averaged over learned pseudo-inputs.

    ``p(z) = 1/K sum_k q(z | u_k)`` with ``K`` trainable pseudo-inputs ``u_k``
    of the data's shape. The prior needs the model's encoder, so a VAE binds
    it at construction (:meth:`bind`); the KL is Monte Carlo.

    Args:
      latent_dim: size of z.
      data_shape: shape of one pseudo-input (the data shape).
      num_pseudo_inputs: ``K``.
      seed: seed of the initial pseudo-inputs (``U(0, 1)`` draws; an int >= 0).
        A VAE that builds the prior from a name passes one derived from its
        own ``seed``; ``None``: Keras' unseeded initialiser (as for
        :class:`MixtureOfGaussiansPrior`).

    References:
      Tomczak, J. M. & Welling, M. (2018). VAE with a VampPrior. AISTATS.
    """

    config_options = ("num_pseudo_inputs",)

    @classmethod
    def from_options(cls, latent_dim, options, data_shape=None, seed=None, name=None):
        """As :meth:`LatentHead.from_options`: pseudo-inputs of ``data_shape``, seeded by ``seed``."""
        if data_shape is None:
            raise ValueError("the VampPrior needs the data shape of its pseudo-inputs")
        return cls(latent_dim, data_shape, options.pop("num_pseudo_inputs", 50), seed=seed, name=name)

    def __init__(self, latent_dim: int, data_shape=(28, 28, 1), num_pseudo_inputs: int = 50,
                 seed: int | None = None, **kwargs):
        super().__init__(latent_dim, **kwargs)
        self.data_shape = check_ints(data_shape, "data_shape")
        self.num_pseudo_inputs = check_int(num_pseudo_inputs, "num_pseudo_inputs")
        self.seed = _check_seed(seed)
        self.pseudo_inputs = self.add_weight(
            name="pseudo_inputs", shape=(self.num_pseudo_inputs, *self.data_shape),
            initializer=keras.initializers.RandomUniform(0.0, 1.0, seed=self.seed),
        )
        self._posterior_of = None

    @property
    def params_shape(self) -> tuple[int, ...]:
        return ()

    def bind(self, posterior_of) -> None:
        """Give the prior the model's ``x -> q(z|x)`` (a VAE does this when it is built)."""
        self._posterior_of = posterior_of

    def call(self, condition=None) -> tfd.Distribution:
        if self._posterior_of is None:
            raise ValueError("VampPrior is not bound to an encoder: use it as the prior of a VAE")
        components = self._posterior_of(self.pseudo_inputs)  # batch [K], event [latent_dim]
        weights = tfd.Categorical(logits=tf.zeros([self.num_pseudo_inputs], tf.float32))
        return tfd.MixtureSameFamily(weights, components)

    def get_config(self) -> dict:
        return {**super().get_config(), "data_shape": list(self.data_shape),
                "num_pseudo_inputs": self.num_pseudo_inputs, "seed": self.seed}


def _check_seed(seed) -> int | None:
    """A prior's initialiser seed: ``None`` or an int >= 0 (a bool, a float, a pair are refused by name)."""
    return None if seed is None else check_int(seed, "seed", minimum=0)
