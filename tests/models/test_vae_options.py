"""VAE options: KL warm-up, free bits, and the capacity-controlled beta-VAE."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfvae import VAE, BetaVAE
from tfvae.kl import per_dimension_kl
from tfvae.loops import train_loop

SHAPE = (28, 28, 1)


@pytest.fixture
def x(rng):
    return rng.uniform(0, 1, (8, *SHAPE)).astype("float32")


def test_steps_are_counted_by_both_drivers(x):
    model = VAE.mlp(SHAPE, latent_dim=2, hidden_units=(8,), seed=0)
    model.compile(optimizer="adam")
    model.fit(x, batch_size=4, epochs=2, verbose=0)
    assert int(model.steps_done) == 4
    train_loop(model, x, batch_size=4, epochs=1, verbose=0)
    assert int(model.steps_done) == 6


def test_kl_warmup_ramps_beta_linearly(x):
    model = VAE.mlp(SHAPE, latent_dim=2, hidden_units=(8,), beta=2.0, kl_warmup_steps=10, seed=0)
    for step, expected in [(0, 0.0), (5, 1.0), (10, 2.0), (50, 2.0)]:
        model.steps_done.assign(step)
        assert float(model.current_beta()) == pytest.approx(expected)
        state = model.seed_generator.state.numpy()
        terms = model.loss_terms(x)
        model.seed_generator.state.assign(state)
        np.testing.assert_allclose(terms["loss"], terms["distortion"] + expected * terms["rate"], rtol=1e-5)
        assert float(terms["elbo"]) == pytest.approx(-float(terms["distortion"] + terms["rate"]), rel=1e-5)


def test_free_bits_floor_each_dimension(x):
    model = VAE.mlp(SHAPE, latent_dim=4, hidden_units=(8,), free_bits=0.5, seed=0)
    state = model.seed_generator.state.numpy()
    terms = model.loss_terms(x)
    model.seed_generator.state.assign(state)
    q = model.encode(x)
    per_dim = per_dimension_kl(q, model.prior()).numpy()
    np.testing.assert_allclose(per_dim.sum(1), model.elbo(x)["rate"].numpy(), rtol=1e-4)  # sums to the KL
    floored = np.maximum(0.5, per_dim.mean(0)).sum()
    np.testing.assert_allclose(terms["loss"], terms["distortion"] + floored, rtol=1e-5)
    # dimensions under the floor get no gradient from the rate
    model.steps_done.assign(0)
    with tf.GradientTape() as tape:
        rate_part = model.penalised_rate(model.per_example_terms(tf.constant(x)))
        loss = tf.reduce_mean(rate_part)
    grads = tape.gradient(loss, model.encoder.trainable_variables)
    if np.all(per_dim.mean(0) < 0.5):
        assert all(g is None or np.allclose(g, 0) for g in grads)
    with pytest.raises(ValueError, match="free_bits must be >= 0"):
        VAE.mlp(SHAPE, free_bits=-1.0)


def test_capacity_schedule_and_objective(x):
    model = BetaVAE.mlp(SHAPE, latent_dim=2, hidden_units=(8,), capacity_max=20.0, capacity_steps=100, gamma=50.0, seed=0)
    assert "capacity" in model.loss_term_names
    model.steps_done.assign(25)
    assert float(model.capacity()) == pytest.approx(5.0)
    state = model.seed_generator.state.numpy()
    terms = model.loss_terms(x)
    np.testing.assert_allclose(terms["capacity"], 5.0)
    np.testing.assert_allclose(terms["loss"], terms["distortion"] + 50.0 * abs(float(terms["rate"]) - 5.0), rtol=1e-5)
    model.steps_done.assign(1000)
    model.seed_generator.state.assign(state)
    assert float(model.loss_terms(x)["capacity"]) == pytest.approx(20.0)
    config = json.loads(json.dumps(model.get_config()))
    clone = BetaVAE.from_config(config)
    assert clone.capacity_max == 20.0 and clone.capacity_steps == 100 and clone.gamma == 50.0


def test_kl_tracks_the_capacity_schedule_during_training(digits):
    train = digits[0][:3000]
    steps_per_epoch, epochs = 30, 6
    model = BetaVAE.mlp(SHAPE, latent_dim=8, hidden_units=(256,), capacity_max=15.0,
                        capacity_steps=steps_per_epoch * 4, gamma=30.0, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = model.fit(train, batch_size=100, epochs=epochs, verbose=0).history
    rate, capacity = np.array(history["rate"]), np.array(history["capacity"])
    assert np.all(np.diff(capacity[:4]) > 0) and capacity[-1] == pytest.approx(15.0)
    # after the first epoch the epoch-mean KL follows the epoch-mean capacity
    assert np.all(np.abs(rate[1:] - capacity[1:]) < 2.0), (rate, capacity)
    assert rate[-1] > 3 * rate[0]
