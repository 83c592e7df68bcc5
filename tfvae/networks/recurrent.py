"""Recurrent encoder and free-running recurrent decoder for sequences ``[B, T, F]``."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from tfvae.registry import serializable
from tfvae.validation import check_int, check_ints

CELLS = ("gru", "lstm")


def _check_cell(cell: str) -> str:
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")
    return cell


def sequence_mask(x: tf.Tensor, padding_value: float = 0.0) -> tf.Tensor:
    """``[B, T]`` booleans: a time step is valid unless all its features equal ``padding_value``.

    The rule of ``keras.layers.Masking``.
    """
    return tf.reduce_any(tf.not_equal(x, padding_value), axis=-1)


@serializable
class RecurrentEncoder(keras.layers.Layer):
    """GRU/LSTM over a padded sequence; its final state, projected, is the output.

    Padded time steps (all features equal to ``padding_value``) are masked, so
    the final state is the state after the last valid step.

    Args:
      target_shape: shape of one output example, e.g. ``(latent_dim,)``.
      units: recurrent units.
      cell: ``"gru"`` or ``"lstm"``.
      padding_value: the value that marks padded time steps.
    """

    def __init__(self, target_shape: Sequence[int], units: int = 64, cell: str = "gru",
                 padding_value: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = check_ints(target_shape, "target_shape")
        self.units = check_int(units, "units")
        self.cell = _check_cell(cell)
        self.padding_value = float(padding_value)
        layer = keras.layers.GRU if cell == "gru" else keras.layers.LSTM
        self.rnn = layer(self.units, name=cell)
        self.projection = keras.layers.Dense(int(np.prod(self.target_shape)), dtype="float32", name="projection")

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"RecurrentEncoder expects sequences (batch, time, features), got {tuple(input_shape)}")
        self.rnn.build(tuple(input_shape))
        self.projection.build((None, self.units))

    def call(self, inputs, training=False):
        mask = sequence_mask(inputs, self.padding_value)
        h = self.rnn(inputs, mask=mask, training=training)
        return tf.reshape(self.projection(h), [-1, *self.target_shape])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.target_shape)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "target_shape": list(self.target_shape),
            "units": self.units,
            "cell": self.cell,
            "padding_value": self.padding_value,
        }


@serializable
class RecurrentDecoder(keras.layers.Layer):
    """A free-running GRU/LSTM decoder: ``z`` sets the initial state, each output is fed back.

    ``s_0 = tanh(A z + a)``; ``y_0 = 0``; for ``t = 1..T``:
    ``s_t = cell(y_{t-1}, s_{t-1})``, ``y_t = B s_t + b``. Outputs ``[B, T, F]``.

    Args:
      target_shape: ``(T, F)``, the length and features of the output sequence.
      units: recurrent units.
      cell: ``"gru"`` or ``"lstm"``.
    """

    def __init__(self, target_shape: Sequence[int], units: int = 64, cell: str = "gru", **kwargs):
        super().__init__(**kwargs)
        self.target_shape = check_ints(target_shape, "target_shape")
        if len(self.target_shape) != 2:
            raise ValueError(f"RecurrentDecoder makes sequences (time, features), got target_shape {self.target_shape}")
        self.units = check_int(units, "units")
        self.cell = _check_cell(cell)
        self.rnn_cell = (keras.layers.GRUCell if cell == "gru" else keras.layers.LSTMCell)(self.units, name=f"{cell}_cell")
        states = 1 if cell == "gru" else 2
        self.initial_state = keras.layers.Dense(states * self.units, activation="tanh", name="initial_state")
        self.projection = keras.layers.Dense(self.target_shape[1], dtype="float32", name="projection")

    def build(self, input_shape):
        self.initial_state.build((None, int(input_shape[-1])))
        self.rnn_cell.build((None, self.target_shape[1]))
        self.projection.build((None, self.units))

    def call(self, inputs, training=False):
        length, features = self.target_shape
        state = self.initial_state(inputs)
        states = [state] if self.cell == "gru" else list(tf.split(state, 2, axis=-1))
        y = tf.zeros([tf.shape(inputs)[0], features], tf.float32)
        outputs = []
        for _ in range(length):
            h, states = self.rnn_cell(y, states, training=training)
            states = states if isinstance(states, (list, tuple)) else [states]
            y = self.projection(h)
            outputs.append(y)
        return tf.stack(outputs, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.target_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "target_shape": list(self.target_shape), "units": self.units, "cell": self.cell}
