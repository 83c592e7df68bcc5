"""Image preprocessing for the data pipelines: scaling, binarisation, dequantisation.

Every function here is a pure tensor function with an explicit stateless seed
(a length-2 integer tensor), so it runs inside ``tf.data`` and ``tf.function``
and gives the same numbers for the same seed.

- :func:`scale`: ``uint8`` 0..255 -> ``float32`` in ``[0, 1]`` (``x / 255``).
- :func:`bernoulli_binarize`: one Bernoulli draw per pixel with probability
  the pixel intensity, ``b = 1[u < x]`` with ``u ~ U[0, 1)``. Pixels at 0
  stay 0 and pixels at 1 (255) stay 1. *Dynamic* binarisation (a fresh draw
  every epoch, Salakhutdinov & Murray 2008) and *static* binarisation (one
  fixed draw) differ only in how the seed is chosen; see
  :func:`tfvae.data.load_dataset`.
- :func:`dequantize`: uniform dequantisation ``y = (k + u) / 256`` for the
  integer intensity ``k`` in 0..255 and ``u ~ U[0, 1)``, the continuous
  density whose likelihood in bits/dim bounds the discrete one (Theis et al.
  2016). ``u`` takes the values ``j / 2^16``, so ``k + u`` is exact in
  float32 and ``y`` is always strictly below 1 (a float32 ``u`` close to 1
  would round ``255 + u`` up to 256).

References:
  Salakhutdinov, R. and Murray, I. (2008). On the quantitative analysis of
  deep belief networks. ICML.
  Theis, L., van den Oord, A. and Bethge, M. (2016). A note on the evaluation
  of generative models. ICLR.
"""

from __future__ import annotations

import tensorflow as tf

__all__ = [
    "BINARIZE_MODES",
    "bernoulli_binarize",
    "dequantize",
    "preprocess_images",
    "scale",
]

BINARIZE_MODES = ("dynamic", "static")
"""Accepted values of ``binarize`` (besides ``None``)."""

_DEQUANTIZE_BITS = 16


def scale(images: tf.Tensor) -> tf.Tensor:
    """Scale ``uint8`` images (0..255) to ``float32`` in ``[0, 1]``.

    Args:
      images: a ``uint8`` tensor of any shape.

    Returns:
      ``float32`` tensor ``images / 255`` (0 and 255 map exactly to 0 and 1).
    """
    images = tf.convert_to_tensor(images)
    if images.dtype != tf.uint8:
        raise TypeError(f"scale expects uint8 images (0..255), got {images.dtype.name}")
    return tf.cast(images, tf.float32) / 255.0


def bernoulli_binarize(probs: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Draw a ``{0, 1}`` image with each pixel ``~ Bernoulli(probs)``.

    Args:
      probs: float tensor of pixel intensities in ``[0, 1]``.
      seed: stateless seed, a length-2 integer tensor.

    Returns:
      ``float32`` tensor of the shape of ``probs`` holding exactly 0.0 or 1.0.
    """
    probs = tf.cast(probs, tf.float32)
    u = tf.random.stateless_uniform(tf.shape(probs), seed=tf.cast(seed, tf.int64), dtype=tf.float32)
    return tf.cast(u < probs, tf.float32)


def dequantize(images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Uniformly dequantise ``uint8`` images to ``float32`` in ``[0, 1)``.

    Args:
      images: ``uint8`` tensor with intensities ``k`` in 0..255.
      seed: stateless seed, a length-2 integer tensor.

    Returns:
      ``float32`` tensor ``(k + u) / 256`` with ``u`` uniform on the grid
      ``{0, 2^-16, ..., 1 - 2^-16}``; every value lies in ``[k/256, (k+1)/256)``.
    """
    images = tf.convert_to_tensor(images)
    if images.dtype != tf.uint8:
        raise TypeError(f"dequantize expects uint8 images (0..255), got {images.dtype.name}")
    steps = 2**_DEQUANTIZE_BITS
    j = tf.random.stateless_uniform(
        tf.shape(images), seed=tf.cast(seed, tf.int64), minval=0, maxval=steps, dtype=tf.int32
    )
    u = tf.cast(j, tf.float32) * (1.0 / steps)
    return (tf.cast(images, tf.float32) + u) * (1.0 / 256.0)


def preprocess_images(
    images: tf.Tensor,
    seed: tf.Tensor | None = None,
    *,
    binarize: bool = False,
    dequantize_noise: bool = False,
) -> tf.Tensor:
    """Turn a batch of ``uint8`` images into the float32 model input.

    Args:
      images: ``uint8`` tensor, intensities 0..255.
      seed: stateless seed (length-2 integer tensor); required when
        ``binarize`` or ``dequantize_noise`` is set.
      binarize: draw ``{0, 1}`` pixels with :func:`bernoulli_binarize`.
      dequantize_noise: add uniform noise with :func:`dequantize`.

    Returns:
      ``float32`` tensor: in ``[0, 1]`` (plain), ``{0, 1}`` (binarize) or
      ``[0, 1)`` (dequantize_noise).
    """
    if binarize and dequantize_noise:
        raise ValueError("binarize and dequantize are mutually exclusive")
    if (binarize or dequantize_noise) and seed is None:
        raise ValueError("a stateless seed is needed for binarize or dequantize")
    if dequantize_noise:
        return dequantize(images, seed)
    x = scale(images)
    if binarize:
        return bernoulli_binarize(x, seed)
    return x
