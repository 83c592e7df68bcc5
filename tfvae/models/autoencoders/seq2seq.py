"""Sequence-to-sequence autoencoder: an RNN's final state is the code."""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf
import tensorflow_probability as tfp

from tfvae.distributions.likelihoods import masked
from tfvae.models.autoencoders.autoencoder import Autoencoder
from tfvae.models.builders import likelihood_head
from tfvae.networks.recurrent import RecurrentDecoder, RecurrentEncoder, sequence_mask
from tfvae.registry import MODELS, serializable
from tfvae.validation import check_ints, check_number

tfd = tfp.distributions


@MODELS.register("seq2seq_ae")
@serializable
class Seq2SeqAE(Autoencoder):
    """Autoencoder for variable-length sequences ``[B, T, F]`` padded to length ``T``.

    A GRU/LSTM encoder reads the sequence (padded steps, whose features all
    equal ``padding_value``, are masked) and its final state, projected, is
    the code; a free-running GRU/LSTM decoder starts from the code and feeds
    each output back as its next input. The distortion counts valid steps
    only (:func:`tfvae.distributions.likelihoods.masked`), so padding changes
    nothing. ``decode(z)`` returns the full-length ``p(x|z)``.

    Args:
      encoder: a :class:`~tfvae.networks.RecurrentEncoder` (or any network that
        masks padding itself).
      decoder: a :class:`~tfvae.networks.RecurrentDecoder`.
      posterior, likelihood: as for :class:`Autoencoder` (likelihood event
        shape ``(T, F)``).
      padding_value: the value that marks padded time steps.
      seed: seed of the model's random draws.

    References:
      Sutskever, I., Vinyals, O. & Le, Q. V. (2014). Sequence to Sequence
      Learning with Neural Networks. NeurIPS.
      Srivastava, N., Mansimov, E. & Salakhutdinov, R. (2015). Unsupervised
      Learning of Video Representations using LSTMs. ICML.
    """

    architectures = {"recurrent": ("latent_dim", "hidden_units")}
    config_options = ("cell", "padding_value")

    @property
    def capabilities(self):
        """The autoencoder's, for sequences ``[time, features]``."""
        return super().capabilities.but(sequences=True)

    def __init__(self, encoder, decoder, posterior, likelihood, padding_value: float = 0.0,
                 seed: int | None = None, **kwargs):
        self.padding_value = check_number(padding_value, "padding_value")
        super().__init__(encoder, decoder, posterior, likelihood, seed=seed, **kwargs)

    @classmethod
    def recurrent(
        cls,
        data_shape: Sequence[int] = (20, 1),
        latent_dim: int = 16,
        hidden_units: Sequence[int] = (64,),
        cell: str = "gru",
        likelihood: str = "gaussian",
        likelihood_kwargs: dict | None = None,
        padding_value: float = 0.0,
        **kwargs,
    ):
        """GRU/LSTM encoder and decoder.

        Args:
          data_shape: ``(T, F)``: maximum length and features.
          latent_dim: size of the code.
          hidden_units: ``(units,)`` of the recurrent layers (one layer each way).
          cell: ``"gru"`` or ``"lstm"``.
          likelihood: registered likelihood name (default ``"gaussian"``).
          likelihood_kwargs: extra likelihood arguments.
          padding_value: the value that marks padded steps.
          **kwargs: the model's own arguments (``seed``, ...).
        """
        hidden_units = check_ints(hidden_units, "hidden_units")
        units = hidden_units[0] if hidden_units else 64
        posterior = cls.build_posterior(latent_dim, kwargs)
        head = likelihood_head(data_shape, likelihood, likelihood_kwargs)
        encoder = RecurrentEncoder(posterior.params_shape, units, cell, padding_value, name="encoder")
        decoder = RecurrentDecoder(head.params_shape, units, cell, name="decoder")
        return cls(encoder, decoder, posterior, head, padding_value=padding_value, **kwargs)

    def valid_steps(self, x: tf.Tensor) -> tf.Tensor:
        """``[B, T]``: which time steps of ``x`` are not padding."""
        return sequence_mask(x, self.padding_value)

    def valid_entries(self, x) -> tf.Tensor:
        """The valid (not padded) steps: padding adds nothing to the likelihood."""
        return self.valid_steps(x)

    def per_example_terms(self, x, training=False, seed=None):  # seed: unused, deterministic (see Autoencoder)
        z = self.posterior.point(self._encode(x, training))
        likelihood = masked(self._decode(z, training), self.valid_steps(x))
        return {"distortion": -likelihood.log_prob(x)}

    def get_config(self) -> dict:
        return {**super().get_config(), "padding_value": self.padding_value}
