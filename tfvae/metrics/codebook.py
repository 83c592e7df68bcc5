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

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from tfvae.metrics.likelihood import bits_per_dim

__all__ = ["CodebookStatistics", "code_histogram", "code_nll", "codebook_statistics", "perplexity",
           "prior_is_conditional", "uniform_code_nll", "usage", "vq_bound"]


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


# ------------------------------------------------ the VQ-VAE bound: codes under a prior
def prior_is_conditional(prior) -> bool:
    """Whether a trained prior (one PixelCNN or a VQ-VAE-2's two) is class-conditional (needs labels)."""
    return any(part.num_classes > 0 for part in (prior.values() if isinstance(prior, dict) else [prior]))


def code_nll(model, prior, x, labels=None) -> dict[str, np.ndarray]:
    """Per-example ``-log p(codes(x))`` in nats under ``prior``, by level.

    Returns:
      ``{"prior": nll}`` for a one-level VQ-VAE, ``{"top": nll, "bottom": nll}``
      for a VQ-VAE-2 (the bottom level given the top codes); the sum over the
      levels is ``model.prior_nll(prior, x, labels)``.
    """
    data = model.prior_data(x, labels)
    if isinstance(prior, dict):
        return {level: -np.asarray(prior[level].log_prob(data[level])) for level in prior}
    return {"prior": -np.asarray(prior.log_prob(data))}


def uniform_code_nll(model) -> dict[str, float]:
    """``h * w * log K`` nats per level of ``model.code_levels()`` (``{"prior": ...}`` for one level).

    The uniform prior's NLL of the codes: each of the ``h * w`` codes of a
    level is one of ``K`` with probability ``1 / K``.
    """
    return {level or "prior": float(np.prod(shape)) * math.log(size) for _, level, shape, size in model.code_levels()}


def vq_bound(model, prior, batches: Iterable, max_examples: int | None = None, *,
             bits_per_dim_convention: str | None = None, bits_per_dim_note: str = "",
             num_levels: int = 256) -> dict[str, dict]:
    """The VQ-VAE bound ``-log p(x) <= distortion - log p(codes)`` on ``batches``, uniform and trained prior.

    The one report of the bound: ``tfvae evaluate`` writes it to
    ``metrics.json`` (``vq_bound``) and a prior run to its ``summary.json``
    (``test``). Its bits/dim follow the one rule of
    :func:`tfvae.metrics.bits_per_dim` (as ``evaluate_model``'s do), with
    ``D`` the data dimensions: ``"discrete"``, ``nats / (D ln 2)``;
    ``"dequantized"``, ``(nats + D ln L) / (D ln 2)`` (``+ log2 L`` per
    dimension); no convention (a Bernoulli likelihood on grey levels, a
    density on data that was not dequantised), no bits/dim.

    Args:
      model: a VQ-VAE or VQ-VAE-2.
      prior: its trained prior (:func:`tfvae.experiment.load_prior`), or ``None`` for the uniform one only.
      batches: batches of ``x``, or of ``(x, labels)`` (the labels go to a
        class-conditional prior).
      max_examples: use only the first ``max_examples`` examples.
      bits_per_dim_convention: ``"discrete"``, ``"dequantized"`` or ``None``
        (no bits/dim); a run's is :func:`tfvae.metrics.bits_per_dim_convention` of its
        likelihood and data (``tfvae evaluate`` and a prior run pass it).
      bits_per_dim_note: why that convention applies, or why there is none.
      num_levels: ``L``, quantisation levels for the ``"dequantized"`` convention.

    Returns:
      ``{"uniform": {...}, "prior": {...}}`` (``prior`` only with a trained
      prior), each with ``distortion``, ``rate`` (the codes' NLL) and ``nats``
      of the bound, per example, its ``bits_per_dim`` (``None`` without a
      convention), ``bits_per_dim_convention`` and ``bits_per_dim_note``
      (why that convention, or why none); for a VQ-VAE-2 each also has
      ``levels``: the rate of the top codes and of the bottom codes given the
      top ones (their sum is ``rate``).
    """
    distortions: list[np.ndarray] = []
    learned: dict[str, list[np.ndarray]] = {}
    conditional = prior is not None and prior_is_conditional(prior)
    seen = 0
    for batch in batches:
        x, labels = batch if isinstance(batch, tuple) else (batch, None)
        if max_examples is not None:
            x = x[: max_examples - seen]
            labels = None if labels is None else labels[: max_examples - seen]
        distortions.append(np.asarray(model.bound(x)["distortion"]))
        if prior is not None:
            for level, nll in code_nll(model, prior, x, labels if conditional else None).items():
                learned.setdefault(level, []).append(nll)
        seen += len(x)
        if max_examples is not None and seen >= max_examples:
            break
    distortion = float(np.mean(np.concatenate(distortions)))
    num_dims = int(np.prod(model.data_shape))
    rates = {"uniform": uniform_code_nll(model)}
    if learned:
        rates["prior"] = {level: float(np.mean(np.concatenate(parts))) for level, parts in learned.items()}
    note = bits_per_dim_note or ("" if bits_per_dim_convention else "no bits/dim convention given")
    out = {}
    for name, levels in rates.items():
        rate = sum(levels.values())
        bpd = None if bits_per_dim_convention is None else float(
            bits_per_dim(distortion + rate, num_dims, bits_per_dim_convention, num_levels))
        out[name] = {"distortion": distortion, "rate": rate, "nats": distortion + rate, "bits_per_dim": bpd,
                     "bits_per_dim_convention": bits_per_dim_convention,
                     "bits_per_dim_note": note}
        if set(levels) != {"prior"}:
            out[name]["levels"] = levels
    return out
