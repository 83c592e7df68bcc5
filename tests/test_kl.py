"""KL divergence: closed form, Monte-Carlo convergence, fallback and errors."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfvae.distributions import DiagonalGaussianPosterior, StandardNormalPrior
from tfvae.kl import PerDimensionKLError, has_analytic_kl, kl_divergence, per_dimension_kl

tfd = tfp.distributions


def _posterior(rng, batch=4, latent=5):
    loc = rng.normal(0, 1.5, (batch, latent)).astype("float32")
    scale = rng.uniform(0.2, 2.0, (batch, latent)).astype("float32")
    return loc, scale, tfd.MultivariateNormalDiag(loc, scale)


def test_analytic_matches_closed_form(rng):
    loc, scale, q = _posterior(rng)
    prior = StandardNormalPrior(loc.shape[-1])()
    closed_form = -0.5 * np.sum(1 + np.log(scale.astype(np.float64) ** 2) - loc**2 - scale.astype(np.float64) ** 2, -1)
    np.testing.assert_allclose(kl_divergence(q, prior).numpy(), closed_form, rtol=1e-5, atol=1e-5)


def test_mc_converges_to_analytic_within_three_standard_errors(rng):
    loc, scale, q = _posterior(rng)
    head = DiagonalGaussianPosterior(loc.shape[-1])
    prior = StandardNormalPrior(loc.shape[-1])()
    n = 10_000
    z = head.sample(q, n, tf.constant([7, 11]))
    log_ratio = (q.log_prob(z) - prior.log_prob(z)).numpy()  # [n, B]
    standard_error = log_ratio.std(0, ddof=1) / np.sqrt(n)
    mc = kl_divergence(q, prior, z=z, method="mc").numpy()
    np.testing.assert_allclose(mc, log_ratio.mean(0), rtol=1e-5)
    analytic = kl_divergence(q, prior).numpy()
    assert np.all(np.abs(mc - analytic) < 3 * standard_error), (mc, analytic, standard_error)


def test_mc_without_sample_dimension_is_the_single_draw_log_ratio(rng):
    loc, scale, q = _posterior(rng)
    prior = StandardNormalPrior(loc.shape[-1])()
    z = q.sample(seed=(1, 2))
    expected = (q.log_prob(z) - prior.log_prob(z)).numpy()
    np.testing.assert_allclose(kl_divergence(q, prior, z=z, method="mc").numpy(), expected, rtol=1e-6)


def test_analytic_falls_back_to_mc_when_no_closed_form(rng):
    q = tfd.Independent(tfd.Logistic(tf.zeros([3, 2]), tf.ones([3, 2])), 1)
    prior = tfd.MultivariateNormalDiag(tf.zeros([2]), tf.ones([2]))
    assert not has_analytic_kl(q, prior)
    z = q.sample(64, seed=(3, 4))
    np.testing.assert_allclose(
        kl_divergence(q, prior, z=z).numpy(), kl_divergence(q, prior, z=z, method="mc").numpy()
    )
    with pytest.raises(NotImplementedError, match="Logistic|Independent"):
        kl_divergence(q, prior)


def test_per_dimension_kl_is_the_closed_form_of_each_dimension_and_sums_to_the_rate(rng):
    loc, scale, q = _posterior(rng)
    p_loc, p_scale = rng.normal(size=5).astype("float32"), rng.uniform(0.5, 2.0, 5).astype("float32")
    expected = np.log(p_scale / scale) + (scale**2 + (loc - p_loc) ** 2) / (2 * p_scale**2) - 0.5
    prior = tfd.Independent(tfd.Normal(p_loc, p_scale), 1)  # the other diagonal form is accepted too
    per_dimension = per_dimension_kl(q, prior).numpy()
    np.testing.assert_allclose(per_dimension, expected, rtol=1e-5, atol=1e-6)
    rate = kl_divergence(q, tfd.MultivariateNormalDiag(p_loc, p_scale)).numpy()
    np.testing.assert_allclose(per_dimension.sum(-1), rate, rtol=1e-5)


def test_per_dimension_kl_refuses_a_kl_that_does_not_split_over_dimensions(rng):
    _, _, q = _posterior(rng)
    mixture = tfd.MixtureSameFamily(tfd.Categorical(logits=tf.zeros(2)),
                                    tfd.MultivariateNormalDiag(tf.zeros([2, 5]), tf.ones([2, 5])))
    with pytest.raises(PerDimensionKLError, match="needs a diagonal Gaussian prior; got MixtureSameFamily"):
        per_dimension_kl(q, mixture)
    with pytest.raises(PerDimensionKLError, match="needs a diagonal Gaussian posterior; got MixtureSameFamily"):
        per_dimension_kl(mixture, q)


def test_errors_name_the_problem():
    q = tfd.MultivariateNormalDiag(tf.zeros([2]), tf.ones([2]))
    with pytest.raises(ValueError, match="needs samples z"):
        kl_divergence(q, q, method="mc")
    with pytest.raises(ValueError, match="analytic"):
        kl_divergence(q, q, method="exact")
