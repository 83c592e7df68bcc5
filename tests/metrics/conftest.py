"""Fixtures of the metrics tests: small models, one of them trained on real digits."""

import keras
import numpy as np
import pytest

import tfvae


@pytest.fixture(scope="session")
def trained_vae(digits):
    """An MLP VAE (784-128-8) trained 8 epochs on 4,000 statically binarised digits (~5 s)."""
    x, _ = digits
    binary = (np.random.default_rng(1).random(x.shape) < x).astype("float32")
    model = tfvae.VAE.mlp(latent_dim=8, hidden_units=(128,), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    model.fit(binary[:4000], batch_size=100, epochs=8, verbose=0)
    return model, binary[4000:]
