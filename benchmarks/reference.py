"""The textbook VAE every tfvae figure is compared with.

What a competent Keras 3 user writes from the Keras VAE example: a plain
``keras.Model`` with a custom ``train_step`` (one ``GradientTape``), the
closed-form Gaussian KL, a Bernoulli reconstruction term from logits, and the
Keras defaults otherwise (``steps_per_execution=1``, ``jit_compile="auto"``,
float32). It shares the architecture and the ``tf.data`` pipeline of the
tfvae rows, so the ratio measures the library, not the model.

The VQ-VAE reference is the same kind of program for the residual
VQ-VAE of ``tfvae.VQVAE.conv``: the textbook quantiser layer (nearest code,
straight-through estimator, codebook loss plus 0.25 x commitment loss,
codebook trained by gradients) between the same residual encoder and decoder.

References:
  Kingma, D. P. & Welling, M. (2014). Auto-Encoding Variational Bayes. ICLR.
  Chollet, F. Variational AutoEncoder, keras.io/examples/generative/vae.
  van den Oord, A., Vinyals, O. & Kavukcuoglu, K. (2017). Neural Discrete
  Representation Learning. NeurIPS.
  Paul, S. Vector-Quantized Variational Autoencoders, keras.io/examples/generative/vq_vae.
"""

from __future__ import annotations

import keras
import tensorflow as tf


def mlp_networks(latent_dim: int, hidden_units=(512, 256), data_shape=(28, 28, 1)):
    """Encoder ``784-512-256-2*latent`` and the mirrored decoder (logits)."""
    size = 1
    for d in data_shape:
        size *= d
    encoder = keras.Sequential(
        [keras.layers.Flatten()]
        + [keras.layers.Dense(u, activation="relu") for u in hidden_units]
        + [keras.layers.Dense(2 * latent_dim)],
        name="encoder",
    )
    decoder = keras.Sequential(
        [keras.layers.Dense(u, activation="relu") for u in reversed(hidden_units)]
        + [keras.layers.Dense(size), keras.layers.Reshape(data_shape)],
        name="decoder",
    )
    return encoder, decoder


def conv_networks(latent_dim: int, filters=(32, 64), hidden_units=(256,), data_shape=(28, 28, 1)):
    """The same layers as ``tfvae.VAE.conv``: strided 3x3 convolutions and their transposes."""
    height, width, channels = data_shape
    factor = 2 ** len(filters)
    encoder = keras.Sequential(
        [keras.layers.Conv2D(f, 3, strides=2, padding="same", activation="relu") for f in filters]
        + [keras.layers.Flatten()]
        + [keras.layers.Dense(u, activation="relu") for u in hidden_units]
        + [keras.layers.Dense(2 * latent_dim)],
        name="encoder",
    )
    decoder = keras.Sequential(
        [keras.layers.Dense(u, activation="relu") for u in reversed(hidden_units)]
        + [
            keras.layers.Dense((height // factor) * (width // factor) * filters[-1], activation="relu"),
            keras.layers.Reshape((height // factor, width // factor, filters[-1])),
        ]
        + [keras.layers.Conv2DTranspose(f, 3, strides=2, padding="same", activation="relu") for f in reversed(filters)]
        + [keras.layers.Conv2D(channels, 3, padding="same")],
        name="decoder",
    )
    return encoder, decoder


class ReferenceVAE(keras.Model):
    """Gaussian posterior (mean, log-variance), N(0, I) prior, Bernoulli likelihood.

    Loss per example: ``sum_pixels BCE(x, logits) + KL(N(mu, sigma^2) || N(0, I))``
    with ``KL = -1/2 sum(1 + log sigma^2 - mu^2 - sigma^2)``; the batch mean is
    minimised.
    """

    def __init__(self, encoder: keras.Model, decoder: keras.Model, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self):
        return [self.loss_tracker]

    def call(self, x, training=False):
        mean, log_var = tf.split(self.encoder(x, training=training), 2, axis=-1)
        z = mean + tf.exp(0.5 * log_var) * tf.random.normal(tf.shape(mean))
        return self.decoder(z, training=training), mean, log_var

    def train_step(self, x):
        with tf.GradientTape() as tape:
            logits, mean, log_var = self(x, training=True)
            reconstruction = tf.reduce_sum(
                tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits), axis=[1, 2, 3]
            )
            kl = -0.5 * tf.reduce_sum(1.0 + log_var - tf.square(mean) - tf.exp(log_var), axis=-1)
            loss = tf.reduce_mean(reconstruction + kl)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}


    def test_loss(self, x):
        """Per-example negative ELBO (nats, one posterior sample), ``[B]``."""
        logits, mean, log_var = self(x)
        reconstruction = tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits), axis=[1, 2, 3])
        return reconstruction - 0.5 * tf.reduce_sum(1.0 + log_var - tf.square(mean) - tf.exp(log_var), axis=-1)


# ------------------------------------------------------------------ VQ-VAE
def _residual_stack(h, filters: int, residual_filters: int, blocks: int):
    for _ in range(blocks):
        inner = keras.layers.Conv2D(residual_filters, 3, padding="same")(keras.layers.ReLU()(h))
        h = h + keras.layers.Conv2D(filters, 1)(keras.layers.ReLU()(inner))
    return keras.layers.ReLU()(h)


def vq_networks(embedding_dim=16, filters=64, residual_filters=32, blocks=2, data_shape=(28, 28, 1)):
    """The residual encoder and decoder of ``tfvae.VQVAE.conv`` (two stride-2 stages), functional API."""
    x = keras.Input(data_shape)
    h = keras.layers.Conv2D(filters // 2, 4, strides=2, padding="same", activation="relu")(x)
    h = keras.layers.Conv2D(filters, 4, strides=2, padding="same", activation="relu")(h)
    h = _residual_stack(keras.layers.Conv2D(filters, 3, padding="same")(h), filters, residual_filters, blocks)
    encoder = keras.Model(x, keras.layers.Conv2D(embedding_dim, 1)(h), name="encoder")
    z = keras.Input((data_shape[0] // 4, data_shape[1] // 4, embedding_dim))
    h = _residual_stack(keras.layers.Conv2D(filters, 3, padding="same")(z), filters, residual_filters, blocks)
    h = keras.layers.Conv2DTranspose(filters // 2, 4, strides=2, padding="same", activation="relu")(h)
    logits = keras.layers.Conv2DTranspose(data_shape[-1], 4, strides=2, padding="same")(h)
    return encoder, keras.Model(z, logits, name="decoder")


class TextbookQuantizer(keras.layers.Layer):
    """Nearest code, straight-through gradient; returns the codes and the per-example VQ loss."""

    def __init__(self, num_embeddings=128, embedding_dim=16, commitment_cost=0.25, **kwargs):
        super().__init__(**kwargs)
        self.commitment_cost = commitment_cost
        self.codebook = self.add_weight(
            shape=(embedding_dim, num_embeddings), initializer="random_uniform", name="codebook"
        )

    def call(self, z_e):
        flat = tf.reshape(z_e, [-1, tf.shape(z_e)[-1]])
        distances = (
            tf.reduce_sum(flat**2, axis=1, keepdims=True)
            - 2.0 * tf.matmul(flat, self.codebook)
            + tf.reduce_sum(self.codebook**2, axis=0)
        )
        indices = tf.argmin(distances, axis=1)
        z_q = tf.reshape(tf.gather(tf.transpose(self.codebook), indices), tf.shape(z_e))
        batch = tf.shape(z_e)[0]
        codebook_loss = tf.reduce_sum(tf.reshape((tf.stop_gradient(z_e) - z_q) ** 2, [batch, -1]), axis=1)
        commitment = tf.reduce_sum(tf.reshape((z_e - tf.stop_gradient(z_q)) ** 2, [batch, -1]), axis=1)
        return z_e + tf.stop_gradient(z_q - z_e), codebook_loss + self.commitment_cost * commitment


class ReferenceVQVAE(keras.Model):
    """Bernoulli likelihood on the decoder's logits plus the VQ loss, batch mean minimised."""

    def __init__(self, encoder, decoder, quantizer, **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.decoder, self.quantizer = encoder, decoder, quantizer
        self.loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self):
        return [self.loss_tracker]

    def call(self, x, training=False):
        z_q, vq_loss = self.quantizer(self.encoder(x, training=training))
        return self.decoder(z_q, training=training), vq_loss

    def train_step(self, x):
        with tf.GradientTape() as tape:
            logits, vq_loss = self(x, training=True)
            distortion = tf.reduce_sum(
                tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits), axis=[1, 2, 3]
            )
            loss = tf.reduce_mean(distortion + vq_loss)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def test_loss(self, x):
        """Per-example distortion (nats), ``[B]``."""
        logits, _ = self(x)
        return tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits), axis=[1, 2, 3])


def reference_model(architecture: str, latent_dim: int = 16) -> keras.Model:
    """The textbook model for ``architecture`` (``"mlp"``, ``"conv"`` or ``"vqvae"``), built, ready to compile."""
    if architecture == "vqvae":
        encoder, decoder = vq_networks(embedding_dim=latent_dim)
        model = ReferenceVQVAE(encoder, decoder, TextbookQuantizer(embedding_dim=latent_dim), name="reference_vqvae")
    else:
        networks = {"mlp": mlp_networks, "conv": conv_networks}[architecture]
        encoder, decoder = networks(latent_dim)
        model = ReferenceVAE(encoder, decoder, name=f"reference_{architecture}_vae")
    model(tf.zeros((1, 28, 28, 1)))
    return model
