"""Sparse autoencoders: a KL or L1 sparsity penalty, and the k-sparse autoencoder."""

from __future__ import annotations

import keras
import tensorflow as tf

from tfvae.distribute import global_mean
from tfvae.distributions import KSparsePosterior, PointMassPosterior
from tfvae.models.autoencoders.autoencoder import Autoencoder
from tfvae.registry import MODELS, serializable
from tfvae.validation import check_int, check_number

SPARSITY = ("kl", "l1")


def kl_sparsity(z: tf.Tensor, target: float, eps: float = 1e-6) -> tf.Tensor:
    r"""``sum_j KL(rho || rho_hat_j)`` between Bernoulli means, ``rho_hat_j = mean_batch z_j``.

    ``KL(rho || r) = rho log(rho / r) + (1 - rho) log((1 - rho) / (1 - r))``,
    for codes ``z`` in (0, 1) (sigmoid units). A scalar: it depends on the
    whole batch: under ``tf.distribute`` ``rho_hat`` is the mean over the
    GLOBAL batch (:func:`tfvae.distribute.global_mean`), so every replica sees
    the one-device penalty.

    Args:
      z: codes ``[B, L]`` in (0, 1).
      target: the target mean activation ``rho``.
      eps: clip of ``rho_hat`` away from 0 and 1.

    References:
      Ng, A. (2011). Sparse autoencoder. CS294A lecture notes, Stanford.
    """
    rho_hat = tf.clip_by_value(global_mean(z), eps, 1.0 - eps)
    rho = tf.constant(target, z.dtype)
    return tf.reduce_sum(rho * tf.math.log(rho / rho_hat) + (1 - rho) * tf.math.log((1 - rho) / (1 - rho_hat)))


@MODELS.register("sparse_ae")
@serializable
class SparseAE(Autoencoder):
    r"""Autoencoder with a sparsity penalty on its code.

    ``loss = distortion + sparsity_weight * sparsity`` with

    * ``sparsity="kl"``: ``sum_j KL(rho || rho_hat_j)`` on sigmoid codes, where
      ``rho_hat_j`` is unit j's mean activation over the batch (a batch-level
      quantity: every example of the batch reports the same value);
    * ``sparsity="l1"``: ``sum_j |z_j|`` per example.

    The builders (``SparseAE.mlp``, ``.conv``) give it a sigmoid code
    (``code_activation="sigmoid"``).

    Args:
      encoder, decoder, posterior, likelihood: as for :class:`Autoencoder`.
      sparsity: ``"kl"`` or ``"l1"``.
      sparsity_target: ``rho``, the target mean activation (KL only).
      sparsity_weight: weight of the penalty (``beta``).
      seed: seed of the model's random draws.
    """

    loss_term_names = ("loss", "distortion", "sparsity")
    posterior_options = ("code_activation",)
    config_options = ("code_activation", "sparsity", "sparsity_target", "sparsity_weight")

    def __init__(self, encoder, decoder, posterior, likelihood, sparsity: str = "kl",
                 sparsity_target: float = 0.05, sparsity_weight: float = 1.0, seed: int | None = None, **kwargs):
        if sparsity not in SPARSITY:
            raise ValueError(f"sparsity must be one of {SPARSITY}, got {sparsity!r}")
        sparsity_target = check_number(sparsity_target, "sparsity_target")
        sparsity_weight = check_number(sparsity_weight, "sparsity_weight")
        if not 0 < sparsity_target < 1:
            raise ValueError(f"sparsity_target must be in (0, 1), got {sparsity_target}")
        if not sparsity_weight >= 0:
            raise ValueError(f"sparsity_weight must be >= 0, got {sparsity_weight}")
        self.sparsity = sparsity
        self.sparsity_target = float(sparsity_target)
        self.sparsity_weight = float(sparsity_weight)
        super().__init__(encoder, decoder, posterior, likelihood, seed=seed, **kwargs)
        if sparsity == "kl" and getattr(self.posterior, "activation", None) != "sigmoid":
            raise ValueError("sparsity='kl' needs codes in (0, 1): use a PointMassPosterior(activation='sigmoid')")

    @classmethod
    def build_posterior(cls, latent_dim, options):
        return PointMassPosterior(latent_dim, activation=options.pop("code_activation", "sigmoid"), name="posterior")

    def code_penalties(self, x_in, z, training):
        if self.sparsity == "kl":
            penalty = tf.fill(tf.shape(z)[:1], kl_sparsity(z, self.sparsity_target))
        else:
            penalty = tf.reduce_sum(tf.abs(z), axis=-1)
        return {"sparsity": penalty}

    def objective(self, terms):
        return terms["distortion"] + self.sparsity_weight * terms["sparsity"]

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "sparsity": self.sparsity,
            "sparsity_target": self.sparsity_target,
            "sparsity_weight": self.sparsity_weight,
        }


@MODELS.register("k_sparse_ae")
@serializable
class KSparseAE(Autoencoder):
    """The k-sparse autoencoder: a linear code of which only the k largest units survive.

    The builders take ``k=`` (default 25, at most ``latent_dim``) and
    ``alpha=`` (default 1: inference keeps ``alpha * k`` units, training ``k``);
    the head is a :class:`~tfvae.distributions.KSparsePosterior`. Use
    :class:`KSparsityScheduler` to start with a larger k and lower it, as the
    paper does to avoid dead units.

    References:
      Makhzani, A. & Frey, B. (2013). k-Sparse Autoencoders. arXiv:1312.5663.
    """

    default_posterior = KSparsePosterior
    posterior_options = ("k", "alpha")
    config_options = ("k", "alpha")


class KSparsityScheduler(keras.callbacks.Callback):
    """Lower ``k`` of a k-sparse code linearly from ``k_start`` to the target over epochs.

    At the start of epoch ``e`` (0-based) ``k = round(k_start + (k_end - k_start) * min(e / epochs, 1))``.
    Works with ``fit`` and with :func:`tfvae.loops.train_loop`.

    Args:
      k_start: k in the first epoch.
      k_end: the final k.
      epochs: epochs over which k moves from ``k_start`` to ``k_end``.
    """

    def __init__(self, k_start: int, k_end: int, epochs: int):
        super().__init__()
        self.k_start, self.k_end = check_int(k_start, "k_start"), check_int(k_end, "k_end")
        self.epochs = check_int(epochs, "epochs")

    def k_at(self, epoch: int) -> int:
        progress = min(epoch / self.epochs, 1.0)
        return int(round(self.k_start + (self.k_end - self.k_start) * progress))

    def on_epoch_begin(self, epoch, logs=None):
        self.model.posterior.set_k(self.k_at(epoch))
