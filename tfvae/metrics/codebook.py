r"""Codebook statistics of a vector-quantised model over a whole data set.

From the code indices ``k_j`` of all latent positions ``j`` of a data set
(``VQVAE.encode_indices`` or ``VectorQuantizer.nearest``), with
``c_i = #{j : k_j = i}`` and ``p_i = c_i / sum_i c_i``:

    perplexity = exp(H(p)) = exp(-sum_i p_i log p_i)       (0 log 0 = 0)
    usage      = #{i : c_i > 0} / K

The perplexity is the effective number of codes in use: ``K`` when every code
is used equally often, 1 when one code takes everything. Over a data set it is
more telling than the per-batch value the quantizer layers report, which
averages code use over one batch only.

::

    from tfvae.metrics.codebook import codebook_statistics

    batches = (quantizer.nearest(encoder(x)) for x in dataset)   # int [B, H, W] each
    stats = codebook_statistics(batches, num_embeddings=quantizer.num_embeddings)
    stats.histogram, stats.perplexity, stats.usage, stats.dead_codes

References:
  van den Oord, A., Vinyals, O. & Kavukcuoglu, K. (2017). Neural Discrete
  Representation Learning. NeurIPS.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

__all__ = ["CodebookStatistics", "code_histogram", "codebook_statistics", "perplexity", "usage"]


def _batches(indices) -> Iterator[np.ndarray]:
    """One array (an array, a tensor, a nested list) or an iterable of batches of them."""
    if isinstance(indices, (np.ndarray, tf.Tensor, int, np.integer)):
        yield np.asarray(indices)
        return
    if isinstance(indices, (list, tuple)):
        try:
            whole = np.asarray(indices)
        except ValueError:  # ragged: a list of batches of different sizes
            whole = None
        if whole is not None and whole.dtype != object:
            yield whole
            return
    if not isinstance(indices, Iterable):
        raise TypeError(
            f"indices must be an integer array, tensor or an iterable of them, got {type(indices).__name__}"
        )
    for batch in indices:
        yield np.asarray(batch)


def code_histogram(indices, num_embeddings: int) -> np.ndarray:
    """How often each code occurs: int64 counts ``c_i``, shape ``[K]``.

    Args:
      indices: integer code indices of any shape (numpy array, tensor, nested
        list), or an iterable of such batches (``tf.data.Dataset``, generator,
        list of arrays); every element counts once.
      num_embeddings: codebook size ``K``.

    Raises:
      TypeError: the indices are not integers.
      ValueError: an index lies outside ``[0, K)``.
    """
    k = int(num_embeddings)
    if k < 1:
        raise ValueError(f"num_embeddings must be >= 1, got {num_embeddings}")
    counts = np.zeros(k, np.int64)
    for batch in _batches(indices):
        if batch.size == 0:
            continue
        if not np.issubdtype(batch.dtype, np.integer):
            raise TypeError(f"code indices must be integers, got dtype {batch.dtype}")
        flat = batch.reshape(-1).astype(np.int64)
        low, high = int(flat.min()), int(flat.max())
        if low < 0 or high >= k:
            raise ValueError(f"code indices must lie in [0, {k}), got values in [{low}, {high}]")
        counts += np.bincount(flat, minlength=k)
    return counts


@dataclass(frozen=True)
class CodebookStatistics:
    """Code use over a data set.

    Attributes:
      histogram: int64 counts ``c_i`` of each code, ``[K]``.
    """

    histogram: np.ndarray

    @property
    def num_embeddings(self) -> int:
        return int(self.histogram.shape[0])

    @property
    def total(self) -> int:
        """Number of latent positions counted."""
        return int(self.histogram.sum())

    @property
    def probabilities(self) -> np.ndarray:
        """``p_i = c_i / sum c``, float64 ``[K]``."""
        if self.total == 0:
            raise ValueError("no code indices were counted")
        return self.histogram / self.total

    @property
    def perplexity(self) -> float:
        """``exp(-sum_i p_i log p_i)``, in ``[1, K]``."""
        p = self.probabilities
        p = p[p > 0]
        return float(np.exp(-np.sum(p * np.log(p))))

    @property
    def usage(self) -> float:
        """Fraction of the ``K`` codes used at least once."""
        return float(np.count_nonzero(self.histogram)) / self.num_embeddings

    @property
    def dead_codes(self) -> np.ndarray:
        """Indices of the codes never used, int64."""
        return np.flatnonzero(self.histogram == 0)


def codebook_statistics(indices, num_embeddings: int) -> CodebookStatistics:
    """Histogram, perplexity and usage of the codes in ``indices`` (one pass over them).

    Args:
      indices: code indices, or an iterable of batches of them (see :func:`code_histogram`).
      num_embeddings: codebook size ``K``.
    """
    return CodebookStatistics(code_histogram(indices, num_embeddings))


def perplexity(indices, num_embeddings: int) -> float:
    """``exp`` of the entropy of the code distribution in ``indices``: ``K`` for uniform use, 1 for one code."""
    return codebook_statistics(indices, num_embeddings).perplexity


def usage(indices, num_embeddings: int) -> float:
    """Fraction of the ``K`` codes that occur at least once in ``indices``."""
    return codebook_statistics(indices, num_embeddings).usage
