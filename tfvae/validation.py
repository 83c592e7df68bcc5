"""Checks on user data that name the expected shape and dtype.

Shape and dtype are checked while tracing (static shapes); non-finite values
are checked eagerly with a ``ValueError`` and in graph mode with an assert op.
XLA drops assert ops, so under ``jit_compile=True`` a NaN input shows up as a
NaN loss instead (``keras.callbacks.TerminateOnNaN`` stops such a run).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf


def _describe(shape: Sequence[int | None]) -> str:
    return "(" + ", ".join("batch" if d is None else str(d) for d in shape) + ")"


def check_floating(x, name: str, expected: Sequence[int | None]) -> tf.Tensor:
    """Convert ``x`` to a float32 tensor, refusing non-float data.

    Args:
      x: array-like data.
      name: what ``x`` is, for the message.
      expected: the expected full shape, ``None`` for free dimensions.
    """
    if isinstance(x, (list, tuple)):
        x = np.asarray(x)
    dtype = tf.as_dtype(x.dtype) if hasattr(x, "dtype") else None
    if dtype is not None and not dtype.is_floating:
        raise TypeError(
            f"{name} must be floating point with shape {_describe(expected)}, got dtype "
            f"{dtype.name}. Scale integer images to [0, 1] first (e.g. x / 255)."
        )
    x = tf.convert_to_tensor(x)
    if not x.dtype.is_floating:
        raise TypeError(f"{name} must be floating point with shape {_describe(expected)}, got {x.dtype.name}")
    return tf.cast(x, tf.float32)


def check_shape(x: tf.Tensor, name: str, expected: Sequence[int | None]) -> None:
    """Raise a ``ValueError`` naming ``expected`` when the static shape disagrees."""
    shape = x.shape
    if shape.rank is None:
        return
    if shape.rank != len(expected) or any(
        e is not None and s is not None and s != e for s, e in zip(shape, expected)
    ):
        raise ValueError(f"{name} must have shape {_describe(expected)}, got {tuple(shape)}")


def check_finite(x: tf.Tensor, name: str) -> tf.Tensor:
    """Fail on NaN or infinite values (eagerly a ValueError, in graphs an assert)."""
    if tf.executing_eagerly():
        if not bool(tf.reduce_all(tf.math.is_finite(x))):
            raise ValueError(f"{name} contains NaN or infinite values")
        return x
    return tf.debugging.assert_all_finite(x, f"{name} contains NaN or infinite values")


def check_tensor(x, name: str, expected: Sequence[int | None]) -> tf.Tensor:
    """Float32 tensor of the expected shape with finite values, or a clear error."""
    x = check_floating(x, name, expected)
    check_shape(x, name, expected)
    return check_finite(x, name)


def check_data_shape(x, data_shape: Sequence[int], name: str = "x") -> tf.Tensor:
    """Check a batch of data against ``(batch, *data_shape)``."""
    return check_tensor(x, name, (None, *data_shape))


def check_latent(z, latent_dim: int, name: str = "z") -> tf.Tensor:
    """Check latent codes ``(batch, latent_dim)`` or ``(samples, batch, latent_dim)``."""
    z_tensor = check_floating(z, name, (None, latent_dim))
    rank = z_tensor.shape.rank
    if rank is not None and rank == 3:
        check_shape(z_tensor, name, (None, None, latent_dim))
    else:
        check_shape(z_tensor, name, (None, latent_dim))
    return check_finite(z_tensor, name)
