"""Likelihood heads p(x|z).

Each head reinterprets every data dimension as part of the event
(``tfd.Independent``), so ``likelihood.log_prob(x)`` is one number per
example: the sum over pixels, in nats.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfvae.distributions.base import DistributionHead, check_scale_floor
from tfvae.registry import LIKELIHOODS, serializable
from tfvae.validation import check_ints, check_number

tfd = tfp.distributions


class Likelihood(DistributionHead):
    """A likelihood over data of shape ``event_shape``, parametrised per dimension.

    Args:
      event_shape: shape of one example, e.g. ``(28, 28, 1)``.
    """

    #: the interval of data values the likelihood models (``None``: every real); data outside it is refused
    #: by name before training (:func:`tfvae.validation.check_data_range`)
    support: tuple[float, float] | None = None

    def __init__(self, event_shape: Sequence[int], **kwargs):
        super().__init__(**kwargs)
        try:
            event_shape = check_ints(event_shape, "event_shape")
        except (TypeError, ValueError) as error:
            raise type(error)(f"event_shape must be a non-empty tuple of positive ints, got {event_shape!r} ({error})") from None
        if not event_shape:
            raise ValueError(f"event_shape must be a non-empty tuple of positive ints, got {event_shape}")
        self.event_shape = event_shape

    @property
    def params_shape(self) -> tuple[int, ...]:
        return self.event_shape

    def _independent(self, distribution: tfd.Distribution) -> tfd.Distribution:
        return tfd.Independent(distribution, reinterpreted_batch_ndims=len(self.event_shape))

    def log_prob_tensor(self, params: tf.Tensor, x: tf.Tensor, valid: tf.Tensor | None = None) -> tf.Tensor:
        """``log p(x | params)`` per example ``[B]``, summed over the data dimensions, in nats.

        The same number as ``self(params).log_prob(x)`` (restricted to the
        ``valid`` entries as :func:`masked` does), computed from tensors: heads
        override :meth:`elementwise_log_prob` with the closed form, so serving
        graphs hold no TFP plumbing (they convert to ONNX and TFLite).

        Args:
          params: the decoder's output ``[B, *params_shape]``.
          x: data ``[B, *event_shape]``.
          valid: optional boolean mask over the leading data dimensions
            (``[B, T]`` for sequences ``[B, T, F]``); invalid entries add 0.
        """
        log_probs = self.elementwise_log_prob(params, tf.cast(x, tf.float32))
        if valid is not None:
            mask = tf.cast(valid, tf.float32)
            mask = tf.reshape(mask, tf.concat([tf.shape(mask), tf.ones([log_probs.shape.rank - mask.shape.rank],
                                                                         tf.int32)], 0))
            log_probs = log_probs * mask
        return tf.reduce_sum(tf.reshape(log_probs, [tf.shape(log_probs)[0], -1]), axis=-1)

    def elementwise_log_prob(self, params: tf.Tensor, x: tf.Tensor) -> tf.Tensor:
        """``log p(x_i | params_i)`` for every data dimension, ``[B, *event_shape]`` (default: TFP's)."""
        return self(params).distribution.log_prob(x)

    def get_config(self) -> dict:
        return {**super().get_config(), "event_shape": list(self.event_shape)}


@LIKELIHOODS.register("bernoulli")
@serializable
class BernoulliLikelihood(Likelihood):
    r"""Bernoulli likelihood with logits, for binary (or [0, 1]) data.

    ``log p(x|z) = sum_i x_i log sigma(l_i) + (1 - x_i) log(1 - sigma(l_i))``;
    for grey levels in [0, 1] this is the binary cross-entropy used by most
    VAE papers on MNIST (not a normalised density: prefer
    :class:`ContinuousBernoulliLikelihood` there). ``mean()`` is ``sigma(l)``.
    """

    support = (0.0, 1.0)

    def call(self, params) -> tfd.Distribution:
        return self._independent(tfd.Bernoulli(logits=self._float32(params), dtype=tf.float32))

    def summary(self, params) -> dict[str, tf.Tensor]:
        """``mean`` ``sigma(l)`` and ``logits`` ``l``."""
        logits = self._float32(params)
        return {"mean": tf.sigmoid(logits), "logits": logits}

    def elementwise_log_prob(self, params, x) -> tf.Tensor:
        r"""``-(x softplus(-l) + (1 - x) softplus(l))``, the stable form of ``x l - softplus(l)``.

        ``log sigma(l) = -softplus(-l)`` and ``log(1 - sigma(l)) = -softplus(l)``; the two forms are
        equal (``softplus(l) - softplus(-l) = l``), but ``x l - softplus(l)`` cancels on a confident
        correct pixel (``l = 10``, ``x = 1``: ``10 - 10.0000454``, float32 keeps 1-2 digits of the
        ``4.54e-5``; beyond ``l ~ 17`` it gives 0), while ``softplus(-l)`` keeps every digit.
        """
        return _bernoulli_log_prob(self._float32(params), x)


@LIKELIHOODS.register("continuous_bernoulli")
@serializable
class ContinuousBernoulliLikelihood(Likelihood):
    r"""Continuous Bernoulli likelihood, the normalised density on [0, 1].

    ``p(x|l) = C(l) l^x (1 - l)^(1 - x)`` with normaliser
    ``C(l) = 2 artanh(1 - 2l) / (1 - 2l)`` (and ``C(1/2) = 2``).

    References:
      Loaiza-Ganem, G. & Cunningham, J. P. (2019). The continuous Bernoulli:
      fixing a pervasive error in variational autoencoders. NeurIPS.
    """

    support = (0.0, 1.0)

    def call(self, params) -> tfd.Distribution:
        return self._independent(tfd.ContinuousBernoulli(logits=self._float32(params)))

    #: below this ``|l|`` the mean uses its series (``1 - e^{-l}`` loses float32 digits near 0)
    MEAN_SERIES_BELOW = 1.0
    #: below this ``|l|`` the normaliser uses its series (``l / tanh(l / 2)`` is 0 / 0 at 0)
    NORMALISER_SERIES_BELOW = 1e-3

    def summary(self, params) -> dict[str, tf.Tensor]:
        r"""``mean`` and ``logits``.

        With ``lambda = sigma(l)``, ``E[x] = lambda / (2 lambda - 1) + 1 / (2 artanh(1 - 2 lambda))
        = 1 / (1 - e^{-l}) - 1 / l``; for ``|l| < 1`` its series
        ``1/2 + l/12 - l^3/720 + l^5/30240 - l^7/1209600`` (Bernoulli numbers; error below 1e-7).
        """
        logits = self._float32(params)
        small = tf.abs(logits) < self.MEAN_SERIES_BELOW
        safe = tf.where(small, tf.ones_like(logits), logits)
        exact = 1.0 / (1.0 - tf.exp(-safe)) - 1.0 / safe
        square = tf.square(logits)
        series = 0.5 + logits * (1.0 / 12.0 + square * (-1.0 / 720.0 + square * (1.0 / 30240.0
                                                                                  - square / 1209600.0)))
        return {"mean": tf.where(small, series, exact), "logits": logits}

    def elementwise_log_prob(self, params, x) -> tf.Tensor:
        r"""``log C(l) - (x softplus(-l) + (1 - x) softplus(l))``, ``C(l) = l / tanh(l / 2)`` (``2 + l^2/6`` near 0).

        The second part is ``x l - softplus(l)`` in the stable form :class:`BernoulliLikelihood` uses.
        """
        logits = self._float32(params)
        small = tf.abs(logits) < self.NORMALISER_SERIES_BELOW
        safe = tf.where(small, tf.ones_like(logits), logits)
        normaliser = tf.where(small, 2.0 + tf.square(logits) / 6.0, safe / tf.tanh(safe / 2.0))
        return tf.math.log(normaliser) + _bernoulli_log_prob(logits, x)


def _bernoulli_log_prob(logits: tf.Tensor, x: tf.Tensor) -> tf.Tensor:
    r"""``x log sigma(l) + (1 - x) log(1 - sigma(l)) = -(x softplus(-l) + (1 - x) softplus(l))``, elementwise.

    Equal to ``x l - softplus(l)`` for every ``x`` (``softplus(l) - softplus(-l) = l``) but free of its
    cancellation: each ``softplus`` of a confident logit is small or large on its own, never the
    difference of two large numbers, so a pixel predicted right with ``|l| = 10 .. 30`` keeps its
    ``-4.5e-5 .. -9.4e-14`` nats to float32 precision instead of losing it to rounding.

    Args:
      logits: ``l``, float32.
      x: data in [0, 1], float32, broadcastable with ``logits``.
    """
    return -(x * tf.math.softplus(-logits) + (1.0 - x) * tf.math.softplus(logits))


def _inverse_softplus(y: float) -> float:
    return float(y + np.log(-np.expm1(-y)))


@LIKELIHOODS.register("gaussian")
@serializable
class GaussianLikelihood(Likelihood):
    r"""Gaussian likelihood ``N(x; mu(z), sigma^2)`` with fixed or learned sigma.

    The network outputs the mean. The scale is

    * ``learn_scale=None``: the fixed ``scale``;
    * ``"global"``: one trainable sigma for all dimensions;
    * ``"per_dimension"``: one trainable sigma per data dimension;

    learned as ``softplus(r) + scale_floor``, initialised at ``scale``.

    A fixed ``scale`` below ``scale_floor`` is refused too: with
    ``scale = 1e-30`` one pixel 1 away from the mean already gives
    ``log_prob = -inf`` in float32 (lower ``scale_floor`` to go below it
    deliberately).

    Args:
      event_shape: shape of one example.
      scale: the fixed sigma, or the initial value of a learned one
        (finite, ``>= scale_floor``).
      learn_scale: ``None``, ``"global"`` or ``"per_dimension"``.
      scale_floor: smallest sigma (finite, > 0; default 1e-3).
    """

    LEARN_SCALE = (None, "global", "per_dimension")

    def __init__(
        self,
        event_shape: Sequence[int],
        scale: float = 1.0,
        learn_scale: str | None = None,
        scale_floor: float = 1e-3,
        **kwargs,
    ):
        super().__init__(event_shape, **kwargs)
        if learn_scale not in self.LEARN_SCALE:
            raise ValueError(f"learn_scale must be one of {self.LEARN_SCALE}, got {learn_scale!r}")
        scale = check_number(scale, "scale", 0.0, strict=True)
        scale_floor = check_scale_floor(scale_floor)
        if learn_scale is not None and not scale > scale_floor:
            raise ValueError(f"scale ({scale}) must exceed scale_floor ({scale_floor}) when it is learned")
        if scale < scale_floor:
            raise ValueError(
                f"scale ({scale:g}) is below scale_floor ({scale_floor:g}): float32 log-probabilities overflow to "
                "-inf for so small a sigma; pass a smaller scale_floor to use it anyway"
            )
        self.scale = float(scale)
        self.learn_scale = learn_scale
        self.scale_floor = float(scale_floor)
        self.raw_scale = None
        if learn_scale is not None:
            shape = () if learn_scale == "global" else self.event_shape
            self.raw_scale = self.add_weight(
                name="raw_scale",
                shape=shape,
                initializer=keras.initializers.Constant(_inverse_softplus(self.scale - self.scale_floor)),
                trainable=True,
            )

    def stddev(self) -> tf.Tensor:
        """The current sigma (scalar or ``event_shape``)."""
        if self.raw_scale is None:
            return tf.constant(self.scale, tf.float32)
        return tf.math.softplus(self.raw_scale) + self.scale_floor

    def call(self, params) -> tfd.Distribution:
        parameters = self.summary(params)
        return self._independent(tfd.Normal(loc=parameters["loc"], scale=parameters["scale"]))

    def summary(self, params) -> dict[str, tf.Tensor]:
        """``mean`` and ``loc`` (the network's output) and ``scale`` (sigma, broadcast to the data)."""
        loc = self._float32(params)
        return {"mean": loc, "loc": loc, "scale": tf.broadcast_to(self.stddev(), tf.shape(loc))}

    def elementwise_log_prob(self, params, x) -> tf.Tensor:
        """``-((x - mu) / sigma)^2 / 2 - log sigma - log(2 pi) / 2``."""
        loc = self._float32(params)
        scale = self.stddev()
        return -0.5 * tf.square((x - loc) / scale) - tf.math.log(scale) - 0.5 * np.log(2.0 * np.pi)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "scale": self.scale,
            "learn_scale": self.learn_scale,
            "scale_floor": self.scale_floor,
        }


def masked(likelihood: tfd.Distribution, valid: tf.Tensor) -> tfd.Distribution:
    """Restrict an ``Independent`` likelihood to the entries where ``valid`` is true.

    ``valid`` covers the leading event dimensions (``[B, T]`` for sequences
    ``[B, T, F]``, ``[B, D]`` for rating vectors) and is broadcast over the
    rest. Masked entries contribute 0 to ``log_prob`` (``tfd.Masked``), so the
    values there, observed or predicted, change nothing.

    Args:
      likelihood: ``tfd.Independent`` over the data dimensions, as the heads make.
      valid: boolean validity mask.
    """
    inner = likelihood.distribution
    mask = tf.cast(valid, tf.bool)
    batch_rank = inner.batch_shape.rank
    mask = tf.reshape(mask, tf.concat([tf.shape(mask), tf.ones([batch_rank - mask.shape.rank], tf.int32)], 0))
    mask = tf.broadcast_to(mask, inner.batch_shape_tensor())
    return tfd.Independent(
        tfd.Masked(inner, validity_mask=mask), reinterpreted_batch_ndims=likelihood.reinterpreted_batch_ndims
    )
