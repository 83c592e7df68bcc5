"""Device-portable stateless random numbers.

TensorFlow's stateless samplers turn the same seed into *different* floats in
graph mode and under XLA (``jit_compile=True``), although the raw Philox bits
they start from agree. tfvae draws its reparameterisation noise from those
bits itself, so a model trained from the same seed gives the same losses and
weights eagerly, under ``tf.function`` and under XLA (to float tolerance).

The standard normal comes from the inverse normal CDF of a uniform built from
the top 24 bits, ``u = (b + 1/2) / 2^24``; its tails are cut at
``|eps| <= ndtri(2^-25) ~ 5.3`` (probability about ``1e-7``), which no ELBO or
KL estimate here can see.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

_BITS = 24


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
    top = tf.bitwise.right_shift(bits, tf.constant(32 - _BITS, tf.uint32))
    u = (tf.cast(top, tf.float32) + 0.5) * (2.0**-_BITS)
    return tf.cast(u, dtype)


def normal(shape: Sequence[int] | tf.Tensor, seed: tf.Tensor, dtype=tf.float32) -> tf.Tensor:
    """Standard-normal samples, the same in eager, graph and XLA for one seed.

    Args:
      shape: output shape.
      seed: a length-2 integer tensor.
      dtype: floating output dtype.
    """
    return tf.cast(tf.math.ndtri(uniform(shape, seed, tf.float32)), dtype)
