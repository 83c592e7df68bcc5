"""Posterior heads q(z|x)."""

from __future__ import annotations

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfvae import random
from tfvae.distributions.base import (
    MAX_SCALE,
    LatentHead,
    bounded_scale,
    check_scale_floor,
)
from tfvae.registry import POSTERIORS, serializable
from tfvae.validation import check_int, check_number

tfd = tfp.distributions


@POSTERIORS.register("diagonal_gaussian")
@serializable
class DiagonalGaussianPosterior(LatentHead):
    r"""Diagonal Gaussian posterior with a softplus scale, a floor and a ceiling.

    The network outputs ``2 * latent_dim`` numbers ``[m, r]`` per example::

        q(z|x) = N(z; m, diag(s^2)),   s = min(softplus(r), max_scale) + scale_floor

    returned as ``tfd.MultivariateNormalDiag`` so the KL against the
    :class:`~tfvae.distributions.priors.StandardNormalPrior` is analytic.
    The floor keeps ``log s`` finite when the encoder pushes ``r`` to -inf;
    the ceiling keeps ``s^2`` in the KL finite when it pushes ``r`` to +inf
    (``r = 1e30`` would otherwise give an infinite rate). Below the ceiling
    the scale is the plain softplus one.

    Args:
      latent_dim: size of z.
      scale_floor: smallest standard deviation (> 0).
      max_scale: largest standard deviation before the floor is added
        (> scale_floor; default 1e4).

    References:
      Kingma, D. P. & Welling, M. (2014). Auto-Encoding Variational Bayes.
    """

    def __init__(self, latent_dim: int, scale_floor: float = 1e-4, max_scale: float = MAX_SCALE, **kwargs):
        super().__init__(latent_dim, **kwargs)
        self.scale_floor = check_scale_floor(scale_floor)
        self.max_scale = check_number(max_scale, "max_scale", 0.0, strict=True)
        if not self.max_scale > self.scale_floor:
            raise ValueError(f"max_scale ({max_scale}) must exceed scale_floor ({scale_floor})")

    @property
    def params_shape(self) -> tuple[int, ...]:
        return (2 * self.latent_dim,)

    def call(self, params) -> tfd.MultivariateNormalDiag:
        parameters = self.summary(params)
        return tfd.MultivariateNormalDiag(loc=parameters["mean"], scale_diag=parameters["stddev"])

    def summary(self, params) -> dict[str, tf.Tensor]:
        """``mean`` (the first half of ``params``) and ``stddev`` (the bounded softplus of the second half)."""
        loc, raw_scale = tf.split(self._float32(params), 2, axis=-1)
        return {"mean": loc, "stddev": bounded_scale(raw_scale, self.scale_floor, self.max_scale)}

    def sample(self, distribution, num_samples, seed):
        loc = distribution.loc
        scale = distribution.stddev()
        shape = tf.concat([[num_samples], tf.shape(loc)], axis=0)
        return loc + scale * random.normal(shape, seed, loc.dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "scale_floor": self.scale_floor, "max_scale": self.max_scale}


@serializable
class PointMassPosterior(LatentHead):
    """Point-mass posterior ``q(z|x) = delta(z - f(x))`` for deterministic autoencoders.

    It keeps the :class:`~tfvae.models.Autoencoder` contract (``encode``
    returns a distribution) for models without a stochastic code; ``mean()``
    and ``sample()`` are the code itself, ``f(x) = activation(encoder(x))``.

    Args:
      latent_dim: size of z.
      activation: code activation: ``None`` (linear), ``"sigmoid"`` (sparse
        and contractive AEs), ``"relu"`` or ``"tanh"``.
    """

    ACTIVATIONS = {None: tf.identity, "sigmoid": tf.sigmoid, "relu": tf.nn.relu, "tanh": tf.tanh}

    def __init__(self, latent_dim: int, activation: str | None = None, **kwargs):
        super().__init__(latent_dim, **kwargs)
        if activation not in self.ACTIVATIONS:
            raise ValueError(f"activation must be one of {list(self.ACTIVATIONS)}, got {activation!r}")
        self.activation = activation

    @property
    def params_shape(self) -> tuple[int, ...]:
        return (self.latent_dim,)

    def code(self, params) -> tf.Tensor:
        """The code ``f(x)`` from the encoder's output."""
        return self.ACTIVATIONS[self.activation](self._float32(params))

    def call(self, params) -> tfd.Distribution:
        return tfd.Independent(tfd.Deterministic(loc=self.code(params)), reinterpreted_batch_ndims=1)

    def summary(self, params) -> dict[str, tf.Tensor]:
        """``mean``: the code; ``stddev``: zeros (a point mass)."""
        code = self.code(params)
        return {"mean": code, "stddev": tf.zeros_like(code)}

    def get_config(self) -> dict:
        return {**super().get_config(), "activation": self.activation}

    def sample(self, distribution, num_samples, seed):
        loc = distribution.distribution.loc
        return tf.broadcast_to(loc, tf.concat([[num_samples], tf.shape(loc)], axis=0))


@serializable
class KSparsePosterior(PointMassPosterior):
    r"""Point mass on a k-sparse linear code (Makhzani & Frey, 2013).

    ``z = h * m`` where ``h`` is the linear encoder output and ``m`` keeps the
    largest entries of ``h`` in each row: ``k`` of them in training (the
    loss's forward pass, ``training=True``) and ``min(round(alpha * k),
    latent_dim)`` at inference (``encode``, ``reconstruct``, evaluation,
    serving), Algorithm 1 of the paper; ``alpha = 1`` keeps ``k`` everywhere.
    Exactly that many are kept (ties are broken by position). ``m`` is a
    constant in the backward pass, so gradients flow only through the kept
    units. ``k`` is a non-trainable variable, so a schedule
    (:class:`tfvae.models.KSparsityScheduler`) can lower it during training
    without retracing.

    Args:
      latent_dim: size of z.
      k: units kept per example in training, ``1 <= k <= latent_dim``.
      alpha: ``>= 1``; inference keeps ``alpha * k`` units (rounded, at most
        ``latent_dim``). The paper uses a small multiple (e.g. 3) when the
        codes are features for a classifier.

    References:
      Makhzani, A. & Frey, B. (2013). k-Sparse Autoencoders. arXiv:1312.5663.
      Section 3 and Algorithm 1.
    """

    def __init__(self, latent_dim: int, k: int = 25, alpha: float = 1.0, **kwargs):
        kwargs.pop("activation", None)
        super().__init__(latent_dim, activation=None, **kwargs)
        self.k_initial = self._check_k(k)
        if check_number(alpha, "alpha") < 1.0:
            raise ValueError(f"alpha must be >= 1 (inference keeps alpha * k units), got {alpha}")
        self.alpha = float(alpha)
        self.k = self.add_weight(
            name="k", shape=(), dtype="int32", initializer=keras.initializers.Constant(self.k_initial), trainable=False
        )

    def _check_k(self, k: int) -> int:
        if not 1 <= check_int(k, "k", minimum=None) <= self.latent_dim:
            raise ValueError(f"k must be in [1, latent_dim={self.latent_dim}], got {k}")
        return int(k)

    def set_k(self, k: int) -> None:
        """Change the number of kept units (used by schedules)."""
        self.k.assign(self._check_k(k))

    def kept_units(self, training: bool = False) -> tf.Tensor:
        """How many units a code keeps: ``k`` in training, ``min(round(alpha * k), latent_dim)`` otherwise."""
        if training:
            return tf.convert_to_tensor(self.k)
        scaled = tf.cast(tf.round(self.alpha * tf.cast(self.k, tf.float32)), tf.int32)
        return tf.minimum(scaled, self.latent_dim)

    def code(self, params, training: bool = False) -> tf.Tensor:
        h = self._float32(params)
        # rank of each unit within its row, 0 for the largest: exactly kept_units kept
        rank = tf.argsort(tf.argsort(h, axis=-1, direction="DESCENDING", stable=True), axis=-1, stable=True)
        keep = tf.cast(rank < tf.cast(self.kept_units(bool(training)), rank.dtype), h.dtype)
        return h * tf.stop_gradient(keep)

    def call(self, params, training=None) -> tfd.Distribution:
        return tfd.Independent(tfd.Deterministic(loc=self.code(params, training)), reinterpreted_batch_ndims=1)

    def get_config(self) -> dict:
        config = {**super().get_config(), "k": self.k_initial, "alpha": self.alpha}
        config.pop("activation")
        return config
