"""The head contract: a Keras layer that maps tensors to a TFP distribution."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfvae.validation import check_int, check_number

tfd = tfp.distributions

#: Largest standard deviation a learned Gaussian head (posterior, learned
#: priors) produces. ``softplus(r)`` of a diverged raw output (``r = 1e30``)
#: would give ``s**2 = inf`` in the KL; ``N(m, 1e4**2)`` against ``N(0, 1)`` is
#: already ~5e7 nats per dimension, far beyond any trained model.
MAX_SCALE = 1e4


def check_scale_floor(value, name: str = "scale_floor") -> float:
    """A standard-deviation floor: finite, > 0 and a normal float32 (a smaller one rounds to 0)."""
    value = check_number(value, name, 0.0, strict=True)
    if value < np.finfo(np.float32).tiny:
        raise ValueError(f"{name} must be at least {np.finfo(np.float32).tiny:g} (float32 rounds it to 0), got {value:g}")
    return value


def bounded_scale(raw: tf.Tensor, floor: float, max_scale: float = MAX_SCALE) -> tf.Tensor:
    """``min(softplus(raw), max_scale) + floor``: finite and ``>= floor`` for any finite ``raw``.

    The floor keeps ``log s`` finite when ``raw -> -inf``; the ceiling keeps
    ``s**2`` (the KL, ``log_prob`` far from the mean) finite when ``raw``
    diverges to ``+1e30``. Below ``max_scale`` it is the plain softplus scale.
    """
    return tf.minimum(tf.math.softplus(raw), max_scale) + floor


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

    def summary(self, params: tf.Tensor) -> dict[str, tf.Tensor]:
        """The distribution of ``params`` as named float32 tensors, batch-first: ``mean`` and the parameters.

        What serving signatures return. Heads compute it directly from
        ``params`` (no TFP object is built), so an exported graph holds only the
        computation, which converts to other runtimes (ONNX, TFLite); each
        head's values equal its distribution's (tested against TFP).
        """
        distribution = self(params)
        return {"mean": distribution.mean(), "stddev": distribution.stddev()}

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
    r"""A head over the latent space (posterior or prior), with ``latent_dim``.

    Besides the distribution it makes, a latent head says how a model uses it:

    * :meth:`point`: the code a deterministic consumer uses (reconstruction,
      embeddings, the served ``encode``'s ``mean``): the mean where it exists
      in closed form, else a choice the head documents (an IAF posterior: the
      flow applied to its base distribution's mean);
    * :meth:`sample_and_log_prob`: reparameterised draws ``z`` and
      ``log q(z)`` of the same draws, which a Monte-Carlo KL and importance
      weights need (a flow has ``log q`` of its own draws in one pass, but of
      an arbitrary ``z`` only through its inverse);
    * :attr:`analytic_kl`: whether TFP registers a closed-form KL for the
      distribution's family (a model refuses ``kl="analytic"`` otherwise).

    Heads chosen by name from a config (the ``POSTERIORS`` and ``PRIORS``
    registries of :mod:`tfvae.registry`) declare the ``model.options`` keys
    they take in :attr:`config_options`, and :meth:`from_options` builds them.

    Args:
      latent_dim: size of z (>= 1).
    """

    #: whether the distribution has a closed-form KL against a Gaussian prior (TFP registers its family)
    analytic_kl: bool = True
    #: the ``model.options`` keys a head chosen by name takes (its constructor's keyword arguments)
    config_options: tuple[str, ...] = ()

    def __init__(self, latent_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = check_int(latent_dim, "latent_dim")

    @classmethod
    def from_options(cls, latent_dim: int, options: dict, data_shape=None, seed: int | None = None,
                     name: str | None = None) -> LatentHead:
        """The head a config names, its :attr:`config_options` popped from ``options``.

        Args:
          latent_dim: size of z.
          options: the model's remaining keyword arguments; the head's own are popped from it.
          data_shape: shape of one example (heads made of pseudo-inputs need it).
          seed: seed of the head's initial weights, for heads that take one.
          name: the layer's name (``"posterior"``, ``"prior"``).
        """
        return cls(latent_dim, name=name, **{key: options.pop(key) for key in cls.config_options if key in options})

    def point(self, distribution: tfd.Distribution) -> tf.Tensor:
        """The deterministic code of a distribution this head made, ``[*batch, latent_dim]``: its mean here."""
        return distribution.mean()

    def sample_and_log_prob(self, distribution: tfd.Distribution, num_samples: int,
                            seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """``(z, log q(z))``: ``[num_samples, *batch, latent_dim]`` reparameterised draws and their log-density.

        The draws are :meth:`sample`'s from the same ``seed`` (stateless,
        :mod:`tfvae.random`); flows override this to return the density their
        forward pass computes on the way.
        """
        z = self.sample(distribution, num_samples, seed)
        return z, distribution.log_prob(z)

    def get_config(self) -> dict:
        return {**super().get_config(), "latent_dim": self.latent_dim}
