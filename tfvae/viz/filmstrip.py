"""Film strips of sequence predictions: context frames, a separator, then the rolled-out frames.

``film_strip`` returns a ``uint8 [height, width, 3]`` picture (and writes it
as PNG when given a path), ready for ``tf.summary.image(name, strip[None])``::

    context = x[:8, :10]
    future = model.rollout(context, horizon=10, jump=1, seed=0)
    strip = film_strip(context, future, "runs/tdvae/rollout.png", truth=x[:8, 10:20])
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tfvae.viz.grids import save_png

__all__ = ["film_strip", "film_strip_size"]

#: colour of the bar between context and prediction (RGB, 0..255)
SEPARATOR_COLOUR = (220, 40, 40)


def _frames(array, name: str, column_width: int = 1) -> np.ndarray:
    """``[B, T, h, w, 3]`` float frames in [0, 1] from images ``[B, T, h, w(, 1|3)]`` or vectors ``[B, T, D]``."""
    frames = np.asarray(array, dtype=np.float32)
    if frames.ndim == 3:  # vector frames: one column of D pixels each
        frames = np.repeat(frames[..., None, None], column_width, axis=3)
    elif frames.ndim == 4:  # single-channel images without the channel axis
        frames = frames[..., None]
    if frames.ndim != 5 or frames.shape[-1] not in (1, 3):
        raise ValueError(
            f"{name} must be frames [batch, time, height, width(, 1 or 3)] or vectors [batch, time, dim], "
            f"got shape {np.shape(array)}"
        )
    if frames.shape[1] < 1:
        raise ValueError(f"{name} needs at least one frame per example, got shape {np.shape(array)}")
    if frames.shape[-1] == 1:
        frames = np.repeat(frames, 3, axis=-1)
    return np.clip(frames, 0.0, 1.0)


def film_strip_size(batch: int, context_length: int, horizon: int, frame_hw: tuple[int, int],
                    padding: int = 1, separator: int = 3, with_truth: bool = False) -> tuple[int, int]:
    """``(height, width)`` in pixels of :func:`film_strip`'s array (before the PNG's ``scale``)."""
    h, w = frame_hw
    rows = batch * (2 if with_truth else 1)
    height = padding + rows * (h + padding)
    width = padding + context_length * (w + padding) + separator + padding + horizon * (w + padding)
    return height, width


def film_strip(
    context,
    rollout,
    path: str | Path | None = None,
    truth=None,
    padding: int = 1,
    separator: int = 3,
    scale: int = 2,
    column_width: int = 1,
) -> np.ndarray:
    """One row per example: its context frames, a coloured bar, then the predicted frames.

    With ``truth`` (the real future, shaped like ``rollout``) each example
    gets a second row under it holding the true frames below the predicted
    ones (blank under the context), so prediction and truth line up.

    Frames are images ``[h, w, 1 or 3]`` (or ``[h, w]``) in ``[0, 1]``, or
    vectors ``[D]`` drawn as a column of ``D`` pixels, ``column_width`` wide
    (e.g. the rendered 1-D frames of
    :func:`tfvae.data.sequences.harmonic_oscillator`; with ``padding=0`` they
    make one space-time picture). Values are clipped to ``[0, 1]``; padding
    is white.

    Args:
      context: observed frames ``[B, Tc, *frame]``.
      rollout: predicted frames ``[B, H, *frame]`` (e.g. :meth:`TDVAE.rollout`).
      path: where to write the PNG (enlarged ``scale`` times); ``None``: no file.
      truth: optional true future frames ``[B, H, *frame]``.
      padding: white pixels between frames and rows.
      separator: width in pixels of the bar between context and prediction.
      scale: enlargement of the PNG (the returned array is not enlarged).
      column_width: width in pixels of a vector frame.

    Returns:
      ``uint8 [height, width, 3]`` with the size of :func:`film_strip_size`.
    """
    if int(padding) < 0 or int(separator) < 1 or int(scale) < 1 or int(column_width) < 1:
        raise ValueError(f"padding must be >= 0, separator, scale and column_width >= 1; got {padding}, "
                         f"{separator}, {scale}, {column_width}")
    context, rollout = _frames(context, "context", int(column_width)), _frames(rollout, "rollout", int(column_width))
    truth = None if truth is None else _frames(truth, "truth", int(column_width))
    if context.shape[0] != rollout.shape[0] or context.shape[2:] != rollout.shape[2:]:
        raise ValueError(
            f"context and rollout must hold the same examples and frame shape, got {np.shape(context)} "
            f"and {np.shape(rollout)}"
        )
    if truth is not None and truth.shape != rollout.shape:
        raise ValueError(f"truth must have the shape of rollout {rollout.shape}, got {truth.shape}")
    batch, context_length, h, w, _ = context.shape
    horizon = rollout.shape[1]
    p, s = int(padding), int(separator)
    height, width = film_strip_size(batch, context_length, horizon, (h, w), p, s, truth is not None)
    strip = np.ones((height, width, 3), np.float32)
    after_bar = p + context_length * (w + p) + s + p
    strip[:, after_bar - s - p: after_bar - p] = np.asarray(SEPARATOR_COLOUR, np.float32) / 255.0
    rows = []
    for i in range(batch):
        rows.append((context[i], rollout[i]))
        if truth is not None:
            rows.append((None, truth[i]))
    for r, (observed, future) in enumerate(rows):
        top = p + r * (h + p)
        if observed is not None:
            for t, frame in enumerate(observed):
                left = p + t * (w + p)
                strip[top: top + h, left: left + w] = frame
        for t, frame in enumerate(future):
            left = after_bar + t * (w + p)
            strip[top: top + h, left: left + w] = frame
    image = (strip * 255.0).round().astype(np.uint8)
    if path is not None:
        save_png(path, image, scale=int(scale))
    return image
