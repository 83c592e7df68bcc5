"""Generated sequences: moving digits and the noisy harmonic oscillator (TD-VAE data)."""

import numpy as np
import pytest

from tfvae.data.datasets import load_arrays
from tfvae.data.sequences import (
    bounce,
    harmonic_oscillator,
    moving_digits,
    sine_sequences,
)


def test_sine_sequences_unchanged():
    x = sine_sequences(3, max_length=6, min_length=6, seed=0)
    rng = np.random.default_rng(0)
    amplitude, frequency = rng.uniform(0.5, 1.0, (3, 1)), rng.uniform(0.3, 1.2, (3, 1))
    phase, offset = rng.uniform(0, 2 * np.pi, (3, 1)), rng.uniform(-0.2, 0.2, (3, 1))
    expected = amplitude * np.sin(frequency * np.arange(6) + phase) + offset
    np.testing.assert_allclose(x[..., 0], expected, rtol=1e-6)


# ------------------------------------------------------------------ digits
def test_bounce_reflects_at_the_walls_with_constant_speed():
    positions = bounce(np.array([1.0, 9.0]), np.array([3.0, 2.5]), steps=20, limit=10.0)
    assert positions.shape == (2, 20)
    assert positions.min() >= 0.0 and positions.max() <= 10.0
    np.testing.assert_allclose(positions[0, :4], [1, 4, 7, 10])
    np.testing.assert_allclose(positions[0, 4:6], [7, 4])  # reversed at the far wall
    np.testing.assert_allclose(positions[1, :3], [9, 8.5, 6])  # 9 + 2.5 = 11.5 is folded back to 10 - 1.5
    free_steps = np.abs(np.diff(positions, axis=1))
    assert np.all(free_steps <= np.array([[3.0], [2.5]]) + 1e-9)


def test_moving_digits_are_deterministic_real_digits_bouncing_inside_the_canvas():
    x = moving_digits(24, length=30, canvas=32, seed=3, split="test")
    assert x.shape == (24, 30, 32, 32, 1) and x.dtype == np.float32
    assert x.min() == 0.0 and 0.9 < x.max() <= 1.0
    np.testing.assert_array_equal(x, moving_digits(24, length=30, canvas=32, seed=3, split="test"))
    assert not np.array_equal(x, moving_digits(24, length=30, canvas=32, seed=4, split="test"))
    assert not np.array_equal(x, moving_digits(24, length=30, canvas=32, seed=3, split="train"))
    ink = x.sum(axis=(2, 3, 4))
    # the whole digit is on the canvas in every frame: the ink never changes within a sequence
    np.testing.assert_allclose(ink, ink[:, :1] * np.ones((1, 30)), rtol=1e-5)
    assert ink.min() > 10  # a real digit, not an empty frame
    # it moves, at most `speed` pixels per step (plus rounding) along each axis
    rows, cols = np.arange(32)[:, None], np.arange(32)[None, :]
    mass = x[..., 0] / x[..., 0].sum(axis=(2, 3), keepdims=True)
    centre = np.stack([(mass * rows).sum((2, 3)), (mass * cols).sum((2, 3))], -1)
    step = np.abs(np.diff(centre, axis=1))
    assert step.max() <= 3.0 + 1.0 + 1e-4 and np.all(step.sum(axis=(1, 2)) > 5)
    # bounces: the velocity along some axis reverses at the walls in most sequences
    velocity = np.diff(centre, axis=1)
    reversals = (np.sign(velocity[:, 1:]) * np.sign(velocity[:, :-1]) < 0).any(axis=(1, 2))
    assert reversals.mean() > 0.5


def test_moving_digits_draw_the_chosen_mnist_digit():
    from PIL import Image

    x = moving_digits(2, length=3, canvas=40, digit_size=28, seed=0, speed=(0.0, 0.0), split="all")
    images, _ = load_arrays("digits", "all")
    chosen = np.random.default_rng(0).integers(0, len(images), (2, 1))
    for i in range(2):
        frame = x[i, 0, ..., 0]
        rows, cols = np.nonzero(frame)
        top, left = rows.min(), cols.min()
        digit = np.asarray(Image.fromarray(images[chosen[i, 0], ..., 0]).resize((28, 28), Image.BILINEAR)) / 255.0
        d_rows, d_cols = np.nonzero(digit)
        np.testing.assert_allclose(frame[top - d_rows.min(): top - d_rows.min() + 28,
                                         left - d_cols.min(): left - d_cols.min() + 28], digit, atol=1e-6)
        np.testing.assert_array_equal(x[i, 0], x[i, 2])  # speed 0: it stays


def test_moving_digits_options_and_errors():
    x = moving_digits(2, length=4, canvas=64, num_digits=2, seed=1)
    assert x.shape == (2, 4, 64, 64, 1) and x.max() <= 1.0
    as_bytes = moving_digits(2, length=4, canvas=64, num_digits=2, seed=1, dtype="uint8")
    assert as_bytes.dtype == np.uint8
    np.testing.assert_array_equal(as_bytes.astype(np.float32) / np.float32(255.0), x)  # the same frames
    assert np.all(x.sum(axis=(2, 3, 4)) > 20)
    with pytest.raises(ValueError, match="dtype must be"):
        moving_digits(1, dtype="float64")
    with pytest.raises(ValueError, match="digit_size must be in"):
        moving_digits(1, canvas=16, digit_size=16)
    with pytest.raises(ValueError, match="length must be >= 1"):
        moving_digits(1, length=0)
    with pytest.raises(ValueError, match="speed must be"):
        moving_digits(1, speed=(2.0, 1.0))


# -------------------------------------------------------------- oscillator
def test_oscillator_is_deterministic_with_sane_statistics():
    y, states, omega = harmonic_oscillator(400, length=100, seed=0, return_states=True)
    assert y.shape == (400, 100, 1) and states.shape == (400, 100, 2) and y.dtype == np.float32
    np.testing.assert_array_equal(y, harmonic_oscillator(400, length=100, seed=0))
    assert not np.array_equal(y, harmonic_oscillator(400, length=100, seed=1))
    position, velocity = states[..., 0].astype(np.float64), states[..., 1].astype(np.float64)
    residual = y[..., 0] - position  # the observation noise
    assert abs(residual.std() - 0.1) < 0.005 and abs(residual.mean()) < 0.005
    assert abs(position.mean()) < 0.05 and np.abs(position).max() < 1.3
    # the first state has amplitude A in [0.5, 1]: E[A^2] / 2 = 7/24 of mean square position
    assert abs(np.mean(position**2) - 7 / 24) < 0.03
    # period 2 pi / (omega dt) = 25.1 steps: about 2 * 100 / 25.1 = 8 zero crossings
    crossings = (np.sign(position[:, 1:]) != np.sign(position[:, :-1])).sum(axis=1)
    assert 7 <= np.median(crossings) <= 9
    np.testing.assert_array_equal(omega, 1.0)
    # without process noise the symplectic Euler step keeps v^2 + w^2 p^2 - w^2 dt p v exactly
    _, clean, w = harmonic_oscillator(50, length=200, seed=2, process_noise=0.0, frequency=(0.5, 1.5),
                                      return_states=True)
    p, v, w = clean[..., 0].astype(np.float64), clean[..., 1].astype(np.float64), w[:, None].astype(np.float64)
    energy = v**2 + w**2 * p**2 - w**2 * 0.25 * p * v
    np.testing.assert_allclose(energy, energy[:, :1] * np.ones((1, 200)), rtol=1e-4, atol=1e-5)
    assert w.min() >= 0.5 and w.max() <= 1.5 and w.std() > 0.2
    # with process noise the velocity wanders: the energy spreads
    assert np.std(velocity[:, -1] ** 2 + position[:, -1] ** 2 - velocity[:, 0] ** 2 - position[:, 0] ** 2) > 0.01


def test_oscillator_rendered_frames_put_the_bump_at_the_observed_position():
    frames = harmonic_oscillator(5, length=30, seed=0, width=31)
    y = harmonic_oscillator(5, length=30, seed=0)[..., 0]
    assert frames.shape == (5, 30, 31) and frames.min() >= 0 and frames.max() <= 1
    expected = np.clip((y + 1.5) / 3.0, 0, 1) * 30
    assert np.abs(frames.argmax(-1) - expected).max() <= 0.5 + 1e-6
    with pytest.raises(ValueError, match="width must be None or >= 2"):
        harmonic_oscillator(1, width=1)
    with pytest.raises(ValueError, match="frequency must be > 0"):
        harmonic_oscillator(1, frequency=0.0)
