"""IWAE: the k-sample importance-weighted bound, against scipy and its k = 1 and Jensen identities."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import logsumexp

from tfvae.metrics import iwae_from_log_weights
from tfvae.models import IWAE, VAE
from tfvae.models.variational.iwae import iwae_bound

SHAPE = (6, 6, 1)


@pytest.fixture(scope="module")
def x():
    return (np.random.default_rng(0).random((5, *SHAPE)) < 0.4).astype("float32")


def make(k, **kwargs):
    return IWAE.mlp(SHAPE, latent_dim=3, hidden_units=(8,), k=k, seed=1, **kwargs)


def test_the_bound_from_log_weights_is_scipys_without_overflow():
    log_w = np.random.default_rng(2).normal(0.0, 30.0, (7, 4))
    log_w[0, 2] = 800.0  # exp(800) overflows float64: the maximum must be shifted out
    log_w[:, 3] = -np.inf  # every weight zero: the bound is -inf, not NaN
    expected = logsumexp(log_w, axis=0) - np.log(7)
    np.testing.assert_allclose(iwae_bound(log_w).numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(iwae_from_log_weights(log_w[:, :3]).log_likelihood, expected[:3], rtol=1e-12)
    np.testing.assert_allclose(iwae_bound(tf.constant(log_w[:, 0], tf.float32)).numpy(), expected[0], rtol=1e-5)


def test_the_bound_is_the_log_mean_importance_weight_of_the_same_draws(x):
    model = make(k=7)
    q = model.encode(x)
    z = model.posterior.sample(q, 7, tf.constant([3, 4], tf.int64))
    likelihood, prior = model._decode(z, False), model.prior()
    bound = model.elbo_terms(x, q, z, likelihood, prior)["iwae_bound"].numpy()
    log_w = (likelihood.log_prob(x) + prior.log_prob(z) - q.log_prob(z)).numpy().astype(np.float64)  # [k, B]
    np.testing.assert_allclose(bound, logsumexp(log_w, axis=0) - np.log(7), rtol=1e-5)


def test_one_sample_is_the_vae_bound_and_more_samples_bound_it_from_above(x):
    seed = tf.constant([5, 6], tf.int64)
    one = make(k=1, kl="mc").per_example_terms(x, seed=seed)
    np.testing.assert_allclose(one["iwae_bound"], one["elbo"], rtol=1e-5)  # L_1 = the ELBO (Monte-Carlo rate)
    many = make(k=16, kl="mc").per_example_terms(x, seed=seed)  # log mean w >= mean log w (Jensen), per example
    assert np.all(many["iwae_bound"].numpy() >= many["elbo"].numpy() - 1e-4)
    assert np.mean(many["iwae_bound"] - many["elbo"]) > 0.01


def test_the_loss_is_the_negative_bound_and_the_terms_are_reported(x):
    model = make(k=4)
    terms = model.loss_terms(x)
    assert tuple(terms) == model.loss_term_names == ("loss", "iwae_bound", "elbo", "distortion", "rate")
    np.testing.assert_allclose(terms["loss"], -terms["iwae_bound"], rtol=1e-6)


def test_the_bound_trains():
    x = (np.random.default_rng(1).random((256, *SHAPE)) < 0.3).astype("float32")
    model = make(k=5)
    model.compile(optimizer="adam", steps_per_execution=1)
    before = float(model.loss_terms(x)["iwae_bound"])
    model.fit(x, batch_size=64, epochs=15, verbose=0)
    assert float(model.loss_terms(x)["iwae_bound"]) > before + 1.0


def test_config_round_trip_keeps_k_and_not_the_rate_options():
    model = make(k=3)
    config = model.get_config()
    assert config["k"] == 3 and not {"num_samples", "beta", "free_bits", "kl_warmup_steps"} & set(config)
    assert IWAE.from_config(config).k == 3
    assert "k" in IWAE.config_options and "beta" not in IWAE.config_options and "num_samples" not in IWAE.config_options


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"beta": 2.0}, "beta must be 1.0"), ({"free_bits": 0.5}, "free_bits must be 0.0"),
     ({"num_samples": 4}, "not num_samples"), ({"k": 0}, "k")],
)
def test_options_the_bound_has_no_place_for_are_refused(kwargs, message):
    kwargs = {"k": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        IWAE.mlp(SHAPE, latent_dim=3, hidden_units=(8,), **kwargs)


def test_it_is_a_vae_to_everything_that_asks():
    model = make(k=2)
    assert isinstance(model, VAE) and model.capabilities == VAE.mlp(SHAPE, latent_dim=3, hidden_units=(8,)).capabilities
