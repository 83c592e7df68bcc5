r"""Flow posteriors: the inverse autoregressive flow (IAF) of Kingma et al. (2016) on TFP bijectors.

An IAF posterior pushes a diagonal Gaussian through ``K`` invertible
autoregressive steps, each conditioned on a context ``h`` the encoder emits
beside the Gaussian's parameters::

    u   ~ N(m(x), diag(s(x)^2))                  (the base)
    z_0 = u,   z_k = (z_{k-1} - mu_k(z_{k-1}, h)) * exp(-l_k(z_{k-1}, h))     k = 1..K
    log q(z_K | x) = log N(u; m, s^2) + sum_k sum_i l_k,i

where ``[mu_k, l_k]`` is a masked autoregressive network (MADE): output ``i``
depends on ``z_{k-1, <i}`` (and on ``h``) only, so each step's Jacobian is
triangular with diagonal ``exp(-l_k)``; the order of the dimensions is
reversed between steps (and once more after the last one when ``K`` is even,
so ``z`` keeps the base's order: an identity flow maps ``u`` to itself).
Drawing ``z`` and its ``log q`` is one pass of each network; ``log q`` of an
arbitrary ``z`` inverts the steps one dimension at a time (``latent_dim``
passes each).

Each step is TFP's ``tfb.MaskedAutoregressiveFlow`` in its inverse form,
``tfb.Invert(tfb.MaskedAutoregressiveFlow(shift_and_log_scale_fn=...))``
(TFP's MAF samples sequentially and evaluates densities in one pass; inverted
it is the IAF, which samples in one pass), over the base
``tfd.MultivariateNormalDiag``: ``q(z|x)`` is a ``tfd.TransformedDistribution``.
The autoregressive network is :class:`AutoregressiveNetwork`, tfvae's own Keras
3 MADE: ``tfb.AutoregressiveNetwork`` is a ``tf_keras`` (Keras 2) layer, whose
weights a Keras 3 model neither tracks, trains nor saves (checked with TFP 0.25).

References:
  Kingma, D. P., Salimans, T., Jozefowicz, R., Chen, X., Sutskever, I. &
  Welling, M. (2016). Improved Variational Inference with Inverse
  Autoregressive Flow. NeurIPS. arXiv:1606.04934.
  Germain, M., Gregor, K., Murray, I. & Larochelle, H. (2015). MADE: Masked
  Autoencoder for Distribution Estimation. ICML. arXiv:1502.03509.
  Papamakarios, G., Pavlakou, T. & Murray, I. (2017). Masked Autoregressive
  Flow for Density Estimation. NeurIPS (the MAF/IAF duality TFP's bijector uses).
  Julier, S. J. & Uhlmann, J. K. (1997). A New Extension of the Kalman Filter
  to Nonlinear Systems. SPIE 3068 (the unscented transform of ``summary``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfvae import random
from tfvae.distributions.base import MAX_SCALE, LatentHead, bounded_scale, check_scale_floor
from tfvae.registry import ACTIVATIONS, POSTERIORS, serializable
from tfvae.validation import check_int, check_ints, check_number

tfb = tfp.bijectors
tfd = tfp.distributions

__all__ = ["AutoregressiveNetwork", "IAFPosterior", "made_masks"]


def made_masks(event_size: int, hidden_units: Sequence[int]) -> list[np.ndarray]:
    r"""The MADE connectivity masks, input to output, as float32 ``[fan_in, fan_out]`` arrays.

    Degrees (Germain et al. 2015, inputs in their natural order): input ``j``
    has degree ``j + 1``, hidden unit ``k`` of every layer
    ``(k mod max(D - 1, 1)) + 1`` (each degree equally often). A unit sees a unit of the
    layer below when its degree is ``>=`` that one's; output ``i`` (degree
    ``i + 1``) sees a hidden unit of degree ``<= i``, strictly less. So output
    ``i`` depends on inputs ``< i`` only; output 0 on none (with ``D = 1``
    there is no input it may see).

    Args:
      event_size: ``D``.
      hidden_units: widths of the hidden layers (may be empty: one masked linear map).

    Returns:
      ``len(hidden_units) + 1`` masks; the last one maps to the ``D`` outputs.
    """
    event_size = check_int(event_size, "event_size")
    inputs = np.arange(1, event_size + 1)
    degrees = [inputs] + [np.arange(units) % max(event_size - 1, 1) + 1 for units in hidden_units]
    masks = [(after[None, :] >= before[:, None]) for before, after in zip(degrees[:-1], degrees[1:])]
    masks.append(inputs[None, :] > degrees[-1][:, None])
    return [mask.astype("float32") for mask in masks]


def _dense(x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    """``x @ kernel`` over the last axis of ``x`` (any leading shape), as one 2-D matmul."""
    out = tf.matmul(tf.reshape(x, [-1, tf.shape(kernel)[0]]), kernel)
    return tf.reshape(out, tf.concat([tf.shape(x)[:-1], tf.shape(kernel)[-1:]], axis=0))


@serializable
class AutoregressiveNetwork(keras.layers.Layer):
    r"""A MADE: ``u [..., D]`` (and a context ``h [..., C]``) to ``(shift, log_scale)``, each ``[..., D]``.

    Output ``i`` depends on ``u_{<i}`` and on ``h``, never on ``u_{>=i}``::

        a_1 = act((M_1 * W_1)^T u + V^T h + b_1),   a_l = act((M_l * W_l)^T a_{l-1} + b_l)
        [shift, r] = (M_o * W_o)^T a_L + V_o^T h + b_o,   log_scale = c * tanh(r / c)

    with the masks of :func:`made_masks` and ``c = log_scale_bound`` (a smooth
    clip: ``exp(-log_scale)`` stays finite however the weights diverge). The
    context enters the first hidden layer and, unmasked, the outputs (so
    output 0 is a function of ``h``). ``W_o``, ``V_o`` and ``b_o`` start at zero:
    the step starts as the identity (Kingma et al. 2016 start near it).
    It computes in float32 whatever the mixed-precision policy (a head's part).

    Args:
      event_size: ``D``.
      hidden_units: widths of the masked hidden layers.
      context_size: ``C``, the size of ``h`` (0: no context).
      activation: hidden activation (a name of :data:`tfvae.registry.ACTIVATIONS`).
      log_scale_bound: ``c > 0``.

    References:
      Germain, M. et al. (2015). MADE: Masked Autoencoder for Distribution Estimation. ICML.
    """

    def __init__(self, event_size: int, hidden_units: Sequence[int] = (64,), context_size: int = 0,
                 activation: str = "elu", log_scale_bound: float = 5.0, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.event_size = check_int(event_size, "event_size")
        self.hidden_units = check_ints(hidden_units, "hidden_units")
        self.context_size = check_int(context_size, "context_size", minimum=0)
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        self.activation = activation
        self.log_scale_bound = check_number(log_scale_bound, "log_scale_bound", 0.0, strict=True)
        self.connectivity = made_masks(self.event_size, self.hidden_units)

    def build(self, input_shape=None):
        """The weights (their shapes do not depend on the input's leading axes)."""
        widths = [self.event_size, *self.hidden_units]
        self.kernels, self.biases = [], []
        for i, (fan_in, fan_out) in enumerate(zip(widths, widths[1:])):
            self.kernels.append(self.add_weight(name=f"kernel_{i}", shape=(fan_in, fan_out),
                                                initializer="glorot_uniform"))
            self.biases.append(self.add_weight(name=f"bias_{i}", shape=(fan_out,), initializer="zeros"))
        outputs = 2 * self.event_size
        self.output_kernel = self.add_weight(name="output_kernel", shape=(widths[-1], outputs), initializer="zeros")
        self.output_bias = self.add_weight(name="output_bias", shape=(outputs,), initializer="zeros")
        self.context_kernel = self.context_output_kernel = None
        if self.context_size and self.hidden_units:
            self.context_kernel = self.add_weight(name="context_kernel", shape=(self.context_size, widths[1]),
                                                  initializer="glorot_uniform")
        if self.context_size:
            self.context_output_kernel = self.add_weight(name="context_output_kernel",
                                                         shape=(self.context_size, outputs), initializer="zeros")
        self.built = True

    def call(self, u, context=None) -> tuple[tf.Tensor, tf.Tensor]:
        """``(shift, log_scale)`` for ``u [..., D]``; ``context [..., C]`` broadcasts against ``u``'s leading axes."""
        if (context is None) != (self.context_size == 0):
            raise ValueError(f"the network takes a context of size {self.context_size}, got "
                             f"{'none' if context is None else 'one'}")
        u = tf.cast(u, tf.float32)
        context = None if context is None else tf.cast(context, tf.float32)
        act = keras.activations.get(self.activation)
        a = u
        for i, (kernel, bias) in enumerate(zip(self.kernels, self.biases)):
            a = _dense(a, kernel * self.connectivity[i]) + bias
            if i == 0 and self.context_kernel is not None:
                a = a + _dense(context, self.context_kernel)
            a = act(a)
        mask = np.concatenate([self.connectivity[-1]] * 2, axis=1)  # the same mask for the shifts and the log-scales
        out = _dense(a, self.output_kernel * mask) + self.output_bias
        if self.context_output_kernel is not None:
            out = out + _dense(context, self.context_output_kernel)
        shift, raw = tf.split(out, 2, axis=-1)
        return shift, self.log_scale_bound * tf.tanh(raw / self.log_scale_bound)

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("dtype", None)
        return {**config, "event_size": self.event_size, "hidden_units": list(self.hidden_units),
                "context_size": self.context_size, "activation": self.activation,
                "log_scale_bound": self.log_scale_bound}


@POSTERIORS.register("iaf")
@serializable
class IAFPosterior(LatentHead):
    r"""An inverse autoregressive flow posterior (Kingma et al. 2016) over a diagonal Gaussian base.

    The encoder outputs ``2 * latent_dim + flow_context_dim`` numbers per
    example, ``[m, r, h]``: the base ``N(m, diag(s^2))`` with
    ``s = min(softplus(r), max_scale) + scale_floor`` (as
    :class:`~tfvae.distributions.DiagonalGaussianPosterior`) and the context
    ``h`` of the ``flow_steps`` autoregressive steps (the module docstring
    gives the maths). ``head(params)`` is a ``tfd.TransformedDistribution``
    whose bijector chains ``tfb.Invert(tfb.MaskedAutoregressiveFlow)`` steps,
    with ``tfb.Permute`` reversing the dimensions between them (and after the
    last one when their number is even: ``z`` is in the base's order).

    * ``sample_and_log_prob``: ``z`` and ``log q(z|x)`` from one forward
      pass (``log N(u) - log|det dz/du|``); a VAE's rate with this posterior is
      the Monte-Carlo ``log q(z|x) - log p(z)`` on those draws.
    * ``point`` (the code of ``reconstruct``, ``embed``, the served
      ``encode``'s ``mean``): the flow applied to the base's mean,
      ``f(m(x))``. ``q``'s mean has no closed form; ``f(m)`` is a code the
      flow maps deterministically, equal to the mean while the flow is affine
      (at initialisation, the identity).
    * ``summary`` (the served ``encode``): ``mean`` is the point and
      ``stddev`` the unscented-transform estimate of ``q``'s standard
      deviation per dimension from the ``2 D`` sigma points
      ``u = m +- sqrt(D) s_j e_j`` (Julier & Uhlmann 1997): exact for an affine
      flow, a second-order approximation otherwise, deterministic and made of
      plain tensor operations (the exported graph needs no TFP).

    There is no closed-form KL (``analytic_kl`` is false): a VAE refuses
    ``kl="analytic"`` and free bits with it.

    Args:
      latent_dim: size of z.
      flow_steps: number of autoregressive steps ``K >= 1``.
      flow_hidden_units: hidden widths of each step's :class:`AutoregressiveNetwork`.
      flow_context_dim: size of the context ``h`` (0: the steps see only ``z``).
      activation: hidden activation of the autoregressive networks (Kingma et al. use ELU).
      scale_floor: smallest base standard deviation (> 0).
      max_scale: largest base standard deviation before the floor is added.

    References:
      Kingma, D. P. et al. (2016). Improved Variational Inference with Inverse
      Autoregressive Flow. NeurIPS. arXiv:1606.04934.
    """

    analytic_kl = False
    config_options = ("flow_steps", "flow_hidden_units", "flow_context_dim")

    def __init__(self, latent_dim: int, flow_steps: int = 2, flow_hidden_units: Sequence[int] = (64,),
                 flow_context_dim: int = 16, activation: str = "elu", scale_floor: float = 1e-4,
                 max_scale: float = MAX_SCALE, **kwargs):
        super().__init__(latent_dim, **kwargs)
        self.flow_steps = check_int(flow_steps, "flow_steps")
        self.flow_hidden_units = check_ints(flow_hidden_units, "flow_hidden_units")
        self.flow_context_dim = check_int(flow_context_dim, "flow_context_dim", minimum=0)
        self.activation = activation
        self.scale_floor = check_scale_floor(scale_floor)
        self.max_scale = check_number(max_scale, "max_scale", 0.0, strict=True)
        if not self.max_scale > self.scale_floor:
            raise ValueError(f"max_scale ({max_scale}) must exceed scale_floor ({scale_floor})")
        self.steps = [AutoregressiveNetwork(self.latent_dim, self.flow_hidden_units, self.flow_context_dim,
                                            activation, name=f"made_{k}") for k in range(self.flow_steps)]
        self.reverse = list(range(self.latent_dim - 1, -1, -1))

    def build(self, input_shape=None):
        """The autoregressive networks' weights, under this head's name (``posterior/made_0/...``)."""
        for network in self.steps:
            network.build()

    @property
    def params_shape(self) -> tuple[int, ...]:
        return (2 * self.latent_dim + self.flow_context_dim,)

    def base_and_context(self, params) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor | None]:
        """``(m, s, h)`` from the encoder's output: the base's mean and scale, the context (``None`` if ``C = 0``)."""
        params = self._float32(params)
        d = self.latent_dim
        loc, raw, context = params[..., :d], params[..., d:2 * d], params[..., 2 * d:]
        return loc, bounded_scale(raw, self.scale_floor, self.max_scale), context if self.flow_context_dim else None

    def bijector(self, context: tf.Tensor | None) -> tfb.Bijector:
        """The flow ``u -> z`` for one batch's context: ``Invert(MAF)`` steps with ``Permute`` (reversal) between.

        An even number of steps ends with one more reversal, so ``z`` is in the base's order.
        """
        parts = []
        for k, network in enumerate(self.steps):
            if k:
                parts.append(tfb.Permute(self.reverse))
            made = functools.partial(network, context=context)
            parts.append(tfb.Invert(tfb.MaskedAutoregressiveFlow(shift_and_log_scale_fn=made, name=f"maf_{k}")))
        if self.flow_steps % 2 == 0:
            parts.append(tfb.Permute(self.reverse))
        return tfb.Chain(parts[::-1])  # Chain applies its last bijector first

    def call(self, params) -> tfd.TransformedDistribution:
        loc, scale, context = self.base_and_context(params)
        return tfd.TransformedDistribution(tfd.MultivariateNormalDiag(loc=loc, scale_diag=scale),
                                           self.bijector(context))

    def flow(self, u: tf.Tensor, context: tf.Tensor | None) -> tuple[tf.Tensor, tf.Tensor]:
        """``(z, log|det dz/du|)`` for base draws ``u [..., D]``: the bijector's forward pass in plain tensor ops.

        What ``summary`` (the serving graph) computes, so the exported model
        holds no TFP shape plumbing; equal to ``bijector(context).forward(u)``
        and its ``forward_log_det_jacobian`` (tested).
        """
        log_det = tf.zeros(tf.shape(u)[:-1], tf.float32)
        for k, network in enumerate(self.steps):
            if k:
                u = tf.gather(u, self.reverse, axis=-1)
            shift, log_scale = network(u, context=context)
            u = (u - shift) * tf.exp(-log_scale)
            log_det = log_det - tf.reduce_sum(log_scale, axis=-1)
        if self.flow_steps % 2 == 0:
            u = tf.gather(u, self.reverse, axis=-1)
        return u, log_det

    def point(self, distribution) -> tf.Tensor:
        """``f(m)``: the flow applied to the base's mean (see the class docstring)."""
        return distribution.bijector.forward(distribution.distribution.mean())

    def sample_and_log_prob(self, distribution, num_samples, seed) -> tuple[tf.Tensor, tf.Tensor]:
        """``z = f(m + s * eps)`` and ``log q(z|x) = log N(u; m, s^2) - log|det df/du|``, from one pass.

        ``eps`` is :func:`tfvae.random.normal` of ``seed`` (the same in eager,
        graph and XLA); the flow and its log-determinant are the TFP bijector's.
        """
        base, flow = distribution.distribution, distribution.bijector
        loc, scale = base.loc, base.stddev()
        u = loc + scale * random.normal(tf.concat([[num_samples], tf.shape(loc)], axis=0), seed, loc.dtype)
        return flow.forward(u), base.log_prob(u) - flow.forward_log_det_jacobian(u, event_ndims=1)

    def sample(self, distribution, num_samples, seed) -> tf.Tensor:
        return self.sample_and_log_prob(distribution, num_samples, seed)[0]

    def summary(self, params) -> dict[str, tf.Tensor]:
        """``mean``: the point ``f(m)``; ``stddev``: the unscented-transform estimate (class docstring)."""
        loc, scale, context = self.base_and_context(params)
        offsets = math.sqrt(self.latent_dim) * np.eye(self.latent_dim, dtype="float32")[:, None, :] * scale  # [D, B, D]
        z, _ = self.flow(tf.concat([loc + offsets, loc - offsets], axis=0), context)  # [2D, B, D]
        spread = z - tf.reduce_mean(z, axis=0)
        return {"mean": self.flow(loc, context)[0], "stddev": tf.sqrt(tf.reduce_mean(tf.square(spread), axis=0))}

    def get_config(self) -> dict:
        return {**super().get_config(), "flow_steps": self.flow_steps,
                "flow_hidden_units": list(self.flow_hidden_units), "flow_context_dim": self.flow_context_dim,
                "activation": self.activation, "scale_floor": self.scale_floor, "max_scale": self.max_scale}
