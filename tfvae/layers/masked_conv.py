r"""Causal building blocks of PixelCNN priors: masked convolutions, gated blocks, causal attention.

A PixelCNN factorises a map of ``H x W`` discrete codes in raster order
(row by row, left to right; position ``p = i * W + j``)::

    p(x) = prod_p p(x_p | x_<p)

so the features that predict ``x_p`` may depend on the inputs at positions
``q < p`` only. Every layer here keeps one of two invariants, checked by the
tests through exact zeros of the gradient:

* *strictly causal*: output ``p`` depends on inputs ``q < p`` (mask ``"A"``);
* *causal*: output ``p`` depends on inputs ``q <= p`` (mask ``"B"``), so a
  stack ``A, B, B, ...`` stays strictly causal.

:class:`MaskedConv2D` is the masked convolution of PixelCNN (van den Oord et
al. 2016a). :class:`GatedPixelCNNBlock` is the gated block of van den Oord
et al. (2016b) with separate vertical and horizontal stacks, which removes
the blind spot of stacked raster masks. :class:`CausalSelfAttention2D` is a
PixelSNAIL-style (Chen et al. 2018) multi-head self-attention over the
flattened positions.

References:
  van den Oord, A., Kalchbrenner, N. & Kavukcuoglu, K. (2016a). Pixel
  Recurrent Neural Networks. ICML. arXiv:1601.06759.
  van den Oord, A., Kalchbrenner, N., Vinyals, O., Espeholt, L., Graves, A. &
  Kavukcuoglu, K. (2016b). Conditional Image Generation with PixelCNN
  Decoders. NeurIPS. arXiv:1606.05328.
  Chen, X., Mishra, N., Rohaninejad, M. & Abbeel, P. (2018). PixelSNAIL: An
  Improved Autoregressive Generative Model. ICML. arXiv:1712.09763.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from tfvae.registry import serializable

MASK_TYPES = ("A", "B")
REGIONS = ("raster", "vertical", "horizontal")


def causal_mask(kernel_size: Sequence[int], mask_type: str = "B", region: str = "raster") -> np.ndarray:
    """The 0/1 mask of a ``kernel_size`` kernel centred on the output pixel ``(ch, cw)``.

    Args:
      kernel_size: ``(kh, kw)``, both odd.
      mask_type: ``"A"`` excludes the centre tap, ``"B"`` keeps it.
      region: which taps may be seen besides the centre:

        * ``"raster"``: all rows above the centre and, in the centre row, the
          columns left of it (PixelCNN);
        * ``"vertical"``: every column of the rows above the centre (and the
          centre row itself with ``"B"``): the vertical stack;
        * ``"horizontal"``: the columns left of the centre in the centre row:
          the horizontal stack.

    Returns:
      float32 array ``(kh, kw)``.
    """
    kh, kw = (int(k) for k in kernel_size)
    if kh < 1 or kw < 1 or kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"masked convolutions need odd kernel sizes, got {kernel_size}")
    if mask_type not in MASK_TYPES:
        raise ValueError(f"mask_type must be one of {MASK_TYPES}, got {mask_type!r}")
    if region not in REGIONS:
        raise ValueError(f"region must be one of {REGIONS}, got {region!r}")
    ch, cw = kh // 2, kw // 2
    centre = 1 if mask_type == "B" else 0
    mask = np.zeros((kh, kw), np.float32)
    if region == "vertical":
        mask[: ch + centre, :] = 1.0
    else:
        if region == "raster":
            mask[:ch, :] = 1.0
        mask[ch, : cw + centre] = 1.0
    if not mask.any():
        raise ValueError(
            f"a {region} mask of type {mask_type} on a {kh}x{kw} kernel sees nothing; use a larger kernel"
        )
    return mask


def down_shift(x: tf.Tensor) -> tf.Tensor:
    """Move a ``[B, H, W, C]`` map one row down (zeros enter at the top): row ``i`` gets row ``i - 1``."""
    return tf.pad(x, [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :-1]


@serializable
class MaskedConv2D(keras.layers.Conv2D):
    r"""A stride-1 ``"same"`` convolution whose kernel is masked to stay causal in raster order.

    The kernel ``W`` of shape ``(kh, kw, C_in, filters)`` is multiplied by a
    fixed 0/1 mask ``M`` (:func:`causal_mask`) before every use::

        y[i, j] = b + sum_{r, s} (M * W)[r, s] . x[i + r - kh//2, j + s - kw//2]

    With ``region="raster"`` (PixelCNN) output ``(i, j)`` sees the rows above
    and the pixels left of ``(i, j)`` in its row, plus ``(i, j)`` itself with
    ``mask_type="B"``. ``"A"`` is for the first layer (which must not see the
    pixel it predicts), ``"B"`` for every later one. The convolution only runs
    over the bounding box of the mask (zero padding on the other sides), so the
    zero half of the kernel costs nothing; the stored kernel keeps its full
    shape.

    Args:
      filters: output channels.
      kernel_size: odd int or ``(kh, kw)``; use ``(1, k)`` for a horizontal stack.
      mask_type: ``"A"`` (centre excluded) or ``"B"`` (centre included).
      region: ``"raster"``, ``"vertical"`` or ``"horizontal"`` (see :func:`causal_mask`).
      **kwargs: other :class:`keras.layers.Conv2D` arguments (activation,
        use_bias, initializers, regularizers, ...). Strides, dilation and
        groups must be 1, padding ``"same"`` and data format channels last.

    References:
      van den Oord, A., Kalchbrenner, N. & Kavukcuoglu, K. (2016). Pixel
      Recurrent Neural Networks. ICML (section 3.4, masks A and B).
    """

    def __init__(self, filters: int, kernel_size, mask_type: str = "B", region: str = "raster", **kwargs):
        kwargs.setdefault("padding", "same")
        super().__init__(filters, kernel_size, **kwargs)
        if self.padding != "same":
            raise ValueError(f"MaskedConv2D pads causally ('same'), got padding={self.padding!r}")
        if tuple(self.strides) != (1, 1) or tuple(self.dilation_rate) != (1, 1) or self.groups != 1:
            raise ValueError("MaskedConv2D needs strides=1, dilation_rate=1 and groups=1")
        if self.data_format != "channels_last":
            raise ValueError("MaskedConv2D works on channels-last maps")
        self.mask_type = mask_type
        self.region = region
        self.mask = causal_mask(self.kernel_size, mask_type, region)
        rows, cols = np.nonzero(self.mask)
        ch, cw = self.kernel_size[0] // 2, self.kernel_size[1] // 2
        # Bounding box of the visible taps, widened to hold the centre so all pads are >= 0.
        self._box = (min(rows.min(), ch), max(rows.max(), ch) + 1, min(cols.min(), cw), max(cols.max(), cw) + 1)
        r0, r1, c0, c1 = self._box
        self._pads = [[0, 0], [ch - r0, r1 - 1 - ch], [cw - c0, c1 - 1 - cw], [0, 0]]

    def convolution_op(self, inputs, kernel):
        r0, r1, c0, c1 = self._box
        kernel = (kernel * tf.constant(self.mask[:, :, None, None], dtype=kernel.dtype))[r0:r1, c0:c1]
        return tf.nn.conv2d(tf.pad(inputs, self._pads), kernel, strides=1, padding="VALID")

    def get_config(self) -> dict:
        return {**super().get_config(), "mask_type": self.mask_type, "region": self.region}


def gate(features: tf.Tensor) -> tf.Tensor:
    """Gated activation ``tanh(a) * sigmoid(b)`` of ``features = [a, b]`` (split on channels)."""
    a, b = tf.split(features, 2, axis=-1)
    return tf.tanh(a) * tf.sigmoid(b)


@serializable
class GatedPixelCNNBlock(keras.layers.Layer):
    r"""One gated PixelCNN layer with a vertical and a horizontal stack (no blind spot).

    With ``p = filters``, ``*`` a masked convolution and ``c`` the conditioning::

        v_feat = V * v                                   (k x k, rows <= i: vertical "B")
        h_feat = H * h + W_vh down_shift(v_feat)         (1 x k, columns < j ("A") or <= j ("B"))
        v_out  = tanh(v_feat_a + c_a) . sigmoid(v_feat_b + c_b)
        h_out  = W_o (tanh(h_feat_a + c_a) . sigmoid(h_feat_b + c_b)) (+ h, for "B")
        c      = W_y y  (label features, a per-channel bias)  +  W_s * s  (spatial map, 1x1)

    The vertical stack at row ``i`` sees rows ``<= i`` of its input (including
    pixels right of ``j``), so it only reaches the horizontal stack after a
    one-row ``down_shift``: ``h_out`` at ``(i, j)`` then sees every row above
    (left *and right* of ``j``, hence no blind spot) and the pixels left of
    ``j`` in row ``i``. The first block uses ``mask_type="A"`` and no
    residual: its ``h_out`` is strictly causal in the raw inputs. Later blocks
    use ``"B"`` on both stacks and keep that property.

    ``call(v, h, label=None, condition=None)`` returns ``(v_out, h_out)``.

    Args:
      filters: channels ``p`` of both stacks' outputs (the gates use ``2p``).
      kernel_size: odd kernel size ``k``.
      mask_type: ``"A"`` for the first block, ``"B"`` for the others.
      label_dim: size of the label features ``y`` (``0``: no label).
      condition_channels: channels of the spatial conditioning map ``s``,
        already at this block's resolution (``0``: none).
      dropout: dropout rate on the gated horizontal features.
      seed: seed of the dropout.

    References:
      van den Oord, A. et al. (2016). Conditional Image Generation with
      PixelCNN Decoders. NeurIPS (section 2.2, figure 2; eq. 4-5 for conditioning).
    """

    def __init__(self, filters: int, kernel_size: int = 3, mask_type: str = "B", label_dim: int = 0,
                 condition_channels: int = 0, dropout: float = 0.0, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if int(filters) < 1:
            raise ValueError(f"filters must be >= 1, got {filters}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.mask_type = mask_type
        self.label_dim = int(label_dim)
        self.condition_channels = int(condition_channels)
        self.dropout = float(dropout)
        self.seed = seed
        gated = 2 * self.filters
        self.vertical = MaskedConv2D(gated, self.kernel_size, "B", "vertical", name="vertical")
        self.horizontal = MaskedConv2D(gated, (1, self.kernel_size), mask_type, "horizontal", name="horizontal")
        self.vertical_to_horizontal = keras.layers.Conv2D(gated, 1, name="vertical_to_horizontal")
        self.horizontal_out = keras.layers.Conv2D(self.filters, 1, name="horizontal_out")
        self.label_projection = (
            keras.layers.Dense(gated, use_bias=False, name="label_projection") if self.label_dim else None
        )
        self.condition_projection = (
            keras.layers.Conv2D(gated, 1, use_bias=False, name="condition_projection")
            if self.condition_channels else None
        )
        self.drop = keras.layers.Dropout(self.dropout, seed=seed, name="dropout") if self.dropout else None

    @property
    def residual(self) -> bool:
        return self.mask_type == "B"

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"GatedPixelCNNBlock expects maps (batch, height, width, channels), got {input_shape}")
        if self.residual and input_shape[-1] != self.filters:
            raise ValueError(
                f"a 'B' block adds its input back: it needs {self.filters} input channels, got {input_shape[-1]}"
            )
        shape = tuple(input_shape)
        gated_shape = (*shape[:-1], 2 * self.filters)
        self.vertical.build(shape)
        self.horizontal.build(shape)
        self.vertical_to_horizontal.build(gated_shape)
        self.horizontal_out.build((*shape[:-1], self.filters))
        if self.label_projection is not None:
            self.label_projection.build((None, self.label_dim))
        if self.condition_projection is not None:
            self.condition_projection.build((*shape[:-1], self.condition_channels))

    def call(self, v, h, label=None, condition=None, training=None):
        if (label is None) != (self.label_projection is None):
            raise ValueError(f"{self.name}: label features {'missing' if label is None else 'not expected'}")
        if (condition is None) != (self.condition_projection is None):
            raise ValueError(f"{self.name}: condition map {'missing' if condition is None else 'not expected'}")
        v_feat = self.vertical(v)
        h_feat = self.horizontal(h) + self.vertical_to_horizontal(down_shift(v_feat))
        if label is not None:
            bias = self.label_projection(label)[:, None, None, :]
            v_feat, h_feat = v_feat + bias, h_feat + bias
        if condition is not None:
            spatial = self.condition_projection(condition)
            v_feat, h_feat = v_feat + spatial, h_feat + spatial
        gated = gate(h_feat)
        if self.drop is not None:
            gated = self.drop(gated, training=training)
        h_out = self.horizontal_out(gated)
        if self.residual:
            h_out = h_out + h
        return gate(v_feat), h_out

    def compute_output_shape(self, input_shape):
        shape = (*tuple(input_shape)[:-1], self.filters)
        return shape, shape

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "mask_type": self.mask_type,
            "label_dim": self.label_dim,
            "condition_channels": self.condition_channels,
            "dropout": self.dropout,
            "seed": self.seed,
        }


@serializable
class CausalSelfAttention2D(keras.layers.Layer):
    r"""Multi-head self-attention over a ``[B, H, W, C]`` map, causal in raster order.

    The map is flattened row-major to ``T = H * W`` positions (``p = i * W +
    j``, the order of the convolution masks), a learned position embedding
    ``e_p`` is added and::

        u   = LayerNorm(h) + e
        out = h + MHA(query=u, key=u, value=u, mask[p, q] = (q <= p))

    The mask is the lower triangle *including the diagonal*, so the output is
    exactly as causal as its input: if ``h`` at ``q`` depends on the data at
    positions ``< q`` only (the horizontal stack of a gated PixelCNN after an
    ``"A"`` block), the output at ``p`` depends on data at positions ``< p``
    only, and position ``p`` may attend to itself without seeing ``x_p``. Do
    not feed it a map that already saw the pixel at its own position.
    Including the diagonal also means no query row is fully masked (the first
    position attends to itself), so the softmax never divides by zero.

    Args:
      num_heads: attention heads.
      key_dim: size of each head's queries and keys (default ``C // num_heads``).
      dropout: dropout rate on the attention weights.
      seed: seed of the dropout.

    References:
      Chen, X. et al. (2018). PixelSNAIL: An Improved Autoregressive
      Generative Model. ICML (causal attention blocks between convolutions).
      Vaswani, A. et al. (2017). Attention Is All You Need. NeurIPS.
    """

    def __init__(self, num_heads: int = 4, key_dim: int | None = None, dropout: float = 0.0,
                 seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if int(num_heads) < 1:
            raise ValueError(f"num_heads must be >= 1, got {num_heads}")
        if key_dim is not None and int(key_dim) < 1:
            raise ValueError(f"key_dim must be None or >= 1, got {key_dim}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.num_heads = int(num_heads)
        self.key_dim = None if key_dim is None else int(key_dim)
        self.dropout = float(dropout)
        self.seed = seed
        self.norm = keras.layers.LayerNormalization(name="norm")
        self.attention = None

    def build(self, input_shape):
        if len(input_shape) != 4 or any(d is None for d in input_shape[1:]):
            raise ValueError(f"CausalSelfAttention2D needs maps (batch, H, W, C) of known size, got {input_shape}")
        _, height, width, channels = (int(d) if d is not None else None for d in input_shape)
        key_dim = self.key_dim or max(1, channels // self.num_heads)
        self.attention = keras.layers.MultiHeadAttention(
            self.num_heads, key_dim, output_shape=channels, dropout=self.dropout, seed=self.seed, name="attention"
        )
        tokens = (None, height * width, channels)
        self.norm.build(tokens)
        self.attention.build(tokens, tokens)
        self.position = self.add_weight(
            name="position", shape=(height * width, channels),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
        )

    def call(self, inputs, training=None):
        shape = tf.shape(inputs)
        _, height, width, channels = inputs.shape
        tokens = tf.reshape(inputs, [shape[0], height * width, channels])
        u = self.norm(tokens) + tf.cast(self.position, tokens.dtype)
        out = self.attention(u, u, u, use_causal_mask=True, training=training)
        return inputs + tf.reshape(tf.cast(out, inputs.dtype), shape)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "key_dim": self.key_dim,
            "dropout": self.dropout,
            "seed": self.seed,
        }


__all__ = ["CausalSelfAttention2D", "GatedPixelCNNBlock", "MaskedConv2D", "causal_mask", "down_shift", "gate"]
