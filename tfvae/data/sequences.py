"""Generated sequences: sine waves (sequence AE), moving digits and a noisy oscillator (TD-VAE).

Every generator is deterministic for its ``seed`` and returns float32 numpy
arrays ``[num, length, *frame_shape]``:

========================  ===========================  ==============================================
generator                 frames                       what
========================  ===========================  ==============================================
``sine_sequences``        ``[1]``                      variable-length sine waves, zero-padded
``moving_digits``         ``[canvas, canvas, 1]``      real MNIST digits bouncing in a square canvas
``harmonic_oscillator``   ``[1]`` (or ``[width]``)     noisy position of a noisy harmonic oscillator
========================  ===========================  ==============================================
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["harmonic_oscillator", "moving_digits", "sine_sequences"]


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


def _check_positive(**values) -> None:
    for name, value in values.items():
        if int(value) < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")


def bounce(start: np.ndarray, velocity: np.ndarray, steps: int, limit: float) -> np.ndarray:
    """Positions of points moving at constant velocity and bouncing elastically inside ``[0, limit]``.

    The unbounded motion ``p_t = p_0 + v t`` folded back into the interval
    (a triangle wave of period ``2 * limit``): each wall reverses the velocity.

    Args:
      start: starting positions in ``[0, limit]``, any shape ``S``.
      velocity: velocities, shape ``S``.
      steps: number of time steps ``T``.
      limit: the far wall (``> 0``).

    Returns:
      float64 ``[*S, T]`` positions in ``[0, limit]``.
    """
    t = np.arange(steps)
    free = start[..., None] + velocity[..., None] * t
    folded = np.mod(free, 2.0 * limit)
    return limit - np.abs(folded - limit)


def moving_digits(
    num: int,
    length: int = 20,
    canvas: int = 32,
    seed: int = 0,
    split: str = "train",
    digit_size: int | None = None,
    speed: tuple[float, float] = (1.0, 3.0),
    num_digits: int = 1,
    dtype: str = "float32",
) -> np.ndarray:
    """Real MNIST digits moving with constant velocity and bouncing off the canvas edges.

    Each sequence takes ``num_digits`` random digits from
    ``load_arrays("digits", split)`` (the 5,000 embedded real MNIST digits:
    ``"train"``, ``"test"`` or ``"all"``), resized from 28x28 to
    ``digit_size`` pixels (bilinear), each starting at a uniform position with
    a uniform direction and a speed uniform in ``speed`` pixels per step. The
    digit's top-left corner moves in ``[0, canvas - digit_size]`` on both axes
    and bounces elastically (:func:`bounce`); it is drawn at the rounded
    position, so every frame holds the whole digit. Several digits are
    combined with a pixel-wise maximum (Srivastava et al., 2015).

    Memory: ``num * length * canvas**2 * 4`` bytes in float32; the default
    32x32 canvas keeps 1,000 sequences of 20 frames at 82 MB (a 64x64 canvas:
    328 MB). ``dtype="uint8"`` returns the same frames as 0..255 (exactly: the
    resized digits are 8-bit) in a quarter of the memory.

    Args:
      num: number of sequences.
      length: frames per sequence ``T``.
      canvas: side of the square frame, 32 (default, cheap) or 64 (the usual
        Moving MNIST size); anything larger than ``digit_size`` works.
      seed: numpy seed (digits, positions, velocities).
      split: split of the embedded digits.
      digit_size: side of a digit on the canvas (default ``min(28, canvas // 2)``:
        16 on 32x32, 28 on 64x64).
      speed: ``(low, high)`` speed in pixels per step.
      num_digits: digits per sequence.
      dtype: ``"float32"`` (values in ``[0, 1]``) or ``"uint8"`` (0..255).

    Returns:
      ``[num, length, canvas, canvas, 1]`` frames of ``dtype``.

    References:
      Srivastava, N., Mansimov, E. & Salakhutdinov, R. (2015). Unsupervised
      Learning of Video Representations using LSTMs. ICML (Moving MNIST).
    """
    from PIL import Image

    from tfvae.data.datasets import load_arrays

    _check_positive(num=num, length=length, canvas=canvas, num_digits=num_digits)
    digit_size = min(28, canvas // 2) if digit_size is None else int(digit_size)
    if not 1 <= digit_size < canvas:
        raise ValueError(f"digit_size must be in [1, canvas={canvas}), got {digit_size}")
    low, high = (float(s) for s in speed)
    if dtype not in ("float32", "uint8"):
        raise ValueError(f"dtype must be 'float32' or 'uint8', got {dtype!r}")
    if not 0.0 <= low <= high:
        raise ValueError(f"speed must be (low, high) with 0 <= low <= high, got {speed}")
    images, _ = load_arrays("digits", split)
    rng = np.random.default_rng(seed)
    chosen = rng.integers(0, len(images), (num, num_digits))
    unique, inverse = np.unique(chosen, return_inverse=True)
    resized = np.stack([
        np.asarray(Image.fromarray(images[i, ..., 0]).resize((digit_size, digit_size), Image.BILINEAR))
        for i in unique
    ])  # uint8
    digits = resized[inverse.reshape(chosen.shape)]  # [num, num_digits, s, s]
    limit = float(canvas - digit_size)
    start = rng.uniform(0.0, limit, (num, num_digits, 2))
    angle = rng.uniform(0.0, 2.0 * np.pi, (num, num_digits))
    velocity = rng.uniform(low, high, (num, num_digits))[..., None] * np.stack([np.sin(angle), np.cos(angle)], -1)
    corner = np.rint(bounce(start, velocity, length, limit)).astype(np.int64)  # [num, digits, 2, T]
    frames = np.zeros((num, length, canvas, canvas), np.uint8)
    seq = np.arange(num)[:, None, None, None]
    step = np.arange(length)[None, :, None, None]
    offsets = np.arange(digit_size)
    for k in range(num_digits):
        rows = corner[:, k, 0, :, None, None] + offsets[None, None, :, None]  # [num, T, s, 1]
        cols = corner[:, k, 1, :, None, None] + offsets[None, None, None, :]  # [num, T, 1, s]
        region = frames[seq, step, rows, cols]
        frames[seq, step, rows, cols] = np.maximum(region, digits[:, k, None])
    frames = frames[..., None]
    return frames if dtype == "uint8" else frames.astype(np.float32) / np.float32(255.0)


def harmonic_oscillator(
    num: int,
    length: int = 60,
    seed: int = 0,
    noise: float = 0.1,
    process_noise: float = 0.02,
    frequency: float | tuple[float, float] = 1.0,
    dt: float = 0.25,
    amplitude: tuple[float, float] = (0.5, 1.0),
    width: int | None = None,
    return_states: bool = False,
):
    r"""Noisy observations of the position of a noisy harmonic oscillator (TD-VAE's toy problem).

    The state is a position ``p`` and a velocity ``v``; with angular
    frequency ``w`` (fixed, or uniform in a range per sequence) it moves by
    the symplectic Euler step (which keeps the energy bounded)::

        v_{t+1} = v_t - w^2 p_t dt + process_noise * sqrt(dt) * eps_t
        p_{t+1} = p_t + v_{t+1} dt
        y_t     = p_t + noise * eta_t              (eps, eta ~ N(0, 1))

    from ``p_0 = A cos(phi)``, ``v_0 = -A w sin(phi)`` with ``A`` uniform in
    ``amplitude`` and ``phi`` uniform in ``[0, 2 pi)``. Only the noisy
    position ``y_t`` is observed: the velocity (and the frequency, when it
    varies) must be inferred from several frames, and a long jump needs it,
    which is what Gregor et al. (2019) use it for. With the defaults one
    period is ``2 pi / (w dt)`` ~ 25 steps.

    Frames are ``[1]`` (the noisy position), or with ``width`` a rendered
    1-D image ``[width]`` in ``[0, 1]``: a Gaussian bump of 1 pixel standard
    deviation centred at pixel ``(y + 1.5) / 3 * (width - 1)`` (so
    ``[-1.5, 1.5]`` spans the image).

    Args:
      num: number of sequences.
      length: frames per sequence ``T``.
      seed: numpy seed.
      noise: standard deviation of the observation noise.
      process_noise: standard deviation of the velocity noise per unit time.
      frequency: angular frequency ``w``, or ``(low, high)`` to draw one per sequence.
      dt: time step.
      amplitude: ``(low, high)`` of the initial amplitude.
      width: ``None`` for ``[1]`` frames, or the pixels of a rendered 1-D image.
      return_states: also return the clean states.

    Returns:
      float32 observations ``[num, length, 1]`` (or ``[num, length, width]``);
      with ``return_states`` also float32 states ``[num, length, 2]`` (clean
      position, velocity) and the frequencies ``[num]``.

    References:
      Gregor, K., Papamakarios, G., Besse, F., Buesing, L. & Weber, T. (2019).
      Temporal Difference Variational Auto-Encoder. ICLR.
    """
    _check_positive(num=num, length=length)
    if not (noise >= 0 and process_noise >= 0 and dt > 0):
        raise ValueError(f"noise and process_noise must be >= 0 and dt > 0, got {noise}, {process_noise}, {dt}")
    if width is not None and int(width) < 2:
        raise ValueError(f"width must be None or >= 2, got {width}")
    rng = np.random.default_rng(seed)
    low, high = (frequency, frequency) if np.isscalar(frequency) else (float(f) for f in frequency)
    if not 0 < low <= high:
        raise ValueError(f"frequency must be > 0 (or a range (low, high) of them), got {frequency}")
    omega = rng.uniform(low, high, num)
    a = rng.uniform(*amplitude, num)
    phase = rng.uniform(0.0, 2.0 * np.pi, num)
    position, velocity = a * np.cos(phase), -a * omega * np.sin(phase)
    kicks = process_noise * math.sqrt(dt) * rng.standard_normal((num, length))
    states = np.empty((num, length, 2))
    for t in range(length):
        states[:, t] = np.stack([position, velocity], -1)
        velocity = velocity - omega**2 * position * dt + kicks[:, t]
        position = position + velocity * dt
    y = states[..., 0] + noise * rng.standard_normal((num, length))
    if width is None:
        frames = y[..., None]
    else:
        centre = np.clip((y + 1.5) / 3.0, 0.0, 1.0) * (int(width) - 1)
        frames = np.exp(-0.5 * (np.arange(int(width)) - centre[..., None]) ** 2)
    frames = frames.astype(np.float32)
    if return_states:
        return frames, states.astype(np.float32), omega.astype(np.float32)
    return frames
