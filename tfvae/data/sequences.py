"""Generated sequence data for the sequence autoencoder (offline, reproducible)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

SEQUENCE_DATASETS = ("sines",)
SINES_SHAPE = (20, 1)
SINES_SPLITS = {"train": (4000, 0), "test": (1000, 1)}


def sine_sequences(num: int, max_length: int = 20, min_length: int = 5, seed: int = 0) -> np.ndarray:
    """Sine waves of random frequency, phase and amplitude, random length, zero-padded.

    ``x_t = a sin(w t + p) + c`` for ``t < length`` (``a`` in [0.5, 1],
    ``w`` in [0.3, 1.2], ``c`` in [-0.2, 0.2]), and 0 (padding) after.

    Args:
      num: number of sequences.
      max_length: padded length ``T``.
      min_length: shortest sequence.
      seed: numpy seed.

    Returns:
      float32 ``[num, max_length, 1]``.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(max_length)[None, :]
    amplitude = rng.uniform(0.5, 1.0, (num, 1))
    frequency = rng.uniform(0.3, 1.2, (num, 1))
    phase = rng.uniform(0, 2 * np.pi, (num, 1))
    offset = rng.uniform(-0.2, 0.2, (num, 1))
    x = amplitude * np.sin(frequency * t + phase) + offset
    lengths = rng.integers(min_length, max_length + 1, (num, 1))
    x = np.where(t < lengths, x, 0.0)
    x[(t < lengths) & (x == 0.0)] = 1e-6  # a real zero would read as padding
    return x[..., None].astype(np.float32)


def load_sequences(name: str, split: str, batch_size: int = 128, *, shuffle: bool | None = None,
                   seed: int = 0) -> tf.data.Dataset:
    """A batched ``tf.data.Dataset`` of a generated sequence dataset.

    Args:
      name: ``"sines"``.
      split: ``"train"`` (4,000 sequences) or ``"test"`` (1,000, disjoint draws).
      batch_size: sequences per batch.
      shuffle: reshuffle every epoch (default: for ``"train"``).
      seed: shuffle seed.
    """
    if name not in SEQUENCE_DATASETS:
        raise ValueError(f"unknown sequence dataset {name!r}; choose one of {SEQUENCE_DATASETS}")
    if split not in SINES_SPLITS:
        raise ValueError(f"unknown split {split!r} for {name!r}; valid splits: {', '.join(SINES_SPLITS)}")
    num, split_seed = SINES_SPLITS[split]
    x = sine_sequences(num, SINES_SHAPE[0], seed=1000 + split_seed)
    ds = tf.data.Dataset.from_tensor_slices(x)
    if split == "train" if shuffle is None else shuffle:
        ds = ds.shuffle(num, seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
