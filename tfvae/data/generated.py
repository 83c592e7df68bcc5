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

``make(split)`` returns float32 examples, or uint8 images (0..255) that
:func:`load_generated` keeps as uint8 in memory and scales to ``[0, 1]`` per
batch (the shapes: 82 MB instead of 330 MB of float32).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from tfvae.data.pipeline import pipeline_options
from tfvae.data.sequences import harmonic_oscillator, moving_digits, sine_sequences


@dataclass(frozen=True)
class GeneratedDataset:
    """A generated dataset: example shape, split sizes and the generator of a split.

    ``make(split)`` returns the split's examples, float32, or uint8 images
    (0..255) scaled to ``[0, 1]`` by :func:`load_generated`.
    """

    shape: tuple[int, ...]
    splits: dict[str, int]
    make: Callable[[str], np.ndarray]


def _ratings(split: str) -> np.ndarray:
    from tfvae.applications.recommender import low_rank_ratings

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
        (20, 1), {"train": 4000, "test": 1000}, lambda split: sine_sequences(4000 if split == "train" else 1000, seed=1000 + (split == "test"))
    ),
    "lowrank_ratings": GeneratedDataset((300,), {"train": 1000, "test": 200}, _ratings),
    "shapes": GeneratedDataset((64, 64, 1), {k: n for k, (n, _) in SHAPES_SPLITS.items()}, _shapes),
    "oscillator": GeneratedDataset(
        (30, 1), {"train": 10_000, "test": 1000},
        lambda split: harmonic_oscillator(10_000 if split == "train" else 1000, length=30, seed=int(split == "test")),
    ),
    "moving_digits": GeneratedDataset((20, 32, 32, 1), {"train": 5000, "test": 1000}, _moving_digits),
}


def load_generated(name: str, split: str, batch_size: int = 128, *, shuffle: bool | None = None,
                   seed: int = 0, limit: int | None = None, padding=None) -> tf.data.Dataset:
    """A batched ``tf.data.Dataset`` of a generated dataset.

    Args:
      name: a key of ``GENERATED``.
      split: ``"train"`` or ``"test"``.
      batch_size: examples per batch.
      shuffle: reshuffle every epoch (default: for ``"train"``).
      seed: shuffle seed.
      limit: keep only the first ``limit`` examples of the split.
      padding: ``((top, bottom), (left, right))`` zeros around each image
        ``[H, W, C]`` (:func:`tfvae.data.image_padding`), or ``None``.

    Returns:
      A ``tf.data.Dataset`` of float32 batches (uint8 examples scaled to ``[0, 1]``).
    """
    if name not in GENERATED:
        raise ValueError(f"unknown generated dataset {name!r}; choose one of {sorted(GENERATED)}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    dataset = GENERATED[name]
    if split not in dataset.splits:
        raise ValueError(f"unknown split {split!r} for {name!r}; valid splits: {', '.join(dataset.splits)}")
    x = dataset.make(split)
    if limit is not None:
        x = x[:limit]
    ds = tf.data.Dataset.from_tensor_slices(x)
    if split == "train" if shuffle is None else shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if x.dtype == np.uint8:
        ds = ds.map(lambda images: tf.cast(images, tf.float32) / 255.0, num_parallel_calls=tf.data.AUTOTUNE)
    if padding is not None and any(any(p) for p in padding):
        pads = [[0, 0], list(padding[0]), list(padding[1]), [0, 0]]
        ds = ds.map(lambda images: tf.pad(images, pads), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE).with_options(pipeline_options())
