"""Property-based checks of the heads and KL functions at extreme parameters (hypothesis).

Each head maps raw network outputs to a distribution. For raw logits and
locations anywhere in ``[-1e4, 1e4]`` and standard deviations from 1e-30 to
1e30 reached through the head's own parameterisation (``softplus(r) + floor``),
every log-density, mean, sample and KL is finite, or the head refuses the
setting with a ``ValueError`` when it is built. Batches of size 0 give empty
results, not errors.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tfvae import kl_divergence
from tfvae.distributions import (
    BernoulliLikelihood,
    ConditionalGaussianPrior,
    ContinuousBernoulliLikelihood,
    DiagonalGaussianPosterior,
    GaussianLikelihood,
    MixtureOfGaussiansPrior,
    StandardNormalPrior,
)

PROPERTY = settings(max_examples=50, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
#: fewer examples where one example builds several TFP distributions (eager TFP is slow)
FEWER = settings(PROPERTY, max_examples=25)
EVENT = 3
LATENT = 2

#: raw logits / locations: anywhere in [-1e4, 1e4], the ends and float32's softplus edges included
RAW = st.one_of(st.sampled_from([-1e4, 1e4, 0.0, -88.7, 88.7, -1e-30]),
                st.floats(-1e4, 1e4, allow_nan=False, width=32))
#: standard deviations from 1e-30 to 1e30, log-uniform, the ends included
SCALES = st.one_of(st.sampled_from([1e-30, 1e30]), st.floats(-30.0, 30.0).map(lambda e: 10.0**e))
PIXELS = st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 1.0, width=32))
BATCH = st.integers(0, 3)


def batch_of(elements, width, batch):
    return hnp.arrays(np.float32, (batch, width), elements=elements)


def inverse_softplus(s: np.ndarray) -> np.ndarray:
    """The raw parameter r with softplus(r) = s, in float64 (r = s for large s, log s for tiny s)."""
    s = np.asarray(s, np.float64)
    return np.where(s > 30.0, s, np.log(np.expm1(np.minimum(s, 30.0))))


def finite(t) -> bool:
    return bool(np.all(np.isfinite(np.asarray(t))))


@PROPERTY
@given(st.data(), BATCH)
def test_bernoulli_log_prob_is_finite_and_exact_for_large_logits(data, batch):
    logits = data.draw(batch_of(RAW, EVENT, batch))
    x = data.draw(batch_of(PIXELS, EVENT, batch))
    p = BernoulliLikelihood((EVENT,))(logits)
    log_prob = np.asarray(p.log_prob(x))
    assert log_prob.shape == (batch,) and finite(log_prob) and np.all(log_prob <= 1e-6)
    l64 = logits.astype(np.float64)
    expected = np.sum(x * l64 - np.logaddexp(0.0, l64), axis=-1)  # x l - softplus(l), stable in float64
    np.testing.assert_allclose(log_prob, expected, rtol=1e-5, atol=1e-3)
    mean = np.asarray(p.mean())
    assert finite(mean) and np.all((mean >= 0) & (mean <= 1))


@PROPERTY
@given(st.data(), BATCH)
def test_continuous_bernoulli_is_finite_for_large_logits(data, batch):
    logits = data.draw(batch_of(RAW, EVENT, batch))
    x = data.draw(batch_of(PIXELS, EVENT, batch))
    p = ContinuousBernoulliLikelihood((EVENT,))(logits)
    assert p.log_prob(x).shape == (batch,) and finite(p.log_prob(x))
    mean = np.asarray(p.mean())
    assert finite(mean) and np.all((mean >= 0) & (mean <= 1))


@PROPERTY
@given(st.data(), BATCH, SCALES)
def test_gaussian_with_a_fixed_scale_is_finite_or_refused(data, batch, scale):
    loc = data.draw(batch_of(RAW, EVENT, batch))
    x = data.draw(batch_of(RAW, EVENT, batch))
    try:
        head = GaussianLikelihood((EVENT,), scale=scale)
    except ValueError as error:  # below the floor: float32 log-densities would overflow to -inf
        assert scale < head_floor() and "scale_floor" in str(error)
        return
    p = head(loc)
    assert p.log_prob(x).shape == (batch,) and finite(p.log_prob(x)) and finite(p.mean())


def head_floor() -> float:
    return GaussianLikelihood((1,)).scale_floor


@PROPERTY
@given(st.data(), BATCH, SCALES, st.sampled_from(["global", "per_dimension"]))
def test_gaussian_with_a_learned_scale_is_finite_for_any_raw_scale(data, batch, scale, learn_scale):
    loc = data.draw(batch_of(RAW, EVENT, batch))
    x = data.draw(batch_of(RAW, EVENT, batch))
    head = GaussianLikelihood((EVENT,), scale=0.5, learn_scale=learn_scale)
    head.raw_scale.assign(np.broadcast_to(inverse_softplus(scale), head.raw_scale.shape).astype(np.float32))
    p = head(loc)
    assert np.all(np.asarray(head.stddev()) >= head.scale_floor)
    assert p.log_prob(x).shape == (batch,) and finite(p.log_prob(x))


def posterior_params(data, batch):
    loc = data.draw(batch_of(RAW, LATENT, batch))
    scales = data.draw(hnp.arrays(np.float64, (batch, LATENT), elements=SCALES))
    return np.concatenate([loc, inverse_softplus(scales).astype(np.float32)], axis=-1)


@FEWER
@given(st.data(), BATCH, st.integers(1, 3))
def test_gaussian_posterior_kl_log_prob_and_samples_are_finite(data, batch, num_samples):
    head = DiagonalGaussianPosterior(LATENT)
    q = head(posterior_params(data, batch))
    prior = StandardNormalPrior(LATENT)()
    stddev = np.asarray(q.stddev())
    assert np.all((stddev >= head.scale_floor) & (stddev <= head.max_scale + head.scale_floor))
    analytic = np.asarray(kl_divergence(q, prior))
    assert analytic.shape == (batch,) and finite(analytic) and np.all(analytic >= -1e-3)
    z = head.sample(q, num_samples, tf.constant([1, 2]))
    assert z.shape == (num_samples, batch, LATENT) and finite(z)
    assert finite(kl_divergence(q, prior, z=z, method="mc"))
    assert finite(q.log_prob(z)) and finite(q.log_prob(q.mean())) and finite(q.entropy())


@FEWER
@given(st.data(), BATCH)
def test_learned_priors_are_finite_for_any_table(data, batch):
    q = DiagonalGaussianPosterior(LATENT)(posterior_params(data, batch))
    z = data.draw(batch_of(RAW, LATENT, batch))
    raw_scales = st.one_of(st.sampled_from([-1e30, 1e30]), RAW)  # the tables' scales through softplus
    conditional = ConditionalGaussianPrior(LATENT, num_classes=2)
    conditional.table.assign(np.concatenate([data.draw(hnp.arrays(np.float32, (2, LATENT), elements=RAW)),
                                             data.draw(hnp.arrays(np.float32, (2, LATENT), elements=raw_scales))], -1))
    p = conditional(np.arange(batch) % 2)
    assert finite(p.log_prob(z)) and finite(kl_divergence(q, p))
    mixture = MixtureOfGaussiansPrior(LATENT, num_components=3)
    mixture.locs.assign(data.draw(hnp.arrays(np.float32, (3, LATENT), elements=RAW)))
    mixture.raw_scales.assign(data.draw(hnp.arrays(np.float32, (3, LATENT), elements=raw_scales)))
    mixture.logits.assign(data.draw(hnp.arrays(np.float32, (3,), elements=RAW)))
    draws = DiagonalGaussianPosterior(LATENT).sample(q, 2, tf.constant([3, 4]))
    assert finite(mixture().log_prob(z)) and finite(kl_divergence(q, mixture(), z=draws, method="mc"))


@pytest.mark.parametrize("method", ["analytic", "mc"])
def test_kl_of_an_empty_batch_is_empty(method):
    head = DiagonalGaussianPosterior(LATENT)
    q = head(np.zeros((0, 2 * LATENT), np.float32))
    z = head.sample(q, 4, tf.constant([0, 1]))
    for prior in (StandardNormalPrior(LATENT)(), MixtureOfGaussiansPrior(LATENT, 2)()):
        kl = kl_divergence(q, prior, z=z, method=method)
        assert kl.shape == (0,)
