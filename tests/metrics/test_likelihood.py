"""IWAE log-likelihood, bits/dim, ELBO terms and reconstruction errors."""

import math

import numpy as np
import pytest
import scipy.special
import scipy.stats
import tensorflow as tf

import tfvae
from tfvae.distributions import DiagonalGaussianPosterior, GaussianLikelihood
from tfvae.errors import TfvaeError
from tfvae.metrics import (
    ModelCapabilityError,
    bits_per_dim,
    bits_per_dim_convention,
    elbo_terms,
    iwae_from_log_weights,
    iwae_log_likelihood,
    log_importance_weights,
    reconstruction_errors,
)
from tfvae.networks import MLP
from tfvae.random import as_seed


def linear_gaussian_vae(W, b, sigma, scale_inflation=1.0):
    """A tfvae.VAE with linear networks: p(z) = N(0, I), p(x|z) = N(Wz + b, sigma^2 I).

    Its marginal is p(x) = N(b, W W^T + sigma^2 I). The encoder is set to the
    exact posterior mean and to the posterior's marginal standard deviations
    times ``scale_inflation`` (the exact posterior when W has orthogonal
    columns and the inflation is 1).
    """
    dx, dz = W.shape
    posterior = DiagonalGaussianPosterior(dz)
    likelihood = GaussianLikelihood((dx,), scale=sigma)
    model = tfvae.VAE(MLP(posterior.params_shape, ()), MLP(likelihood.params_shape, ()), posterior, likelihood, seed=0)
    model.decoder.projection.set_weights([W.T.astype("float32"), b.astype("float32")])
    cov = np.linalg.inv(np.eye(dz) + W.T @ W / sigma**2)
    A = cov @ W.T / sigma**2  # posterior mean = A (x - b)
    scale = scale_inflation * np.sqrt(np.diag(cov))
    kernel = np.zeros((dx, 2 * dz))
    kernel[:, :dz] = A.T
    bias = np.concatenate([-A @ b, np.log(np.expm1(scale - posterior.scale_floor))])
    model.encoder.projection.set_weights([kernel.astype("float32"), bias.astype("float32")])
    return model, scipy.stats.multivariate_normal(b, W @ W.T + sigma**2 * np.eye(dx))


def test_iwae_matches_the_exact_marginal_of_a_linear_gaussian_model():
    rng = np.random.default_rng(0)
    W, b, sigma = rng.normal(size=(6, 2)), rng.normal(size=6), 0.5
    model, marginal = linear_gaussian_vae(W, b, sigma, scale_inflation=1.3)  # q(z|x) != p(z|x)
    x = marginal.rvs(size=50, random_state=1).astype("float32")
    exact = marginal.logpdf(x)

    elbo = elbo_terms(model, x, num_samples=200)["elbo"].numpy()
    assert np.all(elbo < exact)  # a strict bound: q is not the posterior
    assert (exact - elbo).mean() > 0.5

    estimate = iwae_log_likelihood(model, x, k=5000, chunk_size=500, seed=3)
    error = estimate.log_likelihood - exact
    mc_stderr_of_mean = np.sqrt(np.sum(estimate.mc_stderr**2)) / len(x)
    assert abs(error.mean()) < 3 * mc_stderr_of_mean
    assert np.all(np.abs(error) < 4 * estimate.mc_stderr)
    assert np.all(estimate.effective_sample_size > 1000)  # well-behaved weights: the s.e. is reliable
    # far better than k = 10, which is far better than the ELBO
    rough = iwae_log_likelihood(model, x, k=10, seed=3).log_likelihood - exact
    assert np.abs(error).mean() < np.abs(rough).mean() < (exact - elbo).mean()


def test_iwae_is_exact_with_the_exact_posterior():
    rng = np.random.default_rng(2)
    q, _ = np.linalg.qr(rng.normal(size=(5, 2)))
    W = q * np.array([2.0, 0.7])  # orthogonal columns: the posterior is diagonal
    model, marginal = linear_gaussian_vae(W, rng.normal(size=5), 0.3)
    x = marginal.rvs(size=8, random_state=3).astype("float32")
    estimate = iwae_log_likelihood(model, x, k=3, seed=0)
    # every importance weight equals p(x): any k gives log p(x) with no spread
    np.testing.assert_allclose(estimate.log_likelihood, marginal.logpdf(x), atol=2e-3)
    np.testing.assert_allclose(estimate.effective_sample_size, 3.0, rtol=1e-3)
    assert np.all(estimate.mc_stderr < 2e-2)


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 1000])
def test_chunked_and_unchunked_agree(chunk_size, trained_vae):
    model, x_test = trained_vae
    x = x_test[:6]
    k = 64
    whole = iwae_log_likelihood(model, x, k=k, chunk_size=k, seed=5)
    chunked = iwae_log_likelihood(model, x, k=k, chunk_size=chunk_size, seed=5)
    np.testing.assert_allclose(chunked.log_likelihood, whole.log_likelihood, rtol=0, atol=1e-4)
    np.testing.assert_allclose(chunked.mc_stderr, whole.mc_stderr, rtol=1e-4, atol=1e-6)
    # and both equal a direct logmeanexp of the same log-weights
    z = model.posterior.sample(model.encode(x), k, as_seed(5))
    log_w = log_importance_weights(model, x, z).numpy().astype(np.float64)
    np.testing.assert_allclose(whole.log_likelihood, scipy.special.logsumexp(log_w, axis=0) - math.log(k), atol=1e-4)


def test_iwae_is_above_the_elbo_and_increases_with_k(trained_vae):
    model, x_test = trained_vae
    x = x_test[:200]
    elbo = elbo_terms(model, x, num_samples=10)["elbo"].numpy()
    means = {k: iwae_log_likelihood(model, x, k=k, chunk_size=250, seed=11).log_likelihood for k in (1, 10, 100, 1000)}
    values = [means[k].mean() for k in sorted(means)]
    assert all(a < b for a, b in zip(values, values[1:])), values
    assert means[10].mean() > elbo.mean()
    assert np.mean(means[1000] > elbo) > 0.95
    # k = 1 is a one-sample ELBO estimate: same expectation as the ELBO
    sem = np.std(means[1] - elbo, ddof=1) / np.sqrt(len(x))
    assert abs(means[1].mean() - elbo.mean()) < 4 * sem
    assert values[-1] - elbo.mean() > 1.0  # the bound is visibly loose on a trained model


def test_iwae_is_reproducible_from_its_seed_and_leaves_the_model_rng_alone(trained_vae):
    model, x_test = trained_vae
    state = model.seed_generator.state.numpy().copy()
    a = iwae_log_likelihood(model, x_test[:4], k=20, seed=1).log_likelihood
    b = iwae_log_likelihood(model, x_test[:4], k=20, seed=1).log_likelihood
    c = iwae_log_likelihood(model, x_test[:4], k=20, seed=2).log_likelihood
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    np.testing.assert_array_equal(model.seed_generator.state.numpy(), state)


def _spread_and_reported(estimates):
    """The spread over draws of the estimates and the root-mean-square of their reported errors."""
    values = np.concatenate([e.log_likelihood for e in estimates])
    errors = np.concatenate([e.mc_stderr for e in estimates])
    return np.std(values, ddof=1), np.sqrt(np.mean(errors**2))


@pytest.mark.parametrize(("k", "sigma"), [(1, 0.5), (1, 2.0), (2, 0.5), (2, 2.0), (10, 2.0), (100, 2.0)])
def test_mc_stderr_matches_the_spread_of_lognormal_weights(k, sigma):
    # log w ~ N(0, sigma^2): each column is an independent replicate of one example's estimate, so the spread
    # of the estimates over columns is its Monte-Carlo error; sigma = 2 is heavy-tailed (ESS ~ k / 55).
    # The plug-in delta method sqrt(1/ESS - 1/k) gives 0 at k = 1 and 0.54 for 0.95 at k = 10, sigma = 2.
    rng = np.random.default_rng(k * 10 + int(sigma))
    replicates = 20_000 if k < 100 else 2_000
    log_w = rng.normal(0.0, sigma, size=(k, replicates))
    spare = rng.normal(0.0, sigma, size=replicates)
    spread, reported = _spread_and_reported([iwae_from_log_weights(log_w, spare=spare if k == 1 else None)])
    assert reported == pytest.approx(spread, rel=0.15), (spread, reported)


def test_mc_stderr_is_zero_for_equal_weights_and_exact_when_one_weight_dominates():
    equal = iwae_from_log_weights(np.full((5, 3), -7.0))
    np.testing.assert_allclose(equal.mc_stderr, 0.0, atol=1e-12)
    np.testing.assert_allclose(equal.log_likelihood, -7.0)
    # one weight e^60 times the rest: leaving it out moves the estimate by ~60 nats, leaving another out by ~0
    log_w = np.array([[0.0], [-60.0], [-60.0], [-60.0]])
    d = np.array([math.log(3) - 60.0, 0.0, 0.0, 0.0])  # log(1 - p_i), the largest without cancellation
    expected = math.sqrt(3 / 4 * np.sum((d - d.mean()) ** 2))
    assert iwae_from_log_weights(log_w).mc_stderr[0] == pytest.approx(expected, rel=1e-9)
    assert np.isnan(iwae_from_log_weights(np.zeros((1, 2))).mc_stderr).all()  # k = 1 without a spare draw


def test_mc_stderr_matches_the_spread_over_seeds_of_a_linear_gaussian_model():
    # exact marginal known; q(z|x) narrower than the posterior (0.8x), so the weights are heavy-tailed:
    # the plug-in delta method gives 0 at k = 1 and is 20% too small at k = 10 here
    rng = np.random.default_rng(0)
    W, b, sigma = rng.normal(size=(6, 2)), rng.normal(size=6), 0.5
    model, _ = linear_gaussian_vae(W, b, sigma, scale_inflation=0.8)
    x = np.repeat(_one_example(W, b, sigma), 500, axis=0)  # 500 rows of one example: independent draws
    for k in (1, 10):
        estimates = [iwae_log_likelihood(model, x, k=k, chunk_size=10, seed=seed) for seed in (0, 1)]
        spread, reported = _spread_and_reported(estimates)  # over seeds and rows: 1,000 estimates of one example
        assert spread > 0.1
        assert reported == pytest.approx(spread, rel=0.12), (k, spread, reported)


def _one_example(W, b, sigma) -> np.ndarray:
    """``[1, 6]``: one draw of the linear-Gaussian model's marginal ``N(b, W W^T + sigma^2 I)``."""
    marginal = scipy.stats.multivariate_normal(b, W @ W.T + sigma**2 * np.eye(len(b)))
    return marginal.rvs(size=1, random_state=1)[np.newaxis].astype("float32")


def test_bad_k_and_models_without_a_prior_are_refused():
    ae = tfvae.Autoencoder.mlp(latent_dim=3, hidden_units=(16,), seed=0)
    x = np.zeros((2, 28, 28, 1), np.float32)
    with pytest.raises(ModelCapabilityError, match="Autoencoder declares no likelihood bound"):
        iwae_log_likelihood(ae, x, k=10)
    with pytest.raises(TfvaeError, match="Autoencoder declares no likelihood bound"):
        elbo_terms(ae, x)
    vae = tfvae.VAE.mlp(latent_dim=3, hidden_units=(16,), seed=0)
    with pytest.raises(ValueError, match="k and chunk_size"):
        iwae_log_likelihood(vae, x, k=0)


def test_bits_per_dim_by_hand():
    # discrete: a pmf; 784 pixels with 1 bit each
    assert bits_per_dim(784 * math.log(2), 784, "discrete") == pytest.approx(1.0)
    # two binary pixels x = (1, 0) with Bernoulli probabilities (0.5, 0.25):
    # -log p = ln 2 + ln(4/3) nats = 1 + log2(4/3) bits over 2 dims
    nll = -(math.log(0.5) + math.log(0.75))
    assert bits_per_dim(nll, 2, "discrete") == pytest.approx((1 + math.log2(4 / 3)) / 2)
    # dequantized: the uniform density on [0, 1]^D (NLL 0) is the uniform pmf
    # over 256 levels: 8 bits per dimension, whatever D
    assert bits_per_dim(0.0, 3, "dequantized") == pytest.approx(8.0)
    # density 2 on [0, 1/2) per dim: NLL = -D ln 2, i.e. 7 bits (128 levels used)
    assert bits_per_dim(-4 * math.log(2), 4, "dequantized") == pytest.approx(7.0)
    assert bits_per_dim(0.0, 5, "dequantized", num_levels=16) == pytest.approx(4.0)
    np.testing.assert_allclose(bits_per_dim(np.array([0.0, 2 * math.log(2)]), 2, "discrete"), [0.0, 1.0])
    with pytest.raises(ValueError, match="convention"):
        bits_per_dim(1.0, 2, "continuous")


def test_bits_per_dim_convention_follows_the_likelihood_and_the_data():
    from tfvae.distributions import BernoulliLikelihood, ContinuousBernoulliLikelihood

    bernoulli, gaussian = BernoulliLikelihood((4,)), GaussianLikelihood((4,))
    assert bits_per_dim_convention(bernoulli, "static", False)[0] == "discrete"
    assert bits_per_dim_convention(bernoulli, "dynamic", False)[0] == "discrete"
    assert bits_per_dim_convention(bernoulli, None, False)[0] is None
    assert bits_per_dim_convention(gaussian, None, True)[0] == "dequantized"
    assert bits_per_dim_convention(ContinuousBernoulliLikelihood((4,)), None, True)[0] == "dequantized"
    convention, why = bits_per_dim_convention(gaussian, None, False)
    assert convention is None and "dequantis" in why


def test_reconstruction_errors_by_hand(digits):
    x = digits[0][:5]
    model = tfvae.Autoencoder.mlp(latent_dim=4, hidden_units=(32,), seed=0)
    errors = {k: v.numpy() for k, v in reconstruction_errors(model, x).items()}
    x_hat = model.reconstruct(x).numpy().astype(np.float64)
    np.testing.assert_allclose(errors["mse"], ((x - x_hat) ** 2).mean(axis=(1, 2, 3)), rtol=1e-5)
    bce = -(x * np.log(x_hat) + (1 - x) * np.log1p(-x_hat)).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(errors["bce"], bce, rtol=1e-4)
    # for a Bernoulli likelihood the deterministic distortion is that cross-entropy
    np.testing.assert_allclose(errors["nll"], bce, rtol=1e-3)
    distortion = -model.decode(model.encode(x).mean()).log_prob(x).numpy()
    np.testing.assert_allclose(errors["nll"], distortion, rtol=1e-6)
    assert errors["mse"].shape == (5,) and np.all(errors["mse"] > 0)


def test_elbo_terms_are_the_models_per_example_terms(trained_vae):
    model, x_test = trained_vae
    terms = elbo_terms(model, x_test[:7], num_samples=4)
    assert set(terms) == {"elbo", "distortion", "rate"}
    assert all(v.shape == (7,) for v in terms.values())
    np.testing.assert_allclose(terms["elbo"], -(terms["distortion"] + terms["rate"]), rtol=1e-6)
    prior = model.prior_distribution()
    rate = tf.reduce_sum(tfvae.kl_divergence(model.encode(x_test[:7]), prior)).numpy()
    assert float(tf.reduce_sum(terms["rate"])) == pytest.approx(rate, rel=1e-5)
