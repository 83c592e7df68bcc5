"""A VAE with an IAF posterior: the posterior chosen by name, the Monte-Carlo rate on the flow's own draws,
the IWAE estimate and bound with the flow's density, the code everywhere a point (a flow has no mean)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special
import tensorflow as tf

from tfvae import IWAE, VAE
from tfvae.config import load_config
from tfvae.distributions import IAFPosterior, MixtureOfGaussiansPrior
from tfvae.experiment import build_model
from tfvae.metrics import iwae_log_likelihood, posterior_means, reconstruction_errors
from tfvae.random import as_seed

SHAPE = (6, 6, 1)
FLOW = {"posterior": "iaf", "kl": "mc", "flow_steps": 2, "flow_hidden_units": (8,), "flow_context_dim": 3}


def iaf_model(cls=VAE, rng=None, **kwargs):
    """A small model whose flow is not the identity (its output layers start at zero)."""
    model = cls.mlp(SHAPE, latent_dim=3, hidden_units=(16,), seed=0, **{**FLOW, **kwargs})
    rng = rng or np.random.default_rng(1)
    for variable in model.posterior.weights:
        variable.assign(rng.normal(0.0, 0.3, variable.shape).astype("float32"))
    return model


@pytest.fixture
def x(rng):
    return (rng.uniform(0, 1, (4, *SHAPE)) > 0.5).astype("float32")


def draws(model, x, num_samples, seed):
    """``(z, log q(z|x))`` of the posterior head from ``seed``, and ``log p(x|z)``, ``log p(z)``."""
    z, log_q = model.posterior.sample_and_log_prob(model.encode(x), num_samples, as_seed(seed))
    return z, log_q.numpy(), model.decode(z).log_prob(x).numpy(), model.prior_distribution().log_prob(z).numpy()


@pytest.mark.parametrize("prior", ["standard_normal", "mog"])
def test_the_rate_is_the_monte_carlo_kl_on_the_flows_own_draws(prior, x):
    model = iaf_model(prior=prior, num_components=2) if prior == "mog" else iaf_model(prior=prior)
    assert isinstance(model.posterior, IAFPosterior)
    assert isinstance(model.prior, MixtureOfGaussiansPrior) == (prior == "mog")
    terms = model.elbo(x, num_samples=5, seed=7)
    _, log_q, log_px, log_pz = draws(model, x, 5, 7)
    np.testing.assert_allclose(terms["rate"].numpy(), (log_q - log_pz).mean(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(terms["distortion"].numpy(), -log_px.mean(0), rtol=1e-5)
    np.testing.assert_allclose(terms["elbo"].numpy(), (log_px + log_pz - log_q).mean(0), rtol=1e-5, atol=1e-4)


def test_the_iwae_estimate_and_bound_use_the_flows_density(x):
    """``iwae_log_likelihood`` (TFP's inverse-flow density of the codes) and the IWAE's bound (the forward
    pass's) against scipy's logsumexp of the weights the head's own ``sample_and_log_prob`` gives."""
    model = iaf_model()
    _, log_q, log_px, log_pz = draws(model, x, 6, 11)
    expected = scipy.special.logsumexp(log_px + log_pz - log_q, axis=0) - np.log(6)
    np.testing.assert_allclose(iwae_log_likelihood(model, x, k=6, seed=11).log_likelihood, expected,
                               rtol=1e-5, atol=2e-4)

    iwae = iaf_model(IWAE, k=6)
    _, log_q, log_px, log_pz = draws(iwae, x, 6, 11)
    bound = scipy.special.logsumexp(log_px + log_pz - log_q, axis=0) - np.log(6)
    np.testing.assert_allclose(iwae.elbo(x, seed=11)["iwae_bound"].numpy(), bound, rtol=1e-5, atol=1e-4)


def test_every_code_is_the_heads_point(x):
    """A flow has no closed-form mean (``q.mean()`` raises): reconstructions, embeddings, the deterministic call
    and the metrics all take the point ``f(m)``, the flow of the base mean."""
    model = iaf_model()
    q = model.encode(x)
    with pytest.raises(NotImplementedError):
        q.mean()
    point = q.bijector.forward(q.distribution.mean()).numpy()
    np.testing.assert_allclose(model.embed(x).numpy(), point, rtol=1e-6)
    np.testing.assert_allclose(posterior_means(model, x).numpy(), point, rtol=1e-6)
    np.testing.assert_allclose(model.posterior_parameters(x)["mean"].numpy(), point, rtol=1e-5)
    expected = model.decode(point).mean().numpy()
    np.testing.assert_allclose(model.reconstruct(x).numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(model(x).numpy(), expected, rtol=1e-5)
    nll = -model.decode(point).log_prob(x).numpy()
    np.testing.assert_allclose(reconstruction_errors(model, x)["nll"].numpy(), nll, rtol=1e-5)


def test_what_cannot_hold_is_refused_by_name():
    small = {"data_shape": SHAPE, "latent_dim": 3, "hidden_units": (4,)}
    with pytest.raises(ValueError, match=r"^kl='analytic' has no closed form with the IAFPosterior: use kl='mc'"):
        VAE.mlp(**small, posterior="iaf")
    with pytest.raises(ValueError, match=r"^free_bits needs a diagonal Gaussian posterior and prior .*IAFPosterior"):
        VAE.mlp(**small, posterior="iaf", kl="mc", free_bits=0.5)
    with pytest.raises(ValueError, match=r"^unknown posterior 'flow'; choose one of: diagonal_gaussian, iaf$"):
        VAE.mlp(**small, posterior="flow")
    with pytest.raises(ValueError, match=r"^unknown prior 'vampp' \(did you mean 'vamp'\?\); choose one of: "):
        VAE.mlp(**small, prior="vampp")
    with pytest.raises(ValueError, match=r"^flow_steps is an option of the posterior 'iaf', not of the default "):
        VAE.mlp(**small, flow_steps=3)
    with pytest.raises(ValueError, match=r"^num_pseudo_inputs is an option of the prior 'vamp', not of 'mog'$"):
        VAE.mlp(**small, prior="mog", num_pseudo_inputs=3)


def test_the_shipped_config_chooses_the_posterior_and_old_configs_keep_their_heads():
    config = load_config("training/iaf_vae.toml", ["model.latent_dim=2", "model.hidden_units=[8]"])
    model = build_model(config.model, SHAPE, seed=0)
    head = model.posterior
    assert isinstance(head, IAFPosterior) and model.kl == "mc"
    assert (head.flow_steps, head.flow_hidden_units, head.flow_context_dim) == (2, (64,), 16)
    plain = build_model(load_config("training/vae.toml", ["model.latent_dim=2", "model.hidden_units=[8]"]).model,
                        SHAPE, seed=0)
    assert type(plain.posterior).__name__ == "DiagonalGaussianPosterior" and plain.kl == "analytic"
    assert {"posterior", "prior", "flow_steps", "num_components"} <= set(VAE.config_options)


def test_every_flow_weight_gets_a_finite_gradient(x):
    """Keras 3 tracks the autoregressive networks (TFP's own is a Keras 2 layer it would not see): the loss
    reaches every weight of the flow."""
    model = iaf_model()
    with tf.GradientTape() as tape:
        loss = model.loss_terms(x, training=True)["loss"]
    names = [v.path for v in model.trainable_variables]
    assert sum("made_" in name for name in names) == 2 * 6, names  # 2 steps: kernel, bias, output and context weights
    for variable, gradient in zip(model.trainable_variables, tape.gradient(loss, model.trainable_variables)):
        if "made_" in variable.path:
            assert gradient is not None and np.all(np.isfinite(gradient.numpy())), variable.path
            assert np.abs(gradient.numpy()).max() > 0, variable.path
