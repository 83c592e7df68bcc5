"""Disentanglement metrics on synthetic latents with known answers, by hand, and on the shapes.

The synthetic ground truth has four factors of ten values each; its
"observations" are the standardised factors themselves, and the encoders are
linear maps of them:

- perfect: the identity (each code is one factor);
- partial: factors 0 and 1 rotated by 45 degrees into codes 0 and 1 (each of
  the two codes carries both factors equally), factors 2 and 3 kept;
- mixed: a scaled Hadamard matrix, every code carries every factor equally;
- noise: codes independent of the factors.

What theory says: BetaVAE and FactorVAE are 1 (perfect), about 3/4 (partial:
the two rotated factors are told apart half the time) and chance, 1/4 (mixed,
noise); MIG is 1, 1/2, 0, 0; DCI disentanglement 1, between, 0, and low;
informativeness is high for every linear map and chance for noise.
"""

import numpy as np
import pytest
import tensorflow as tf

from tfvae.data.shapes import ShapesDataset
from tfvae.metrics import disentanglement as dis

SIZES = (10, 10, 10, 10)
HALF = np.sqrt(0.5)
MAPS = {
    "perfect": np.eye(4),
    "partial": np.array([[HALF, HALF, 0, 0], [HALF, -HALF, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]),
    "mixed": np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]]) / 2.0,
}


class FactorGrid:
    """Ground truth whose observations are the standardised factor indices."""

    def __init__(self, sizes=SIZES):
        self.factor_sizes = tuple(sizes)
        sizes = np.asarray(sizes, np.float64)
        self.mean, self.std = (sizes - 1) / 2, np.sqrt((sizes**2 - 1) / 12)

    def sample_factors(self, n, rng):
        return np.stack([rng.integers(0, k, n) for k in self.factor_sizes], axis=1)

    def observations(self, factors):
        return (factors - self.mean) / self.std


def encoder(name):
    if name == "noise":
        rng = np.random.default_rng(123)
        return lambda x: rng.normal(size=x.shape)
    return lambda x: x @ MAPS[name].T


def _scores(metric, **kwargs):
    names = ("perfect", "partial", "mixed", "noise")
    return {name: metric(encoder(name), FactorGrid(), seed=0, **kwargs) for name in names}


def test_maps_are_rotations():
    for m in MAPS.values():
        np.testing.assert_allclose(m @ m.T, np.eye(4), atol=1e-12)


def test_beta_vae_score_ordering():
    s = _scores(dis.beta_vae_score, batch_size=32, num_train=300, num_eval=300)
    assert s["perfect"].score >= 0.99 and s["perfect"].train_accuracy >= 0.99
    assert 0.62 <= s["partial"].score <= 0.9
    assert s["mixed"].score <= 0.4 and s["noise"].score <= 0.4  # chance is 0.25
    assert s["partial"].score > max(s["mixed"].score, s["noise"].score) + 0.2


def test_factor_vae_score_ordering():
    s = _scores(dis.factor_vae_score, batch_size=32, num_train=400, num_eval=400, num_variance_estimate=2000)
    assert s["perfect"].score == 1.0 and s["perfect"].num_active_dims == 4
    np.testing.assert_array_equal(s["perfect"].classifier, [0, 1, 2, 3])
    assert 0.62 <= s["partial"].score <= 0.88
    assert s["mixed"].score <= 0.4 and s["noise"].score <= 0.4
    assert s["partial"].score > max(s["mixed"].score, s["noise"].score) + 0.2


def test_mig_ordering():
    s = _scores(dis.mig_score, num_samples=4000)
    assert s["perfect"].mig > 0.97
    np.testing.assert_allclose(s["partial"].gaps, [0, 0, 1, 1], atol=0.06)
    assert 0.44 < s["partial"].mig < 0.56
    assert s["mixed"].mig < 0.05 and s["noise"].mig < 0.03
    # 10 values into 20 bins: the matching code holds all of the factor's entropy.
    np.testing.assert_allclose(np.diag(s["perfect"].mutual_information), s["perfect"].entropy, rtol=1e-9)
    np.testing.assert_allclose(s["perfect"].entropy, np.log(10), atol=0.01)


def test_dci_ordering():
    s = _scores(dis.dci_score, num_train=2000, num_test=1000)
    d = {name: score.disentanglement for name, score in s.items()}
    c = {name: score.completeness for name, score in s.items()}
    assert d["perfect"] > 0.85 and c["perfect"] > 0.85
    assert 0.5 < d["partial"] < 0.8 and 0.5 < c["partial"] < 0.8
    assert d["mixed"] < 0.05 and c["mixed"] < 0.05
    assert d["noise"] < 0.3
    assert d["perfect"] > d["partial"] > d["mixed"]
    for name in ("perfect", "partial", "mixed"):  # every rotation keeps the information
        assert s[name].informativeness_test > 0.95
    assert s["noise"].informativeness_test < 0.2  # chance is 0.1
    r = s["perfect"].importance
    assert r.shape == (4, 4) and (np.argmax(r, axis=0) == np.arange(4)).all()
    assert np.diag(r).min() > 20 * (r - np.diag(np.diag(r))).max()


def test_mig_by_hand():
    # Two binary factors, two binary codes (2 bins: values 0 and 1 fall in different bins).
    a = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    b = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    c0 = np.array([0, 0, 0, 1, 1, 1, 1, 1])  # tracks a, with one error
    c1 = b.copy()  # is b
    log = np.log
    # I(c0; a) from the joint counts (a, c0): (0,0) 3, (0,1) 1, (1,1) 4 out of 8.
    i_c0_a = (3 / 8 * log((3 / 8) / (1 / 2 * 3 / 8)) + 1 / 8 * log((1 / 8) / (1 / 2 * 5 / 8))
              + 4 / 8 * log((4 / 8) / (1 / 2 * 5 / 8)))
    # I(c0; b): (0,0) 2, (1,0) 1, (0,1) 2, (1,1) 3.
    i_c0_b = (2 / 8 * log((2 / 8) / (1 / 2 * 3 / 8)) + 1 / 8 * log((1 / 8) / (1 / 2 * 3 / 8))
              + 2 / 8 * log((2 / 8) / (1 / 2 * 5 / 8)) + 3 / 8 * log((3 / 8) / (1 / 2 * 5 / 8)))
    i_c1_a, i_c1_b = 0.0, log(2)  # c1 is independent of a, equal to b
    score = dis.mig_from_codes(np.stack([c0, c1], 1).astype(float), np.stack([a, b], 1), num_bins=2)
    np.testing.assert_allclose(score.mutual_information, [[i_c0_a, i_c0_b], [i_c1_a, i_c1_b]], atol=1e-12)
    np.testing.assert_allclose(score.entropy, [log(2), log(2)])
    gaps = [(i_c0_a - i_c1_a) / log(2), (i_c1_b - i_c0_b) / log(2)]
    np.testing.assert_allclose(score.gaps, gaps)
    np.testing.assert_allclose(score.mig, np.mean(gaps))
    assert 0.1 < score.mig < 0.9  # not a degenerate case


def test_mig_discretises_into_20_bins_and_skips_constant_factors():
    codes = np.random.default_rng(0).uniform(size=(5000, 2))
    binned = dis.discretize(codes)
    np.testing.assert_array_equal(np.unique(binned[:, 0]), np.arange(1, 21))
    factors = np.stack([(codes[:, 0] * 4).astype(int), np.zeros(5000, int)], 1)
    score = dis.mig_from_codes(codes, factors)
    assert np.isnan(score.gaps[1]) and score.mig == score.gaps[0] > 0.9
    with pytest.raises(ValueError, match="constant"):
        dis.mig_from_codes(codes, np.zeros((5000, 1), int))


def test_dci_from_importance_by_hand():
    r = np.array([[1.0, 0.0], [0.5, 0.5]])
    # Codes: D_0 = 1, D_1 = 0, weights 1/2 and 1/2.
    assert dis.disentanglement_from_importance(r) == pytest.approx(0.5, abs=1e-9)
    # Factors: column 0 is (2/3, 1/3), column 1 is (0, 1); weights 3/4 and 1/4.
    h = -(2 / 3 * np.log(2 / 3) + 1 / 3 * np.log(1 / 3)) / np.log(2)
    assert dis.completeness_from_importance(r) == pytest.approx(0.75 * (1 - h) + 0.25, abs=1e-9)
    assert dis.disentanglement_from_importance(np.eye(3)) == pytest.approx(1.0, abs=1e-8)
    assert dis.disentanglement_from_importance(np.ones((3, 3))) == pytest.approx(0.0, abs=1e-8)


def test_factor_vae_votes_and_pruning_by_hand():
    # 3 code dims; dim 2 is collapsed (std 0.01 < 0.05) and must never win.
    global_var = np.array([1.0, 4.0, 1e-4])
    batch = np.zeros((2, 3, 3))
    batch[0, :, 0] = [0, 0.1, 0.2]  # var 0.01 / 1: dim 0 wins (dim 2, var 0, is pruned)
    batch[0, :, 1] = [0, 2, 4]  # var 4 / 4
    batch[1, :, 0] = [0, 1, 2]  # var 1 / 1
    batch[1, :, 1] = [0, 2**0.5, 2 * 2**0.5]  # var 2 / 4 < 1: dim 1 wins, normalised only
    votes = dis.factor_vae_votes(batch, [1, 0], global_var, 2, active=[True, True, False])
    np.testing.assert_array_equal(votes, [[0, 1, 0], [1, 0, 0]])
    score = dis.factor_vae_score_from_codes(batch, [1, 0], batch, [1, 0], global_var, 2)
    np.testing.assert_array_equal(score.active, [True, True, False])
    assert score.train_accuracy == score.eval_accuracy == 1.0
    np.testing.assert_array_equal(score.classifier[:2], [1, 0])
    collapsed = dis.factor_vae_score_from_codes(batch, [1, 0], batch, [1, 0], np.full(3, 1e-4), 2)
    assert collapsed.score == 0.0 and collapsed.num_active_dims == 0


def test_factor_vae_ignores_a_collapsed_code():
    def with_dead_dim(x):
        return np.concatenate([x, np.full((len(x), 1), 0.7)], axis=1)

    score = dis.factor_vae_score(with_dead_dim, FactorGrid(), batch_size=16, num_train=100, num_eval=100,
                                 num_variance_estimate=500)
    np.testing.assert_array_equal(score.active, [True] * 4 + [False])
    assert score.score == 1.0


def test_logistic_regression_matches_scipy_and_separates_ordered_intervals():
    scipy_optimize = pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3))
    y = np.digitize(x[:, 0] + 0.3 * rng.normal(size=300), [-0.7, 0.0, 0.7])  # 4 ordered classes
    l2 = 0.05
    model = dis.fit_logistic_regression(x, y, 4, l2=l2)
    xs = (x - x.mean(0)) / x.std(0)

    def objective(theta):
        w, b = theta[:12].reshape(3, 4), theta[12:]
        logits = xs @ w + b
        log_p = logits - np.log(np.exp(logits).sum(1, keepdims=True))
        return -log_p[np.arange(300), y].mean() + 0.5 * l2 * (w**2).sum()

    reference = scipy_optimize.minimize(objective, np.zeros(16), method="BFGS", options={"gtol": 1e-9})
    theta = np.concatenate([model.weights.ravel(), model.bias])
    assert objective(theta) == pytest.approx(reference.fun, abs=1e-8)
    # One code, four classes in ordered intervals: a linear softmax separates them.
    z = np.linspace(-2, 2, 400)[:, None]
    labels = np.digitize(z[:, 0], [-1.0, 0.0, 1.0])
    assert dis.fit_logistic_regression(z, labels, 4).accuracy(z, labels) >= 0.99
    assert model.importance()[0] > 5 * model.importance()[1:].max()


def test_deterministic_for_a_seed_and_seed_matters():
    grid = FactorGrid()
    kwargs = {"batch_size": 16, "num_train": 60, "num_eval": 60}
    a = dis.beta_vae_score(encoder("partial"), grid, seed=5, **kwargs)
    b = dis.beta_vae_score(encoder("partial"), grid, seed=5, **kwargs)
    assert a == b
    m1 = dis.mig_score(encoder("mixed"), grid, seed=1, num_samples=500)
    m2 = dis.mig_score(encoder("mixed"), grid, seed=1, num_samples=500)
    m3 = dis.mig_score(encoder("mixed"), grid, seed=2, num_samples=500)
    np.testing.assert_array_equal(m1.mutual_information, m2.mutual_information)
    assert not np.array_equal(m1.mutual_information, m3.mutual_information)


def test_bad_codes_are_rejected():
    grid = FactorGrid()
    with pytest.raises(ValueError, match="4 inputs"):
        dis.mig_score(lambda x: x[:2], grid, num_samples=4)
    with pytest.raises(ValueError, match=r"\[N, L\]"):
        dis.mig_score(lambda x: x[:, 0], grid, num_samples=4)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 2"):
        dis.factor_vae_score(encoder("perfect"), grid, batch_size=1)
    with pytest.raises(ValueError, match="num_eval"):
        dis.beta_vae_score(encoder("perfect"), grid, num_eval=0)
    with pytest.raises(ValueError, match="NaN"):
        dis.mig_from_codes(np.full((4, 2), np.nan), np.zeros((4, 1), int))


def _moments(images):
    """A hand-made encoder of shape images: centroid x, centroid y, sqrt(area), as a tf.Tensor."""
    on = np.asarray(images)[..., 0]
    pixel = np.arange(on.shape[1]) + 0.5
    area = on.sum(axis=(1, 2))
    codes = np.stack([(on.sum(axis=1) @ pixel) / area, (on.sum(axis=2) @ pixel) / area, np.sqrt(area)], axis=1)
    return tf.constant(codes, tf.float32)


def test_metrics_on_the_shapes_with_a_centroid_encoder():
    data = ShapesDataset()
    mig = dis.mig_score(_moments, data, num_samples=2000, encode_batch_size=500)
    gaps = dict(zip(data.factor_names, mig.gaps))
    assert gaps["position_x"] > 0.6 and gaps["position_y"] > 0.6  # the centroid is the position
    assert gaps["orientation"] < 0.05  # nothing encodes it
    assert np.argmax(mig.mutual_information[:, 3]) == 0 and np.argmax(mig.mutual_information[:, 4]) == 1
    factor_vae = dis.factor_vae_score(_moments, data, batch_size=32, num_train=100, num_eval=100,
                                      num_variance_estimate=1000)
    # Codes 0 and 1 vote for the x and y positions; code 2 (size) for scale or shape.
    assert list(factor_vae.classifier[:2]) == [3, 4] and factor_vae.classifier[2] in (0, 1)
    assert factor_vae.score > 0.4  # chance: 0.2
    beta_vae = dis.beta_vae_score(_moments, data, batch_size=32, num_train=100, num_eval=100)
    assert beta_vae.score > 0.6
    again = dis.beta_vae_score(_moments, data, batch_size=32, num_train=100, num_eval=100)
    assert again == beta_vae
