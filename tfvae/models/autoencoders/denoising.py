"""Denoising autoencoder: reconstruct the clean input from a corrupted one."""

from __future__ import annotations

import tensorflow as tf

from tfvae import random
from tfvae.models.autoencoders.autoencoder import Autoencoder
from tfvae.registry import MODELS, serializable
from tfvae.validation import check_number

CORRUPTIONS = ("masking", "gaussian", "salt_and_pepper")


def _exact_fraction_mask(shape: tf.Tensor, fraction: float, seed: tf.Tensor) -> tf.Tensor:
    """A 0/1 mask ``[B, D]`` with exactly ``round(fraction * D)`` ones per row, at random places."""
    u = random.uniform(shape, seed)
    rank = tf.argsort(tf.argsort(u, axis=-1, stable=True), axis=-1, stable=True)
    count = tf.cast(tf.round(fraction * tf.cast(shape[-1], tf.float32)), rank.dtype)
    return tf.cast(rank < count, tf.float32)


def corrupt(x: tf.Tensor, corruption: str, noise_level: float, seed: tf.Tensor) -> tf.Tensor:
    """Apply a corruption process ``x -> x~`` (Vincent et al., 2008; 2010).

    * ``"masking"``: exactly ``round(noise_level * D)`` of the ``D`` input
      dimensions of each example, chosen at random, are set to 0;
    * ``"gaussian"``: ``x + noise_level * eps``, ``eps ~ N(0, I)``;
    * ``"salt_and_pepper"``: exactly ``round(noise_level * D)`` dimensions are
      set to 0 or 1 with probability 1/2 each.

    Args:
      x: float data ``[B, ...]``.
      corruption: one of ``CORRUPTIONS``.
      noise_level: the fraction of dimensions (masking, salt and pepper) or the
        noise standard deviation (gaussian).
      seed: a length-2 stateless seed.

    References:
      Vincent, P., Larochelle, H., Bengio, Y. & Manzagol, P.-A. (2008).
      Extracting and Composing Robust Features with Denoising Autoencoders. ICML.
    """
    flat = tf.reshape(x, [tf.shape(x)[0], -1])
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2)
    if corruption == "gaussian":
        noisy = flat + noise_level * random.normal(tf.shape(flat), seeds[0], flat.dtype)
    elif corruption == "masking":
        noisy = flat * (1.0 - _exact_fraction_mask(tf.shape(flat), noise_level, seeds[0]))
    elif corruption == "salt_and_pepper":
        hit = _exact_fraction_mask(tf.shape(flat), noise_level, seeds[0])
        salt = tf.cast(random.uniform(tf.shape(flat), seeds[1]) < 0.5, flat.dtype)
        noisy = flat * (1.0 - hit) + hit * salt
    else:
        raise ValueError(f"corruption must be one of {CORRUPTIONS}, got {corruption!r}")
    return tf.reshape(noisy, tf.shape(x))


@MODELS.register("denoising_ae")
@serializable
class DenoisingAE(Autoencoder):
    """An :class:`Autoencoder` trained to reconstruct ``x`` from ``corrupt(x)``.

    The corruption is drawn afresh at every training step from the model's
    seed generator; evaluation, ``encode`` and ``reconstruct`` see clean data.

    Args:
      encoder, decoder, posterior, likelihood: as for :class:`Autoencoder`.
      corruption: ``"masking"`` (default), ``"gaussian"`` or ``"salt_and_pepper"``.
      noise_level: fraction of corrupted dimensions, or the Gaussian noise's
        standard deviation.
      seed: seed of the model's random draws.

    References:
      Vincent, P. et al. (2008). Extracting and Composing Robust Features with
      Denoising Autoencoders. ICML.
    """

    config_options = ("corruption", "noise_level")

    def __init__(self, encoder, decoder, posterior, likelihood, corruption: str = "masking",
                 noise_level: float = 0.25, seed: int | None = None, **kwargs):
        if corruption not in CORRUPTIONS:
            raise ValueError(f"corruption must be one of {CORRUPTIONS}, got {corruption!r}")
        fraction = corruption != "gaussian"
        noise_level = check_number(noise_level, "noise_level")
        if not (0 <= noise_level <= 1 if fraction else noise_level >= 0):
            allowed = "[0, 1]" if fraction else "[0, inf)"
            raise ValueError(f"noise_level must be in {allowed} for {corruption}, got {noise_level}")
        self.corruption = corruption
        self.noise_level = float(noise_level)
        super().__init__(encoder, decoder, posterior, likelihood, seed=seed, **kwargs)

    def corrupt(self, x, training):
        if not training:
            return x
        return corrupt(x, self.corruption, self.noise_level, self.seed_generator.next())

    def get_config(self) -> dict:
        return {**super().get_config(), "corruption": self.corruption, "noise_level": self.noise_level}
