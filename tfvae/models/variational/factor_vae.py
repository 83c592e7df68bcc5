r"""FactorVAE: a VAE whose codes are pushed towards independence by a discriminator's total-correlation estimate.

Kim & Mnih (2018) add to the VAE's loss ``gamma`` times the total correlation
of the aggregate posterior ``q(z) = E_x q(z|x)``,

.. math::

    \mathrm{TC}(z) = \mathrm{KL}\Big(q(z) \,\Big\|\, \prod_j q(z_j)\Big)
                   = \mathbb{E}_{q(z)}\Big[\log \frac{q(z)}{\prod_j q(z_j)}\Big]
                   \approx \mathbb{E}_{q(z)}\Big[\log \frac{D(z)}{1 - D(z)}\Big],

estimated by the density-ratio trick: a discriminator ``D`` is trained to
tell codes ``z ~ q(z)`` from codes whose every dimension is permuted
independently across the batch (draws of ``prod_j q(z_j)``). With ``D``'s
logit ``l(z) = log D(z) - log(1 - D(z))`` the per-example terms are::

    total_correlation(x) = l(z),               z ~ q(z|x)
    loss                 = distortion + beta * rate + gamma * total_correlation
    discriminator_loss   = 1/2 [softplus(-l(z)) + softplus(l(perm(z)))]   (z held fixed)

``loss`` moves the encoder and decoder only; ``discriminator_loss`` moves the
discriminator only, with its own optimizer (the model declares two
:class:`~tfvae.models.contract.Update` s: ``model`` and ``discriminator``,
Adam with ``beta_1 = 0.5, beta_2 = 0.9`` at ``1e-4`` as in the paper). Both
gradients are taken on the same forward pass, so a step is one encoder pass.

Where this differs from the paper: Algorithm 1 permutes the codes of a
second batch; here the codes of the same batch are permuted (the
permutation is drawn from the model's stateless seeds, so graph, eager and
XLA steps draw the same one). Each dimension's permutation is independent,
which is what makes the permuted codes draws of ``prod_j q(z_j)``.

References:
  Kim, H. & Mnih, A. (2018). Disentangling by Factorising. ICML. arXiv:1802.05983.
  Sugiyama, M., Suzuki, T. & Kanamori, T. (2012). Density Ratio Estimation in
  Machine Learning. Cambridge University Press (the density-ratio trick).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf

from tfvae import random
from tfvae.models.builders import as_layer
from tfvae.models.contract import Update
from tfvae.models.variational.vae import VAE
from tfvae.networks import MLP
from tfvae.registry import MODELS, serializable
from tfvae.validation import check_ints, check_number

#: the paper's discriminator: 6 layers of 1000 units (5 hidden + the logit), leaky ReLU
PAPER_DISCRIMINATOR_UNITS = (1000, 1000, 1000, 1000, 1000)


def permute_dimensions(codes: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """``codes`` ``[B, D]`` with each column shuffled across the batch by its own permutation, from ``seed``.

    Draws of ``prod_j q(z_j)`` when the rows are draws of ``q(z)``: the
    dimensions keep their marginals and lose their dependence.
    """
    keys = random.uniform(tf.shape(tf.transpose(codes)), seed)  # [D, B]: one permutation per dimension
    order = tf.argsort(keys, axis=-1, stable=True)
    return tf.transpose(tf.gather(tf.transpose(codes), order, batch_dims=1))


def discriminator_loss(joint_logits: tf.Tensor, product_logits: tf.Tensor) -> tf.Tensor:
    r"""The discriminator's per-example cross-entropy: joint draws labelled 1, permuted draws 0.

    ``1/2 [-log sigmoid(l(z)) - log(1 - sigmoid(l(perm z)))] = 1/2 [softplus(-l(z)) + softplus(l(perm z))]``;
    at its minimum ``l(z) = log q(z) - log prod_j q(z_j)``, whose mean over ``q(z)`` is the total correlation.
    """
    return 0.5 * (tf.nn.softplus(-joint_logits) + tf.nn.softplus(product_logits))


@MODELS.register("factor_vae")
@serializable
class FactorVAE(VAE):
    r"""A VAE with Kim & Mnih's total-correlation penalty, estimated by a discriminator over permuted codes.

    Args:
      *args: as for :class:`VAE` (``FactorVAE.mlp`` / ``FactorVAE.conv`` build it too).
      discriminator: a Keras layer mapping codes ``[B, latent_dim]`` to one logit ``[B, 1]``
        (``None``: an MLP of ``discriminator_units`` with leaky ReLU).
      gamma: weight of the total-correlation term (the paper sweeps 10 to 100 on dSprites).
      discriminator_units: hidden widths of the default discriminator (the paper's:
        :data:`PAPER_DISCRIMINATOR_UNITS`).
      **kwargs: the :class:`VAE`'s (``beta`` stays 1 in the paper).

    The two updates (:attr:`updates`): ``model`` (``loss`` over every weight but the
    discriminator's) and ``discriminator`` (``discriminator_loss`` over its weights, Adam
    ``beta_1=0.5, beta_2=0.9`` at ``1e-4``; ``train.learning_rates.discriminator`` sets it).

    References:
      Kim, H. & Mnih, A. (2018). Disentangling by Factorising. ICML. arXiv:1802.05983.
    """

    loss_term_names = ("loss", "elbo", "distortion", "rate", "total_correlation", "discriminator_loss")
    config_options = (*VAE.config_options, "gamma", "discriminator_units")

    def __init__(self, *args, discriminator: keras.layers.Layer | None = None, gamma: float = 10.0,
                 discriminator_units: Sequence[int] = PAPER_DISCRIMINATOR_UNITS, **kwargs):
        self.gamma = check_number(gamma, "gamma", 0.0)
        self.discriminator_units = check_ints(discriminator_units, "discriminator_units")
        if discriminator is None:
            discriminator = MLP((1,), self.discriminator_units, "leaky_relu", name="discriminator")
        self.discriminator = as_layer(discriminator)
        super().__init__(*args, **kwargs)

    def build(self, input_shape=None):
        super().build(input_shape)
        logits = self.discriminator(tf.zeros((1, self.latent_dim), tf.float32))
        if tuple(logits.shape[1:]) != (1,):
            raise ValueError(f"the discriminator must map codes [batch, {self.latent_dim}] to one logit "
                             f"[batch, 1]; it gives {tuple(logits.shape)}")

    @property
    def updates(self) -> tuple[Update, ...]:
        """``model`` (the VAE's weights, on ``loss``) and ``discriminator`` (its weights, on its own loss)."""
        return (
            Update("model"),
            Update("discriminator", loss="discriminator_loss",
                   variables=lambda model: model.discriminator.trainable_variables,
                   learning_rate=1e-4, optimizer_settings={"beta_1": 0.5, "beta_2": 0.9}),
        )

    def density_ratio_logit(self, codes: tf.Tensor, training: bool = False) -> tf.Tensor:
        """``l(z) = log D(z) / (1 - D(z))`` ``[B]``: the discriminator's log odds that ``z`` is a joint draw."""
        return tf.cast(self.discriminator(codes, training=training), tf.float32)[:, 0]

    def code_terms(self, z, seed, training: bool) -> dict[str, tf.Tensor]:
        """``total_correlation`` and ``discriminator_loss`` (``[B]`` each, nats) on the first draw of ``z``.

        The permutation is drawn from ``seed`` folded, so the same ``seed`` gives the same terms.
        """
        codes = z[0]
        held = tf.stop_gradient(codes)  # the discriminator's update does not move the encoder
        joint = self.density_ratio_logit(held, training)
        product = self.density_ratio_logit(permute_dimensions(held, random.fold_seed(seed, 1)), training)
        return {"total_correlation": self.density_ratio_logit(codes, training),
                "discriminator_loss": discriminator_loss(joint, product)}

    def objective(self, terms):
        return super().objective(terms) + self.gamma * terms["total_correlation"]

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "gamma": self.gamma,
            "discriminator_units": list(self.discriminator_units),
        }
