"""Active units and the KL per latent dimension."""

import numpy as np
import pytest

import tfvae
from tfvae.distributions import DiagonalGaussianPosterior, GaussianLikelihood
from tfvae.metrics import ModelCapabilityError, active_units, kl_per_dimension, posterior_means
from tfvae.networks import MLP


def half_collapsed_vae():
    """A linear VAE whose z1 follows x[0] and whose z2 is the prior for every x."""
    posterior = DiagonalGaussianPosterior(2)
    likelihood = GaussianLikelihood((3,))
    model = tfvae.VAE(MLP(posterior.params_shape, ()), MLP(likelihood.params_shape, ()), posterior, likelihood, seed=0)
    kernel = np.zeros((3, 4), np.float32)
    kernel[0, 0] = 1.0  # mean of z1 = x[0]
    raw_scale = np.log(np.expm1(np.array([0.5, 1.0]) - posterior.scale_floor))
    bias = np.concatenate([[0.0, 0.0], raw_scale]).astype(np.float32)  # sd (0.5, 1)
    model.encoder.projection.set_weights([kernel, bias])
    return model


def test_active_units_is_the_variance_of_the_posterior_means():
    rng = np.random.default_rng(0)
    means = rng.normal(size=(2000, 3)) * np.array([1.0, 0.05, 0.3])
    units = active_units(means)
    np.testing.assert_allclose(units.variance, means.var(axis=0))
    assert units.count == 2  # 0.05^2 = 0.0025 < 0.01 < 0.09
    np.testing.assert_array_equal(units.active, [True, False, True])
    np.testing.assert_array_equal(units.order, [0, 2, 1])
    assert active_units(means, threshold=0.5).count == 1
    with pytest.raises(ValueError, match="N >= 2"):
        active_units(means[:1])


def test_a_collapsed_dimension_is_inactive_and_has_no_kl():
    model = half_collapsed_vae()
    x = np.random.default_rng(1).normal(size=(500, 3)).astype("float32")
    units = active_units(posterior_means(model, x))
    assert units.count == 1 and units.active[0]
    assert units.variance[1] == pytest.approx(0.0, abs=1e-12)
    kl = kl_per_dimension(model, x).numpy()
    assert kl.shape == (500, 2)
    np.testing.assert_allclose(kl[:, 1], 0.0, atol=1e-3)
    # KL(N(m, 0.5^2) || N(0, 1)) = -log 0.5 + (0.25 + m^2) / 2 - 1/2
    expected = -np.log(0.5) + (0.25 + x[:, 0] ** 2) / 2 - 0.5
    np.testing.assert_allclose(kl[:, 0], expected, rtol=1e-3, atol=1e-4)


def test_kl_per_dimension_sums_to_the_rate(trained_vae):
    model, x_test = trained_vae
    x = x_test[:50]
    kl = kl_per_dimension(model, x).numpy()
    rate = model.elbo(x)["rate"].numpy()  # analytic KL
    np.testing.assert_allclose(kl.sum(axis=1), rate, rtol=1e-4, atol=1e-4)
    assert np.all(kl >= -1e-5)


def test_activity_and_kl_agree_on_a_trained_model(trained_vae):
    model, x_test = trained_vae
    units = active_units(posterior_means(model, x_test))
    kl = kl_per_dimension(model, x_test).numpy().mean(axis=0)
    assert 1 <= units.count <= 8
    # the dimensions that carry information are the ones that move with x
    assert kl[units.active].min() > kl[~units.active].max(initial=0.0)


def test_kl_per_dimension_needs_a_diagonal_gaussian_prior():
    model = tfvae.VAE.mlp((4,), latent_dim=2, hidden_units=(4,), prior="mog", seed=0)
    with pytest.raises(ModelCapabilityError, match="VAE: a per-dimension KL needs a diagonal Gaussian prior"):
        kl_per_dimension(model, np.zeros((2, 4), np.float32))


def test_kl_per_dimension_needs_a_prior():
    ae = tfvae.Autoencoder.mlp(latent_dim=3, hidden_units=(8,), seed=0)
    with pytest.raises(ModelCapabilityError, match="no prior"):
        kl_per_dimension(ae, np.zeros((2, 28, 28, 1), np.float32))
