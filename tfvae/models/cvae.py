"""Conditional VAE: encoder q(z|x,y), decoder p(x|z,y), prior p(z) or p(z|y)."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfvae.distributions import ConditionalGaussianPrior
from tfvae.models.builders import as_layer
from tfvae.models.vae import VAE
from tfvae.networks import ConvEncoder
from tfvae.random import as_seed
from tfvae.registry import MODELS, serializable
from tfvae.validation import check_data_shape, check_int, check_latent

tfd = tfp.distributions


@MODELS.register("cvae")
@serializable
class ConditionalVAE(VAE):
    r"""A VAE conditioned on a class label ``y`` (Sohn et al. 2015; Doersch 2016, sec. 4).

    ``q(z|x,y)`` and ``p(x|z,y)`` see the label, one-hot (default) or through
    a learned embedding; the prior is ``N(0, I)`` or, with
    ``conditional_prior=True``, a learned ``p(z|y)``
    (:class:`~tfvae.distributions.ConditionalGaussianPrior`). The ELBO is
    ``E_q[log p(x|z,y)] - KL(q(z|x,y) || p(z|y))``. MLP encoders get the label
    concatenated to the flattened image; convolutional encoders get it as
    constant extra channels; decoders get ``[z, y]``.

    Train on ``(x, y)`` pairs (``load_dataset(..., with_labels=True)``);
    ``sample(n, condition=y)`` draws images of class ``y``.

    Args:
      encoder, decoder, posterior, likelihood: as for :class:`VAE`.
      num_classes: number of label values (labels are ints in ``[0, num_classes)``).
      prior: prior head (default: standard normal, or the conditional prior).
      condition_embedding: ``None`` for one-hot labels, or the size of a
        learned label embedding.
      conditional_prior: learn ``p(z|y)`` instead of using ``N(0, I)``.
      **kwargs: the :class:`VAE` arguments (``beta``, ``kl``, ``seed``, ...).

    References:
      Sohn, K., Lee, H. & Yan, X. (2015). Learning Structured Output
      Representation using Deep Conditional Generative Models. NeurIPS.
      Doersch, C. (2016). Tutorial on Variational Autoencoders. arXiv:1606.05908.
    """

    conditional = True
    config_options = (*VAE.config_options, "condition_embedding", "conditional_prior", "num_classes")
    #: the networks see the data with the label features joined (flattened, or tiled as channels), not the
    #: data alone: a network of the user's (``model.encoder`` / ``decoder``) is not offered
    architectures = {name: tuple(f for f in fields if f not in ("encoder", "decoder"))
                     for name, fields in VAE.architectures.items()}

    def __init__(self, encoder, decoder, posterior, likelihood, num_classes: int = 10, prior=None,
                 condition_embedding: int | None = None, conditional_prior: bool = False, **kwargs):
        self.num_classes = check_int(num_classes, "num_classes", minimum=2)
        if condition_embedding is not None and check_int(condition_embedding, "condition_embedding", None) < 1:
            raise ValueError(f"condition_embedding must be None (one-hot) or >= 1, got {condition_embedding}")
        self.condition_embedding = None if condition_embedding is None else int(condition_embedding)
        self.conditional_prior = bool(conditional_prior)
        self.label_embedding = (
            None if self.condition_embedding is None
            else keras.layers.Embedding(
                self.num_classes, self.condition_embedding, name="label_embedding",
                embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0),  # one-hot-sized features
            )
        )
        posterior = as_layer(posterior)
        if prior is None and self.conditional_prior:
            prior = ConditionalGaussianPrior(posterior.latent_dim, self.num_classes, name="prior")
        super().__init__(encoder, decoder, posterior, likelihood, prior=prior, **kwargs)

    # ------------------------------------------------------------ conditions
    def check_condition(self, condition, batch: int | None = None) -> tf.Tensor:
        """Integer labels ``[B]`` in ``[0, num_classes)``, or a clear error."""
        if condition is None:
            raise ValueError(
                f"{type(self).__name__} needs condition=: class labels of shape (batch,) in [0, {self.num_classes})"
            )
        y = tf.convert_to_tensor(condition)
        if y.dtype.is_floating:
            if tf.executing_eagerly() and not bool(tf.reduce_all(tf.equal(y, tf.round(y)))):
                raise TypeError(f"condition must hold integer class labels, got non-integer {y.dtype.name} values")
            y = tf.cast(y, tf.int32)
        if not y.dtype.is_integer:
            raise TypeError(f"condition must hold integer class labels, got dtype {y.dtype.name}")
        if y.shape.rank == 2 and y.shape[-1] == 1:
            y = y[:, 0]
        if y.shape.rank != 1:
            raise ValueError(f"condition must have shape (batch,), got {tuple(y.shape)}")
        if batch is not None and y.shape[0] is not None and y.shape[0] != batch:
            raise ValueError(f"condition has {y.shape[0]} labels for a batch of {batch}")
        y = tf.cast(y, tf.int32)
        if tf.executing_eagerly():
            if y.shape[0] and (int(tf.reduce_min(y)) < 0 or int(tf.reduce_max(y)) >= self.num_classes):
                raise ValueError(f"condition labels must be in [0, {self.num_classes}), got {y.numpy()}")
        return y

    def condition_features(self, y: tf.Tensor) -> tf.Tensor:
        """``[B, K]`` float32 label features: one-hot, or the learned embedding."""
        if self.label_embedding is None:
            return tf.one_hot(y, self.num_classes, dtype=tf.float32)
        return tf.cast(self.label_embedding(y), tf.float32)

    def prior_for(self, y: tf.Tensor) -> tfd.Distribution:
        """``p(z|y)`` (batch ``[B]``) or ``p(z)``."""
        return self.prior(y) if self.conditional_prior else self.prior()

    # ------------------------------------------------------------- networks
    def _encoder_inputs(self, x, condition):
        c = self.condition_features(condition)
        if isinstance(self.encoder, ConvEncoder):
            tiles = tf.ones(tf.concat([tf.shape(x)[:-1], [1]], 0), tf.float32)
            return tf.concat([x, tiles * c[:, None, None, :]], axis=-1)
        return tf.concat([tf.reshape(x, [tf.shape(x)[0], -1]), c], axis=-1)

    def _decoder_params(self, z, training, condition):
        flat = tf.reshape(z, [-1, self.latent_dim])
        c = self.condition_features(condition)
        # z may be [S, B, D]: repeat the labels per sample (an empty batch has no rows to repeat)
        copies = tf.shape(flat)[0] // tf.maximum(tf.shape(c)[0], 1)
        return self.decoder(tf.concat([flat, tf.tile(c, [copies, 1])], axis=-1), training=training)

    def _encode(self, x, training, condition=None):
        return self.posterior(self.encoder(self._encoder_inputs(x, condition), training=training))

    def _decode(self, z, training, condition=None):
        params = self._decoder_params(z, training, condition)
        leading = tf.shape(z)[:-1]
        return self.likelihood(tf.reshape(params, tf.concat([leading, self.likelihood.params_shape], axis=0)))

    def encoder_params(self, x, condition=None) -> tf.Tensor:
        """The encoder's output for ``x`` and its labels (the posterior head's input)."""
        return self.encoder(self._encoder_inputs(x, self.check_condition(condition)), training=False)

    def decoder_params(self, z, condition=None) -> tf.Tensor:
        """The decoder's output for codes ``z`` ``[B, latent_dim]`` and labels (the likelihood head's input)."""
        params = self._decoder_params(z, False, self.check_condition(condition))
        return tf.reshape(params, [-1, *self.likelihood.params_shape])

    def build(self, input_shape=None):
        x = tf.zeros((1, *self.data_shape), tf.float32)
        y = tf.zeros((1,), tf.int32)
        z = self.posterior.point(self._encode(x, False, y))
        if tuple(z.shape[1:]) != (self.latent_dim,):
            raise ValueError(f"the encoder gives codes of shape {tuple(z.shape[1:])}, expected ({self.latent_dim},)")
        self._decode(z, False, y)
        self.prior_for(y)
        self.built = True

    # ------------------------------------------------------------- contract
    def encode(self, x, condition=None, training: bool = False) -> tfd.Distribution:
        """``q(z|x, y)``; ``condition``: labels ``(batch,)``."""
        x = check_data_shape(x, self.data_shape)
        return self._encode(x, training, self.check_condition(condition, x.shape[0]))

    def decode(self, z, condition=None, training: bool = False) -> tfd.Distribution:
        """``p(x|z, y)``; ``z``: ``(batch, latent_dim)`` or ``(samples, batch, latent_dim)``."""
        z = check_latent(z, self.latent_dim)
        return self._decode(z, training, self.check_condition(condition, z.shape[-2]))

    def reconstruct(self, x, condition=None) -> tf.Tensor:
        y = self.check_condition(condition)
        return self.decode(self.embed(x, y), y).mean()

    def embed(self, x, condition=None) -> tf.Tensor:
        return self.posterior.point(self.encode(x, condition))

    def call(self, inputs, training: bool = False):
        """``inputs``: ``(x, y)``; returns the mean reconstruction."""
        if not isinstance(inputs, (tuple, list)) or len(inputs) != 2:
            raise ValueError(f"{type(self).__name__} is called on (x, y) pairs")
        x, y = inputs
        x, y = check_data_shape(x, self.data_shape), self.check_condition(y)
        return self._decode(self.posterior.point(self._encode(x, training, y)), training, y).mean()

    def unpack_data(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        if y is None and isinstance(x, (tuple, list)) and len(x) == 2:
            x, y = x
        if y is None:
            raise ValueError(
                f"{type(self).__name__} trains on (x, y) pairs: give labels "
                "(fit(x, y) or load_dataset(..., with_labels=True))"
            )
        x = check_data_shape(x, self.data_shape)
        return x, self.check_condition(y, x.shape[0])

    def per_example_terms(self, batch, training=False, num_samples=None, seed=None):
        x, y = batch
        q = self._encode(x, training, y)
        seed = self.seed_generator.next() if seed is None else seed
        z, log_q = self.posterior.sample_and_log_prob(q, num_samples or self.num_samples, seed)
        return self.elbo_terms(x, q, z, self._decode(z, training, y), self.prior_for(y), log_q)

    def elbo(self, x, condition=None, num_samples=None, seed=None):
        x = check_data_shape(x, self.data_shape)
        y = self.check_condition(condition, x.shape[0])
        num_samples = None if num_samples is None else check_int(num_samples, "num_samples")
        return self.per_example_terms((x, y), False, num_samples, as_seed(seed, self.seed_generator))

    def sample(self, num_samples: int, *, seed=None, condition=None) -> tf.Tensor:
        """``num_samples`` images of class ``condition`` (an int, or labels ``(num_samples,)``)."""
        num_samples = check_int(num_samples, "num_samples", minimum=0)
        if condition is None:
            self.check_condition(None)  # the error that says labels are needed
        labels = np.asarray(condition)
        if labels.ndim == 0:
            labels = np.broadcast_to(labels, (num_samples,))
        y = self.check_condition(labels, num_samples)
        seed = as_seed(seed, self.seed_generator)
        prior = self.prior_for(y)
        z = self.prior.sample(prior, 1 if self.conditional_prior else num_samples, seed)
        z = z[0] if self.conditional_prior else z
        return self._decode(z, False, y).mean()

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "condition_embedding": self.condition_embedding,
            "conditional_prior": self.conditional_prior,
        }
