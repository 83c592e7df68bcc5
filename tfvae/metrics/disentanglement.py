r"""Disentanglement metrics: BetaVAE, FactorVAE, MIG and DCI.

Each metric measures how well a representation ``encode: images -> codes
[N, L]`` (e.g. ``model.embed``, the posterior mean) separates the known
factors of a *ground-truth sampler* (:class:`GroundTruthData`, e.g.
:class:`tfvae.data.shapes.ShapesDataset`). Two layers:

- ``beta_vae_score(encode, data)``, ``factor_vae_score``, ``mig_score``,
  ``dci_score``: sample factors with the metric's protocol, render and encode
  them, and score;
- ``beta_vae_score_from_features``, ``factor_vae_score_from_codes``,
  ``mig_from_codes``, ``dci_from_codes``: the scoring alone, from code and
  factor arrays (what tests on synthetic latents use).

Everything is numpy and deterministic for a seed (given a deterministic
``encode``). Protocols follow the papers and disentanglement_lib (Locatello
et al. 2019):

BetaVAE score (Higgins et al. 2017)
    A point: choose a factor ``k``; draw ``B`` pairs of factor combinations
    that share factor ``k`` (the others independent); the feature is the mean
    over the pairs of ``|z_1 - z_2|`` (``[L]``), the label ``k``. The score is
    the accuracy, on ``num_eval`` fresh points, of a linear classifier
    trained on ``num_train`` points: L2-regularised multinomial logistic
    regression (scikit-learn's default model in disentanglement_lib),
    implemented here in numpy (L-BFGS) on standardised features.

FactorVAE score (Kim & Mnih 2018)
    Codes are divided by their standard deviation over the data
    (``num_variance_estimate`` samples); dimensions whose standard deviation
    is below ``prune_threshold`` (0.05, disentanglement_lib's setting) are
    collapsed and ignored. A point: fix factor ``k`` at a random value over a
    batch of ``B``; vote ``(k, argmin_j Var_batch(z_j) / Var_data(z_j))``. The
    classifier maps each code dimension to its majority factor; the score is
    its accuracy on fresh votes.

Mutual Information Gap (Chen et al. 2018)
    Codes are discretised into 20 equal-width bins per dimension;
    ``MIG = mean_k (I(z_a; v_k) - I(z_b; v_k)) / H(v_k)``, with ``z_a``, ``z_b``
    the two codes most informative about factor ``v_k`` (plug-in estimates,
    nats). Factors with ``H(v_k) = 0`` (a constant factor) are left out.

DCI disentanglement and completeness (Eastwood & Williams 2018)
    An importance matrix ``R [L, K]`` (how much code ``j`` is used to predict
    factor ``k``); with ``P_jk = R_jk / sum_k R_jk``, code ``j`` is
    disentangled by ``D_j = 1 - H_K(P_j.)`` (entropy in base ``K``), and
    ``D = sum_j rho_j D_j`` with ``rho_j = sum_k R_jk / sum R``. Completeness
    is the same on the columns (base ``L``). Informativeness is the accuracy
    of the predictors.

    *Our choice of predictor.* Eastwood & Williams used LASSO and random
    forests; disentanglement_lib gradient-boosted trees (scikit-learn, not a
    dependency here, and slow). We use, per factor, the same L2-regularised
    multinomial logistic regression as the BetaVAE score, on standardised
    codes, predicting the factor's index as a class; ``R_jk`` is the spread
    (standard deviation over classes) of code ``j``'s class weights, i.e. how
    much code ``j`` moves the logits. A multinomial linear model turns one code
    into any sequence of ordered intervals (the upper envelope of lines), so a
    factor encoded monotonically in one code, or in a linear combination of
    codes, is predicted and attributed correctly; like E&W's LASSO it misses
    non-monotone (e.g. circular) dependencies, which the trees would catch.
    Scores are therefore comparable across our models, not to the GBT
    numbers of disentanglement_lib papers.

Defaults are smaller than disentanglement_lib's (BetaVAE / FactorVAE:
``num_train=10000``, ``num_eval=5000``) so that a score takes seconds on a CPU;
pass those values to compare with papers.

References:
  Higgins, I. et al. (2017). beta-VAE: Learning Basic Visual Concepts with a
  Constrained Variational Framework. ICLR.
  Kim, H. & Mnih, A. (2018). Disentangling by Factorising. ICML.
  Chen, R. T. Q., Li, X., Grosse, R. & Duvenaud, D. (2018). Isolating Sources
  of Disentanglement in Variational Autoencoders. NeurIPS.
  Eastwood, C. & Williams, C. K. I. (2018). A Framework for the Quantitative
  Evaluation of Disentangled Representations. ICLR.
  Locatello, F. et al. (2019). Challenging Common Assumptions in the
  Unsupervised Learning of Disentangled Representations. ICML
  (disentanglement_lib).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

__all__ = [
    "BetaVAEScore",
    "DCIScore",
    "FactorVAEScore",
    "GroundTruthData",
    "LogisticRegression",
    "MIGScore",
    "beta_vae_features",
    "beta_vae_score",
    "beta_vae_score_from_features",
    "completeness_from_importance",
    "dci_from_codes",
    "dci_score",
    "discrete_entropy",
    "discrete_mutual_information",
    "discretize",
    "disentanglement_from_importance",
    "encode_factors",
    "factor_vae_score",
    "factor_vae_score_from_codes",
    "factor_vae_votes",
    "fit_logistic_regression",
    "mig_from_codes",
    "mig_score",
    "sample_codes",
]

Encoder = Callable[[np.ndarray], Any]
"""``images -> codes [N, L]`` (numpy or a tensor), e.g. ``model.embed``."""

Seed = int | np.random.Generator | None

MIG_NUM_BINS = 20
FACTOR_VAE_PRUNE_THRESHOLD = 0.05


class GroundTruthData(Protocol):
    """A sampler of images with known factors (e.g. :class:`tfvae.data.shapes.ShapesDataset`).

    Attributes:
      factor_sizes: number of values of each factor ``(K entries)``.
    """

    factor_sizes: tuple[int, ...]

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` factor index combinations ``[n, K]`` from the data distribution."""
        ...

    def observations(self, factors: np.ndarray) -> np.ndarray:
        """The encoder inputs (images) of the factor combinations ``[N, K]``."""
        ...


def _rng(seed: Seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _check_counts(minimum: int = 1, **counts: int) -> None:
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _as_codes(codes, n: int | None = None) -> np.ndarray:
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2:
        raise ValueError(f"codes must be [N, L], got shape {codes.shape}")
    if n is not None and len(codes) != n:
        raise ValueError(f"the encoder returned {len(codes)} codes for {n} inputs")
    if not np.isfinite(codes).all():
        raise ValueError("codes contain NaN or infinity")
    return codes


def _as_factors(factors, n: int) -> np.ndarray:
    factors = np.asarray(factors)
    if factors.ndim == 1:
        factors = factors[:, None]
    if factors.ndim != 2 or len(factors) != n:
        raise ValueError(f"factors must be [N, K] integer indices with N = {n}, got shape {factors.shape}")
    if not np.issubdtype(factors.dtype, np.integer) or (factors < 0).any():
        raise ValueError("factors must be non-negative integer indices")
    return factors.astype(np.int64)


def encode_factors(encode: Encoder, data: GroundTruthData, factors: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Render factor combinations and encode them, ``batch_size`` images at a time.

    Args:
      encode: images -> codes ``[N, L]``.
      data: the ground-truth sampler whose ``observations`` render the factors.
      factors: int ``[N, K]``.
      batch_size: images rendered and encoded per call (bounds the memory).

    Returns:
      float64 codes ``[N, L]``.
    """
    factors = np.asarray(factors)
    codes = [
        _as_codes(encode(data.observations(factors[i : i + batch_size])), len(factors[i : i + batch_size]))
        for i in range(0, len(factors), batch_size)
    ]
    if not codes:
        raise ValueError("no factors to encode")
    return np.concatenate(codes)


def sample_codes(
    encode: Encoder, data: GroundTruthData, n: int, seed: Seed = 0, batch_size: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random factor draws and their codes: ``(codes [n, L], factors [n, K])``."""
    factors = np.asarray(data.sample_factors(n, _rng(seed)))
    return encode_factors(encode, data, factors, batch_size), factors


# ----------------------------------------------------------------------------
# Multinomial logistic regression (numpy, L-BFGS)
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LogisticRegression:
    """A fitted multinomial logistic regression on standardised inputs.

    ``logits = ((x - mean) / scale) @ weights + bias``.

    Attributes:
      weights: ``[D, C]``.
      bias: ``[C]``.
      mean: ``[D]`` input means of the training data.
      scale: ``[D]`` input standard deviations (1 where constant).
    """

    weights: np.ndarray
    bias: np.ndarray
    mean: np.ndarray
    scale: np.ndarray

    def logits(self, x) -> np.ndarray:
        """Class logits ``[N, C]``."""
        return ((np.asarray(x, np.float64) - self.mean) / self.scale) @ self.weights + self.bias

    def predict(self, x) -> np.ndarray:
        """Most likely class ``[N]``."""
        return np.argmax(self.logits(x), axis=1)

    def accuracy(self, x, y) -> float:
        """Fraction of ``y`` predicted correctly."""
        return float(np.mean(self.predict(x) == np.asarray(y)))

    def importance(self) -> np.ndarray:
        """Per input: the standard deviation of its class weights, ``[D]``.

        Softmax ignores a shift common to all classes, so the spread over
        classes (not the raw magnitude) is how much the input moves the
        prediction; inputs are standardised, so importances are comparable.
        """
        return self.weights.std(axis=1)


def _lbfgs(fun: Callable[[np.ndarray], tuple[float, np.ndarray]], x: np.ndarray, max_iter: int, tol: float,
           memory: int = 10) -> np.ndarray:
    """Minimise a smooth convex ``fun`` (value, gradient) with L-BFGS and Armijo backtracking."""
    f, g = fun(x)
    s_list: list[np.ndarray] = []
    y_list: list[np.ndarray] = []
    for _ in range(max_iter):
        if np.max(np.abs(g)) <= tol:
            break
        q = g.copy()
        history = []
        for s, y in zip(reversed(s_list), reversed(y_list)):
            rho = 1.0 / (y @ s)
            a = rho * (s @ q)
            q -= a * y
            history.append((rho, a))
        gamma = (s_list[-1] @ y_list[-1]) / (y_list[-1] @ y_list[-1]) if s_list else 1.0 / max(np.linalg.norm(g), 1.0)
        r = gamma * q
        for (s, y), (rho, a) in zip(zip(s_list, y_list), reversed(history)):
            r += s * (a - rho * (y @ r))
        direction = -r
        slope = g @ direction
        if slope >= 0:  # not a descent direction: restart from the gradient
            s_list.clear(), y_list.clear()
            direction, slope = -g, -(g @ g)
        step = 1.0
        while True:
            x_new = x + step * direction
            f_new, g_new = fun(x_new)
            if f_new <= f + 1e-4 * step * slope or step < 1e-12:
                break
            step *= 0.5
        s, y = x_new - x, g_new - g
        if s @ y > 1e-12:
            s_list.append(s)
            y_list.append(y)
            if len(s_list) > memory:
                s_list.pop(0), y_list.pop(0)
        converged = f - f_new <= 1e-12 * max(1.0, abs(f))
        x, f, g = x_new, f_new, g_new
        if converged:
            break
    return x


def fit_logistic_regression(
    x, y, num_classes: int | None = None, l2: float | None = None, max_iter: int = 500, tol: float = 1e-6
) -> LogisticRegression:
    """Fit an L2-regularised multinomial logistic regression.

    Minimises ``mean_i -log softmax(logits_i)[y_i] + l2 / 2 * ||W||^2`` (bias
    not penalised) over standardised inputs, by L-BFGS from zero weights:
    deterministic.

    Args:
      x: ``[N, D]`` inputs.
      y: ``[N]`` integer classes in ``[0, num_classes)``.
      num_classes: number of classes (default ``max(y) + 1``).
      l2: penalty; default ``1 / N``, scikit-learn's default ``C = 1``.
      max_iter: L-BFGS iterations.
      tol: stop when every gradient entry is below this.

    Returns:
      The fitted :class:`LogisticRegression`.
    """
    x = _as_codes(x)
    y = np.asarray(y).astype(np.int64).reshape(-1)
    n, d = x.shape
    if len(y) != n or n == 0:
        raise ValueError(f"x has {n} rows and y has {len(y)} labels; need the same, at least one")
    c = int(num_classes if num_classes is not None else y.max() + 1)
    if y.min() < 0 or y.max() >= c:
        raise ValueError(f"labels must lie in [0, {c}), got [{y.min()}, {y.max()}]")
    l2 = 1.0 / n if l2 is None else float(l2)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    xs = (x - mean) / scale
    onehot = np.zeros((n, c))
    onehot[np.arange(n), y] = 1.0

    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[: d * c].reshape(d, c), theta[d * c :]
        logits = xs @ w + b
        logits -= logits.max(axis=1, keepdims=True)
        log_z = np.log(np.exp(logits).sum(axis=1, keepdims=True))
        log_p = logits - log_z
        loss = -np.sum(log_p * onehot) / n + 0.5 * l2 * np.sum(w * w)
        residual = (np.exp(log_p) - onehot) / n
        grad_w = xs.T @ residual + l2 * w
        return loss, np.concatenate([grad_w.ravel(), residual.sum(axis=0)])

    theta = _lbfgs(fun, np.zeros(d * c + c), max_iter, tol)
    return LogisticRegression(theta[: d * c].reshape(d, c), theta[d * c :], mean, scale)


# ----------------------------------------------------------------------------
# BetaVAE score
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BetaVAEScore:
    """The BetaVAE score: accuracy of predicting the fixed factor.

    Attributes:
      train_accuracy: on the classifier's training points.
      eval_accuracy: on fresh points (the score).
    """

    train_accuracy: float
    eval_accuracy: float

    @property
    def score(self) -> float:
        """``eval_accuracy``."""
        return self.eval_accuracy


def beta_vae_features(codes_a, codes_b) -> np.ndarray:
    """BetaVAE-metric features: ``mean_b |z_a - z_b|`` per point.

    Args:
      codes_a, codes_b: ``[P, B, L]`` codes of ``P`` batches of ``B`` pairs.

    Returns:
      ``[P, L]``.
    """
    a, b = np.asarray(codes_a, np.float64), np.asarray(codes_b, np.float64)
    if a.shape != b.shape or a.ndim != 3:
        raise ValueError(f"codes_a and codes_b must both be [P, B, L], got {a.shape} and {b.shape}")
    return np.mean(np.abs(a - b), axis=1)


def beta_vae_score_from_features(
    train_features, train_labels, eval_features, eval_labels, num_factors: int, l2: float | None = None
) -> BetaVAEScore:
    """Train the BetaVAE-metric classifier and score it.

    Args:
      train_features, eval_features: ``[P, L]`` (:func:`beta_vae_features`).
      train_labels, eval_labels: ``[P]`` index of the fixed factor.
      num_factors: number of factors (classes).
      l2: the classifier's penalty (see :func:`fit_logistic_regression`).
    """
    model = fit_logistic_regression(train_features, train_labels, num_factors, l2=l2)
    return BetaVAEScore(model.accuracy(train_features, train_labels), model.accuracy(eval_features, eval_labels))


def _beta_vae_points(encode, data, num_points, batch_size, rng, encode_batch_size):
    k = len(data.factor_sizes)
    labels = rng.integers(0, k, size=num_points)
    factors_a = np.asarray(data.sample_factors(num_points * batch_size, rng)).reshape(num_points, batch_size, k)
    factors_b = np.asarray(data.sample_factors(num_points * batch_size, rng)).reshape(num_points, batch_size, k)
    points = np.arange(num_points)
    factors_b[points, :, labels] = factors_a[points, :, labels]
    codes_a = encode_factors(encode, data, factors_a.reshape(-1, k), encode_batch_size)
    codes_b = encode_factors(encode, data, factors_b.reshape(-1, k), encode_batch_size)
    shape = (num_points, batch_size, codes_a.shape[-1])
    return beta_vae_features(codes_a.reshape(shape), codes_b.reshape(shape)), labels


def beta_vae_score(
    encode: Encoder,
    data: GroundTruthData,
    *,
    seed: Seed = 0,
    batch_size: int = 64,
    num_train: int = 1000,
    num_eval: int = 500,
    encode_batch_size: int = 1024,
) -> BetaVAEScore:
    """The BetaVAE score of a representation (Higgins et al. 2017).

    Args:
      encode: images -> codes ``[N, L]``, e.g. ``model.embed``.
      data: the ground-truth sampler, e.g. ``ShapesDataset()``.
      seed: seed of every draw.
      batch_size: pairs averaged into one point (64 in disentanglement_lib).
      num_train: training points of the classifier (10,000 in disentanglement_lib).
      num_eval: evaluation points (5,000 in disentanglement_lib).
      encode_batch_size: images rendered and encoded per call.

    Returns:
      :class:`BetaVAEScore`; chance is ``1 / K``.
    """
    _check_counts(batch_size=batch_size, num_train=num_train, num_eval=num_eval, encode_batch_size=encode_batch_size)
    rng = _rng(seed)
    train = _beta_vae_points(encode, data, num_train, batch_size, rng, encode_batch_size)
    evaluation = _beta_vae_points(encode, data, num_eval, batch_size, rng, encode_batch_size)
    return beta_vae_score_from_features(*train, *evaluation, num_factors=len(data.factor_sizes))


# ----------------------------------------------------------------------------
# FactorVAE score
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FactorVAEScore:
    """The FactorVAE score: accuracy of the majority-vote classifier.

    Attributes:
      train_accuracy: on the votes that built the classifier.
      eval_accuracy: on fresh votes (the score).
      active: ``[L]`` mask of the code dimensions kept (not collapsed).
      classifier: ``[L]`` the factor each code dimension votes for.
    """

    train_accuracy: float
    eval_accuracy: float
    active: np.ndarray
    classifier: np.ndarray

    @property
    def score(self) -> float:
        """``eval_accuracy``."""
        return self.eval_accuracy

    @property
    def num_active_dims(self) -> int:
        """Number of code dimensions kept."""
        return int(self.active.sum())


def factor_vae_votes(batch_codes, fixed_factors, global_variances, num_factors: int, active) -> np.ndarray:
    """Votes ``[K, L]``: how often fixing factor ``k`` minimised code ``j``'s normalised variance.

    Args:
      batch_codes: ``[P, B, L]`` codes of batches that share one factor's value.
      fixed_factors: ``[P]`` the factor fixed in each batch.
      global_variances: ``[L]`` code variances over the data.
      num_factors: ``K``.
      active: ``[L]`` boolean mask of the dimensions that may win.
    """
    codes = np.asarray(batch_codes, np.float64)
    if codes.ndim != 3 or codes.shape[1] < 2:
        raise ValueError(f"batch_codes must be [P, B >= 2, L], got shape {codes.shape}")
    active = np.asarray(active, bool)
    kept = np.flatnonzero(active)
    local = np.var(codes[:, :, kept], axis=1, ddof=1) / np.asarray(global_variances, np.float64)[kept]
    winners = kept[np.argmin(local, axis=1)]
    votes = np.zeros((num_factors, codes.shape[2]), np.int64)
    np.add.at(votes, (np.asarray(fixed_factors, np.int64), winners), 1)
    return votes


def factor_vae_score_from_codes(
    train_codes,
    train_labels,
    eval_codes,
    eval_labels,
    global_variances,
    num_factors: int,
    prune_threshold: float = FACTOR_VAE_PRUNE_THRESHOLD,
) -> FactorVAEScore:
    """The FactorVAE score from codes of batches with one factor fixed.

    Args:
      train_codes, eval_codes: ``[P, B, L]`` codes; in batch ``p`` factor
        ``labels[p]`` has one value.
      train_labels, eval_labels: ``[P]`` the fixed factor of each batch.
      global_variances: ``[L]`` variance of each code over the data.
      num_factors: number of factors ``K``.
      prune_threshold: dimensions whose global standard deviation is below
        this are ignored (collapsed to the prior).

    Returns:
      :class:`FactorVAEScore`; all zero when every dimension is collapsed.
    """
    global_variances = np.asarray(global_variances, np.float64)
    active = np.sqrt(global_variances) >= prune_threshold
    if not active.any():
        return FactorVAEScore(0.0, 0.0, active, np.zeros(len(active), np.int64))
    train_votes = factor_vae_votes(train_codes, train_labels, global_variances, num_factors, active)
    eval_votes = factor_vae_votes(eval_codes, eval_labels, global_variances, num_factors, active)
    classifier = np.argmax(train_votes, axis=0)
    dims = np.arange(len(classifier))
    return FactorVAEScore(
        float(train_votes[classifier, dims].sum() / max(train_votes.sum(), 1)),
        float(eval_votes[classifier, dims].sum() / max(eval_votes.sum(), 1)),
        active,
        classifier,
    )


def _factor_vae_batches(encode, data, num_points, batch_size, rng, encode_batch_size):
    k = len(data.factor_sizes)
    labels = rng.integers(0, k, size=num_points)
    factors = np.asarray(data.sample_factors(num_points * batch_size, rng)).reshape(num_points, batch_size, k)
    points = np.arange(num_points)
    factors[points, :, labels] = factors[points, :1, labels]
    codes = encode_factors(encode, data, factors.reshape(-1, k), encode_batch_size)
    return codes.reshape(num_points, batch_size, -1), labels


def factor_vae_score(
    encode: Encoder,
    data: GroundTruthData,
    *,
    seed: Seed = 0,
    batch_size: int = 64,
    num_train: int = 1000,
    num_eval: int = 500,
    num_variance_estimate: int = 10_000,
    prune_threshold: float = FACTOR_VAE_PRUNE_THRESHOLD,
    encode_batch_size: int = 1024,
) -> FactorVAEScore:
    """The FactorVAE score of a representation (Kim & Mnih 2018).

    Args:
      encode: images -> codes ``[N, L]``, e.g. ``model.embed``.
      data: the ground-truth sampler, e.g. ``ShapesDataset()``.
      seed: seed of every draw.
      batch_size: examples sharing the fixed factor per vote (64 in disentanglement_lib).
      num_train: votes that build the classifier (10,000 in disentanglement_lib).
      num_eval: votes that score it (5,000 in disentanglement_lib).
      num_variance_estimate: draws for the global variances.
      prune_threshold: minimum global standard deviation of a kept dimension.
      encode_batch_size: images rendered and encoded per call.

    Returns:
      :class:`FactorVAEScore`; chance is about ``1 / K``.
    """
    _check_counts(2, batch_size=batch_size)  # a variance needs two codes
    _check_counts(num_train=num_train, num_eval=num_eval, num_variance_estimate=num_variance_estimate,
                  encode_batch_size=encode_batch_size)
    rng = _rng(seed)
    codes, _ = sample_codes(encode, data, num_variance_estimate, rng, encode_batch_size)
    global_variances = np.var(codes, axis=0, ddof=1)
    train = _factor_vae_batches(encode, data, num_train, batch_size, rng, encode_batch_size)
    evaluation = _factor_vae_batches(encode, data, num_eval, batch_size, rng, encode_batch_size)
    return factor_vae_score_from_codes(
        *train, *evaluation, global_variances, num_factors=len(data.factor_sizes), prune_threshold=prune_threshold
    )


# ----------------------------------------------------------------------------
# Mutual Information Gap
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MIGScore:
    """The Mutual Information Gap.

    Attributes:
      mig: mean of ``gaps`` over the factors with non-zero entropy (the score).
      gaps: ``[K]`` normalised gap per factor (NaN for a constant factor).
      mutual_information: ``[L, K]`` ``I(z_j; v_k)`` in nats.
      entropy: ``[K]`` ``H(v_k)`` in nats.
    """

    mig: float
    gaps: np.ndarray
    mutual_information: np.ndarray
    entropy: np.ndarray

    @property
    def score(self) -> float:
        """``mig``."""
        return self.mig


def discretize(codes, num_bins: int = MIG_NUM_BINS) -> np.ndarray:
    """Bin each code dimension into ``num_bins`` equal-width bins over its range.

    As disentanglement_lib: ``digitize(z, histogram_edges(z)[:-1])``, bins
    ``1..num_bins``.

    Args:
      codes: ``[N, L]``.
      num_bins: bins per dimension.

    Returns:
      int ``[N, L]``.
    """
    codes = _as_codes(codes)
    out = np.empty(codes.shape, np.int64)
    for j in range(codes.shape[1]):
        edges = np.histogram(codes[:, j], bins=num_bins)[1]
        out[:, j] = np.digitize(codes[:, j], edges[:-1])
    return out


def _joint_counts(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    nb = ib.max() + 1
    return np.bincount(ia * nb + ib, minlength=(ia.max() + 1) * nb).reshape(-1, nb)


def discrete_mutual_information(a, b) -> np.ndarray:
    """Plug-in mutual information (nats) between every column of ``a`` and of ``b``.

    Args:
      a: int ``[N, La]`` (or ``[N]``).
      b: int ``[N, Lb]`` (or ``[N]``).

    Returns:
      ``[La, Lb]``.
    """
    a = np.asarray(a).reshape(len(a), -1)
    b = np.asarray(b).reshape(len(b), -1)
    if len(a) != len(b):
        raise ValueError(f"a has {len(a)} rows and b {len(b)}")
    out = np.zeros((a.shape[1], b.shape[1]))
    for i in range(a.shape[1]):
        for j in range(b.shape[1]):
            joint = _joint_counts(a[:, i], b[:, j]) / len(a)
            outer = joint.sum(axis=1, keepdims=True) * joint.sum(axis=0, keepdims=True)
            nz = joint > 0
            out[i, j] = float(np.sum(joint[nz] * np.log(joint[nz] / outer[nz])))
    return np.maximum(out, 0.0)


def discrete_entropy(a) -> np.ndarray:
    """Plug-in entropy (nats) of every column of ``a`` (int ``[N, L]`` or ``[N]``), ``[L]``."""
    a = np.asarray(a).reshape(len(a), -1)
    out = np.zeros(a.shape[1])
    for j in range(a.shape[1]):
        p = np.unique(a[:, j], return_counts=True)[1] / len(a)
        out[j] = float(-np.sum(p * np.log(p)))
    return out


def mig_from_codes(codes, factors, num_bins: int = MIG_NUM_BINS) -> MIGScore:
    """The Mutual Information Gap of codes against their factors (Chen et al. 2018).

    Args:
      codes: ``[N, L]`` continuous codes (discretised into ``num_bins`` bins).
      factors: int ``[N, K]`` factor indices.
      num_bins: bins per code dimension (20 in disentanglement_lib).

    Returns:
      :class:`MIGScore`.
    """
    codes = _as_codes(codes)
    factors = _as_factors(factors, len(codes))
    mi = discrete_mutual_information(discretize(codes, num_bins), factors)
    entropy = discrete_entropy(factors)
    top = np.sort(mi, axis=0)[::-1]
    second = top[1] if len(top) > 1 else np.zeros(mi.shape[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        gaps = np.where(entropy > 0, (top[0] - second) / entropy, np.nan)
    if np.isnan(gaps).all():
        raise ValueError("every factor is constant: the MIG is undefined")
    return MIGScore(float(np.nanmean(gaps)), gaps, mi, entropy)


def mig_score(
    encode: Encoder,
    data: GroundTruthData,
    *,
    seed: Seed = 0,
    num_samples: int = 10_000,
    num_bins: int = MIG_NUM_BINS,
    encode_batch_size: int = 1024,
) -> MIGScore:
    """The Mutual Information Gap of a representation (Chen et al. 2018).

    Args:
      encode: images -> codes ``[N, L]``, e.g. ``model.embed``.
      data: the ground-truth sampler.
      seed: seed of the draws.
      num_samples: random factor draws (10,000 in disentanglement_lib).
      num_bins: bins per code dimension.
      encode_batch_size: images rendered and encoded per call.
    """
    _check_counts(num_samples=num_samples, num_bins=num_bins, encode_batch_size=encode_batch_size)
    codes, factors = sample_codes(encode, data, num_samples, seed, encode_batch_size)
    return mig_from_codes(codes, factors, num_bins)


# ----------------------------------------------------------------------------
# DCI
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DCIScore:
    """Disentanglement, completeness and informativeness (Eastwood & Williams 2018).

    Attributes:
      disentanglement: ``D`` in [0, 1] (the score).
      completeness: ``C`` in [0, 1].
      informativeness_train: mean over factors of the predictors' training accuracy.
      informativeness_test: the same on held-out codes.
      importance: ``[L, K]`` importance of code ``j`` for factor ``k``.
    """

    disentanglement: float
    completeness: float
    informativeness_train: float
    informativeness_test: float
    importance: np.ndarray

    @property
    def score(self) -> float:
        """``disentanglement``."""
        return self.disentanglement


def _normalised_entropy(p: np.ndarray, axis: int) -> np.ndarray:
    """Entropy of ``p`` normalised along ``axis``, in base ``p.shape[axis]`` (as scipy.stats.entropy)."""
    p = p + 1e-11
    p = p / p.sum(axis=axis, keepdims=True)
    base = p.shape[axis]
    if base < 2:
        return np.zeros(np.delete(p.shape, axis))
    return -np.sum(p * np.log(p), axis=axis) / np.log(base)


def _check_importance(importance) -> np.ndarray:
    r = np.asarray(importance, np.float64)
    if r.ndim != 2 or (r < 0).any():
        raise ValueError(f"importance must be a non-negative [L, K] matrix, got shape {r.shape}")
    return r


def disentanglement_from_importance(importance) -> float:
    """``D = sum_j rho_j (1 - H_K(P_j.))`` of an importance matrix ``[L, K]``."""
    r = _check_importance(importance)
    per_code = 1.0 - _normalised_entropy(r, axis=1)
    weights = r.sum(axis=1) / r.sum() if r.sum() > 0 else np.full(len(r), 1.0 / len(r))
    return float(np.sum(per_code * weights))


def completeness_from_importance(importance) -> float:
    """``C = sum_k rho_k (1 - H_L(P_.k))`` of an importance matrix ``[L, K]``."""
    r = _check_importance(importance)
    per_factor = 1.0 - _normalised_entropy(r, axis=0)
    weights = r.sum(axis=0) / r.sum() if r.sum() > 0 else np.full(r.shape[1], 1.0 / r.shape[1])
    return float(np.sum(per_factor * weights))


def dci_from_codes(
    codes_train,
    factors_train,
    codes_test,
    factors_test,
    factor_sizes: Sequence[int] | None = None,
    l2: float | None = None,
) -> DCIScore:
    """DCI from codes and factors (Eastwood & Williams 2018).

    One multinomial logistic regression per factor predicts its index from
    the standardised codes (see the module docstring); the spread of each
    code's class weights is its importance.

    Args:
      codes_train, codes_test: ``[N, L]``.
      factors_train, factors_test: int ``[N, K]``.
      factor_sizes: classes per factor (default: the largest index seen + 1).
      l2: the predictors' penalty (see :func:`fit_logistic_regression`).

    Returns:
      :class:`DCIScore`.
    """
    codes_train, codes_test = _as_codes(codes_train), _as_codes(codes_test)
    factors_train = _as_factors(factors_train, len(codes_train))
    factors_test = _as_factors(factors_test, len(codes_test))
    num_factors = factors_train.shape[1]
    if factor_sizes is None:
        factor_sizes = np.maximum(factors_train.max(axis=0), factors_test.max(axis=0)) + 1
    importance = np.zeros((codes_train.shape[1], num_factors))
    train_accuracy, test_accuracy = [], []
    for k in range(num_factors):
        model = fit_logistic_regression(codes_train, factors_train[:, k], int(factor_sizes[k]), l2=l2)
        importance[:, k] = model.importance()
        train_accuracy.append(model.accuracy(codes_train, factors_train[:, k]))
        test_accuracy.append(model.accuracy(codes_test, factors_test[:, k]))
    return DCIScore(
        disentanglement_from_importance(importance),
        completeness_from_importance(importance),
        float(np.mean(train_accuracy)),
        float(np.mean(test_accuracy)),
        importance,
    )


def dci_score(
    encode: Encoder,
    data: GroundTruthData,
    *,
    seed: Seed = 0,
    num_train: int = 10_000,
    num_test: int = 5_000,
    encode_batch_size: int = 1024,
) -> DCIScore:
    """DCI disentanglement, completeness and informativeness of a representation.

    Args:
      encode: images -> codes ``[N, L]``, e.g. ``model.embed``.
      data: the ground-truth sampler.
      seed: seed of the draws.
      num_train: draws the predictors are fitted on (10,000 in disentanglement_lib).
      num_test: held-out draws for informativeness (5,000 in disentanglement_lib).
      encode_batch_size: images rendered and encoded per call.
    """
    _check_counts(num_train=num_train, num_test=num_test, encode_batch_size=encode_batch_size)
    rng = _rng(seed)
    codes_train, factors_train = sample_codes(encode, data, num_train, rng, encode_batch_size)
    codes_test, factors_test = sample_codes(encode, data, num_test, rng, encode_batch_size)
    return dci_from_codes(codes_train, factors_train, codes_test, factors_test, factor_sizes=data.factor_sizes)
