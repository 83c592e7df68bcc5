"""The BetaVAE score (Higgins et al. 2017), as in disentanglement_lib.

A point: choose a factor ``k``; draw ``B`` pairs of factor combinations that
share factor ``k`` (the others independent); the feature is the mean over the
pairs of ``|z_1 - z_2|`` (``[L]``), the label ``k``. The score is the
accuracy, on ``num_eval`` fresh points, of a linear classifier trained on
``num_train`` points: the L2-regularised multinomial logistic regression of
:mod:`tfvae.metrics.disentanglement.logistic` (scikit-learn's default model
in disentanglement_lib) on standardised features. Chance is ``1 / K``.

Defaults (``num_train=1000``, ``num_eval=500``) are smaller than
disentanglement_lib's (10,000 and 5,000) so that a score takes seconds on a
CPU; pass those values to compare with papers.

References:
  Higgins, I. et al. (2017). beta-VAE: Learning Basic Visual Concepts with a
  Constrained Variational Framework. ICLR.
  Locatello, F. et al. (2019). Challenging Common Assumptions in the
  Unsupervised Learning of Disentangled Representations. ICML
  (disentanglement_lib).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tfvae.metrics.disentanglement.logistic import fit_logistic_regression
from tfvae.metrics.disentanglement.sampling import (
    Encoder,
    GroundTruthData,
    Seed,
    _check_counts,
    _rng,
    encode_factors,
)

__all__ = ["BetaVAEScore", "beta_vae_features", "beta_vae_score", "beta_vae_score_from_features"]


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
