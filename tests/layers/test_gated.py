"""The TD-VAE gated transition under mixed precision: the mix and its projections stay float32."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from tfvae.layers.gated import GatedTransition

LATENT, UNITS, FLOOR = 4, 8, 1e-3


def transition(policy: str | None, weights=None) -> GatedTransition:
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy or "float32")
    try:
        layer = GatedTransition(LATENT, UNITS)
        layer.build((None, 6), (None, LATENT))
    finally:
        keras.config.set_dtype_policy(previous)
    if weights is not None:
        layer.set_weights(weights)
    return layer


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_transition_log_prob_under_mixed_precision_matches_float32_at_a_small_sigma(policy, rng):
    reference = transition(None)
    weights = []
    for w in reference.weights:
        value = rng.normal(size=w.shape).astype("float32")
        if "hidden" in w.path and "bias" in w.path:
            value = np.abs(np.round(value * 4) / 4)  # hidden outputs relu(b) exact in 16 bits too
        if w.path.endswith("scale/bias"):
            value = np.full(w.shape, -9.0, "float32")  # softplus(-9) = 1.2e-4: sigma ~ scale_floor
        if w.path.endswith("scale/kernel"):
            value = np.zeros(w.shape, "float32")
        weights.append(value)
    reference.set_weights(weights)
    mixed = transition(policy, weights)
    inputs = np.zeros((16, 6), "float32")  # the hidden layers see only their (exact) biases
    residual = rng.normal(scale=3.0, size=(16, LATENT)).astype("float32")  # a float32 z, not 16-bit exact
    out32 = reference(inputs, residual).numpy()
    out16 = mixed(inputs, residual)
    assert out16.dtype == tf.float32
    mean, raw = out32[:, :LATENT].astype(np.float64), out32[:, LATENT:].astype(np.float64)
    sigma = np.logaddexp(0.0, raw) + FLOOR
    assert sigma.max() < 2e-3
    z = mean + 0.7 * sigma
    log_p32 = stats.norm.logpdf(z, mean, sigma).sum(axis=1)
    mean16, raw16 = out16.numpy()[:, :LATENT].astype(np.float64), out16.numpy()[:, LATENT:].astype(np.float64)
    log_p16 = stats.norm.logpdf(z, mean16, np.logaddexp(0.0, raw16) + FLOOR).sum(axis=1)
    np.testing.assert_allclose(log_p16, log_p32, rtol=1e-4)
