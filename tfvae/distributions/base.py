"""The head contract: a Keras layer that maps tensors to a TFP distribution."""

from __future__ import annotations

import keras
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions


class DistributionHead(keras.layers.Layer):
    """Base class of the heads: parameters tensor in, ``tfd.Distribution`` out.

    A head always computes in float32, whatever the global mixed-precision
    policy, so every ``log_prob``, KL and loss is float32 (float16 log-probs of
    784 pixels lose whole nats). The network in front of it produces
    ``params_shape`` numbers per example; ``head(params)`` returns the
    distribution with batch shape ``params.shape[:-len(params_shape)]``.

    Heads are called by models, never by Keras: a distribution never leaves a
    model through ``call``, ``predict`` or a SavedModel signature.
    """

    def __init__(self, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)

    @property
    def params_shape(self) -> tuple[int, ...]:
        """Shape of the parameter tensor for one example."""
        raise NotImplementedError

    def check_params(self, params: tf.Tensor, network: str = "decoder", role: str = "likelihood",
                     unit: str = "example") -> tf.Tensor:
        """``params`` if its per-example shape is ``params_shape``, else a ``ValueError`` naming both shapes.

        Models call it when they are built, so a network that does not fit its
        head is refused with the network, the head and both shapes named.
        """
        if tuple(params.shape[1:]) != tuple(self.params_shape):
            raise ValueError(
                f"the {network} outputs shape {tuple(params.shape[1:])} per {unit} but the {role} "
                f"{type(self).__name__} needs {tuple(self.params_shape)}"
            )
        return params

    def sample(self, distribution: tfd.Distribution, num_samples: int, seed: tf.Tensor) -> tf.Tensor:
        """Draw ``[num_samples, *batch, *event]`` from a distribution this head made.

        Gaussian heads override this with reparameterised, device-portable noise
        (see :mod:`tfvae.random`).
        """
        return distribution.sample(num_samples, seed=tf.cast(seed, tf.int32))  # TFP wants int32 seeds

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("dtype", None)
        return config

    @staticmethod
    def _float32(params) -> tf.Tensor:
        return tf.cast(params, tf.float32)


class LatentHead(DistributionHead):
    """A head over the latent space (posterior or prior), with ``latent_dim``.

    Args:
      latent_dim: size of z (>= 1).
    """

    def __init__(self, latent_dim: int, **kwargs):
        super().__init__(**kwargs)
        if int(latent_dim) < 1:
            raise ValueError(f"latent_dim must be >= 1, got {latent_dim}")
        self.latent_dim = int(latent_dim)

    def get_config(self) -> dict:
        return {**super().get_config(), "latent_dim": self.latent_dim}
