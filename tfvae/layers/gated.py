"""Gated layers of the TD-VAE (Gregor et al. 2019): the Gaussian blocks, the gated transition, their chain.

Tensors in, tensors out: each block returns the raw parameters (mean and raw
scale) of a diagonal Gaussian. :func:`layered_gaussian` chains one block per
latent layer from the top down and turns each block's parameters into a
distribution with a latent head (:class:`~tfvae.distributions.DiagonalGaussianPosterior`):
the belief, smoothing and transition distributions of :class:`~tfvae.models.TDVAE`.

References:
  Gregor, K., Papamakarios, G., Besse, F., Buesing, L. & Weber, T. (2019).
  Temporal Difference Variational Auto-Encoder. ICLR. arXiv:1806.03107.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import keras
import tensorflow as tf

from tfvae.random import fold_seed
from tfvae.registry import serializable
from tfvae.validation import check_int

__all__ = ["GatedGaussianBlock", "GatedTransition", "LatentPath", "layered_gaussian"]


@serializable
class GatedGaussianBlock(keras.layers.Layer):
    r"""The paper's "D" block: gated features to the parameters of a diagonal Gaussian.

    ::

        h      = tanh(W_1 x + b_1) * sigmoid(W_2 x + b_2)
        params = W_3 h + b_3         (float32, [m, r] for N(m, softplus(r) + floor))

    Used for the belief ``p_B`` and the smoothing ``q_S`` distributions.

    Args:
      latent_dim: size of the Gaussian (the output has ``2 * latent_dim`` numbers).
      units: width of the gated hidden layer.

    References:
      Gregor, K. et al. (2019). Temporal Difference Variational Auto-Encoder.
      ICLR (appendix: the D operation).
    """

    def __init__(self, latent_dim: int, units: int = 64, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = check_int(latent_dim, "latent_dim")
        self.units = check_int(units, "units")
        self.features = keras.layers.Dense(self.units, activation="tanh", name="features")
        self.gate = keras.layers.Dense(self.units, activation="sigmoid", name="gate")
        self.projection = keras.layers.Dense(2 * self.latent_dim, dtype="float32", name="projection")

    def build(self, input_shape):
        self.features.build(input_shape)
        self.gate.build(input_shape)
        self.projection.build((None, self.units))

    def call(self, inputs, training=False):
        h = self.features(inputs) * self.gate(inputs)
        return self.projection(h)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 2 * self.latent_dim)

    def get_config(self) -> dict:
        return {**super().get_config(), "latent_dim": self.latent_dim, "units": self.units}


@serializable
class GatedTransition(keras.layers.Layer):
    r"""Gated residual transition: the parameters of ``p_T(z_t2^l | inputs)``.

    With ``r`` the same layer of the earlier state (``z_t1^l``) and ``x`` all
    the transition's inputs (``z_t1``, the layers of ``z_t2`` above ``l``,
    the jump features)::

        c     = W_c2 relu(W_c1 x)               (proposed new state)
        g     = sigmoid(W_g2 relu(W_g1 x))      (gate)
        mean  = (1 - g) * (r + W_l x) + g * c   (W_l starts at 0: the skip path is r)
        r_s   = W_s relu(c)                     (scale = softplus(r_s) + floor)

    so an untrained transition starts near "the state stays where it is",
    and the gate learns where to move it. Under a mixed precision policy the
    hidden layers compute in 16 bits; ``c``, ``g``, ``W_l x``, ``r_s`` and the
    mix are float32 (the residual ``r`` is never rounded).

    Args:
      latent_dim: size of one latent layer.
      units: width of the hidden layers.

    References:
      Krishnan, R. G., Shalit, U. & Sontag, D. (2017). Structured Inference
      Networks for Nonlinear State Space Models. AAAI (the gated transition).
      Gregor, K. et al. (2019). Temporal Difference Variational Auto-Encoder. ICLR.
    """

    def __init__(self, latent_dim: int, units: int = 64, **kwargs):
        # autocast off: Keras would round every float argument of call() to the compute dtype,
        # the residual too; the hidden Dense layers cast their own inputs
        kwargs["autocast"] = False
        super().__init__(**kwargs)
        self.latent_dim = check_int(latent_dim, "latent_dim")
        self.units = check_int(units, "units")
        self.candidate_hidden = keras.layers.Dense(self.units, activation="relu", name="candidate_hidden")
        # the hidden layers compute in the policy's dtype; the projections into the latent space and
        # the mix run in float32: rounded to 16 bits, the mean (and the residual, a float32 z) would
        # move by 1e-3 (float16) to 8e-3 (bfloat16) relative, as much as scale_floor, biasing log p_T
        self.candidate = keras.layers.Dense(self.latent_dim, dtype="float32", name="candidate")
        self.gate_hidden = keras.layers.Dense(self.units, activation="relu", name="gate_hidden")
        self.gate = keras.layers.Dense(self.latent_dim, activation="sigmoid", dtype="float32", name="gate")
        self.skip = keras.layers.Dense(self.latent_dim, kernel_initializer="zeros", dtype="float32", name="skip")
        self.scale = keras.layers.Dense(self.latent_dim, dtype="float32", name="scale")

    def build(self, inputs_shape, residual_shape=None):
        for layer in (self.candidate_hidden, self.gate_hidden, self.skip):
            layer.build(inputs_shape)
        self.candidate.build((None, self.units))
        self.gate.build((None, self.units))
        self.scale.build((None, self.latent_dim))

    def call(self, inputs, residual, training=False):
        candidate = self.candidate(self.candidate_hidden(inputs))  # float32 from here on
        gate = self.gate(self.gate_hidden(inputs))
        residual = tf.cast(residual, tf.float32)
        mean = (1.0 - gate) * (residual + self.skip(tf.cast(inputs, tf.float32))) + gate * candidate
        raw_scale = self.scale(tf.nn.relu(candidate))
        return tf.concat([mean, raw_scale], axis=-1)

    def compute_output_shape(self, inputs_shape, residual_shape=None):
        return (inputs_shape[0], 2 * self.latent_dim)

    def get_config(self) -> dict:
        return {**super().get_config(), "latent_dim": self.latent_dim, "units": self.units}


class LatentPath(NamedTuple):
    """A draw (or evaluation) of a layered Gaussian over the state ``z`` (:func:`layered_gaussian`).

    Attributes:
      z: ``[N, num_layers * latent_dim]``, the layers concatenated from the top
        (drawn first) down.
      log_prob: ``[N]``, ``sum_l log p(z^l | z^{<l}, context)`` in nats.
      distributions: one ``tfd.MultivariateNormalDiag`` (batch ``[N]``) per
        layer, top first; layer ``l``'s is conditioned on the layers above it
        in ``z``.
    """

    z: tf.Tensor
    log_prob: tf.Tensor
    distributions: tuple


def layered_gaussian(blocks: Sequence[keras.layers.Layer], head, features: tf.Tensor, z=None, seed=None,
                     mean: bool = False, residual=None, training: bool = False) -> LatentPath:
    r"""Draw (or evaluate at ``z``) a top-down chain of diagonal Gaussians, one latent layer per block.

    ``p(z) = prod_l p(z^l | z^{<l}, features)``: block ``l`` sees ``features``
    and the layers above it, and ``head`` turns its parameters into
    ``p(z^l | ...)``.

    Args:
      blocks: one block per latent layer, top first (:class:`GatedGaussianBlock`,
        or :class:`GatedTransition` with ``residual``).
      head: the latent head (``head(params)`` a distribution, ``head.sample(q, n, seed)``).
      features: the context every layer sees, ``[N, F]``.
      z: states ``[N, num_layers * latent_dim]`` to evaluate at (then nothing is drawn).
      seed: stateless seed ``[2]``; layer ``l`` draws with ``fold_seed(seed, l)``.
      mean: take each layer's mean (given the layers above) instead of drawing.
      residual: a transition's earlier state ``[N, num_layers * latent_dim]``,
        split into one residual per layer.
      training: whether the blocks run in training mode.
    """
    given = tf.split(tf.cast(z, tf.float32), len(blocks), axis=-1) if z is not None else None
    residuals = tf.split(residual, len(blocks), axis=-1) if residual is not None else None
    layers, log_probs, distributions = [], [], []
    for i, block in enumerate(blocks):
        inputs = tf.concat([features, *layers], axis=-1)
        if residuals is None:
            params = block(inputs, training=training)
        else:
            params = block(inputs, residuals[i], training=training)
        q = head(params)
        if given is not None:
            z_i = given[i]
        elif mean:
            z_i = head.point(q)
        else:
            z_i = head.sample(q, 1, fold_seed(seed, i))[0]
        layers.append(z_i)
        log_probs.append(q.log_prob(z_i))
        distributions.append(q)
    return LatentPath(tf.concat(layers, axis=-1), tf.add_n(log_probs), tuple(distributions))
