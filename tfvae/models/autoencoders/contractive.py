"""Contractive autoencoder: penalise the Jacobian of the encoder."""

from __future__ import annotations

import tensorflow as tf

from tfvae.distributions import PointMassPosterior
from tfvae.models.autoencoders.autoencoder import Autoencoder
from tfvae.networks import MLP
from tfvae.registry import MODELS, serializable
from tfvae.validation import check_number

JACOBIANS = ("auto", "closed_form", "batch_jacobian")


@MODELS.register("contractive_ae")
@serializable
class ContractiveAE(Autoencoder):
    r"""Autoencoder with the contractive penalty ``lambda * ||J_f(x)||_F^2``.

    ``J_f(x) = dz/dx`` is the Jacobian of the code with respect to the input.
    For one sigmoid layer ``z = sigmoid(W^T x + b)`` it has the closed form

        ||J_f(x)||_F^2 = sum_j (z_j (1 - z_j))^2 sum_i W_ij^2,

    used when ``jacobian="closed_form"`` (or ``"auto"`` and the encoder is an
    :class:`~tfvae.networks.MLP` with no hidden layers and a sigmoid code).
    Any other encoder goes through ``tf.GradientTape.batch_jacobian``
    (``[B, latent_dim, *data_shape]``, so mind the memory for large inputs).

    Args:
      encoder, decoder, posterior, likelihood: as for :class:`Autoencoder`.
      contraction_weight: ``lambda``.
      jacobian: ``"auto"``, ``"closed_form"`` or ``"batch_jacobian"``.
      seed: seed of the model's random draws.

    References:
      Rifai, S., Vincent, P., Muller, X., Glorot, X. & Bengio, Y. (2011).
      Contractive Auto-Encoders: Explicit Invariance During Feature
      Extraction. ICML.
    """

    loss_term_names = ("loss", "distortion", "contraction")
    posterior_options = ("code_activation",)
    config_options = ("code_activation", "contraction_weight", "jacobian")

    def __init__(self, encoder, decoder, posterior, likelihood, contraction_weight: float = 0.1,
                 jacobian: str = "auto", seed: int | None = None, **kwargs):
        if jacobian not in JACOBIANS:
            raise ValueError(f"jacobian must be one of {JACOBIANS}, got {jacobian!r}")
        contraction_weight = check_number(contraction_weight, "contraction_weight")
        if not contraction_weight >= 0:
            raise ValueError(f"contraction_weight must be >= 0, got {contraction_weight}")
        self.contraction_weight = float(contraction_weight)
        self.jacobian = jacobian
        super().__init__(encoder, decoder, posterior, likelihood, seed=seed, **kwargs)
        closed_form_ok = self.has_closed_form()
        if jacobian == "closed_form" and not closed_form_ok:
            raise ValueError(
                "jacobian='closed_form' needs a one-layer sigmoid encoder: MLP(hidden_units=()) "
                "and PointMassPosterior(activation='sigmoid'); use 'batch_jacobian' otherwise"
            )
        self.use_closed_form = closed_form_ok and jacobian != "batch_jacobian"

    @classmethod
    def build_posterior(cls, latent_dim, options):
        return PointMassPosterior(latent_dim, activation=options.pop("code_activation", "sigmoid"), name="posterior")

    def has_closed_form(self) -> bool:
        return (
            isinstance(self.encoder, MLP)
            and not self.encoder.hidden
            and getattr(self.posterior, "activation", None) == "sigmoid"
        )

    def closed_form_penalty(self, z: tf.Tensor) -> tf.Tensor:
        """``||J||_F^2`` per example for the one-layer sigmoid encoder, from the code ``z``."""
        kernel = tf.cast(self.encoder.projection.kernel, tf.float32)  # [D_in, L]
        return tf.linalg.matvec(tf.square(z * (1.0 - z)), tf.reduce_sum(tf.square(kernel), axis=0))

    def jacobian_penalty(self, x_in: tf.Tensor, training: bool = False) -> tf.Tensor:
        """``||J||_F^2`` per example through ``batch_jacobian`` (any encoder)."""
        with tf.GradientTape() as tape:
            tape.watch(x_in)
            z = self.posterior.point(self._encode(x_in, training))
        jacobian = tape.batch_jacobian(z, x_in)
        return tf.reduce_sum(tf.reshape(tf.square(jacobian), [tf.shape(x_in)[0], -1]), axis=-1)

    def code_penalties(self, x_in, z, training):
        penalty = self.closed_form_penalty(z) if self.use_closed_form else self.jacobian_penalty(x_in, training)
        return {"contraction": penalty}

    def objective(self, terms):
        return terms["distortion"] + self.contraction_weight * terms["contraction"]

    def get_config(self) -> dict:
        return {**super().get_config(), "contraction_weight": self.contraction_weight, "jacobian": self.jacobian}
