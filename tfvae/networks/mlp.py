"""Multi-layer perceptron: any input shape to any output shape."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from tfvae.registry import ACTIVATIONS, serializable
from tfvae.validation import check_ints


def check_activation(activation: str) -> str:
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    return activation


@serializable
class MLP(keras.layers.Layer):
    """Flatten, ``len(hidden_units)`` dense layers, then a float32 linear output.

    Used as the encoder (``x -> posterior parameters``) and the decoder
    (``z -> likelihood parameters``) of the 784-512-256 style models. Hidden
    layers compute in the mixed-precision policy's dtype; the output layer is
    float32 so the heads get float32 parameters.

    Args:
      target_shape: shape of one output example, e.g. ``(32,)`` or ``(28, 28, 1)``.
      hidden_units: widths of the hidden layers.
      activation: hidden activation (``"relu"``, ``"elu"``, ``"tanh"``, ...).
    """

    def __init__(
        self,
        target_shape: Sequence[int],
        hidden_units: Sequence[int] = (512, 256),
        activation: str = "relu",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.target_shape = check_ints(target_shape, "target_shape")
        self.hidden_units = check_ints(hidden_units, "hidden_units")
        self.activation = check_activation(activation)
        self.hidden = [
            keras.layers.Dense(units, activation=activation, name=f"dense_{i}")
            for i, units in enumerate(self.hidden_units)
        ]
        self.projection = keras.layers.Dense(int(np.prod(self.target_shape)), dtype="float32", name="projection")

    def build(self, input_shape):
        width = int(np.prod(input_shape[1:]))
        for layer in self.hidden:
            layer.build((None, width))
            width = layer.units
        self.projection.build((None, width))

    def call(self, inputs, training=False):
        h = tf.reshape(inputs, [tf.shape(inputs)[0], -1])
        for layer in self.hidden:
            h = layer(h, training=training)
        out = self.projection(h)
        return tf.reshape(out, [-1, *self.target_shape])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.target_shape)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "target_shape": list(self.target_shape),
            "hidden_units": list(self.hidden_units),
            "activation": self.activation,
        }
