"""Generated sequences for the sequence autoencoder (see :mod:`tfvae.data.generated`)."""

from __future__ import annotations

import numpy as np

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
