"""The Mutual Information Gap (Chen et al. 2018), as in disentanglement_lib.

Codes are discretised into 20 equal-width bins per dimension;
``MIG = mean_k (I(z_a; v_k) - I(z_b; v_k)) / H(v_k)``, with ``z_a``, ``z_b``
the two codes most informative about factor ``v_k`` (plug-in estimates,
nats). Factors with ``H(v_k) = 0`` (a constant factor) are left out.

References:
  Chen, R. T. Q., Li, X., Grosse, R. & Duvenaud, D. (2018). Isolating Sources
  of Disentanglement in Variational Autoencoders. NeurIPS.
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
    _as_codes,
    _as_factors,
    _check_counts,
    sample_codes,
)

__all__ = [
    "MIG_NUM_BINS",
    "MIGScore",
    "discrete_entropy",
    "discrete_mutual_information",
    "discretize",
    "mig_from_codes",
    "mig_score",
]

MIG_NUM_BINS = 20


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
