"""Shared test harness (keras-hub style): config and ``.keras`` round trips."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np


@keras.saving.register_keras_serializable(package="tfvae_tests")
class LayerHolder(keras.Model):
    """A model that only holds one layer, so a layer can go through a ``.keras`` file."""

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        self.layer = layer if isinstance(layer, keras.layers.Layer) else keras.saving.deserialize_keras_object(layer)
        self.built = True

    def call(self, inputs):
        return inputs

    def get_config(self):
        return {"name": self.name, "layer": keras.saving.serialize_keras_object(self.layer)}


def _assert_same_weights(a: keras.layers.Layer, b: keras.layers.Layer) -> None:
    assert len(a.weights) == len(b.weights)
    for wa, wb in zip(a.weights, b.weights):
        np.testing.assert_array_equal(np.asarray(wa), np.asarray(wb))


def run_serialization_test(layer: keras.layers.Layer, output: Callable, tmp_path: Path) -> None:
    """Config round trip and ``.keras`` round trip of one layer.

    Args:
      layer: a built layer (its weights should not be at their initial values
        when that matters: the test perturbs them first).
      output: ``output(layer) -> array`` computed deterministically from the layer.
      tmp_path: where the ``.keras`` file goes.
    """
    for w in layer.trainable_weights:  # move weights off their initial values
        w.assign(np.asarray(w) + np.random.default_rng(1).normal(0, 0.01, w.shape).astype(w.dtype))
    expected = np.asarray(output(layer))

    config = keras.saving.serialize_keras_object(layer)
    clone = keras.saving.deserialize_keras_object(config)
    assert type(clone) is type(layer)
    assert keras.saving.serialize_keras_object(clone)["config"] == config["config"]
    output(clone)  # builds the clone
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(output(clone)), expected, rtol=1e-6, atol=1e-6)

    path = tmp_path / f"{layer.name}.keras"
    LayerHolder(layer).save(path)
    loaded = keras.saving.load_model(path).layer
    assert type(loaded) is type(layer)
    assert keras.saving.serialize_keras_object(loaded)["config"] == config["config"]
    _assert_same_weights(layer, loaded)
    np.testing.assert_allclose(np.asarray(output(loaded)), expected, rtol=1e-6, atol=1e-6)
