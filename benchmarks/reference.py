"""The textbook VAE every tfvae figure is compared with.

What a competent Keras 3 user writes from the Keras VAE example: a plain
``keras.Model`` with a custom ``train_step`` (one ``GradientTape``), the
closed-form Gaussian KL, a Bernoulli reconstruction term from logits, and the
Keras defaults otherwise (``steps_per_execution=1``, ``jit_compile="auto"``,
float32). It shares the architecture and the ``tf.data`` pipeline of the
tfvae rows, so the ratio measures the library, not the model.

References:
  Kingma, D. P. & Welling, M. (2014). Auto-Encoding Variational Bayes. ICLR.
  Chollet, F. Variational AutoEncoder, keras.io/examples/generative/vae.
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


def reference_model(architecture: str, latent_dim: int = 16) -> ReferenceVAE:
    """The textbook VAE with ``architecture`` ``"mlp"`` or ``"conv"``, built and ready to compile."""
    networks = {"mlp": mlp_networks, "conv": conv_networks}[architecture]
    encoder, decoder = networks(latent_dim)
    model = ReferenceVAE(encoder, decoder, name=f"reference_{architecture}_vae")
    model(tf.zeros((1, 28, 28, 1)))
    return model
