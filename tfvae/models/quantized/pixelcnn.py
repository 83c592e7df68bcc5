r"""``PixelCNN``: an autoregressive prior over maps of discrete (VQ-VAE) codes.

Data format (``fit``, ``evaluate``, ``call``, ``log_prob``, ``distribution``):

* unconditional model: the int code maps ``codes`` of shape ``[B, H, W]``;
* conditional model: a dict ``{"codes": [B, H, W], "label": [B],
  "condition": [B, H', W']}`` holding the keys the model was built for;
  a label-only model also takes ``fit(codes, labels)`` (``(codes, label)`` pairs).

Example::

    prior = PixelCNN(num_embeddings=512, code_shape=(8, 8), seed=0)
    prior.compile(optimizer=keras.optimizers.Adam(1e-3))
    prior.fit(vqvae_indices, batch_size=64, epochs=20)   # int32 [N, 8, 8]
    codes = prior.sample(16, seed=1)                     # int32 [16, 8, 8]
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfvae.functions import traced_method
from tfvae.layers.masked_conv import CausalSelfAttention2D, GatedPixelCNNBlock
from tfvae.models.base import GenerativeModel
from tfvae.models.contract import Capabilities
from tfvae.random import as_seed, derive_seed, uniform
from tfvae.registry import MODELS, serializable
from tfvae.validation import check_indices, describe_shape

tfd = tfp.distributions

DATA_KEYS = ("codes", "label", "condition")


@MODELS.register("pixelcnn")
@serializable
class PixelCNN(GenerativeModel):
    r"""Gated PixelCNN prior over ``H x W`` maps of codes in ``[0, K)`` (optionally conditional).

    In raster order (``p = i * W + j``) the joint is a product of categoricals::

        p(x | y, s) = prod_p Categorical(x_p; softmax(f_p(x_<p, y, s)))

    ``f`` embeds the codes (``K -> filters``), runs ``num_layers`` gated blocks
    with vertical and horizontal stacks (the first with mask ``"A"``, so ``f_p``
    never sees ``x_p``; no blind spot), optionally a causal self-attention block
    after every ``attention_every`` blocks (PixelSNAIL), and a ``1x1`` head to
    ``K`` float32 logits. Conditioning enters every gate: a class label ``y``
    (one-hot or a learned embedding) as a per-channel bias, and a map ``s`` of
    codes of shape ``condition_shape`` (e.g. the top-level codes of a VQ-VAE-2,
    for the bottom-level prior) embedded, convolved (``condition_layers`` 3x3
    convolutions, not masked: the map is observed) and resized to ``(H, W)``
    (nearest neighbour), through a ``1x1`` convolution.

    ``loss = mean_batch(-log p(x | y, s))`` in nats per example (the sum over
    the ``H * W`` positions); ``bits_per_dim = nll / (H * W * log 2)``. The
    uniform prior scores ``H * W * log K`` nats.

    ``call(data)`` returns the logits ``[B, H, W, K]`` (float32 under any
    policy). ``distribution(data)`` wraps them in
    ``tfd.Independent(tfd.Categorical(logits), 2)``: with teacher forcing its
    ``log_prob`` at the same codes is the exact log-likelihood; its own
    ``sample()`` is *not* an autoregressive draw: use :meth:`sample`.

    Data: codes ``[B, H, W]``, or ``{"codes": ..., "label": [B],
    "condition": [B, H', W']}`` for conditional models (see the module docstring).

    Args:
      num_embeddings: number of code values ``K``.
      code_shape: ``(H, W)`` of a code map.
      filters: channels of the stacks (and of the code embedding).
      num_layers: gated blocks. Each widens the reach by ``kernel_size // 2``
        positions left, right and up, so full context without attention
        takes ``num_layers * (kernel_size // 2) >= max(H, W) - 1``; an
        attention block sees every earlier position at once.
      kernel_size: odd kernel size of the stacks.
      num_classes: number of class labels; ``0`` for no label.
      label_embedding: ``None`` for one-hot labels, or the size of a learned
        label embedding.
      condition_shape: ``(H', W')`` of the conditioning code maps, or ``None``.
      condition_num_embeddings: number of values of the conditioning codes
        (default ``num_embeddings``).
      condition_layers: 3x3 ReLU convolutions over the embedded conditioning
        codes (at their own resolution) before the resize: each widens the
        context of the map seen at a position by one conditioning cell per
        side (VQ-VAE-2 uses a deep residual stack here).
      attention_every: insert a causal self-attention block after every
        ``attention_every`` gated blocks (``None``: no attention).
      attention_heads: heads of the attention blocks.
      dropout: dropout rate inside the gated blocks and the attention.
      seed: seed of the model's random draws (sampling, dropout).

    References:
      van den Oord, A., Kalchbrenner, N., Vinyals, O., Espeholt, L., Graves, A. &
      Kavukcuoglu, K. (2016). Conditional Image Generation with PixelCNN
      Decoders. NeurIPS. arXiv:1606.05328.
      Razavi, A., van den Oord, A. & Vinyals, O. (2019). Generating Diverse
      High-Fidelity Images with VQ-VAE-2. NeurIPS (priors over code maps,
      bottom prior conditioned on the top codes).
      Chen, X., Mishra, N., Rohaninejad, M. & Abbeel, P. (2018). PixelSNAIL:
      An Improved Autoregressive Generative Model. ICML.
    """

    loss_term_names = ("loss", "nll", "bits_per_dim")
    #: the ``model.options`` of a prior run's config (``tfvae train vq_prior``); the codes' shape and
    #: number come from the VQ-VAE (``make_prior``)
    config_options = ("attention_every", "attention_heads", "condition_layers", "dropout", "filters", "kernel_size",
                      "label_embedding", "num_classes", "num_layers")

    @property
    def capabilities(self) -> Capabilities:
        """A prior over another model's code maps (``tfvae train vq_prior``)."""
        return Capabilities(code_prior=True, continuous_latent=False)

    def __init__(
        self,
        num_embeddings: int,
        code_shape: Sequence[int],
        filters: int = 64,
        num_layers: int = 8,
        kernel_size: int = 3,
        num_classes: int = 0,
        label_embedding: int | None = None,
        condition_shape: Sequence[int] | None = None,
        condition_num_embeddings: int | None = None,
        condition_layers: int = 1,
        attention_every: int | None = None,
        attention_heads: int = 4,
        dropout: float = 0.0,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(seed=seed, **kwargs)
        self.num_embeddings = int(num_embeddings)
        self.code_shape = tuple(int(d) for d in code_shape)
        self.filters = int(filters)
        self.num_layers = int(num_layers)
        self.kernel_size = int(kernel_size)
        self.num_classes = int(num_classes)
        self.label_embedding = None if label_embedding is None else int(label_embedding)
        self.condition_shape = None if condition_shape is None else tuple(int(d) for d in condition_shape)
        self.condition_num_embeddings = (
            None if self.condition_shape is None
            else int(condition_num_embeddings if condition_num_embeddings is not None else num_embeddings)
        )
        self.condition_layers = int(condition_layers)
        self.attention_every = None if attention_every is None else int(attention_every)
        self.attention_heads = int(attention_heads)
        self.dropout = float(dropout)
        self._check_arguments()


        self.embedding = keras.layers.Embedding(
            self.num_embeddings, self.filters, name="code_embedding",
            embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0),
        )
        self.label_table = (
            keras.layers.Embedding(self.num_classes, self.label_embedding, name="label_embedding")
            if self.num_classes and self.label_embedding else None
        )
        label_dim = (self.label_embedding or self.num_classes) if self.num_classes else 0
        if self.condition_shape is not None:
            self.condition_embedding = keras.layers.Embedding(
                self.condition_num_embeddings, self.filters, name="condition_embedding",
                embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0),
            )
            self.condition_convs = [
                keras.layers.Conv2D(self.filters, 3, padding="same", activation="relu", name=f"condition_conv_{i}")
                for i in range(self.condition_layers)
            ]
        else:
            self.condition_embedding, self.condition_convs = None, []
        condition_channels = self.filters if self.condition_shape is not None else 0
        self.blocks = [
            GatedPixelCNNBlock(
                self.filters, self.kernel_size, "A" if i == 0 else "B", label_dim=label_dim,
                condition_channels=condition_channels, dropout=self.dropout,
                seed=derive_seed(seed, f"gated_{i}"), name=f"gated_{i}",  # distinct dropout streams
            )
            for i in range(self.num_layers)
        ]
        #: indices of the gated blocks followed by an attention block
        self.attention_after = tuple(
            i for i in range(self.num_layers) if self.attention_every and (i + 1) % self.attention_every == 0
        )
        self.attentions = [
            CausalSelfAttention2D(self.attention_heads, dropout=self.dropout, seed=derive_seed(seed, f"attention_{i}"),
                                  name=f"attention_{i}")
            for i in self.attention_after
        ]
        self.head_hidden = keras.layers.Conv2D(self.filters, 1, activation="relu", name="head_hidden")
        self.head = keras.layers.Conv2D(self.num_embeddings, 1, dtype="float32", name="logits")
        self.build()

    def _check_arguments(self) -> None:
        if self.num_embeddings < 2:
            raise ValueError(f"num_embeddings must be >= 2, got {self.num_embeddings}")
        if len(self.code_shape) != 2 or min(self.code_shape) < 1:
            raise ValueError(f"code_shape must be (height, width) with positive sizes, got {self.code_shape}")
        if self.filters < 1 or self.num_layers < 1:
            raise ValueError(f"filters and num_layers must be >= 1, got {self.filters} and {self.num_layers}")
        if self.kernel_size < 3 or self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and >= 3, got {self.kernel_size}")
        if self.num_classes < 0 or self.num_classes == 1:
            raise ValueError(f"num_classes must be 0 (no label) or >= 2, got {self.num_classes}")
        if self.label_embedding is not None and (self.label_embedding < 1 or not self.num_classes):
            raise ValueError("label_embedding needs num_classes >= 2 and must be >= 1")
        if self.condition_shape is not None and (len(self.condition_shape) != 2 or min(self.condition_shape) < 1):
            raise ValueError(f"condition_shape must be (height, width) with positive sizes, got {self.condition_shape}")
        if self.condition_num_embeddings is not None and self.condition_num_embeddings < 2:
            raise ValueError(f"condition_num_embeddings must be >= 2, got {self.condition_num_embeddings}")
        if self.condition_layers < 0:
            raise ValueError(f"condition_layers must be >= 0, got {self.condition_layers}")
        if self.attention_every is not None and self.attention_every < 1:
            raise ValueError(f"attention_every must be None or >= 1, got {self.attention_every}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    def build(self, input_shape=None):
        codes = tf.zeros((1, *self.code_shape), tf.int32)
        label = tf.zeros((1,), tf.int32) if self.num_classes else None
        condition = tf.zeros((1, *self.condition_shape), tf.int32) if self.condition_shape else None
        self._logits(codes, label, condition, training=False)
        self.built = True

    # ---------------------------------------------------------------- inputs
    def check_codes(self, codes) -> tf.Tensor:
        """Int32 codes ``[B, H, W]`` in ``[0, K)``, or an error naming the expected shape."""
        return check_indices(codes, "codes", self.num_embeddings, (None, *self.code_shape))

    def check_label(self, label, batch: int | None = None) -> tf.Tensor | None:
        """Int32 labels ``[B]`` in ``[0, num_classes)`` (``None`` for a model without labels)."""
        if not self.num_classes:
            if label is not None:
                raise ValueError("this PixelCNN has no labels (num_classes=0), but a label was given")
            return None
        if label is None:
            raise ValueError(
                f"this PixelCNN is conditioned on class labels: give labels of shape (batch,) in "
                f"[0, {self.num_classes}) (data {{'codes': ..., 'label': ...}})"
            )
        y = check_indices(label, "label", self.num_classes, (None,))
        if batch is not None and y.shape[0] is not None and y.shape[0] != batch:
            raise ValueError(f"label has {y.shape[0]} entries for a batch of {batch}")
        return y

    def check_condition(self, condition, batch: int | None = None) -> tf.Tensor | None:
        """Int32 conditioning codes ``[B, H', W']`` (``None`` for a model without them)."""
        if self.condition_shape is None:
            if condition is not None:
                raise ValueError("this PixelCNN has no conditioning map (condition_shape=None), but one was given")
            return None
        if condition is None:
            raise ValueError(
                f"this PixelCNN is conditioned on code maps: give condition of shape "
                f"{describe_shape((None, *self.condition_shape))} (data {{'codes': ..., 'condition': ...}})"
            )
        s = check_indices(condition, "condition", self.condition_num_embeddings, (None, *self.condition_shape))
        if batch is not None and s.shape[0] is not None and s.shape[0] != batch:
            raise ValueError(f"condition has {s.shape[0]} maps for a batch of {batch}")
        return s

    def unpack_data(self, data) -> tuple[tf.Tensor, tf.Tensor | None, tf.Tensor | None]:
        """``(codes, label, condition)`` from codes, a dict, or ``(codes, label)`` pairs, all checked."""
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        if isinstance(x, dict):
            unknown = set(x) - set(DATA_KEYS)
            if unknown or "codes" not in x:
                raise ValueError(f"PixelCNN data dicts hold 'codes' and optionally 'label', 'condition'; got keys "
                                 f"{sorted(x)}")
            codes, label, condition = x["codes"], x.get("label"), x.get("condition")
        else:
            codes, label, condition = x, None, None
        if y is not None:
            if label is not None or not self.num_classes:
                raise ValueError("PixelCNN takes (codes, label) pairs only for a model with num_classes > 0; "
                                 "give conditional data as a dict {'codes', 'label', 'condition'}")
            label = y
        codes = self.check_codes(codes)
        batch = codes.shape[0]
        return codes, self.check_label(label, batch), self.check_condition(condition, batch)

    # --------------------------------------------------------------- network
    def embed_codes(self, codes: tf.Tensor) -> tf.Tensor:
        """Code embeddings ``[B, H, W, filters]`` (the continuous input of the causal network)."""
        return self.embedding(codes)

    def label_features(self, label: tf.Tensor) -> tf.Tensor:
        """``[B, num_classes]`` one-hot labels, or the learned label embedding."""
        if self.label_table is None:
            return tf.one_hot(label, self.num_classes, dtype=self.compute_dtype)
        return self.label_table(label)

    def condition_features(self, condition: tf.Tensor) -> tf.Tensor:
        """Conditioning codes ``[B, H', W']`` -> features ``[B, H, W, filters]`` at the code resolution."""
        s = self.condition_embedding(condition)
        for conv in self.condition_convs:
            s = conv(s)
        if self.condition_shape != self.code_shape:
            s = tf.cast(tf.image.resize(s, self.code_shape, method="nearest"), s.dtype)
        return s

    def logits_from_embedding(self, x: tf.Tensor, label=None, condition=None, training: bool = False) -> tf.Tensor:
        """Float32 logits ``[B, H, W, K]`` from embedded codes ``x`` ``[B, H, W, filters]``.

        ``logits[:, i, j]`` depends on ``x`` only at positions before ``(i, j)``
        in raster order (the causality the tests check through gradients).
        ``label`` and ``condition`` are checked int tensors (or ``None``).
        """
        y = None if label is None else self.label_features(label)
        s = None if condition is None else self.condition_features(condition)
        attentions = dict(zip(self.attention_after, self.attentions))
        v = h = x
        for i, block in enumerate(self.blocks):
            v, h = block(v, h, label=y, condition=s, training=training)
            if i in attentions:
                h = attentions[i](h, training=training)
        return self.head(self.head_hidden(tf.nn.relu(h)))

    def _logits(self, codes, label, condition, training) -> tf.Tensor:
        return self.logits_from_embedding(self.embed_codes(codes), label, condition, training)

    def call(self, inputs, training: bool = False):
        """Logits ``[B, H, W, K]`` (float32) of ``inputs``: codes, or a dict with the conditioning."""
        codes, label, condition = self.unpack_data(inputs)
        return self._logits(codes, label, condition, training)

    # --------------------------------------------------------------- contract
    @staticmethod
    def _joint(logits: tf.Tensor) -> tfd.Distribution:
        return tfd.Independent(tfd.Categorical(logits=tf.cast(logits, tf.float32)), reinterpreted_batch_ndims=2)

    def distribution(self, data, training: bool = False) -> tfd.Distribution:
        """``prod_p p(x_p | x_<p)`` given the codes in ``data``: ``Independent(Categorical, 2)``, batch ``[B]``.

        Its ``log_prob`` at the same codes is the model's log-likelihood; do
        not ``sample()`` it (that ignores the autoregressive structure): use
        :meth:`sample`.
        """
        codes, label, condition = self.unpack_data(data)
        return self._joint(self._logits(codes, label, condition, training))

    def log_prob(self, data) -> tf.Tensor:
        """Per-example log-likelihood ``log p(x | y, s)`` in nats, shape ``[B]``."""
        codes, label, condition = self.unpack_data(data)
        return self._joint(self._logits(codes, label, condition, False)).log_prob(codes)

    def loss_terms(self, data, training: bool = False) -> dict[str, tf.Tensor]:
        codes, label, condition = self.unpack_data(data)
        nll = -self._joint(self._logits(codes, label, condition, training)).log_prob(codes)
        mean = tf.reduce_mean(nll)
        positions = self.code_shape[0] * self.code_shape[1]
        return {"loss": mean, "nll": mean, "bits_per_dim": mean / (positions * math.log(2.0))}

    # --------------------------------------------------------------- sampling
    def sample_graph(self, codes, label, condition, temperature, seed) -> tf.Tensor:
        """The traceable sampling loop behind :meth:`sample`: fills ``codes`` ``[N, H, W]`` in raster order.

        A ``tf.while_loop`` over the ``H * W`` positions; a serving signature
        traces it into the exported graph (no Python-side cache).

        Args:
          codes: int32 ``[N, H, W]`` starting maps (zeros).
          label: int32 ``[N]`` labels, or ``None``.
          condition: int32 conditioning code maps ``[N, H', W']``, or ``None``.
          temperature: float32 scalar ``> 0``.
          seed: int64 ``[2]`` stateless seed.
        """
        height, width = self.code_shape
        positions = height * width

        def step(p, codes):
            logits = self._logits(codes, label, condition, training=False)
            scaled = logits[:, p // width, p % width, :] / temperature
            u = uniform(tf.shape(scaled), tf.random.experimental.stateless_fold_in(seed, tf.cast(p, tf.int64)))
            draw = tf.argmax(scaled - tf.math.log(-tf.math.log(u)), axis=-1, output_type=tf.int32)  # Gumbel-max
            here = tf.reshape(tf.one_hot(p, positions, dtype=tf.int32), [1, height, width])
            return p + 1, codes * (1 - here) + draw[:, None, None] * here

        _, codes = tf.while_loop(lambda p, _: p < positions, step, (tf.constant(0), codes))
        return codes

    def sample(self, num_samples: int, *, seed=None, condition=None, label=None, temperature: float = 1.0
               ) -> tf.Tensor:
        """Ancestral samples in raster order: int32 codes ``[num_samples, H, W]``.

        Position ``p`` is drawn from ``softmax(logits_p / temperature)`` given
        the positions drawn before it (``H * W`` network evaluations in one
        ``tf.function`` loop), with the Gumbel-max trick on the
        device-portable uniforms of :mod:`tfvae.random`.

        Args:
          num_samples: number of code maps.
          label: class label(s) for a labelled model: an int or ``[num_samples]``.
          condition: conditioning codes ``[num_samples, H', W']`` or one map ``[H', W']`` (a code prior's
            condition is the code map of the level above, VQ-VAE-2's top codes; its class is ``label``).
          temperature: softmax temperature ``> 0`` (lower is greedier).
          seed: an int or a length-2 int seed: the same seed gives the same
            samples; ``None`` draws from the model's seed generator.
        """
        n = int(num_samples)
        if n < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}")
        if not float(temperature) > 0.0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if label is not None and self.num_classes:
            label = np.broadcast_to(np.asarray(label), (n,))
        if condition is not None and self.condition_shape is not None:
            condition = np.asarray(condition)
            if condition.shape == self.condition_shape:
                condition = np.broadcast_to(condition, (n, *self.condition_shape))
        label, condition = self.check_label(label, n), self.check_condition(condition, n)
        seed = as_seed(seed, self.seed_generator)
        codes = tf.zeros((n, *self.code_shape), tf.int32)
        sampler = traced_method(self, "sample", type(self).sample_graph, reduce_retracing=True)
        return sampler(codes, label, condition, tf.constant(float(temperature), tf.float32), seed)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_embeddings": self.num_embeddings,
            "code_shape": list(self.code_shape),
            "filters": self.filters,
            "num_layers": self.num_layers,
            "kernel_size": self.kernel_size,
            "num_classes": self.num_classes,
            "label_embedding": self.label_embedding,
            "condition_shape": None if self.condition_shape is None else list(self.condition_shape),
            "condition_num_embeddings": self.condition_num_embeddings,
            "condition_layers": self.condition_layers,
            "attention_every": self.attention_every,
            "attention_heads": self.attention_heads,
            "dropout": self.dropout,
        }


__all__ = ["PixelCNN"]
