"""Heads: log_prob against scipy / closed forms, float32 under mixed precision, round trips."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from harness import run_serialization_test
from scipy import stats

from tfvae.distributions import (
    BernoulliLikelihood,
    ContinuousBernoulliLikelihood,
    DiagonalGaussianPosterior,
    GaussianLikelihood,
    PointMassPosterior,
    StandardNormalPrior,
)
from tfvae.registry import LIKELIHOODS

tfd = tfp.distributions
EVENT = (4, 3, 1)


def test_bernoulli_log_prob_matches_scipy(rng):
    logits = rng.normal(0, 2, (5, *EVENT)).astype("float32")
    x = rng.integers(0, 2, (5, *EVENT)).astype("float32")
    p = BernoulliLikelihood(EVENT)(logits)
    expected = stats.bernoulli.logpmf(x, 1 / (1 + np.exp(-logits.astype(np.float64)))).reshape(5, -1).sum(1)
    np.testing.assert_allclose(p.log_prob(x).numpy(), expected, rtol=1e-5)
    assert p.batch_shape == (5,) and p.event_shape == EVENT
    np.testing.assert_allclose(p.mean().numpy(), 1 / (1 + np.exp(-logits)), rtol=1e-6)


@pytest.mark.parametrize("learn_scale", [None, "global", "per_dimension"])
def test_gaussian_log_prob_matches_scipy(rng, learn_scale):
    head = GaussianLikelihood(EVENT, scale=0.3, learn_scale=learn_scale)
    loc = rng.normal(size=(5, *EVENT)).astype("float32")
    x = rng.normal(size=(5, *EVENT)).astype("float32")
    expected = stats.norm.logpdf(x, loc, 0.3).reshape(5, -1).sum(1)
    np.testing.assert_allclose(head(loc).log_prob(x).numpy(), expected, rtol=1e-5)
    expected_shape = {None: (), "global": (), "per_dimension": EVENT}[learn_scale]
    assert tuple(head.stddev().shape) == expected_shape
    assert len(head.trainable_weights) == (0 if learn_scale is None else 1)


def test_learned_gaussian_scale_gets_gradients_and_moves(rng):
    head = GaussianLikelihood(EVENT, scale=1.0, learn_scale="per_dimension")
    x = rng.normal(0, 0.1, (32, *EVENT)).astype("float32")
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(head(tf.zeros_like(x)).log_prob(x))
    (grad,) = tape.gradient(loss, head.trainable_weights)
    # data much tighter than sigma=1: the likelihood wants a smaller sigma
    assert np.all(grad.numpy() > 0)


def test_continuous_bernoulli_normaliser_matches_closed_form(rng):
    lam = np.concatenate([rng.uniform(0.02, 0.45, 20), rng.uniform(0.55, 0.98, 20), [0.5]]).astype("float32")
    logits = np.log(lam / (1 - lam)).reshape(-1, 1)
    x = rng.uniform(0, 1, (lam.size, 1)).astype("float32")
    log_prob = ContinuousBernoulliLikelihood((1,))(logits).log_prob(x).numpy()
    lam64, x64 = lam.astype(np.float64), x[:, 0].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_norm = np.where(
            np.isclose(lam64, 0.5), np.log(2.0), np.log(2 * np.arctanh(1 - 2 * lam64) / (1 - 2 * lam64))
        )
    expected = x64 * np.log(lam64) + (1 - x64) * np.log1p(-lam64) + log_norm
    np.testing.assert_allclose(log_prob, expected, rtol=1e-4, atol=1e-4)
    # a normalised density on [0, 1]: the trapezoid integral of the pdf is 1
    grid = np.linspace(0, 1, 2001, dtype="float32").reshape(-1, 1)
    pdf = np.exp(ContinuousBernoulliLikelihood((1,))(np.full((2001, 1), 1.3, "float32")).log_prob(grid).numpy())
    assert abs(np.trapezoid(pdf, grid[:, 0]) - 1) < 1e-4


def test_posterior_is_mvn_diag_with_floored_softplus_scale():
    head = DiagonalGaussianPosterior(3, scale_floor=1e-3)
    params = np.array([[0.0, 1.0, -2.0, -50.0, 0.0, 2.0]], "float32")
    q = head(params)
    assert isinstance(q, tfd.MultivariateNormalDiag)
    np.testing.assert_allclose(q.mean().numpy(), [[0.0, 1.0, -2.0]])
    np.testing.assert_allclose(q.stddev().numpy(), [[1e-3, np.log(2) + 1e-3, np.log1p(np.e**2) + 1e-3]], rtol=1e-5)


def test_reparameterised_samples_have_the_posterior_moments_and_gradients():
    head = DiagonalGaussianPosterior(2)
    params = tf.Variable([[1.0, -2.0, 0.5, 0.0]])
    with tf.GradientTape() as tape:
        q = head(params)
        z = head.sample(q, 20_000, tf.constant([1, 2]))
        loss = tf.reduce_sum(tf.reduce_mean(z, 0))
    np.testing.assert_allclose(z.numpy().mean((0, 1)), [1.0, -2.0], atol=0.03)
    np.testing.assert_allclose(z.numpy().std((0, 1)), q.stddev().numpy()[0], rtol=0.03)
    grad = tape.gradient(loss, params).numpy()
    np.testing.assert_allclose(grad[0, :2], [1.0, 1.0], rtol=1e-3)


def test_point_mass_posterior_is_its_code():
    q = PointMassPosterior(2)(np.array([[0.5, -1.0]], "float32"))
    np.testing.assert_array_equal(q.mean().numpy(), [[0.5, -1.0]])
    np.testing.assert_array_equal(PointMassPosterior(2).sample(q, 3, tf.constant([0, 0])).numpy(), [[[0.5, -1.0]]] * 3)


def test_standard_normal_prior():
    prior = StandardNormalPrior(4)()
    assert isinstance(prior, tfd.MultivariateNormalDiag) and prior.event_shape == (4,)
    z = StandardNormalPrior(4).sample(prior, 5000, tf.constant([3, 3])).numpy()
    assert z.shape == (5000, 4) and abs(z.mean()) < 0.03 and abs(z.std() - 1) < 0.03


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_heads_return_float32_under_mixed_precision(policy, rng):
    keras.mixed_precision.set_global_policy(policy)
    low = keras.mixed_precision.Policy(policy).compute_dtype
    params = tf.cast(rng.normal(size=(2, *EVENT)), low)
    for name in LIKELIHOODS.names():
        p = LIKELIHOODS.get(name)(EVENT)(params)
        assert p.dtype == tf.float32
        assert p.log_prob(tf.zeros((2, *EVENT)) + 0.5).dtype == tf.float32
    q = DiagonalGaussianPosterior(3)(tf.cast(rng.normal(size=(2, 6)), low))
    assert q.dtype == tf.float32


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="learn_scale"):
        GaussianLikelihood(EVENT, learn_scale="everywhere")
    with pytest.raises(ValueError, match="latent_dim"):
        DiagonalGaussianPosterior(0)
    with pytest.raises(ValueError, match="unknown likelihood 'poisson'.*bernoulli"):
        LIKELIHOODS.get("poisson")


HEADS = {
    "bernoulli": lambda: BernoulliLikelihood(EVENT, name="bernoulli"),
    "continuous_bernoulli": lambda: ContinuousBernoulliLikelihood(EVENT, name="cb"),
    "gaussian_fixed": lambda: GaussianLikelihood(EVENT, scale=0.5, name="gauss"),
    "gaussian_global": lambda: GaussianLikelihood(EVENT, learn_scale="global", name="gauss_global"),
    "gaussian_per_dimension": lambda: GaussianLikelihood(EVENT, learn_scale="per_dimension", name="gauss_dim"),
}


@pytest.mark.parametrize("name", sorted(HEADS))
def test_likelihood_round_trips(name, tmp_path, rng):
    params = rng.normal(size=(2, *EVENT)).astype("float32")
    x = rng.uniform(0.01, 0.99, (2, *EVENT)).astype("float32")
    run_serialization_test(HEADS[name](), lambda head: head(params).log_prob(x), tmp_path)


def test_posterior_and_prior_round_trip(tmp_path, rng):
    params = rng.normal(size=(2, 6)).astype("float32")
    z = rng.normal(size=(2, 3)).astype("float32")
    run_serialization_test(DiagonalGaussianPosterior(3, scale_floor=1e-2), lambda h: h(params).log_prob(z), tmp_path)
    run_serialization_test(PointMassPosterior(6), lambda h: h(params).mean(), tmp_path)
    run_serialization_test(StandardNormalPrior(3), lambda h: h().log_prob(z), tmp_path)
