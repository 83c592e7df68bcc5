"""Datasets the project generates (offline, reproducible): sequences and ratings.

=================== ======== ========================================================
name                shape    what
=================== ======== ========================================================
``sines``           (20, 1)  variable-length sine waves, zero-padded (sequence AE)
``lowrank_ratings`` (300,)   users' 1-5 ratings of 300 items from a rank-5 model,
                             80% missing (0); ``train``/``test`` are different users
=================== ======== ========================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from tfvae.data.sequences import sine_sequences


@dataclass(frozen=True)
class GeneratedDataset:
    """A generated dataset: example shape, split sizes and the generator of a split."""

    shape: tuple[int, ...]
    splits: dict[str, int]
    make: Callable[[str], np.ndarray]


def _ratings(split: str) -> np.ndarray:
    from tfvae.applications.recommender import low_rank_ratings

    users = low_rank_ratings(num_users=1200, num_items=300, seed=0)
    return users[:1000] if split == "train" else users[1000:]


GENERATED: dict[str, GeneratedDataset] = {
    "sines": GeneratedDataset(
        (20, 1), {"train": 4000, "test": 1000}, lambda split: sine_sequences(4000 if split == "train" else 1000, seed=1000 + (split == "test"))
    ),
    "lowrank_ratings": GeneratedDataset((300,), {"train": 1000, "test": 200}, _ratings),
}


def load_generated(name: str, split: str, batch_size: int = 128, *, shuffle: bool | None = None,
                   seed: int = 0) -> tf.data.Dataset:
    """A batched ``tf.data.Dataset`` of a generated dataset.

    Args:
      name: a key of ``GENERATED``.
      split: ``"train"`` or ``"test"``.
      batch_size: examples per batch.
      shuffle: reshuffle every epoch (default: for ``"train"``).
      seed: shuffle seed.
    """
    if name not in GENERATED:
        raise ValueError(f"unknown generated dataset {name!r}; choose one of {sorted(GENERATED)}")
    dataset = GENERATED[name]
    if split not in dataset.splits:
        raise ValueError(f"unknown split {split!r} for {name!r}; valid splits: {', '.join(dataset.splits)}")
    x = dataset.make(split)
    ds = tf.data.Dataset.from_tensor_slices(x)
    if split == "train" if shuffle is None else shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
