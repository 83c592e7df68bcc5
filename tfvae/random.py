"""Device-portable stateless random numbers.

TensorFlow's stateless samplers turn the same seed into *different* floats in
graph mode and under XLA (``jit_compile=True``), although the raw Philox bits
they start from agree. tfvae draws its reparameterisation noise from those
bits itself, so a model trained from the same seed gives the same losses and
weights eagerly, under ``tf.function`` and under XLA (to float tolerance).

The standard normal comes from the inverse normal CDF of a uniform built from
the top 24 bits, ``u = min((b + 1/2) / 2^24, 1 - 2^-24)`` (the float32
rounding of the top value would give ``u = 1`` and an infinite draw); its
tails are cut near ``|eps| <= 5.3`` (probability about ``1e-7``), which no
ELBO or KL estimate here can see.
"""

from __future__ import annotations

import contextlib
import random
import threading
import zlib
from collections.abc import Iterator, Sequence

import numpy as np
import tensorflow as tf

_BITS = 24


def as_seed(seed, generator=None, index: int = 0) -> tf.Tensor:
    """An int64 ``[2]`` stateless seed from ``None``, an int or a pair: the one place seeds are parsed.

    * ``None``: the generator's next seed (a model's draws move its stream);
      without a generator, a fresh random ``[r, index]`` that moves no model's
      stream (metrics and pictures use this, so they never shift a training run's draws);
    * an int ``s``: ``[s, index]``;
    * a length-2 integer array or tensor: itself (``index`` is then ignored).

    Args:
      seed: ``None``, a Python / numpy int, or a length-2 integer array or tensor.
      generator: a ``keras.random.SeedGenerator`` used when ``seed`` is None.
      index: the second half of a seed made from an int (e.g. a batch's index).

    Raises:
      TypeError: a bool, float or string seed.
      ValueError: a seed of another shape than ``[2]``.
    """
    if seed is None:
        if generator is not None:
            return tf.cast(generator.next(), tf.int64)
        seed = int(np.random.default_rng().integers(2**31))
    if isinstance(seed, (bool, np.bool_)):
        raise TypeError(f"seed must be an int or a length-2 int seed, got {seed!r}")
    if isinstance(seed, (int, np.integer)):
        return tf.constant([int(seed), int(index)], tf.int64)
    seed = tf.convert_to_tensor(seed)
    if not seed.dtype.is_integer:
        raise TypeError(f"seed must be an int or a length-2 int seed, got dtype {seed.dtype.name}")
    if seed.shape.rank is not None and seed.shape != (2,):
        raise ValueError(f"seed must be an int or a length-2 int seed, got shape {tuple(seed.shape)}")
    return tf.cast(seed, tf.int64)


def fold_seed(seed, index) -> tf.Tensor:
    """A new stateless seed, int64 ``[2]``, from ``seed`` and an integer ``index`` (``stateless_fold_in``).

    The folded halves are returned as unsigned 32-bit values: a negative
    int32 half widened to int64 is read differently by the TensorFlow and the
    XLA samplers, which would make the same seed draw different numbers under
    ``jit_compile=True``.
    """
    folded = tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), index)
    return tf.cast(tf.bitcast(tf.cast(folded, tf.int32), tf.uint32), tf.int64)


def uniform(shape: Sequence[int] | tf.Tensor, seed: tf.Tensor, dtype=tf.float32) -> tf.Tensor:
    """Uniform samples on the open interval (0, 1) from a stateless seed.

    Args:
      shape: output shape.
      seed: a length-2 integer tensor (e.g. ``keras.random.SeedGenerator.next()``).
      dtype: floating output dtype.
    """
    bits = tf.random.stateless_uniform(
        shape, seed=tf.cast(seed, tf.int64), minval=None, maxval=None, dtype=tf.uint32, alg="philox"
    )
    return tf.cast(bits_to_uniform(tf.bitwise.right_shift(bits, tf.constant(32 - _BITS, tf.uint32))), dtype)


def bits_to_uniform(top: tf.Tensor) -> tf.Tensor:
    """Map 24-bit integers ``b`` to float32 uniforms strictly inside (0, 1).

    ``(2^24 - 1/2) / 2^24`` rounds to 1.0 in float32, so the top value is
    clipped to the largest float below 1: otherwise ``ndtri(1) = inf`` would
    come out once in 2^24 draws (an IWAE estimate at k=5000 makes 80M).
    """
    return tf.minimum((tf.cast(top, tf.float32) + 0.5) * (2.0**-_BITS), 1.0 - 2.0**-_BITS)


def normal(shape: Sequence[int] | tf.Tensor, seed: tf.Tensor, dtype=tf.float32) -> tf.Tensor:
    """Standard-normal samples, the same in eager, graph and XLA for one seed.

    Args:
      shape: output shape.
      seed: a length-2 integer tensor.
      dtype: floating output dtype.
    """
    return tf.cast(tf.math.ndtri(uniform(shape, seed, tf.float32)), dtype)


_weight_scope = threading.local()


@contextlib.contextmanager
def seeded_weights(seed: int | None) -> Iterator[None]:
    """Make the Keras initialisers created inside this block depend on ``seed`` alone.

    A Keras initialiser made without a seed (``"glorot_uniform"``, a layer's
    defaults) draws its seed from Python's :mod:`random` when it is created.
    Inside this block that module is seeded from ``seed`` and restored after,
    so the same ``seed`` builds the same initial weights whatever ran before,
    and the caller's Python random stream is left as it was. Nested blocks
    (a builder calling the model's constructor) keep the outermost seed.
    ``seed=None`` changes nothing.

    Args:
      seed: an int, or ``None``.
    """
    if seed is None or getattr(_weight_scope, "active", False):
        yield
        return
    state = random.getstate()
    random.seed(f"tfvae.weights:{int(seed)}")
    _weight_scope.active = True
    try:
        yield
    finally:
        _weight_scope.active = False
        random.setstate(state)


def derive_seed(seed: int | None, part: str) -> int | None:
    """A seed for one named part of a model (a quantizer, a dropout layer), derived from the model's ``seed``.

    Parts of one model get distinct seeds, none equal to the model's own, so
    their random streams never repeat each other's draws (``seed + 1`` would
    collide with the next model seed's stream). ``None`` stays ``None``.

    Args:
      seed: the model's seed, or ``None``.
      part: the part's name, unique within the model (e.g. ``"top_quantizer"``).
    """
    if seed is None:
        return None
    return zlib.crc32(f"{int(seed)}/{part}".encode()) & 0x7FFFFFFF
