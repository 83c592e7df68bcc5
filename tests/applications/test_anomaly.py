"""Anomaly detection: AUROC, thresholds, and a held-out digit class."""

import itertools
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfvae import VAE, Autoencoder, ConditionalVAE
from tfvae.applications import AnomalyDetector, anomaly_scores, auroc, fit_threshold
from tfvae.applications.anomaly import row_seeds
from tfvae.export import export_saved_model
from tfvae.metrics import iwae_log_likelihood


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


@pytest.fixture(scope="module")
def small_vae():
    return VAE.mlp(latent_dim=2, hidden_units=(8,), seed=0)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(3).uniform(0, 1, (7, 28, 28, 1)).astype("float32")


def test_vae_scores_are_seeded_negative_elbos_and_leave_the_model_generator_alone(small_vae, images):
    state = small_vae.seed_generator.state.numpy().copy()
    scores = anomaly_scores(small_vae, images, batch_size=3)
    np.testing.assert_array_equal(small_vae.seed_generator.state.numpy(), state)
    # row i is -ELBO with draws from the stateless seed (seed, i): the same whatever the batch size
    expected = [-small_vae.elbo(images[i : i + 1], seed=tf.constant([0, i], tf.int64))["elbo"].numpy()[0]
                for i in range(len(images))]
    np.testing.assert_allclose(scores, expected, rtol=1e-5)
    np.testing.assert_array_equal(anomaly_scores(small_vae, images, batch_size=7), scores)
    np.testing.assert_array_equal(anomaly_scores(small_vae, images, batch_size=3), scores)
    assert not np.allclose(anomaly_scores(small_vae, images, seed=1), scores)


def test_more_samples_lower_the_score_variance(small_vae, images):
    one = np.stack([anomaly_scores(small_vae, images[:2], seed=s) for s in range(24)])
    many = np.stack([anomaly_scores(small_vae, images[:2], seed=s, num_samples=16) for s in range(24)])
    ratio = many.std(axis=0) / one.std(axis=0)
    assert np.all(ratio < 0.5), ratio  # 1/sqrt(16) = 0.25 expected
    np.testing.assert_allclose(many.mean(axis=0), one.mean(axis=0), atol=4 * one.std(axis=0).max() / np.sqrt(24))


def test_iwae_scores_are_the_rows_iwae_estimates(small_vae, images):
    scores = anomaly_scores(small_vae, images[:3], iwae_k=50, seed=5)
    for i in range(3):
        estimate = iwae_log_likelihood(small_vae, images[i : i + 1], k=50, seed=tf.constant([5, i], tf.int64))
        np.testing.assert_allclose(scores[i], estimate.nll[0], rtol=1e-5)
    elbo = np.mean([anomaly_scores(small_vae, images[:3], seed=s) for s in range(8)], axis=0)
    assert np.all(scores < elbo)  # the tighter bound


@pytest.mark.slow  # an export loaded in a clean process: the conformance matrix does it for every kind in the fast pass
def test_the_exported_score_agrees_for_the_same_seed(small_vae, images, tmp_path):
    path = export_saved_model(small_vae, tmp_path / "vae", warmup=False)
    np.save(tmp_path / "x.npy", images)
    np.save(tmp_path / "seed.npy", row_seeds(9, 0, len(images)))
    served = tmp_path / "served.npy"
    script = (
        "import numpy as np, tensorflow as tf, sys\n"
        f"loaded = tf.saved_model.load({str(path)!r})\n"
        f"out = loaded.signatures['score'](x=tf.constant(np.load({str(tmp_path / 'x.npy')!r})), "
        f"seed=tf.constant(np.load({str(tmp_path / 'seed.npy')!r})))\n"
        f"np.save({str(served)!r}, out['score'].numpy())\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, timeout=300)
    np.testing.assert_allclose(np.load(served), anomaly_scores(small_vae, images, seed=9), rtol=1e-5)


def test_scoring_options_are_checked(small_vae, images):
    ae = Autoencoder.mlp(latent_dim=2, hidden_units=(8,), seed=0)
    with pytest.raises(ValueError, match="Autoencoder declares no likelihood bound"):
        anomaly_scores(ae, images, num_samples=4)
    with pytest.raises(ValueError, match="not both"):
        anomaly_scores(small_vae, images, num_samples=4, iwae_k=4)
    with pytest.raises(ValueError, match="num_samples"):
        anomaly_scores(small_vae, images, num_samples=0)
    with pytest.raises(ValueError, match="label"):
        anomaly_scores(ConditionalVAE.mlp(latent_dim=2, hidden_units=(8,), seed=0), images)
    np.testing.assert_array_equal(anomaly_scores(ae, images, seed=0), anomaly_scores(ae, images, seed=1))


def test_the_detector_scores_its_threshold_and_its_predictions_alike(small_vae, images):
    detector = AnomalyDetector.fit(small_vae, images, false_positive_rate=0.3, num_samples=4, seed=2)
    scores = anomaly_scores(small_vae, images, num_samples=4, seed=2)
    assert detector.threshold == pytest.approx(fit_threshold(scores, 0.3))
    np.testing.assert_array_equal(detector.score(images), scores)
    np.testing.assert_array_equal(detector.predict(images), scores > detector.threshold)


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
