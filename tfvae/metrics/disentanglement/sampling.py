"""What every disentanglement metric shares: the ground truth, seeds, checks, encoding.

- :class:`GroundTruthData`: the protocol of a sampler of images with known
  factors (``factor_sizes``, ``sample_factors(n, rng)``,
  ``observations(factors)``), e.g. :class:`tfvae.data.shapes.ShapesDataset`;
- ``Encoder``: the representation being scored, ``images -> codes [N, L]``
  (e.g. ``model.embed``, the posterior mean); ``Seed``: an int, a
  ``numpy.random.Generator`` or ``None``, turned into one generator that
  every draw of a metric shares (so a score is deterministic for a seed);
- the argument checks of the metrics (counts, ``[N, L]`` finite codes,
  ``[N, K]`` non-negative integer factors);
- :func:`encode_factors` (render and encode factor combinations a batch at a
  time, bounding memory) and :func:`sample_codes` (random factor draws and
  their codes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

__all__ = ["Encoder", "GroundTruthData", "Seed", "encode_factors", "sample_codes"]

Encoder = Callable[[np.ndarray], Any]
"""``images -> codes [N, L]`` (numpy or a tensor), e.g. ``model.embed``."""

Seed = int | np.random.Generator | None


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
