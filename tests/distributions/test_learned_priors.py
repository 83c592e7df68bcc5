"""Learned priors: mixture of Gaussians and VampPrior, with the Monte-Carlo KL."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats
from scipy.special import logsumexp

from tfvae import VAE
from tfvae.config import default_config
from tfvae.distributions import MixtureOfGaussiansPrior, VampPrior
from tfvae.experiment import build_model

SHAPE = (28, 28, 1)


def test_mixture_log_prob_matches_scipy(rng):
    prior = MixtureOfGaussiansPrior(3, num_components=4)
    prior.logits.assign(rng.normal(size=4).astype("float32"))
    prior.raw_scales.assign(rng.normal(size=(4, 3)).astype("float32"))
    z = rng.normal(size=(7, 3)).astype("float32")
    weights = np.exp(prior.logits.numpy()) / np.exp(prior.logits.numpy()).sum()
    scales = np.log1p(np.exp(prior.raw_scales.numpy())) + 1e-4
    expected = logsumexp([np.log(w) + stats.norm.logpdf(z, m, s).sum(1)
                          for w, m, s in zip(weights, prior.locs.numpy(), scales)], axis=0)
    np.testing.assert_allclose(prior().log_prob(z).numpy(), expected, rtol=1e-5)


def test_vamp_prior_is_the_encoder_averaged_over_pseudo_inputs(rng):
    model = VAE.mlp(SHAPE, latent_dim=2, hidden_units=(8,), prior="vamp", num_pseudo_inputs=5, seed=0)
    assert isinstance(model.prior, VampPrior)
    z = rng.normal(size=(6, 2)).astype("float32")
    q = model.encode(model.prior.pseudo_inputs.numpy())  # batch [5]
    per_component = np.stack([q.log_prob(np.repeat(zi[None], 5, 0)).numpy() for zi in z])  # [6, 5]
    expected = logsumexp(per_component, axis=1) - np.log(5)
    np.testing.assert_allclose(model.prior().log_prob(z).numpy(), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="not bound"):
        VampPrior(2, SHAPE, 3)()


@pytest.mark.parametrize("prior, options", [("mog", {"num_components": 3}), ("vamp", {"num_pseudo_inputs": 4})])
def test_vae_with_a_learned_prior_uses_the_mc_kl_and_learns_it(prior, options, rng, tmp_path):
    x = rng.uniform(0, 1, (8, *SHAPE)).astype("float32")
    model = VAE.mlp(SHAPE, latent_dim=2, hidden_units=(8,), prior=prior, seed=0, **options)
    seed = tf.constant([3, 4], tf.int64)
    terms = model.elbo(x, seed=seed)
    q = model.encode(x)
    z = model.posterior.sample(q, 1, seed)
    np.testing.assert_allclose(terms["rate"], (q.log_prob(z) - model.prior().log_prob(z)).numpy()[0], rtol=1e-4)
    with tf.GradientTape() as tape:
        loss = model.loss_terms(x, training=True)["loss"]
    grads = tape.gradient(loss, model.prior.trainable_variables)
    assert grads and all(g is not None and np.any(g.numpy() != 0) for g in grads)
    model.compile(optimizer="adam")
    assert np.isfinite(model.fit(x, batch_size=4, epochs=1, verbose=0).history["loss"]).all()
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.elbo(x, seed=seed)["elbo"], model.elbo(x, seed=seed)["elbo"], rtol=1e-5)
    assert json.loads(json.dumps(loaded.get_config())) == json.loads(json.dumps(model.get_config()))


def test_named_priors_from_a_config():
    config = default_config("vae", ['model.options={prior = "mog", num_components = 5}'])
    model = build_model(config.model, SHAPE)
    assert isinstance(model.prior, MixtureOfGaussiansPrior) and model.prior.num_components == 5
    with pytest.raises(ValueError, match=r"^unknown prior 'laplace'; choose one of: mog, standard_normal, vamp$"):
        VAE.mlp(SHAPE, prior="laplace")


@pytest.mark.parametrize("prior, options, weight", [("mog", {"num_components": 3}, "locs"),
                                                    ("vamp", {"num_pseudo_inputs": 2}, "pseudo_inputs")])
def test_a_named_priors_initial_weights_follow_the_models_seed(prior, options, weight):
    """Seeds 0 and 1 give different means / pseudo-inputs, one seed the same, in the builders and the constructor."""
    def initial(seed, **extra):
        model = VAE.mlp((2, 2, 1), latent_dim=2, hidden_units=(2,), prior=prior, seed=seed, **options, **extra)
        return getattr(model.prior, weight).numpy()

    np.testing.assert_array_equal(initial(0), initial(0))
    assert not np.array_equal(initial(0), initial(1))
    model = VAE.mlp((2, 2, 1), latent_dim=2, hidden_units=(2,), seed=0)  # the constructor, with built layers
    rebuilt = VAE(model.encoder, model.decoder, model.posterior, model.likelihood, prior=prior, seed=1, **options)
    np.testing.assert_array_equal(getattr(rebuilt.prior, weight), initial(1))
    again = type(rebuilt.prior).from_config(rebuilt.prior.get_config())  # the config keeps the seed
    np.testing.assert_array_equal(getattr(again, weight), initial(1))
