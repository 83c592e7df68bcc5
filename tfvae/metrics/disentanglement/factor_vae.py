"""The FactorVAE score (Kim & Mnih 2018), as in disentanglement_lib.

Codes are divided by their standard deviation over the data
(``num_variance_estimate`` samples); dimensions whose standard deviation is
below ``prune_threshold`` (0.05, disentanglement_lib's setting) are collapsed
and ignored. A point: fix factor ``k`` at a random value over a batch of
``B``; vote ``(k, argmin_j Var_batch(z_j) / Var_data(z_j))``. The classifier
maps each code dimension to its majority factor; the score is its accuracy
on fresh votes. Chance is about ``1 / K``.

Defaults (``num_train=1000``, ``num_eval=500``) are smaller than
disentanglement_lib's (10,000 and 5,000) so that a score takes seconds on a
CPU; pass those values to compare with papers.

References:
  Kim, H. & Mnih, A. (2018). Disentangling by Factorising. ICML.
  Locatello, F. et al. (2019). Challenging Common Assumptions in the
  Unsupervised Learning of Disentangled Representations. ICML
  (disentanglement_lib).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tfvae.metrics.disentanglement.sampling import (
    Encoder,
    GroundTruthData,
    Seed,
    _check_counts,
    _rng,
    encode_factors,
    sample_codes,
)

__all__ = [
    "FACTOR_VAE_PRUNE_THRESHOLD",
    "FactorVAEScore",
    "factor_vae_score",
    "factor_vae_score_from_codes",
    "factor_vae_votes",
]

FACTOR_VAE_PRUNE_THRESHOLD = 0.05


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
