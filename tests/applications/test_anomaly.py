"""Anomaly detection: AUROC, thresholds, and a held-out digit class."""

import itertools

import keras
import numpy as np
import pytest

from tfvae import VAE, Autoencoder
from tfvae.applications import AnomalyDetector, anomaly_scores, auroc, fit_threshold


def brute_force_auroc(normal, anomalous):
    pairs = list(itertools.product(anomalous, normal))
    return np.mean([1.0 if a > n else 0.5 if a == n else 0.0 for a, n in pairs])


def test_auroc_matches_its_definition(rng):
    for _ in range(5):
        normal = rng.integers(0, 6, 40).astype(float)  # ties on purpose
        anomalous = rng.integers(2, 9, 30).astype(float)
        assert auroc(normal, anomalous) == pytest.approx(brute_force_auroc(normal, anomalous))
    assert auroc([0, 1], [2, 3]) == 1.0 and auroc([2, 3], [0, 1]) == 0.0
    with pytest.raises(ValueError, match="at least one"):
        auroc([], [1.0])


def test_threshold_holds_the_false_positive_rate(rng):
    scores = rng.normal(size=10_000)
    threshold = fit_threshold(scores, 0.05)
    assert np.mean(scores > threshold) == pytest.approx(0.05, abs=0.002)
    with pytest.raises(ValueError, match="false_positive_rate"):
        fit_threshold(scores, 1.5)


def test_vae_scores_are_the_negative_elbo(rng):
    x = rng.uniform(0, 1, (7, 28, 28, 1)).astype("float32")
    model = VAE.mlp(latent_dim=2, hidden_units=(8,), seed=0)
    state = model.seed_generator.state.numpy()
    scores = anomaly_scores(model, x, batch_size=3)
    model.seed_generator.state.assign(state)
    expected = np.concatenate([-model.elbo(x[i : i + 3])["elbo"].numpy() for i in range(0, 7, 3)])
    np.testing.assert_allclose(scores, expected, rtol=1e-5)


def test_a_held_out_digit_class_is_detected(digits):
    x, y = digits
    held_out = 2
    train = x[:4000][y[:4000] != held_out]
    normal, odd = x[4000:][y[4000:] != held_out], x[4000:][y[4000:] == held_out]
    model = Autoencoder.mlp(latent_dim=8, hidden_units=(256,), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(train, batch_size=100, epochs=5, verbose=0)
    area = auroc(anomaly_scores(model, normal), anomaly_scores(model, odd))
    assert area > 0.75, area  # measured about 0.90

    detector = AnomalyDetector.fit(model, normal[:450], false_positive_rate=0.1)
    false_alarms = detector.predict(normal[450:]).mean()
    assert false_alarms < 0.2
    assert detector.predict(odd).mean() > false_alarms + 0.2
