"""Residual convolutional encoder and decoder of the VQ-VAE (van den Oord et al. 2017).

Encoder: ``n`` stride-2 4x4 convolutions (ReLU), a 3x3 convolution, a stack
of residual blocks ``h + conv1x1(relu(conv3x3(relu(h))))``, a ReLU and a
float32 1x1 projection to the output channels. For 28x28 or 32x32 images and
``num_downsamples=2`` the output is a 7x7 or 8x8 map. The decoder mirrors
it: a 3x3 convolution, the residual stack, ``n`` stride-2 4x4 transposed
convolutions and a float32 output of the requested shape.

Both are tensor-to-tensor networks; the decoder also accepts the latent map
flattened to ``[B, h * w * d]`` (the :class:`~tfvae.models.Autoencoder`
contract passes flat codes) and reshapes it to ``latent_shape``.

References:
  van den Oord, A., Vinyals, O. & Kavukcuoglu, K. (2017). Neural Discrete
  Representation Learning. NeurIPS (section 4.1: two stride-2 4x4
  convolutions, two 3x3 residual blocks of 256 units).
  He, K., Zhang, X., Ren, S. & Sun, J. (2016). Deep Residual Learning for
  Image Recognition. CVPR.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from tfvae.registry import serializable
from tfvae.validation import check_int


@serializable
class ResidualStack(keras.layers.Layer):
    """``num_blocks`` blocks ``h <- h + conv1x1(relu(conv3x3(relu(h))))``, then a ReLU.

    Args:
      filters: channels of ``h`` (input and output).
      residual_filters: channels inside each block.
      num_blocks: number of residual blocks.
    """

    def __init__(self, filters: int, residual_filters: int = 32, num_blocks: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.filters = check_int(filters, "filters", minimum=None)
        self.residual_filters = check_int(residual_filters, "residual_filters", minimum=None)
        self.num_blocks = check_int(num_blocks, "num_blocks", minimum=None)
        if min(self.filters, self.residual_filters) < 1 or self.num_blocks < 0:
            raise ValueError(
                f"filters and residual_filters must be >= 1 and num_blocks >= 0, got "
                f"{self.filters}, {self.residual_filters}, {self.num_blocks}"
            )
        self.inner = [
            keras.layers.Conv2D(self.residual_filters, 3, padding="same", name=f"block_{i}_conv3x3")
            for i in range(self.num_blocks)
        ]
        self.outer = [
            keras.layers.Conv2D(self.filters, 1, name=f"block_{i}_conv1x1") for i in range(self.num_blocks)
        ]

    def build(self, input_shape):
        shape = tuple(input_shape)
        for inner, outer in zip(self.inner, self.outer):
            inner.build(shape)
            outer.build(inner.compute_output_shape(shape))

    def call(self, h, training=False):
        for inner, outer in zip(self.inner, self.outer):
            h = h + outer(tf.nn.relu(inner(tf.nn.relu(h))))
        return tf.nn.relu(h)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "filters": self.filters,
            "residual_filters": self.residual_filters,
            "num_blocks": self.num_blocks,
        }


class _ResNetConfig(keras.layers.Layer):
    """Arguments and config shared by the residual encoder and decoder."""

    def __init__(
        self,
        filters: int = 128,
        residual_filters: int = 32,
        num_residual_blocks: int = 2,
        num_downsamples: int = 2,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = check_int(filters, "filters")
        self.residual_filters = check_int(residual_filters, "residual_filters")
        self.num_residual_blocks = check_int(num_residual_blocks, "num_residual_blocks", minimum=0)
        self.num_downsamples = check_int(num_downsamples, "num_downsamples", minimum=None)
        if self.num_downsamples < 0:
            raise ValueError(f"num_downsamples must be >= 0, got {self.num_downsamples}")
        self.residual = ResidualStack(self.filters, self.residual_filters, self.num_residual_blocks, name="residual")

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "filters": self.filters,
            "residual_filters": self.residual_filters,
            "num_residual_blocks": self.num_residual_blocks,
            "num_downsamples": self.num_downsamples,
        }


@serializable
class ResNetEncoder(_ResNetConfig):
    """Images ``[B, H, W, C]`` to feature maps ``[B, H / 2^n, W / 2^n, channels]`` (float32).

    Args:
      channels: output channels (the code dimension ``D`` before quantisation).
      filters: channels of the main path (the last downsampling stage has
        ``filters``, earlier ones ``filters // 2``).
      residual_filters: channels inside each residual block.
      num_residual_blocks: residual blocks after the downsampling.
      num_downsamples: stride-2 4x4 convolutions ``n``; height and width must be
        divisible by ``2 ** n``.
    """

    def __init__(self, channels: int, filters: int = 128, residual_filters: int = 32,
                 num_residual_blocks: int = 2, num_downsamples: int = 2, **kwargs):
        super().__init__(filters, residual_filters, num_residual_blocks, num_downsamples, **kwargs)
        self.channels = int(channels)
        if self.channels < 1:
            raise ValueError(f"channels must be >= 1, got {self.channels}")
        self.downsample = [
            keras.layers.Conv2D(
                self.filters if i == self.num_downsamples - 1 else max(self.filters // 2, 1),
                4, strides=2, padding="same", activation="relu", name=f"down_{i}",
            )
            for i in range(self.num_downsamples)
        ]
        self.middle = keras.layers.Conv2D(self.filters, 3, padding="same", name="middle")
        self.projection = keras.layers.Conv2D(self.channels, 1, dtype="float32", name="projection")

    def output_shape_for(self, image_shape: Sequence[int]) -> tuple[int, int, int]:
        """``(h, w, channels)`` of the output for images of ``image_shape`` ``(H, W, C)``."""
        height, width = int(image_shape[0]), int(image_shape[1])
        factor = 2**self.num_downsamples
        if height % factor or width % factor:
            raise ValueError(
                f"image size {height}x{width} must be divisible by 2**num_downsamples = {factor}"
            )
        return height // factor, width // factor, self.channels

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"ResNetEncoder expects images (batch, height, width, channels), got {tuple(input_shape)}")
        self.output_shape_for(input_shape[1:3])
        shape = tuple(input_shape)
        for layer in self.downsample:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.middle.build(shape)
        shape = self.middle.compute_output_shape(shape)
        self.residual.build(shape)
        self.projection.build(shape)

    def call(self, x, training=False):
        h = x
        for layer in self.downsample:
            h = layer(h)
        return self.projection(self.residual(self.middle(h), training=training))

    def get_config(self) -> dict:
        return {**super().get_config(), "channels": self.channels}


@serializable
class ResNetDecoder(_ResNetConfig):
    """Latent maps ``[B, h, w, d]`` (or flat ``[B, h*w*d]``) to ``[B, *target_shape]`` (float32).

    Args:
      target_shape: ``(H, W, C)`` of one output, ``H = h * 2^n``, ``W = w * 2^n``.
      latent_shape: ``(h, w, d)`` of one input map.
      filters: channels of the main path (mirrors the encoder).
      residual_filters: channels inside each residual block.
      num_residual_blocks: residual blocks before the upsampling.
      num_downsamples: stride-2 4x4 transposed convolutions ``n``.
    """

    def __init__(self, target_shape: Sequence[int], latent_shape: Sequence[int], filters: int = 128,
                 residual_filters: int = 32, num_residual_blocks: int = 2, num_downsamples: int = 2, **kwargs):
        super().__init__(filters, residual_filters, num_residual_blocks, num_downsamples, **kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)
        self.latent_shape = tuple(int(d) for d in latent_shape)
        if len(self.target_shape) != 3 or len(self.latent_shape) != 3:
            raise ValueError(
                f"target_shape and latent_shape must be (height, width, channels), got "
                f"{self.target_shape} and {self.latent_shape}"
            )
        factor = 2**self.num_downsamples
        if self.target_shape[:2] != (self.latent_shape[0] * factor, self.latent_shape[1] * factor):
            raise ValueError(
                f"a {self.latent_shape[0]}x{self.latent_shape[1]} latent map upsampled {self.num_downsamples} "
                f"times gives {self.latent_shape[0] * factor}x{self.latent_shape[1] * factor}, not the target "
                f"{self.target_shape[0]}x{self.target_shape[1]}"
            )
        self.middle = keras.layers.Conv2D(self.filters, 3, padding="same", name="middle")
        self.upsample = [
            keras.layers.Conv2DTranspose(max(self.filters // 2, 1), 4, strides=2, padding="same",
                                         activation="relu", name=f"up_{i}")
            for i in range(self.num_downsamples - 1)
        ]
        last = keras.layers.Conv2DTranspose if self.num_downsamples else keras.layers.Conv2D
        self.projection = last(
            self.target_shape[-1], 4 if self.num_downsamples else 3, strides=2 if self.num_downsamples else 1,
            padding="same", dtype="float32", name="projection",
        )

    def build(self, input_shape):
        shape = (None, *self.latent_shape)
        self.middle.build(shape)
        shape = self.middle.compute_output_shape(shape)
        self.residual.build(shape)
        for layer in self.upsample:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.projection.build(shape)

    def call(self, z, training=False):
        h = tf.reshape(z, [-1, *self.latent_shape])
        h = self.residual(self.middle(h), training=training)
        for layer in self.upsample:
            h = layer(h)
        return self.projection(h)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.target_shape)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "target_shape": list(self.target_shape),
            "latent_shape": list(self.latent_shape),
        }


def latent_size(latent_shape: Sequence[int]) -> int:
    """Number of entries of one latent map, ``h * w * d``."""
    return int(np.prod(latent_shape))
