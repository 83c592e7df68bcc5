r"""``TDVAE``: the Temporal Difference Variational Auto-Encoder (Gregor et al., 2019).

Data format (``fit``, ``evaluate``, ``call``, the custom loop): float32
sequences ``x`` of shape ``[B, T, *frame_shape]`` with ``T >= max_jump + 1``;
frames are vectors ``[D]`` (the ``mlp`` builder) or images ``[H, W, C]`` (the
``conv`` builder). ``rollout(context, horizon, jump)`` predicts frame means
``[B, horizon, *frame_shape]``, ``jump`` time steps apart.

Example (about 25 s on 2 CPU cores; the rollout's MSE is about 0.02, against
0.78 for repeating the last frame)::

    import keras
    from tfvae.data.sequences import harmonic_oscillator
    from tfvae.models.sequential.td_vae import TDVAE

    x = harmonic_oscillator(2000, length=20, seed=0)           # [2000, 20, 1] noisy positions
    model = TDVAE.mlp((20, 1), latent_dim=4, hidden_units=(32,), embedding_dim=16, belief_units=32,
                      block_units=32, max_jump=5, pairs_per_sequence=8,
                      likelihood_kwargs={"scale": 0.1}, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit(x, batch_size=64, epochs=32)
    test = harmonic_oscillator(8, length=30, seed=1)
    future = model.rollout(test[:, :10], horizon=4, jump=5, seed=1)  # t = 14, 19, 24, 29: [8, 4, 1]

One module, over 700 lines, on purpose: it is one class whose parts share
its state and each other. The belief, smoothing and transition distributions,
the objective (the pairs and their terms), the rollout and the serving
signatures all go through the same belief states and the same layered
Gaussians; splitting the class by method would make each piece read the
others across files. What is reusable lives elsewhere: the gated blocks and
their top-down chain (:class:`~tfvae.layers.gated.LatentPath`,
:func:`~tfvae.layers.gated.layered_gaussian`) in :mod:`tfvae.layers.gated`,
the seeds in :mod:`tfvae.random`, the likelihood head and mirrored decoder in
:mod:`tfvae.models.builders`.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfvae.distributions import DiagonalGaussianPosterior, Likelihood
from tfvae.functions import traced_method
from tfvae.layers.gated import (
    GatedGaussianBlock,
    GatedTransition,
    LatentPath,
    layered_gaussian,
)
from tfvae.models.base import GenerativeModel
from tfvae.models.builders import as_layer, likelihood_head, mirrored_decoder
from tfvae.models.contract import (
    Capabilities,
    ServingError,
    ServingSignature,
    seed_input,
)
from tfvae.networks import MLP, ConvEncoder
from tfvae.networks.mlp import check_activation
from tfvae.random import as_seed, fold_seed, uniform
from tfvae.registry import MODELS, serializable
from tfvae.validation import (
    check_finite,
    check_floating,
    check_int,
    check_ints,
    check_number,
)

tfd = tfp.distributions

__all__ = ["TDVAE", "GatedGaussianBlock", "GatedTransition", "LatentPath", "fold_seed"]


@MODELS.register("tdvae")
@serializable
class TDVAE(GenerativeModel):
    r"""Temporal Difference VAE: beliefs over a latent state, trained on pairs of time points.

    Four learned distributions over a state ``z`` (``num_layers`` layers of
    ``latent_dim`` each, see below):

    * decoder ``p_D(x_t | z_t)``: ``decoder`` network + ``likelihood`` head
      (Bernoulli for binary frames, Gaussian for real-valued ones);
    * belief ``p_B(z_t | b_t)`` where ``b_t = LSTM(b_{t-1}, e(x_t))`` and ``e``
      is the ``frame_encoder`` (an MLP for vectors, a ConvNet for images): the
      belief state summarises ``x_{<=t}``;
    * transition ``p_T(z_t2 | z_t1, dt)``: a gated residual network
      (:class:`GatedTransition`);
    * smoothing ``q_S(z_t1 | z_t2, b_t1, b_t2, dt)``: the posterior over the
      earlier state once the later one is known.

    For a pair ``t1 < t2`` with ``dt = t2 - t1`` uniform in ``[1, max_jump]``
    and ``t1`` uniform among the positions that leave room for the jump, with
    ``z_t2 ~ p_B(z | b_t2)`` then ``z_t1 ~ q_S(z | z_t2, b_t1, b_t2)``
    (reparameterised, one draw each)::

        reconstruction = -log p_D(x_t2 | z_t2)
        smoothing_kl   = log q_S(z_t1 | z_t2, b_t1, b_t2) - log p_B(z_t1 | b_t1)
        transition_kl  = log p_B(z_t2 | b_t2) - log p_T(z_t2 | z_t1)
        loss           = reconstruction + smoothing_kl + transition_kl

    which is the negative of the paper's objective (its eq. 8)
    ``E[log p_D(x_t2|z_t2) + log p_B(z_t1|b_t1) + log p_T(z_t2|z_t1)
    - log p_B(z_t2|b_t2) - log q_S(z_t1|z_t2,b_t1,b_t2)]``. ``smoothing_kl``
    is a one-sample estimate of ``KL(q_S || p_B(.|b_t1))``; ``transition_kl``
    compares the belief at ``t2`` with the transition's prediction from
    ``z_t1`` (for a fixed ``z_t1`` its mean over ``z_t2 ~ p_B`` would be
    ``KL(p_B(.|b_t2) || p_T(.|z_t1))``; ``z_t1`` is drawn given ``z_t2``, so a
    batch value can be negative). Each term is in nats per pair, averaged over
    the ``pairs_per_sequence`` pairs of a sequence, then over the batch. The
    belief at ``t2`` is the target of the belief at ``t1`` pushed through the
    transition: the temporal difference of the name.

    **Layers.** With ``num_layers = L > 1`` (the hierarchical TD-VAE of the
    paper's appendix) every distribution is a chain over the layers from the
    top down: ``p(z) = prod_l p(z^l | z^{<l}, context)``, each layer a
    diagonal Gaussian whose network also sees the layers drawn above it;
    ``z`` concatenates the layers (top first) and the decoder sees all of
    them. ``L = 1`` is the plain model.

    **Jumps.** With ``condition_on_jump=True`` (default) ``p_T`` and ``q_S``
    also receive ``dt`` (one-hot over ``1..max_jump``), so :meth:`rollout` can
    choose the jump of each transition. With ``False`` they have exactly the
    paper's arguments, and one transition is a jump of an unknown size
    (uniform over ``1..max_jump`` in training).

    ``call(x)`` returns the filtered reconstructions
    ``E[p_D(x_t | z_t)]`` at the belief means ``z_t = E[p_B(z | b_t)]`` (layer
    by layer), ``[B, T, *frame_shape]``: tensors only, as everywhere in tfvae.

    Args:
      frame_encoder: network from one frame ``[N, *frame_shape]`` to its
        embedding ``[N, E]``.
      decoder: network from ``z`` ``[N, num_layers * latent_dim]`` to the
        likelihood parameters ``[N, *likelihood.params_shape]``.
      likelihood: likelihood head; its ``event_shape`` is the frame shape.
      latent_dim: size of each latent layer.
      num_layers: latent layers (1: the plain TD-VAE).
      belief_units: size of the LSTM belief state ``b_t``.
      block_units: hidden width of the belief, smoothing and transition networks.
      max_jump: ``D``, the largest ``t2 - t1`` trained on.
      pairs_per_sequence: pairs ``(t1, t2)`` drawn from every sequence per step.
      condition_on_jump: feed ``dt`` to ``p_T`` and ``q_S``.
      scale_floor: smallest standard deviation of the latent Gaussians.
      seed: seed of the model's random draws (pairs and reparameterisation noise).

    References:
      Gregor, K., Papamakarios, G., Besse, F., Buesing, L. & Weber, T. (2019).
      Temporal Difference Variational Auto-Encoder. ICLR. arXiv:1806.03107.
      Hochreiter, S. & Schmidhuber, J. (1997). Long Short-Term Memory. Neural
      Computation (the belief network).
    """

    loss_term_names = ("loss", "reconstruction", "smoothing_kl", "transition_kl")
    architectures = {"mlp": ("latent_dim", "hidden_units", "activation"),
                     "conv": ("latent_dim", "hidden_units", "activation", "filters")}
    config_options = ("belief_units", "block_units", "condition_on_jump", "embedding_dim", "frame_encoder",
                      "max_jump", "num_layers", "pairs_per_sequence", "scale_floor")

    @property
    def capabilities(self) -> Capabilities:
        """Sequences whose future it rolls out; a belief state, not a per-example code.

        No likelihood bound (``likelihood_bound`` stays False): the loss bounds the jumpy
        ``log p(x_t2 | x_<=t1)`` through the belief, not ``log p(x)``.
        """
        return Capabilities(sequences=True, rollout=True, continuous_latent=False,
                            image_data=len(self.frame_shape) == 3)

    def data_support(self) -> tuple[float, float] | None:
        """The frame likelihood's support: ``(0, 1)`` for the Bernoulli heads, ``None`` for a Gaussian."""
        return self.likelihood.support

    def likelihood_description(self) -> str:
        return f"the {type(self.likelihood).__name__} of {type(self).__name__}"

    def __init__(
        self,
        frame_encoder: keras.layers.Layer,
        decoder: keras.layers.Layer,
        likelihood: Likelihood,
        latent_dim: int = 8,
        num_layers: int = 1,
        belief_units: int = 64,
        block_units: int = 64,
        max_jump: int = 4,
        pairs_per_sequence: int = 1,
        condition_on_jump: bool = True,
        scale_floor: float = 1e-3,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(seed=seed, **kwargs)
        for name, value in (("latent_dim", latent_dim), ("num_layers", num_layers), ("belief_units", belief_units),
                            ("block_units", block_units), ("max_jump", max_jump),
                            ("pairs_per_sequence", pairs_per_sequence)):
            check_int(value, name)
        check_number(scale_floor, "scale_floor", 0.0, strict=True)
        self.frame_encoder = as_layer(frame_encoder)
        self.decoder = as_layer(decoder)
        self.likelihood = as_layer(likelihood)
        self.frame_shape = tuple(self.likelihood.event_shape)
        self.latent_dim = int(latent_dim)
        self.num_layers = int(num_layers)
        self.state_dim = self.latent_dim * self.num_layers
        self.belief_units = int(belief_units)
        self.block_units = int(block_units)
        self.max_jump = int(max_jump)
        self.pairs_per_sequence = int(pairs_per_sequence)
        self.condition_on_jump = bool(condition_on_jump)
        self.scale_floor = float(scale_floor)
        self.latent_head = DiagonalGaussianPosterior(self.latent_dim, scale_floor=self.scale_floor, name="latent_head")
        self.belief_rnn = keras.layers.LSTM(self.belief_units, return_sequences=True, name="belief_rnn")
        self.belief_blocks = [
            GatedGaussianBlock(self.latent_dim, self.block_units, name=f"belief_{i}") for i in range(self.num_layers)
        ]
        self.smoothing_blocks = [
            GatedGaussianBlock(self.latent_dim, self.block_units, name=f"smoothing_{i}") for i in range(self.num_layers)
        ]
        self.transition_blocks = [
            GatedTransition(self.latent_dim, self.block_units, name=f"transition_{i}") for i in range(self.num_layers)
        ]
        self.build()

    # ----------------------------------------------------------------- builders
    @staticmethod
    def _frame_shape(data_shape: Sequence[int], max_jump: int) -> tuple[int, ...]:
        data_shape = check_ints(data_shape, "data_shape")
        if len(data_shape) < 2:
            raise ValueError(
                f"data_shape must be (time, *frame_shape) of one sequence, e.g. (20, 1) or (20, 32, 32, 1); "
                f"got {data_shape}"
            )
        if data_shape[0] < max_jump + 1:
            raise ValueError(
                f"sequences of length {data_shape[0]} are too short for max_jump={max_jump}: "
                f"TD-VAE needs at least max_jump + 1 = {max_jump + 1} frames"
            )
        return data_shape[1:]

    @classmethod
    def mlp(
        cls,
        data_shape: Sequence[int] = (20, 1),
        latent_dim: int = 8,
        hidden_units: Sequence[int] = (64,),
        activation: str = "relu",
        likelihood: str = "gaussian",
        likelihood_kwargs: dict | None = None,
        embedding_dim: int = 32,
        **kwargs,
    ) -> TDVAE:
        """A TD-VAE for vector frames: MLP frame encoder and decoder.

        Args:
          data_shape: ``(T, *frame_shape)`` of one training sequence (``T`` is
            only checked against ``max_jump``; any length works later).
          latent_dim: size of each latent layer.
          hidden_units: hidden widths of the frame encoder (the decoder mirrors them).
          activation: hidden activation.
          likelihood: registered likelihood name (default ``"gaussian"``).
          likelihood_kwargs: extra likelihood arguments (e.g. ``{"scale": 0.1}``).
          embedding_dim: size of a frame's embedding (the LSTM's input).
          **kwargs: the model's own arguments (``max_jump``, ``num_layers``, ``seed``, ...).
        """
        frame_shape = cls._frame_shape(data_shape, check_int(kwargs.get("max_jump", 4), "max_jump"))
        head = likelihood_head(frame_shape, likelihood, likelihood_kwargs)
        check_activation(activation)
        encoder = MLP((check_int(embedding_dim, "embedding_dim"),), hidden_units, activation, name="frame_encoder")
        return cls(encoder, mirrored_decoder(head, hidden_units, activation), head, latent_dim=latent_dim, **kwargs)

    @classmethod
    def conv(
        cls,
        data_shape: Sequence[int] = (20, 32, 32, 1),
        latent_dim: int = 16,
        filters: Sequence[int] = (32, 64),
        hidden_units: Sequence[int] = (256,),
        activation: str = "relu",
        likelihood: str = "bernoulli",
        likelihood_kwargs: dict | None = None,
        embedding_dim: int = 128,
        **kwargs,
    ) -> TDVAE:
        """A TD-VAE for image frames: convolutional frame encoder, transposed-convolution decoder.

        Args:
          data_shape: ``(T, height, width, channels)`` of one training sequence;
            any height and width (the decoder centre-crops, see ConvDecoder).
          latent_dim: size of each latent layer.
          filters: encoder channels per stride-2 stage (the decoder mirrors them).
          hidden_units: dense widths between the convolutions and the embedding
            (the decoder mirrors them).
          activation: hidden activation.
          likelihood: registered likelihood name (default ``"bernoulli"``).
          likelihood_kwargs: extra likelihood arguments.
          embedding_dim: size of a frame's embedding (the LSTM's input).
          **kwargs: the model's own arguments.
        """
        frame_shape = cls._frame_shape(data_shape, check_int(kwargs.get("max_jump", 4), "max_jump"))
        if len(frame_shape) != 3:
            raise ValueError(f"the conv builder needs image frames (height, width, channels), got {frame_shape}")
        head = likelihood_head(frame_shape, likelihood, likelihood_kwargs)
        encoder = ConvEncoder((check_int(embedding_dim, "embedding_dim"),), filters, hidden_units=hidden_units,
                              activation=activation, name="frame_encoder")
        decoder = mirrored_decoder(head, hidden_units, activation, filters)
        return cls(encoder, decoder, head, latent_dim=latent_dim, **kwargs)

    # -------------------------------------------------------------------- build
    def build(self, input_shape=None):
        x = tf.zeros((1, self.max_jump + 1, *self.frame_shape), tf.float32)
        b = self._belief_states(x, False)
        jump = tf.ones([1], tf.int32)
        z2 = self.belief(b[:, -1], mean=True)
        z1 = self.smoothing(z2.z, b[:, 0], b[:, -1], jump, mean=True)
        self.transition(z1.z, jump, mean=True)
        params = self.decoder(z2.z)
        self.likelihood(self.likelihood.check_params(params, unit="state"))
        self.built = True

    # ------------------------------------------------------------------- inputs
    def check_sequences(self, x, min_length: int | None = None, name: str = "x") -> tf.Tensor:
        """Float32 sequences ``[B, T, *frame_shape]`` with ``T >= min_length``, or an error naming the problem.

        Args:
          x: array-like sequences.
          min_length: shortest acceptable ``T`` (default ``max_jump + 1``, what training needs).
          name: what ``x`` is, for the messages.
        """
        min_length = self.max_jump + 1 if min_length is None else int(min_length)
        frame = ", ".join(str(d) for d in self.frame_shape)
        expected = f"(batch, time, {frame})"
        x = check_floating(x, name, expected)
        shape = x.shape
        if shape.rank is not None:
            if shape.rank != 2 + len(self.frame_shape):
                raise ValueError(
                    f"{name} must be sequences of shape {expected} (rank {2 + len(self.frame_shape)}), "
                    f"got rank {shape.rank} with shape {tuple(shape)}"
                )
            if any(s is not None and s != e for s, e in zip(shape[2:], self.frame_shape)):
                raise ValueError(f"{name} frames must have shape ({frame}): {name} must be {expected}, "
                                 f"got {tuple(shape)}")
            if shape[1] is not None and shape[1] < min_length:
                raise ValueError(self._too_short(name, int(shape[1]), min_length))
        return check_finite(x, name)

    def _too_short(self, name: str, length: int, min_length: int) -> str:
        if min_length == self.max_jump + 1:
            return (f"{name} has sequences of length {length}, shorter than max_jump + 1 = {min_length}: "
                    f"TD-VAE trains on pairs up to max_jump={self.max_jump} steps apart")
        return f"{name} has sequences of length {length}; at least {min_length} frames are needed"

    def unpack_data(self, data) -> tf.Tensor:
        """The sequences of a batch (``x`` or ``(x,)``), checked."""
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self.check_sequences(x)

    def _jump_features(self, jump, n) -> tf.Tensor | None:
        if not self.condition_on_jump:
            return None
        jump = tf.broadcast_to(tf.cast(jump, tf.int32), [n])
        return tf.one_hot(jump - 1, self.max_jump, dtype=tf.float32)

    # ----------------------------------------------------------- distributions
    def belief_states(self, x, training: bool = False) -> tf.Tensor:
        """The belief states ``b_t = LSTM(b_{t-1}, e(x_t))``, float32 ``[B, T, belief_units]``.

        Args:
          x: sequences ``[B, T, *frame_shape]`` (any ``T >= 1``).
          training: whether layers run in training mode.
        """
        return self._belief_states(self.check_sequences(x, min_length=1), training)

    def _belief_states(self, x: tf.Tensor, training) -> tf.Tensor:
        batch, length = tf.shape(x)[0], tf.shape(x)[1]
        frames = tf.reshape(x, [-1, *self.frame_shape])
        embedded = self.frame_encoder(frames, training=training)
        embedded = tf.reshape(embedded, tf.concat([[batch, length], tf.shape(embedded)[1:]], axis=0))
        return tf.cast(self.belief_rnn(embedded, training=training), tf.float32)

    def _seed_or_next(self, z, seed, mean):
        """The seed of a draw (:func:`~tfvae.random.as_seed`); ``seed`` as it is when nothing is drawn."""
        return as_seed(seed, self.seed_generator) if z is None and not mean else seed

    def belief(self, b, z=None, seed=None, mean: bool = False, training: bool = False) -> LatentPath:
        """The belief ``p_B(z | b)``: a draw, the mean path, or an evaluation at ``z``.

        Layer ``l`` is drawn with the noise of seed ``fold_seed(seed, l)``
        (:class:`~tfvae.distributions.DiagonalGaussianPosterior` sampling).

        Args:
          b: belief states ``[N, belief_units]``.
          z: states ``[N, state_dim]`` to evaluate at (then nothing is drawn).
          seed: stateless seed ``[2]`` of the draw (default: the model's seed generator).
          mean: take each layer's mean instead of drawing (given the layers above).
          training: whether layers run in training mode.
        """
        b = tf.cast(b, tf.float32)
        return layered_gaussian(self.belief_blocks, self.latent_head, b, z, self._seed_or_next(z, seed, mean), mean,
                                training=training)

    def smoothing(self, z_t2, b_t1, b_t2, jump, z=None, seed=None, mean: bool = False,
                  training: bool = False) -> LatentPath:
        """The smoothing distribution ``q_S(z_t1 | z_t2, b_t1, b_t2, dt)``.

        Args:
          z_t2: later states ``[N, state_dim]``.
          b_t1, b_t2: belief states at ``t1`` and ``t2``, ``[N, belief_units]``.
          jump: ``dt = t2 - t1``, int ``[N]`` or a scalar, in ``[1, max_jump]``
            (ignored unless ``condition_on_jump``).
          z, seed, mean, training: as for :meth:`belief`.
        """
        z_t2 = tf.cast(z_t2, tf.float32)
        parts = [tf.cast(b_t1, tf.float32), tf.cast(b_t2, tf.float32), z_t2]
        jumps = self._jump_features(jump, tf.shape(z_t2)[0])
        features = tf.concat(parts + ([jumps] if jumps is not None else []), axis=-1)
        return layered_gaussian(self.smoothing_blocks, self.latent_head, features, z, self._seed_or_next(z, seed, mean),
                                mean, training=training)

    def transition(self, z_t1, jump, z=None, seed=None, mean: bool = False, training: bool = False) -> LatentPath:
        """The transition ``p_T(z_t2 | z_t1, dt)``.

        Args:
          z_t1: earlier states ``[N, state_dim]``.
          jump: ``dt``, int ``[N]`` or a scalar, in ``[1, max_jump]`` (ignored
            unless ``condition_on_jump``).
          z, seed, mean, training: as for :meth:`belief`.
        """
        z_t1 = tf.cast(z_t1, tf.float32)
        jumps = self._jump_features(jump, tf.shape(z_t1)[0])
        features = z_t1 if jumps is None else tf.concat([z_t1, jumps], axis=-1)
        return layered_gaussian(self.transition_blocks, self.latent_head, features, z,
                                self._seed_or_next(z, seed, mean), mean, residual=z_t1, training=training)

    def decode(self, z, training: bool = False) -> tfd.Distribution:
        """The decoder ``p_D(x | z)``: batch shape ``z.shape[:-1]``, event shape ``frame_shape``.

        Args:
          z: states ``[..., state_dim]`` (any leading dimensions).
          training: whether layers run in training mode.
        """
        z = tf.cast(z, tf.float32)
        leading = tf.shape(z)[:-1]
        params = self.decoder(tf.reshape(z, [-1, self.state_dim]), training=training)
        params = tf.reshape(params, tf.concat([leading, self.likelihood.params_shape], axis=0))
        return self.likelihood(params)

    def call(self, x, training: bool = False):
        """Filtered reconstructions ``E[p_D(x_t | E[p_B(z | b_t)])]``, ``[B, T, *frame_shape]``."""
        x = self.check_sequences(x, min_length=1)
        b = self._belief_states(x, training)
        flat = tf.reshape(b, [-1, self.belief_units])
        z = self.belief(flat, mean=True, training=training).z
        mean = self.decode(z, training).mean()
        return tf.reshape(mean, tf.shape(x))

    # --------------------------------------------------------------- objective
    def sample_pairs(self, batch, length, seed) -> tuple[tf.Tensor, tf.Tensor]:
        """Time indices ``(t1, t2)``, int32 ``[batch, pairs_per_sequence]``, with stateless ops.

        ``dt = t2 - t1`` is uniform in ``[1, max_jump]`` (uniforms of seed
        ``fold_seed(seed, 0)``), then ``t1`` uniform in ``[0, length - 1 - dt]``
        (seed ``fold_seed(seed, 1)``).

        Args:
          batch: number of sequences.
          length: ``T`` (``>= max_jump + 1``).
          seed: stateless seed ``[2]``.
        """
        shape = tf.stack([tf.cast(batch, tf.int32), self.pairs_per_sequence])
        jump_u, start_u = uniform(shape, fold_seed(seed, 0)), uniform(shape, fold_seed(seed, 1))
        jump = 1 + tf.minimum(tf.cast(jump_u * self.max_jump, tf.int32), self.max_jump - 1)
        span = tf.cast(length, tf.int32) - jump  # choices of t1
        t1 = tf.minimum(tf.cast(start_u * tf.cast(span, tf.float32), tf.int32), span - 1)
        return t1, t1 + jump

    def pair_terms(self, x, t1, t2, seed=None, training: bool = False) -> dict[str, tf.Tensor]:
        """The objective's terms for given pairs, each ``[B, K]`` in nats (see the class docstring).

        With ``N = B * K`` pairs flattened in row-major order, ``z_t2`` is the
        :meth:`belief` draw with seed ``fold_seed(seed, 0)`` and ``z_t1`` the
        :meth:`smoothing` draw with seed ``fold_seed(seed, 1)``.

        Args:
          x: sequences ``[B, T, *frame_shape]``.
          t1, t2: int time indices ``[B, K]`` (or ``[B]``) with ``0 <= t1 < t2 < T``
            and ``t2 - t1 <= max_jump``.
          seed: stateless seed ``[2]`` or an int (default: the model's seed generator).
          training: whether layers run in training mode.
        """
        x = self.check_sequences(x, min_length=1)
        seed = as_seed(seed, self.seed_generator)
        t1, t2 = tf.cast(t1, tf.int32), tf.cast(t2, tf.int32)
        if t1.shape.rank == 1:
            t1, t2 = t1[:, None], t2[:, None]
        if tf.executing_eagerly():
            length, jump = int(tf.shape(x)[1]), (t2 - t1).numpy()
            valid = (t1.shape == t2.shape and int(tf.reduce_min(t1)) >= 0 and int(tf.reduce_max(t2)) < length
                     and jump.min() >= 1 and jump.max() <= self.max_jump)
            if not valid:
                raise ValueError(
                    f"pairs need t1 and t2 of one shape with 0 <= t1 < t2 < T = {length} and "
                    f"t2 - t1 <= max_jump = {self.max_jump}"
                )
        return self._pair_terms(x, self._belief_states(x, training), t1, t2, seed, training)

    def _pair_terms(self, x, b, t1, t2, seed, training) -> dict[str, tf.Tensor]:
        pairs = tf.shape(t1)
        b_t1 = tf.reshape(tf.gather(b, t1, batch_dims=1), [-1, self.belief_units])
        b_t2 = tf.reshape(tf.gather(b, t2, batch_dims=1), [-1, self.belief_units])
        x_t2 = tf.reshape(tf.gather(x, t2, batch_dims=1), [-1, *self.frame_shape])
        jump = tf.reshape(t2 - t1, [-1])
        belief_t2 = self.belief(b_t2, seed=fold_seed(seed, 0), training=training)  # z_t2 ~ p_B(. | b_t2)
        smoothing = self.smoothing(belief_t2.z, b_t1, b_t2, jump, seed=fold_seed(seed, 1), training=training)
        belief_t1 = self.belief(b_t1, z=smoothing.z, training=training)  # p_B(z_t1 | b_t1)
        transition = self.transition(smoothing.z, jump, z=belief_t2.z, training=training)  # p_T(z_t2 | z_t1)
        terms = {
            "reconstruction": -self.decode(belief_t2.z, training).log_prob(x_t2),
            "smoothing_kl": smoothing.log_prob - belief_t1.log_prob,
            "transition_kl": belief_t2.log_prob - transition.log_prob,
        }
        terms["loss"] = terms["reconstruction"] + terms["smoothing_kl"] + terms["transition_kl"]
        return {name: tf.reshape(value, pairs) for name, value in terms.items()}

    def per_example_terms(self, x, training: bool = False, seed=None) -> dict[str, tf.Tensor]:
        """Per-sequence terms ``[B]``: the mean over ``pairs_per_sequence`` random pairs.

        The draws come from one seed ``s`` (default: the next of the model's
        seed generator): the pairs from ``fold_seed(s, 0)``
        (:meth:`sample_pairs`), the states from ``fold_seed(s, 1)``
        (:meth:`pair_terms`).

        Args:
          x: checked sequences ``[B, T, *frame_shape]`` with ``T >= max_jump + 1``.
          training: whether layers run in training mode.
          seed: stateless seed ``[2]``.
        """
        seed = as_seed(seed, self.seed_generator)
        t1, t2 = self.sample_pairs(tf.shape(x)[0], tf.shape(x)[1], fold_seed(seed, 0))
        terms = self._pair_terms(x, self._belief_states(x, training), t1, t2, fold_seed(seed, 1), training)
        return {name: tf.reduce_mean(value, axis=1) for name, value in terms.items()}

    def loss_terms(self, data, training: bool = False) -> dict[str, tf.Tensor]:
        terms = self.per_example_terms(self.unpack_data(data), training)
        return {name: tf.reduce_mean(terms[name]) for name in self.loss_term_names}

    # ----------------------------------------------------------------- rollout
    def rollout_tensors(self, x, horizon, jump, seed) -> dict[str, tf.Tensor]:
        """The traceable core of :meth:`rollout` (for ``tf.function`` and SavedModel signatures).

        No Python-side checks: give float32 ``x`` ``[B, Tc, *frame_shape]``,
        scalar int32 ``horizon >= 1`` and ``jump`` in ``[1, max_jump]`` (Python
        ints or tensors) and an int64 seed ``[2]``.

        Returns:
          ``{"frames": [B, horizon, *frame_shape], "z": [B, horizon, state_dim]}``.
        """
        b_last = self._belief_states(x, False)[:, -1]
        z = self.belief(b_last, seed=fold_seed(seed, 0)).z
        jumps = tf.fill([tf.shape(z)[0]], tf.cast(jump, tf.int32))

        def step(i, z, path):
            z = self.transition(z, jumps, seed=fold_seed(seed, i + 1)).z
            return i + 1, z, path.write(i, z)

        path = tf.TensorArray(tf.float32, size=horizon, element_shape=tf.TensorShape([None, self.state_dim]))
        _, _, path = tf.while_loop(lambda i, *_: i < horizon, step, (tf.constant(0), z, path))
        z_path = tf.transpose(path.stack(), [1, 0, 2])
        return {"frames": self.decode(z_path).mean(), "z": z_path}

    # ---------------------------------------------------------------- serving
    #: the export options of :meth:`serving_signatures` (``export_saved_model(..., options={...})``)
    serving_options = ("horizon", "jump")
    #: the per-example terms the ``score`` signature reports beside the loss
    score_term_names = ("reconstruction", "smoothing_kl", "transition_kl")

    def rollout_settings(self, options=None) -> tuple[int, int]:
        """``(horizon, jump)`` of the exported ``rollout``: the defaults, or ``options``.

        Defaults: ``jump = max_jump`` when the model is conditioned on the jump
        (the longest step it was trained on: the farthest look-ahead per
        transition), else ``1`` (its only valid value); ``horizon = 2 * max_jump``
        transitions, so the default rollout predicts ``2 * max_jump ** 2`` time
        steps ahead (``2 * max_jump`` without jump conditioning).

        Raises:
          ServingError: an unknown option, a horizon below 1, or a jump outside
            ``[1, max_jump]`` (or other than 1 with ``condition_on_jump=False``).
        """
        options = dict(options or {})
        unknown = sorted(set(options) - set(self.serving_options))
        if unknown:
            raise ServingError(f"unknown TDVAE export options {unknown}; the options are {list(self.serving_options)}")

        def integer(name, default):
            value = options.get(name, default)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ServingError(f"the TDVAE export option {name!r} must be an integer, got {value!r}")
            return int(value)

        horizon = integer("horizon", 2 * self.max_jump)
        jump = integer("jump", self.max_jump if self.condition_on_jump else 1)
        if horizon < 1:
            raise ServingError(f"the rollout horizon must be >= 1, got {horizon}")
        if not 1 <= jump <= self.max_jump:
            raise ServingError(f"the rollout jump must be in [1, max_jump={self.max_jump}], got {jump}")
        if not self.condition_on_jump and jump != 1:
            raise ServingError("this TDVAE has condition_on_jump=False: its transitions are jumps of an unknown "
                               f"size, so the rollout jump must be 1, got {jump}")
        return horizon, jump

    def filtered_reconstruction(self, x) -> dict[str, tf.Tensor]:
        """``{"reconstruction": model(x)}`` computed from the heads' parameters (no TFP objects).

        Each belief layer takes its Gaussian's mean given the layers above, as
        ``belief(b, mean=True)``; the decoder's likelihood mean is the frame.
        """
        b = tf.reshape(self._belief_states(x, False), [-1, self.belief_units])
        layers = []
        for block in self.belief_blocks:
            params = block(tf.concat([b, *layers], axis=-1), training=False)
            layers.append(self.latent_head.summary(params)["mean"])
        params = self.decoder(tf.concat(layers, axis=-1), training=False)
        params = tf.reshape(params, [-1, *self.likelihood.params_shape])
        return {"reconstruction": tf.reshape(self.likelihood.summary(params)["mean"], tf.shape(x))}

    def score_row(self, x, seed) -> dict[str, tf.Tensor]:
        """One sequence's ``score`` (the loss) and its terms, scalars in nats; pairs and draws from ``seed``."""
        terms = self.per_example_terms(x[tf.newaxis], training=False, seed=seed)
        return {"score": terms["loss"][0], **{name: terms[name][0] for name in self.score_term_names}}

    def serving_signatures(self, prior=None, options=None) -> dict[str, ServingSignature]:
        """``serving_default`` (filtered reconstructions), a seeded ``rollout`` and a seeded ``score``.

        * ``serving_default``: ``x`` ``[B, T, *frame]`` (any ``T >= 1``) ``->
          reconstruction``, as ``model(x)``.
        * ``rollout``: ``context`` ``[B, Tc, *frame]`` and ``seed`` ``->`` ``frames``
          ``[B, H, *frame]`` (frame ``k`` predicts time ``Tc - 1 + (k + 1) * jump``)
          and ``z`` ``[B, H, state_dim]``; row ``i`` is ``rollout(context[i:i+1],
          H, jump, seed=seed[i], return_z=True)``. ``H`` and ``jump`` are fixed
          at export time (:meth:`rollout_settings`).
        * ``score``: ``x`` with ``T >= max_jump + 1`` and ``seed`` ``->`` the loss
          and its terms per sequence; row ``i`` is
          ``per_example_terms(x[i:i+1], seed=seed[i])``.

        Args:
          prior: none taken.
          options: ``{"horizon": H, "jump": j}`` for ``rollout`` (either may be left out).
        """
        self.refuse_serving_extras(prior, None)
        horizon, jump = self.rollout_settings(options)
        frame, min_length = tuple(self.frame_shape), self.max_jump + 1
        sequence = self.served_data((None, *frame), kind="sequence")
        scored = self.served_data((None, *frame), kind="sequence", min_length=min_length)

        def rollout_row(context, seed):
            out = self.rollout_tensors(context[tf.newaxis], horizon, jump, seed)
            return {"frames": out["frames"][0], "z": out["z"][0]}

        terms = {name: tf.TensorSpec([], tf.float32) for name in ("score", *self.score_term_names)}
        return {
            "serving_default": ServingSignature({"x": sequence}, self.filtered_reconstruction,
                                                "filtered reconstructions E[p(x_t|E[p_B(z|b_t)])], as model(x)"),
            "rollout": ServingSignature(
                {"context": sequence, "seed": seed_input()}, rollout_row,
                f"{horizon} predicted frames {jump} step(s) apart after the context, and their states; the draws "
                "from seed", row_outputs={"frames": tf.TensorSpec([horizon, *frame], tf.float32),
                                          "z": tf.TensorSpec([horizon, self.state_dim], tf.float32)}, seeded=True,
                vectorized=False),
            "score": ServingSignature(
                {"x": scored, "seed": seed_input()}, self.score_row,
                "per-sequence TD-VAE loss (nats) and its terms; pairs and draws from seed", row_outputs=terms,
                seeded=True, vectorized=False),  # tf.vectorized_map breaks the belief loop of a one-row request
        }

    def rollout(self, x_context, horizon: int, jump: int = 1, seed=None, return_z: bool = False):
        """Predict the future of ``x_context`` by jumping through the latent state.

        The belief LSTM reads the context; ``z_0 ~ p_B(z | b_last)`` at the last
        context step (seed ``fold_seed(s, 0)``); then ``horizon`` transitions
        ``z_i ~ p_T(z | z_{i-1}, dt=jump)`` (seed ``fold_seed(s, i)``), each
        ``jump`` time steps ahead, are decoded to their means. Frame ``i``
        (0-based) of the result predicts time ``Tc - 1 + (i + 1) * jump``.

        Args:
          x_context: context sequences ``[B, Tc, *frame_shape]``, ``Tc >= 1``.
          horizon: number of transitions (predicted frames), ``>= 1``.
          jump: time steps per transition, in ``[1, max_jump]`` (a model with
            ``condition_on_jump=False`` takes only the default 1: its
            transitions are jumps of an unknown size).
          seed: an int or a length-2 int seed (the same seed gives the same
            rollout); ``None`` draws from the model's seed generator.
          return_z: also return the states.

        Returns:
          Predicted frame means ``[B, horizon, *frame_shape]``, and with
          ``return_z`` the states ``[B, horizon, state_dim]`` too.
        """
        horizon = check_int(horizon, "horizon")
        if not 1 <= check_int(jump, "jump", minimum=None) <= self.max_jump:
            raise ValueError(f"jump must be in [1, max_jump={self.max_jump}] (the jumps trained on), got {jump}")
        if not self.condition_on_jump and int(jump) != 1:
            raise ValueError(
                "this TDVAE has condition_on_jump=False: a transition is a jump of an unknown size, so jump "
                "cannot be chosen (leave it at 1)"
            )
        x = self.check_sequences(x_context, min_length=1, name="x_context")
        # rollout_tensors has no Python control flow on tensors: no autograph
        run = traced_method(self, "rollout", type(self).rollout_tensors, reduce_retracing=True, autograph=False)
        out = run(x, tf.constant(int(horizon)), tf.constant(int(jump)), as_seed(seed, self.seed_generator))
        return (out["frames"], out["z"]) if return_z else out["frames"]

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "frame_encoder": keras.saving.serialize_keras_object(self.frame_encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "likelihood": keras.saving.serialize_keras_object(self.likelihood),
            "latent_dim": self.latent_dim,
            "num_layers": self.num_layers,
            "belief_units": self.belief_units,
            "block_units": self.block_units,
            "max_jump": self.max_jump,
            "pairs_per_sequence": self.pairs_per_sequence,
            "condition_on_jump": self.condition_on_jump,
            "scale_floor": self.scale_floor,
        }
