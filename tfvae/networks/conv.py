"""Convolutional encoder and transposed-convolution decoder for small images."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from tfvae.networks.mlp import check_activation
from tfvae.registry import serializable
from tfvae.validation import check_int, check_ints


class _ConvNetwork(keras.layers.Layer):
    """Arguments and config shared by the convolutional encoder and decoder."""

    def __init__(
        self,
        target_shape: Sequence[int],
        filters: Sequence[int],
        kernel_size: int,
        hidden_units: Sequence[int],
        activation: str,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.target_shape = check_ints(target_shape, "target_shape")
        self.filters = check_ints(filters, "filters")
        self.kernel_size = check_int(kernel_size, "kernel_size")
        self.hidden_units = check_ints(hidden_units, "hidden_units")
        self.activation = check_activation(activation)
        self.hidden = [
            keras.layers.Dense(u, activation=activation, name=f"dense_{i}") for i, u in enumerate(self.hidden_units)
        ]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.target_shape)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "target_shape": list(self.target_shape),
            "filters": list(self.filters),
            "kernel_size": self.kernel_size,
            "hidden_units": list(self.hidden_units),
            "activation": self.activation,
        }


@serializable
class ConvEncoder(_ConvNetwork):
    """LeNet-like encoder: strided 3x3 convolutions, a dense layer, a float32 output.

    ``28x28x1 -> conv32/2 -> conv64/2 -> dense(hidden) -> dense(target)``.

    Args:
      target_shape: shape of one output example, e.g. ``(2 * latent_dim,)``.
      filters: channels of each stride-2 convolution.
      kernel_size: convolution kernel size.
      hidden_units: widths of the dense layers after flattening.
      activation: hidden activation.
    """

    def __init__(
        self,
        target_shape: Sequence[int],
        filters: Sequence[int] = (32, 64),
        kernel_size: int = 3,
        hidden_units: Sequence[int] = (256,),
        activation: str = "relu",
        **kwargs,
    ):
        super().__init__(target_shape, filters, kernel_size, hidden_units, activation, **kwargs)
        self.convs = [
            keras.layers.Conv2D(f, self.kernel_size, strides=2, padding="same", activation=activation, name=f"conv_{i}")
            for i, f in enumerate(self.filters)
        ]
        self.flatten = keras.layers.Flatten()
        self.projection = keras.layers.Dense(int(np.prod(self.target_shape)), dtype="float32", name="projection")

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"ConvEncoder expects images (batch, height, width, channels), got {tuple(input_shape)}")
        shape = tuple(input_shape)
        for conv in self.convs:
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
        width = int(np.prod(shape[1:]))
        for layer in self.hidden:
            layer.build((None, width))
            width = layer.units
        self.projection.build((None, width))

    def call(self, inputs, training=False):
        h = inputs
        for conv in self.convs:
            h = conv(h, training=training)
        h = self.flatten(h)
        for layer in self.hidden:
            h = layer(h, training=training)
        return tf.reshape(self.projection(h), [-1, *self.target_shape])


@serializable
class ConvDecoder(_ConvNetwork):
    """Transposed-convolution decoder to an image of ``target_shape``.

    ``z -> dense(hidden) -> dense(ceil(h/2^n) * ceil(w/2^n) * filters[0]) ->
    reshape -> n stride-2 transposed convs -> 3x3 float32 conv to the output
    channels -> centred crop to h x w``.

    Any image size works: when ``h`` or ``w`` is not divisible by ``2^n`` the
    upsampled map is up to ``2^n - 1`` pixels larger and its centre is kept
    (30x30 with two stages: 32x32, cropped by 1 on each side). Divisible sizes
    are not cropped.

    Args:
      target_shape: ``(height, width, channels)`` of one output.
      filters: channels of each stride-2 transposed convolution.
      kernel_size: convolution kernel size.
      hidden_units: widths of the dense layers before the reshape.
      activation: hidden activation.
    """

    def __init__(
        self,
        target_shape: Sequence[int],
        filters: Sequence[int] = (64, 32),
        kernel_size: int = 3,
        hidden_units: Sequence[int] = (256,),
        activation: str = "relu",
        **kwargs,
    ):
        super().__init__(target_shape, filters, kernel_size, hidden_units, activation, **kwargs)
        if len(self.target_shape) != 3:
            raise ValueError(f"ConvDecoder makes images (height, width, channels), got target_shape {self.target_shape}")
        if not self.filters:
            raise ValueError("ConvDecoder needs at least one filter size")
        factor = 2 ** len(self.filters)
        height, width, channels = self.target_shape
        self.base_shape = (-(-height // factor), -(-width // factor), self.filters[0])
        # rows/columns the upsampled map has beyond the target: cropped, the extra one at the bottom/right
        extra = (self.base_shape[0] * factor - height, self.base_shape[1] * factor - width)
        self.crop = tuple((e // 2, e // 2 + height_or_width) for e, height_or_width in zip(extra, (height, width)))
        self.to_base = keras.layers.Dense(int(np.prod(self.base_shape)), activation=activation, name="to_base")
        self.deconvs = [
            keras.layers.Conv2DTranspose(
                f, self.kernel_size, strides=2, padding="same", activation=activation, name=f"deconv_{i}"
            )
            for i, f in enumerate(self.filters)
        ]
        self.projection = keras.layers.Conv2D(channels, self.kernel_size, padding="same", dtype="float32", name="projection")

    def build(self, input_shape):
        width = int(input_shape[-1])
        for layer in self.hidden:
            layer.build((None, width))
            width = layer.units
        self.to_base.build((None, width))
        shape = (None, *self.base_shape)
        for deconv in self.deconvs:
            deconv.build(shape)
            shape = deconv.compute_output_shape(shape)
        self.projection.build(shape)

    def call(self, inputs, training=False):
        h = inputs
        for layer in self.hidden:
            h = layer(h, training=training)
        h = tf.reshape(self.to_base(h), [-1, *self.base_shape])
        for deconv in self.deconvs:
            h = deconv(h, training=training)
        (top, bottom), (left, right) = self.crop
        return self.projection(h)[:, top:bottom, left:right, :]
