"""Fixtures of the picture tests: small models and real digits."""

import io
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import tfvae


@pytest.fixture(scope="session")
def vae_2d(digits):
    """An MLP VAE with a 2-D latent space, briefly trained on real digits (~3 s)."""
    x, _ = digits
    model = tfvae.VAE.mlp(latent_dim=2, hidden_units=(64,), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    model.fit(x[:4000], batch_size=100, epochs=2, verbose=0)
    return model


@pytest.fixture
def examples(digits):
    from tfvae.viz import Examples

    x, y = digits
    return Examples(x[4000:4300], y[4000:4300], seed=0)


def read_images(log_dir) -> dict[str, dict[int, np.ndarray]]:
    """``{tag: {step: uint8 image}}`` of every image summary under ``log_dir``."""
    found: dict[str, dict[int, np.ndarray]] = {}
    for path in sorted(Path(log_dir).rglob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name != "images":
                    continue
                # tensor summary: [width, height, png, ...] as strings
                strings = tf.make_ndarray(value.tensor)
                width, height = int(strings[0]), int(strings[1])
                image = np.asarray(Image.open(io.BytesIO(strings[2])))
                assert image.shape[:2] == (height, width)
                found.setdefault(value.tag, {})[int(event.step)] = image
    return found


@pytest.fixture
def tensorboard_images():
    """``tensorboard_images(log_dir) -> {tag: {step: uint8 image}}`` read from the event files."""
    return read_images
