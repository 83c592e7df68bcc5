"""The heads' tensor forms (``summary``, ``log_prob_tensor``) equal their TFP distributions.

Serving graphs use the tensor forms so they hold no TFP plumbing; these tests pin them to the
distributions users inspect, across the numerically delicate ranges (logits near 0 for the
continuous Bernoulli, large logits, tiny and learned scales).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import tensorflow as tf

from tfvae.distributions import DiagonalGaussianPosterior, PointMassPosterior
from tfvae.distributions.likelihoods import (
    BernoulliLikelihood,
    ContinuousBernoulliLikelihood,
    GaussianLikelihood,
    masked,
)
from tfvae.distributions.posteriors import KSparsePosterior

LOGITS = np.concatenate([np.linspace(-40, 40, 801), [0.0, 1e-6, -1e-6, 1e-3, 0.0999, 0.1, 0.999, 1.0, 1.001, -1.0]]).astype("float32")


def _data(shape, seed=0):
    return np.random.default_rng(seed).uniform(size=shape).astype("float32")


@pytest.mark.parametrize("head_class", [BernoulliLikelihood, ContinuousBernoulliLikelihood])
def test_logit_likelihoods_match_tfp_everywhere(head_class):
    params = LOGITS.reshape(1, -1)
    x = _data(params.shape)
    head = head_class((params.shape[1],))
    distribution = head(params)
    summary = head.summary(params)
    np.testing.assert_allclose(summary["mean"], distribution.mean(), atol=5e-6)
    np.testing.assert_array_equal(summary["logits"], params)
    np.testing.assert_allclose(head.log_prob_tensor(params, x), distribution.log_prob(x), rtol=2e-6, atol=1e-3)
    elementwise = head.elementwise_log_prob(params, x)
    np.testing.assert_allclose(elementwise, distribution.distribution.log_prob(x), atol=1e-5)


@pytest.mark.parametrize("head_class, rtol", [(BernoulliLikelihood, 1e-6), (ContinuousBernoulliLikelihood, 3e-7)])
def test_confident_correct_pixels_keep_their_log_prob_to_float32_precision(head_class, rtol):
    """``x l - softplus(l)`` cancels where the model is right and sure (``l = 10``, ``x = 1``:
    ``10 - 10.0000454``; from ``l ~ 17`` float32 gives 0); the stable form matches float64 to a few ulps."""
    rng = np.random.default_rng(0)
    logits = (rng.choice([-1.0, 1.0], 784) * rng.uniform(5.0, 30.0, 784)).astype("float32")
    logits[:2] = [30.0, -30.0]
    params, x = logits.reshape(1, -1), (logits > 0).astype("float32").reshape(1, -1)
    wide, x64 = params.astype("float64"), x.astype("float64")
    expected = -(x64 * np.logaddexp(0.0, -wide) + (1.0 - x64) * np.logaddexp(0.0, wide))  # log sigma(+-l), exact
    if head_class is ContinuousBernoulliLikelihood:
        expected = expected + np.log(wide / np.tanh(wide / 2.0))
    head = head_class((784,))
    np.testing.assert_allclose(head.elementwise_log_prob(params, x), expected, rtol=rtol, atol=0)
    # summed over the 784 pixels (Bernoulli: 0.27 nats, where the cancelling form is off by 2.3e-5)
    np.testing.assert_allclose(head.log_prob_tensor(params, x), expected.sum(-1), rtol=1e-6, atol=0)


def test_continuous_bernoulli_closed_forms_near_half():
    """At l = 0 the density is uniform on [0, 1]: mean 1/2, log-density 0; the Taylor branch is continuous."""
    head = ContinuousBernoulliLikelihood((3,))
    zero = np.zeros((1, 3), "float32")
    np.testing.assert_allclose(head.summary(zero)["mean"], 0.5)
    np.testing.assert_allclose(head.log_prob_tensor(zero, _data((1, 3))), [0.0], atol=1e-6)
    edge = np.array([[1.0 - 1e-6, 1.0 + 1e-6, 1.0]], "float32")
    means = head.summary(edge)["mean"].numpy()[0]
    assert abs(means[0] - means[1]) < 1e-6


def test_gaussian_likelihood_matches_scipy_with_learned_scale():
    head = GaussianLikelihood((2, 3), scale=0.3, learn_scale="per_dimension")
    params = np.random.default_rng(1).normal(size=(4, 2, 3)).astype("float32")
    x = _data((4, 2, 3), 2)
    sigma = head.stddev().numpy()
    expected = scipy.stats.norm(params, sigma).logpdf(x).reshape(4, -1).sum(-1)
    np.testing.assert_allclose(head.log_prob_tensor(params, x), expected, rtol=1e-5)
    summary = head.summary(params)
    np.testing.assert_allclose(summary["scale"], np.broadcast_to(sigma, params.shape))
    np.testing.assert_array_equal(summary["mean"], params)


def test_masked_log_prob_counts_only_valid_steps():
    head = GaussianLikelihood((4, 2))
    params = np.zeros((2, 4, 2), "float32")
    x = _data((2, 4, 2), 3)
    valid = np.array([[True, True, False, False], [True, True, True, True]])
    np.testing.assert_allclose(head.log_prob_tensor(params, x, valid), masked(head(params), valid).log_prob(x),
                               rtol=1e-6)
    garbage = x.copy()
    garbage[0, 2:] = 1e6  # padded steps change nothing
    np.testing.assert_allclose(head.log_prob_tensor(params, garbage, valid)[0], head.log_prob_tensor(params, x, valid)[0])


@pytest.mark.parametrize("head", [DiagonalGaussianPosterior(3), PointMassPosterior(3, activation="sigmoid"),
                                  KSparsePosterior(4, k=2)], ids=["gaussian", "point_mass", "k_sparse"])
def test_posterior_summaries_match_their_distributions(head):
    params = np.random.default_rng(4).normal(size=(5, *head.params_shape)).astype("float32") * 3
    distribution = head(params)
    summary = head.summary(params)
    np.testing.assert_allclose(summary["mean"], distribution.mean(), rtol=1e-6)
    np.testing.assert_allclose(summary["stddev"], distribution.stddev(), rtol=1e-6)


def test_summaries_trace_without_tfp_shape_ops():
    """The serving forms hold no BroadcastArgs (TFP's batch-shape plumbing, which ONNX lacks)."""
    heads = [DiagonalGaussianPosterior(3), BernoulliLikelihood((2, 2)), ContinuousBernoulliLikelihood((4,))]
    for head in heads:
        spec = tf.TensorSpec([None, *head.params_shape], tf.float32)
        graph = tf.function(lambda p, head=head: head.summary(p)).get_concrete_function(spec).graph
        ops = {op.type for op in graph.get_operations()}
        assert "BroadcastArgs" not in ops, type(head).__name__
    # the check can fail: the distribution's own mean carries the plumbing
    head = heads[0]
    spec = tf.TensorSpec([None, *head.params_shape], tf.float32)
    graph = tf.function(lambda p: head(p).mean()).get_concrete_function(spec).graph
    assert "BroadcastArgs" in {op.type for op in graph.get_operations()}
