"""Checks on user data and arguments that name the expected shape, dtype or range.

Shape and dtype are checked while tracing (static shapes); non-finite values
are checked eagerly with a ``ValueError`` and in graph mode with an assert op.
XLA drops assert ops, so under ``jit_compile=True`` a NaN input shows up as a
NaN loss instead (``keras.callbacks.TerminateOnNaN`` stops such a run).

:func:`check_int` and :func:`check_number` check constructor and method
arguments (sizes, counts, weights): a ``latent_dim`` of ``2.5``, ``"3"`` or
``True``, or a ``beta`` of ``inf``, is refused with its name instead of being
truncated or carried into a NaN loss.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from tfvae.errors import TfvaeError

#: the hint for non-float data (images stored as 0..255 integers)
DATA_HINT = "Scale integer images to [0, 1] first (e.g. x / 255)."


def describe_shape(shape: Sequence[int | None] | str) -> str:
    """``(batch, 28, 28, 1)`` for ``(None, 28, 28, 1)`` (a string is returned as it is)."""
    if isinstance(shape, str):
        return shape
    return "(" + ", ".join("batch" if d is None else str(d) for d in shape) + ")"


def check_int(value, name: str, minimum: int | None = 1, maximum: int | None = None) -> int:
    """``value`` as a Python int in ``[minimum, maximum]``, or a clear error naming ``name``.

    Integral floats (``3.0``, as JSON may give them) are accepted; ``2.5``,
    strings and booleans are refused rather than truncated or coerced.

    Raises:
      TypeError: not an integer.
      ValueError: out of range.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if not isinstance(value, numbers.Integral) and not (math.isfinite(float(value)) and float(value).is_integer()):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_ints(values, name: str, minimum: int | None = 1) -> tuple[int, ...]:
    """A sequence of ints (e.g. ``hidden_units``), each checked by :func:`check_int`."""
    if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a sequence of integers such as (256, 128), got {values!r}")
    return tuple(check_int(v, f"{name}[{i}]", minimum) for i, v in enumerate(values))


def check_number(value, name: str, minimum: float | None = None, *, strict: bool = False,
                 maximum: float | None = None) -> float:
    """``value`` as a finite float, ``>= minimum`` (``> minimum`` when ``strict``), or a clear error.

    NaN and infinity are refused: a ``beta`` of ``inf`` would turn every loss into ``inf``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {minimum:g}, got {value:g}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum:g}, got {value:g}")
    return value


def check_floating(x, name: str, expected: Sequence[int | None] | str, hint: str = DATA_HINT) -> tf.Tensor:
    """Convert ``x`` to a float32 tensor, refusing non-float data.

    Args:
      x: array-like data.
      name: what ``x`` is, for the message.
      expected: the expected full shape, ``None`` for free dimensions (the
        first is called ``batch``), or its description such as
        ``"(batch, time, 2)"``.
      hint: advice appended to the dtype error (none for latent codes).
    """
    if isinstance(x, (list, tuple)):
        try:
            x = np.asarray(x)
        except ValueError as error:  # ragged nested lists
            raise ValueError(f"{name} must be a rectangular array of shape {describe_shape(expected)}: {error}") from error
    dtype = tf.as_dtype(x.dtype) if hasattr(x, "dtype") else None
    suffix = f". {hint}" if hint else ""
    if dtype is not None and not dtype.is_floating:
        raise TypeError(
            f"{name} must be floating point with shape {describe_shape(expected)}, got dtype {dtype.name}{suffix}"
        )
    x = tf.convert_to_tensor(x)
    if not x.dtype.is_floating:
        raise TypeError(f"{name} must be floating point with shape {describe_shape(expected)}, got {x.dtype.name}{suffix}")
    return tf.cast(x, tf.float32)


class DataShapeError(TfvaeError, ValueError):
    """Data of another shape than the model (or signature) takes; the message names both shapes."""


class DataRangeError(TfvaeError, ValueError):
    """Data whose values the likelihood cannot model (0..255 or negative values into a Bernoulli)."""


def check_data_range(low: float, high: float, support: tuple[float, float] | None, what: str,
                     name: str = "x") -> None:
    """Refuse data whose values ``[low, high]`` leave the likelihood's ``support`` (``None``: any real).

    Args:
      low: the smallest value seen.
      high: the largest value seen.
      support: the interval the likelihood models, e.g. ``(0, 1)`` for a Bernoulli.
      what: the likelihood, for the message (``"the bernoulli likelihood"``).
      name: what the data is.

    Raises:
      DataRangeError: a NaN, or a value outside ``support``; the message says
        what to do (scale 0..255 images by 1/255, or model real values with a
        Gaussian likelihood).
    """
    if math.isnan(low) or math.isnan(high):
        raise DataRangeError(f"{name} contains NaN values")
    if support is None or (support[0] <= low and high <= support[1]):
        return
    hint = ("scale 8-bit images to [0, 1] first (x / 255)" if low >= 0 and high <= 255
            else "use likelihood 'gaussian' for real-valued data (standardised)")
    raise DataRangeError(f"{name} holds values in [{low:g}, {high:g}] but {what} models values in "
                         f"[{support[0]:g}, {support[1]:g}]: {hint}")


def check_shape(x: tf.Tensor, name: str, expected: Sequence[int | None]) -> None:
    """Raise a :class:`DataShapeError` naming ``expected`` when the static shape disagrees."""
    shape = x.shape
    if shape.rank is None:
        return
    if shape.rank != len(expected) or any(
        e is not None and s is not None and s != e for s, e in zip(shape, expected)
    ):
        raise DataShapeError(f"{name} must have shape {describe_shape(expected)}, got {tuple(shape)}")


def check_finite(x: tf.Tensor, name: str) -> tf.Tensor:
    """Fail on NaN or infinite values (eagerly a ValueError, in graphs an assert)."""
    if tf.executing_eagerly():
        if not bool(tf.reduce_all(tf.math.is_finite(x))):
            raise ValueError(f"{name} contains NaN or infinite values")
        return x
    return tf.debugging.assert_all_finite(x, f"{name} contains NaN or infinite values")


def check_indices(x, name: str, depth: int, expected: Sequence[int | None] | None = None,
                  what: str = "values") -> tf.Tensor:
    """Integer indices (code maps, labels) with values in ``[0, depth)``, as int32, or an error naming the problem.

    The one check of discrete inputs: a VQ-VAE's code maps
    (``decode_indices``), a PixelCNN's codes, labels and conditioning maps,
    and the ``codes`` inputs of the exported serving signatures. A code index
    out of range would otherwise reach ``tf.gather``, which fails on CPU with
    an opaque message and returns zeros on GPU.

    Dtype and static shape are checked while tracing; the values eagerly
    (``ValueError``) or, in a graph, by an assert op (``InvalidArgumentError:
    ... codes must hold values in [0, 16); got values from -1 to 3``), which
    XLA drops.

    Args:
      x: array-like indices.
      name: what ``x`` is, for the messages.
      depth: the number of valid values.
      expected: the expected full shape (``None`` for free dimensions, the
        first called ``batch``), or ``None`` to leave the shape alone.
      what: what the values are, for the messages (e.g. ``"code indices"``).

    Raises:
      TypeError: not integers.
      ValueError: another static shape, or (eagerly) a value out of range.
    """
    if isinstance(x, (list, tuple)):
        x = np.asarray(x)
    x = tf.convert_to_tensor(x)
    if not x.dtype.is_integer:
        shape = "" if expected is None else f" with shape {describe_shape(expected)}"
        raise TypeError(f"{name} must be integer indices in [0, {depth}){shape}, got dtype {x.dtype.name}")
    if expected is not None:
        check_shape(x, name, expected)
    message = f"{name} must hold {what} in [0, {depth})"
    if tf.executing_eagerly():
        if int(tf.size(x)):
            low, high = int(tf.reduce_min(x)), int(tf.reduce_max(x))
            if low < 0 or high >= depth:
                raise ValueError(f"{message}, got values in [{low}, {high}]")
        return tf.cast(x, tf.int32)
    flat = tf.reshape(x, [-1])
    valid = tf.reduce_all(tf.logical_and(flat >= 0, flat < tf.cast(depth, flat.dtype)))
    low, high = tf.reduce_min(flat), tf.reduce_max(flat)  # only shown when some value is out of range
    with tf.control_dependencies([tf.debugging.Assert(valid, [f"{message}; got values from", low, "to", high])]):
        return tf.cast(tf.identity(x), tf.int32)


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
    z_tensor = check_floating(z, name, (None, latent_dim), hint="")
    rank = z_tensor.shape.rank
    if rank is not None and rank == 3:
        check_shape(z_tensor, name, (None, None, latent_dim))
    else:
        check_shape(z_tensor, name, (None, latent_dim))
    return check_finite(z_tensor, name)
