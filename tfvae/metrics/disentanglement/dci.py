"""DCI disentanglement, completeness and informativeness (Eastwood & Williams 2018).

An importance matrix ``R [L, K]`` (how much code ``j`` is used to predict
factor ``k``); with ``P_jk = R_jk / sum_k R_jk``, code ``j`` is disentangled
by ``D_j = 1 - H_K(P_j.)`` (entropy in base ``K``), and
``D = sum_j rho_j D_j`` with ``rho_j = sum_k R_jk / sum R``. Completeness is
the same on the columns (base ``L``). Informativeness is the accuracy of the
predictors.

*Our choice of predictor.* Eastwood & Williams used LASSO and random forests;
disentanglement_lib gradient-boosted trees (scikit-learn, not a dependency
here, and slow). We use, per factor, the same L2-regularised multinomial
logistic regression as the BetaVAE score
(:mod:`tfvae.metrics.disentanglement.logistic`), on standardised codes,
predicting the factor's index as a class; ``R_jk`` is the spread (standard
deviation over classes) of code ``j``'s class weights, i.e. how much code
``j`` moves the logits. A multinomial linear model turns one code into any
sequence of ordered intervals (the upper envelope of lines), so a factor
encoded monotonically in one code, or in a linear combination of codes, is
predicted and attributed correctly; like E&W's LASSO it misses non-monotone
(e.g. circular) dependencies, which the trees would catch. Scores are
therefore comparable across our models, not to the GBT numbers of
disentanglement_lib papers.

References:
  Eastwood, C. & Williams, C. K. I. (2018). A Framework for the Quantitative
  Evaluation of Disentangled Representations. ICLR.
  Locatello, F. et al. (2019). Challenging Common Assumptions in the
  Unsupervised Learning of Disentangled Representations. ICML
  (disentanglement_lib).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tfvae.metrics.disentanglement.logistic import fit_logistic_regression
from tfvae.metrics.disentanglement.sampling import (
    Encoder,
    GroundTruthData,
    Seed,
    _as_codes,
    _as_factors,
    _check_counts,
    _rng,
    sample_codes,
)

__all__ = [
    "DCIScore",
    "completeness_from_importance",
    "dci_from_codes",
    "dci_score",
    "disentanglement_from_importance",
]


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
