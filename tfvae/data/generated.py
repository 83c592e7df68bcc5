"""Datasets the project generates (offline, reproducible): sequences, ratings, shapes.

=================== =========== =====================================================
name                shape       what
=================== =========== =====================================================
``sines``           (20, 1)     variable-length sine waves, zero-padded (sequence AE)
``lowrank_ratings`` (300,)      users' 1-5 ratings of 300 items from a rank-5 model,
                                80% missing (0); ``train``/``test`` are different users
``shapes``          (64, 64, 1) dSprites-like binary images (:mod:`tfvae.data.shapes`):
                                20,000 ``train`` and 2,000 ``test`` uniform factor
                                draws (seeds 0 and 1), pixels 0.0 / 1.0
``oscillator``      (30, 1)     noisy positions of a noisy harmonic oscillator (TD-VAE;
                                10,000 / 1,000 sequences, seeds 0 and 1)
``moving_digits``   (20, 32,    a real digit of the split bouncing on a 32x32 canvas
                    32, 1)      (TD-VAE; 5,000 / 1,000 sequences of 20 frames, uint8)
=================== =========== =====================================================

This module is the catalogue: what each dataset is and how a split is made
(pure numpy, from :mod:`tfvae.data.sequences`, :mod:`tfvae.data.shapes` and
:mod:`tfvae.data.ratings`). :class:`tfvae.data.sources.generated.GeneratedSource`
serves an entry to :func:`tfvae.data.load_dataset` like any other source;
register a new generated dataset by adding a :class:`GeneratedDataset` to
:data:`GENERATED`.

``make(split)`` returns float32 examples, or uint8 images (0..255) that stay
uint8 in memory and are scaled to ``[0, 1]`` per batch (the shapes: 82 MB
instead of 330 MB of float32).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tfvae.data.names import GENERATED_SHAPES
from tfvae.data.ratings import low_rank_ratings
from tfvae.data.sequences import harmonic_oscillator, moving_digits, sine_sequences

__all__ = ["GENERATED", "SHAPES_SPLITS", "GeneratedDataset"]


@dataclass(frozen=True)
class GeneratedDataset:
    """A generated dataset: example shape, split sizes and the generator of a split.

    ``make(split)`` returns the split's examples, float32, or uint8 images
    (0..255) that the pipeline scales to ``[0, 1]`` per batch.
    """

    shape: tuple[int, ...]
    splits: dict[str, int]
    make: Callable[[str], np.ndarray]


def _ratings(split: str) -> np.ndarray:
    users = low_rank_ratings(num_users=1200, num_items=300, seed=0)
    return users[:1000] if split == "train" else users[1000:]


SHAPES_SPLITS = {"train": (20_000, 0), "test": (2_000, 1)}
"""Size and seed of each split of ``"shapes"``."""


@functools.lru_cache(maxsize=2)
def _shapes(split: str) -> np.ndarray:
    from tfvae.data.shapes import sample

    n, seed = SHAPES_SPLITS[split]
    images, _ = sample(n, seed=seed)
    images.setflags(write=False)
    return images


@functools.lru_cache(maxsize=2)
def _moving_digits(split: str) -> np.ndarray:
    # real digits of the split bouncing on a 32x32 canvas; uint8 keeps 5,000 x 20 frames at 102 MB
    frames = moving_digits(5000 if split == "train" else 1000, length=20, canvas=32, seed=int(split == "test"),
                           split=split, dtype="uint8")
    frames.setflags(write=False)
    return frames


GENERATED: dict[str, GeneratedDataset] = {
    "sines": GeneratedDataset(
        GENERATED_SHAPES["sines"], {"train": 4000, "test": 1000},
        lambda split: sine_sequences(4000 if split == "train" else 1000, seed=1000 + (split == "test")),
    ),
    "lowrank_ratings": GeneratedDataset(GENERATED_SHAPES["lowrank_ratings"], {"train": 1000, "test": 200}, _ratings),
    "shapes": GeneratedDataset(GENERATED_SHAPES["shapes"], {k: n for k, (n, _) in SHAPES_SPLITS.items()}, _shapes),
    "oscillator": GeneratedDataset(
        GENERATED_SHAPES["oscillator"], {"train": 10_000, "test": 1000},
        lambda split: harmonic_oscillator(10_000 if split == "train" else 1000, length=30, seed=int(split == "test")),
    ),
    "moving_digits": GeneratedDataset(GENERATED_SHAPES["moving_digits"], {"train": 5000, "test": 1000},
                                      _moving_digits),
}
"""Name -> generated dataset. :func:`tfvae.data.load_dataset` looks names up here first (at every call)."""
