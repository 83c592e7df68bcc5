r"""Vector quantisation bottlenecks of the VQ-VAE (van den Oord et al. 2017).

An encoder output ``z_e`` of shape ``[..., D]`` is replaced by its nearest
entry of a learned codebook ``{e_1, ..., e_K}``:

    k(z_e) = argmin_i ||z_e - e_i||^2,        z_q = e_{k(z_e)}.

The argmin has no gradient, so the decoder's gradient is copied straight
through to the encoder, ``z_q = z_e + sg[e_k - z_e]`` (``sg`` = stop gradient).
Two terms train the codebook and keep the encoder close to it, per example
``x`` with latent positions ``p``,

    loss(x) = sum_p ||sg[z_e,p] - e_k||^2 + beta * sum_p ||z_e,p - sg[e_k]||^2

(codebook loss + commitment loss). Following the project's rule, the loss is
SUMMED over all latent positions and channels of one example and returned per
example (shape ``[B]``); the model averages it over the batch. (Sonnet and the
paper's code average over every element instead: their numbers are ours
divided by ``H * W * D``.)

:class:`VectorQuantizerEMA` drops the codebook loss and moves each code to an
exponential moving average of the encoder outputs assigned to it (the paper's
appendix A.1), which usually trains faster and more stably.

Both layers compute distances, losses and the quantized output in float32
whatever the global dtype policy (inputs in bfloat16/float16 are cast).

References:
  van den Oord, A., Vinyals, O. & Kavukcuoglu, K. (2017). Neural Discrete
  Representation Learning. NeurIPS. arXiv:1711.00937.
  Razavi, A., van den Oord, A. & Vinyals, O. (2019). Generating Diverse
  High-Fidelity Images with VQ-VAE-2. NeurIPS (EMA codebook, Laplace smoothing).
  Dhariwal, P. et al. (2020). Jukebox: A Generative Model for Music
  (restarting dead codes on random encoder outputs).
  Sonnet ``sonnet/src/nets/vqvae.py`` (the interface modelled here).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfvae import random as tfvae_random
from tfvae.distribute import replica_seed
from tfvae.registry import serializable
from tfvae.validation import check_int, check_number

__all__ = ["VectorQuantizer", "VectorQuantizerEMA"]


def _default_initializer() -> keras.initializers.Initializer:
    # Codebook [K, D]: fan_out = D, so codes start uniform with variance 1/D
    # (the scale Sonnet uses), i.e. squared norm ~1 like a unit-variance input.
    return keras.initializers.VarianceScaling(scale=1.0, mode="fan_out", distribution="uniform")


def _check_float32_dtype(dtype) -> None:
    if dtype is not None and keras.dtype_policies.get(dtype).name != "float32":
        raise ValueError(
            "vector quantizers always compute in float32 (distances and losses); "
            f"do not pass dtype={dtype!r}: inputs of any float dtype are cast to float32"
        )


@serializable
class VectorQuantizer(keras.layers.Layer):
    r"""Nearest-neighbour vector quantisation with a codebook trained by gradients.

    For inputs ``z_e`` of shape ``[B, ..., D]`` (``D = embedding_dim``; e.g.
    ``[B, H, W, D]`` from a convolutional encoder) ``call`` returns a dict:

    - ``quantized``: ``z_e + sg[e_k - z_e]``, same shape as the inputs, float32.
      Its value is the nearest code, its gradient w.r.t. ``z_e`` the identity.
    - ``loss``: per example, shape ``[B]``,
      ``sum_p ||sg[z_e,p] - e_k||^2 + commitment_cost * sum_p ||z_e,p - sg[e_k]||^2``
      summed over positions ``p`` and channels (mean it over the batch).
    - ``encoding_indices``: int32 code index of each position, shape ``[B, ...]``.
    - ``perplexity``: scalar ``exp(-sum_i p_i log p_i)`` of the batch-average
      code usage ``p_i`` (``K`` when all codes are used equally, 1 for one code).
    - ``usage``: scalar fraction of the ``K`` codes used at least once in the batch.

    The codebook ``embeddings`` has shape ``[K, D]`` (row ``i`` is code ``e_i``),
    is float32 and trainable. Distances are computed as
    ``||z||^2 - 2 z.e_i + ||e_i||^2``.

    Args:
      num_embeddings: codebook size ``K``.
      embedding_dim: code dimension ``D``; the inputs' last axis.
      commitment_cost: ``beta``, weight of the commitment loss (the paper uses 0.25).
      embeddings_initializer: initializer of the ``[K, D]`` codebook; by
        default uniform with variance ``1/D``.
      **kwargs: ``keras.layers.Layer`` arguments (``name``, ...). ``dtype`` may
        only be float32: the layer ignores the global mixed-precision policy.

    References:
      van den Oord, A., Vinyals, O. & Kavukcuoglu, K. (2017). Neural Discrete
      Representation Learning. NeurIPS. Eq. (3).
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        commitment_cost: float = 0.25,
        embeddings_initializer: str | dict | keras.initializers.Initializer | None = None,
        **kwargs,
    ):
        _check_float32_dtype(kwargs.pop("dtype", None))
        super().__init__(dtype="float32", **kwargs)
        self.num_embeddings = check_int(num_embeddings, "num_embeddings")
        self.embedding_dim = check_int(embedding_dim, "embedding_dim")
        self.commitment_cost = check_number(commitment_cost, "commitment_cost", 0.0)
        self.embeddings_initializer = keras.initializers.get(
            embeddings_initializer if embeddings_initializer is not None else _default_initializer()
        )

    # ------------------------------------------------------------------ build
    def _check_shape(self, shape) -> None:
        shape = tuple(shape)
        if len(shape) < 2:
            raise ValueError(
                f"{type(self).__name__} expects inputs [batch, ..., {self.embedding_dim}], got shape {shape}"
            )
        if shape[-1] is not None and int(shape[-1]) != self.embedding_dim:
            raise ValueError(
                f"{type(self).__name__} expects a last dimension of embedding_dim={self.embedding_dim}, "
                f"got {int(shape[-1])} (input shape {shape})"
            )

    def _codebook_trainable(self) -> bool:
        return True

    def build(self, input_shape):
        self._check_shape(input_shape)
        self.embeddings = self.add_weight(
            shape=(self.num_embeddings, self.embedding_dim),
            initializer=self.embeddings_initializer,
            trainable=self._codebook_trainable(),
            dtype="float32",
            name="embeddings",
            # Assigned by the layer itself (EMA) in replica context: every replica
            # computes the same value from all-reduced statistics.
            aggregation="none" if self._codebook_trainable() else "only_first_replica",
        )

    # ---------------------------------------------------------------- helpers
    def _flatten(self, inputs) -> tf.Tensor:
        """Cast to float32, check the last axis, reshape to ``[N, D]``."""
        x = tf.cast(inputs, tf.float32)
        self._check_shape(x.shape)
        return tf.reshape(x, [-1, self.embedding_dim])

    def squared_distances(self, flat_inputs) -> tf.Tensor:
        """``||z_j - e_i||^2`` of ``[N, D]`` inputs to every code, ``[N, K]`` float32."""
        z = tf.cast(flat_inputs, tf.float32)
        e = tf.convert_to_tensor(self.embeddings)
        return (
            tf.reduce_sum(tf.square(z), axis=1, keepdims=True)
            - 2.0 * tf.matmul(z, e, transpose_b=True)
            + tf.reduce_sum(tf.square(e), axis=1)[tf.newaxis, :]
        )

    def nearest(self, inputs) -> tf.Tensor:
        """Index of the nearest code of each position of ``[..., D]`` inputs, int32 ``[...]``."""
        x = tf.cast(inputs, tf.float32)
        flat = self._flatten(x)
        indices = tf.argmin(self.squared_distances(flat), axis=1, output_type=tf.int32)
        return tf.reshape(indices, tf.shape(x)[:-1])

    def lookup(self, indices) -> tf.Tensor:
        """The codes of integer ``indices`` (any shape ``[...]``): float32 ``[..., D]``.

        (Not called ``quantize``: ``keras.layers.Layer.quantize`` is Keras' own
        int8/float8 weight-quantisation API.)
        """
        return tf.gather(tf.convert_to_tensor(self.embeddings), tf.cast(indices, tf.int32))

    def _statistics(self, flat_indices) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Per-code counts ``n_i`` ``[K]``, perplexity and usage of one batch."""
        counts = tf.math.unsorted_segment_sum(tf.ones_like(flat_indices, tf.float32), flat_indices, self.num_embeddings)
        probs = counts / tf.maximum(tf.reduce_sum(counts), 1.0)
        entropy = -tf.reduce_sum(tf.math.multiply_no_nan(tf.math.log(probs), probs))
        usage = tf.reduce_mean(tf.cast(counts > 0, tf.float32))
        return counts, tf.exp(entropy), usage

    def _loss(self, x, e) -> tf.Tensor:
        """Per-example codebook + commitment loss, ``[B]``."""
        batch = tf.shape(x)[0]
        codebook = tf.reshape(tf.square(tf.stop_gradient(x) - e), [batch, -1])
        commitment = tf.reshape(tf.square(x - tf.stop_gradient(e)), [batch, -1])
        return tf.reduce_sum(codebook, axis=1) + self.commitment_cost * tf.reduce_sum(commitment, axis=1)

    def _update_codebook(self, flat_inputs, flat_indices, counts) -> None:
        """Hook of the EMA variant; the plain quantizer learns by gradients."""

    # ------------------------------------------------------------------- call
    def call(self, inputs, training=False):
        x = tf.cast(inputs, tf.float32)
        flat = self._flatten(x)
        flat_indices = tf.argmin(self.squared_distances(flat), axis=1, output_type=tf.int32)
        e = tf.reshape(self.lookup(flat_indices), tf.shape(x))  # codes chosen before any update
        counts, perplexity, usage = self._statistics(flat_indices)
        if training:
            self._update_codebook(flat, flat_indices, counts)
        return {
            "quantized": x + tf.stop_gradient(e - x),
            "loss": self._loss(x, e),
            "perplexity": perplexity,
            "encoding_indices": tf.reshape(flat_indices, tf.shape(x)[:-1]),
            "usage": usage,
        }

    def compute_output_spec(self, inputs, training=False):
        shape = tuple(inputs.shape)
        self._check_shape(shape)
        return {
            "quantized": keras.KerasTensor(shape, dtype="float32"),
            "loss": keras.KerasTensor(shape[:1], dtype="float32"),
            "perplexity": keras.KerasTensor((), dtype="float32"),
            "encoding_indices": keras.KerasTensor(shape[:-1], dtype="int32"),
            "usage": keras.KerasTensor((), dtype="float32"),
        }

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_embeddings": self.num_embeddings,
            "embedding_dim": self.embedding_dim,
            "commitment_cost": self.commitment_cost,
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
        }


@serializable
class VectorQuantizerEMA(VectorQuantizer):
    r"""Vector quantizer whose codebook follows moving averages of the encoder outputs.

    The codebook gets no gradient (all its variables are non-trainable) and
    the loss is only the commitment term,
    ``commitment_cost * sum_p ||z_e,p - sg[e_k]||^2`` per example. Each call
    with ``training=True`` updates, with ``n_i`` the number of the batch's
    positions assigned to code ``i`` and ``gamma = decay``:

        N_i <- gamma * N_i + (1 - gamma) * n_i
        m_i <- gamma * m_i + (1 - gamma) * sum_{j: k(z_j) = i} z_j
        N_i <- (N_i + eps) / (n + K * eps) * n,      n = sum_i N_i   (Laplace smoothing)
        e_i <- m_i / N_i

    The smoothed count is stored, so ``e_i = m_i / N_i`` holds for the state
    at all times (Sonnet keeps the raw count and smooths only for the division;
    the two differ by ``O(eps)``). The state starts at ``N_i = 1, m_i = e_i``:
    one pseudo-observation on each initial code, so a code not chosen early
    keeps its place instead of collapsing to the origin. ``training=False``
    leaves every variable untouched. Codes are looked up (``quantized``, the
    loss) with the codebook from before the update.

    Dead-code restart (``dead_code_threshold`` set): after the update, every
    code with ``N_i < dead_code_threshold`` moves onto an encoder output of the
    current batch drawn uniformly at random (``e_i = m_i = z_j``, ``N_i = 1``).
    The draw uses the layer's ``keras.random.SeedGenerator`` with stateless
    Philox bits, so it is the same eagerly, under ``tf.function`` and under XLA.
    Keep the threshold below 1 (a restarted code's count), e.g. ``1e-2``.

    Under ``tf.distribute`` the counts ``n_i`` and sums are all-reduced over
    the replicas, so every replica makes the update of the global batch (the
    one-device update); dead-code restarts draw from the first replica's
    share of the batch, each replica with its own seed (the layer's seed with
    the replica's id folded in, :func:`tfvae.distribute.replica_seed`).

    Args:
      num_embeddings: codebook size ``K``.
      embedding_dim: code dimension ``D``.
      commitment_cost: ``beta`` of the commitment loss.
      decay: ``gamma`` in ``[0, 1)``, the moving averages' decay (0.99 in the paper).
      epsilon: ``eps > 0`` of the Laplace smoothing.
      dead_code_threshold: restart codes whose count falls below it; ``None``: never.
      seed: seed of the layer's random generator (dead-code restarts). The
        VQ-VAE builders derive it from the model's seed and the quantizer's
        name (:func:`tfvae.random.derive_seed`), so two quantizers of one model
        never make the same draws.
      embeddings_initializer: initializer of the ``[K, D]`` codebook.
      **kwargs: ``keras.layers.Layer`` arguments.

    References:
      van den Oord, A., Vinyals, O. & Kavukcuoglu, K. (2017). Neural Discrete
      Representation Learning. NeurIPS. Appendix A.1.
      Dhariwal, P. et al. (2020). Jukebox: A Generative Model for Music.
      Section 3.1 (random restarts of dead codes).
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        commitment_cost: float = 0.25,
        decay: float = 0.99,
        epsilon: float = 1e-5,
        dead_code_threshold: float | None = None,
        seed: int | None = None,
        embeddings_initializer: str | dict | keras.initializers.Initializer | None = None,
        **kwargs,
    ):
        super().__init__(num_embeddings, embedding_dim, commitment_cost, embeddings_initializer, **kwargs)
        decay, epsilon = check_number(decay, "decay"), check_number(epsilon, "epsilon")
        if not 0.0 <= float(decay) < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay}")
        if float(epsilon) <= 0:
            raise ValueError(f"epsilon must be > 0, got {epsilon}")
        if dead_code_threshold is not None and check_number(dead_code_threshold, "dead_code_threshold") <= 0:
            raise ValueError(f"dead_code_threshold must be > 0 or None, got {dead_code_threshold}")
        self.decay = float(decay)
        self.epsilon = float(epsilon)
        self.dead_code_threshold = None if dead_code_threshold is None else float(dead_code_threshold)
        self.seed = None if seed is None else int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed, name="seed_generator")

    def _codebook_trainable(self) -> bool:
        return False

    def build(self, input_shape):
        super().build(input_shape)
        self.ema_cluster_size = self.add_weight(
            shape=(self.num_embeddings,), initializer="ones", trainable=False, dtype="float32",
            name="ema_cluster_size", aggregation="only_first_replica",
        )
        # m_i starts equal to e_i. The value is read when the variable is
        # initialised: Keras defers that (after `embeddings`) when the layer
        # is built inside a symbolic trace.
        self.ema_embedding_sum = self.add_weight(
            shape=(self.num_embeddings, self.embedding_dim),
            initializer=lambda shape, dtype=None: tf.convert_to_tensor(self.embeddings.value),
            trainable=False,
            dtype="float32",
            name="ema_embedding_sum",
            aggregation="only_first_replica",
        )

    def _loss(self, x, e) -> tf.Tensor:
        """Per-example commitment loss only, ``[B]``: the codebook is not learned by gradients."""
        commitment = tf.reshape(tf.square(x - tf.stop_gradient(e)), [tf.shape(x)[0], -1])
        return self.commitment_cost * tf.reduce_sum(commitment, axis=1)

    def _update_codebook(self, flat_inputs, flat_indices, counts) -> None:
        gamma, k = self.decay, float(self.num_embeddings)
        sums = tf.math.unsorted_segment_sum(flat_inputs, flat_indices, self.num_embeddings)
        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            # the global batch's statistics: every replica makes the one-device update
            counts, sums = context.all_reduce(tf.distribute.ReduceOp.SUM, [counts, sums])
        cluster_size = gamma * self.ema_cluster_size + (1.0 - gamma) * counts
        embedding_sum = gamma * self.ema_embedding_sum + (1.0 - gamma) * sums
        n = tf.reduce_sum(cluster_size)
        cluster_size = (cluster_size + self.epsilon) / (n + k * self.epsilon) * n
        embeddings = embedding_sum / cluster_size[:, tf.newaxis]
        if self.dead_code_threshold is not None:
            dead = cluster_size < self.dead_code_threshold
            rows = tf.shape(flat_inputs)[0]
            dead = tf.logical_and(dead, rows > 0)  # a replica's empty share of a last batch restarts nothing
            u = tfvae_random.uniform([self.num_embeddings], replica_seed(self.seed_generator.next()))
            picks = tf.clip_by_value(tf.cast(u * tf.cast(rows, tf.float32), tf.int32), 0, tf.maximum(rows - 1, 0))
            padded = tf.concat([flat_inputs, tf.zeros([1, self.embedding_dim], flat_inputs.dtype)], axis=0)
            candidates = tf.gather(padded, picks)
            embeddings = tf.where(dead[:, tf.newaxis], candidates, embeddings)
            embedding_sum = tf.where(dead[:, tf.newaxis], candidates, embedding_sum)
            cluster_size = tf.where(dead, tf.ones_like(cluster_size), cluster_size)
        self.ema_cluster_size.assign(cluster_size)
        self.ema_embedding_sum.assign(embedding_sum)
        self.embeddings.assign(embeddings)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "decay": self.decay,
            "epsilon": self.epsilon,
            "dead_code_threshold": self.dead_code_threshold,
            "seed": self.seed,
        }
