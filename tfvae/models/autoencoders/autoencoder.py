"""The ``Autoencoder`` contract: encode to a distribution, decode to a distribution."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfvae.distributions import DistributionHead, Likelihood, PointMassPosterior
from tfvae.models.base import GenerativeModel
from tfvae.models.builders import NetworkFactory, as_layer, likelihood_head, mirrored_decoder, own_network
from tfvae.models.contract import (
    Capabilities,
    ServingSignature,
    label_input,
    latent_input,
)
from tfvae.networks import MLP, ConvEncoder
from tfvae.registry import MODELS, serializable
from tfvae.validation import check_data_shape, check_int, check_latent

tfd = tfp.distributions


@MODELS.register("autoencoder")
@serializable
class Autoencoder(GenerativeModel):
    """Encoder network + posterior head, decoder network + likelihood head.

    ``encode(x)`` returns ``q(z|x)`` and ``decode(z)`` returns ``p(x|z)``, both
    ``tfd.Distribution`` objects with batch shape ``[B]`` (``[S, B]`` for codes
    ``z`` of shape ``[S, B, latent_dim]``). The plain autoencoder uses a
    point-mass posterior and minimises the distortion ``-log p(x|z)`` at
    ``z = E[q(z|x)]``, summed over data dimensions and averaged over the batch.

    ``call(x)`` returns the reconstruction tensor ``E[p(x|E[q(z|x)])]``, so
    ``predict`` and SavedModel signatures only ever see tensors.

    Args:
      encoder: network ``x -> posterior parameters`` of shape ``posterior.params_shape``.
      decoder: network ``z -> likelihood parameters`` of shape ``likelihood.params_shape``.
      posterior: head turning encoder outputs into ``q(z|x)``.
      likelihood: head turning decoder outputs into ``p(x|z)``; its
        ``event_shape`` is the data shape.
      num_classes: condition on class labels in ``[0, num_classes)`` (``None``: unconditional), for
        families that take conditioning (:attr:`conditioning`): ``q(z|x,y)`` and ``p(x|z,y)`` see the
        label, one-hot or through a learned embedding. MLP encoders get it joined to the flattened
        data, convolutional encoders as constant extra channels, decoders as ``[z, y]``; batches are
        ``(x, y)`` pairs and every method takes ``condition=`` labels.
      condition_embedding: ``None`` for one-hot labels, or the size of a learned label embedding.
      seed: seed of the model's random draws.
    """

    loss_term_names = ("loss", "distortion")
    default_posterior: type[DistributionHead] = PointMassPosterior
    architectures = {"mlp": ("latent_dim", "hidden_units", "activation", "encoder", "decoder"),
                     "conv": ("latent_dim", "hidden_units", "activation", "filters", "encoder", "decoder")}

    @property
    def conditional(self) -> bool:
        """Whether this model is conditioned on class labels (it was given ``num_classes``)."""
        return self.num_classes is not None

    @property
    def capabilities(self) -> Capabilities:
        """A point-mass code of ``latent_dim`` numbers; subclasses declare what they add."""
        return Capabilities(autoencoder=True, conditional=self.conditional, image_data=len(self.data_shape) == 3)

    def data_support(self) -> tuple[float, float] | None:
        """The likelihood head's support: ``(0, 1)`` for the Bernoulli heads, ``None`` for a Gaussian."""
        return self.likelihood.support

    def likelihood_description(self) -> str:
        return f"the {type(self.likelihood).__name__} of {type(self).__name__}"

    def __init__(
        self,
        encoder: keras.layers.Layer,
        decoder: keras.layers.Layer,
        posterior: DistributionHead,
        likelihood: Likelihood,
        seed: int | None = None,
        num_classes: int | None = None,
        condition_embedding: int | None = None,
        **kwargs,
    ):
        super().__init__(seed=seed, **kwargs)
        self._set_conditioning(num_classes, condition_embedding)
        self.encoder = as_layer(encoder)
        self.decoder = as_layer(decoder)
        self.posterior = as_layer(posterior)
        self.likelihood = as_layer(likelihood)
        self.latent_dim = int(self.posterior.latent_dim)
        self.data_shape = tuple(self.likelihood.event_shape)
        self.build((None, *self.data_shape))

    # ----------------------------------------------------------------- builders
    #: keyword arguments of the builders that configure the posterior head
    #: (popped by :meth:`build_posterior`), not the model.
    posterior_options: tuple[str, ...] = ()

    @classmethod
    def build_posterior(cls, latent_dim: int, options: dict) -> DistributionHead:
        """The posterior head the ``mlp`` / ``conv`` builders use.

        Args:
          latent_dim: size of z.
          options: the builder's remaining keyword arguments; pop the names in
            ``posterior_options`` from it.
        """
        head_options = {name: options.pop(name) for name in cls.posterior_options if name in options}
        return cls.default_posterior(latent_dim, name="posterior", **head_options)

    @classmethod
    def mlp(
        cls,
        data_shape: Sequence[int] = (28, 28, 1),
        latent_dim: int = 16,
        hidden_units: Sequence[int] = (512, 256),
        activation: str = "relu",
        likelihood: str = "bernoulli",
        likelihood_kwargs: dict | None = None,
        encoder: NetworkFactory | None = None,
        decoder: NetworkFactory | None = None,
        **kwargs,
    ):
        """An MLP encoder/decoder model (decoder widths mirror the encoder's).

        Args:
          data_shape: shape of one example.
          latent_dim: size of z.
          hidden_units: encoder hidden widths, e.g. ``(512, 256)`` for 784-512-256.
          activation: hidden activation.
          likelihood: registered likelihood name (``"bernoulli"``,
            ``"gaussian"``, ``"continuous_bernoulli"``).
          likelihood_kwargs: extra arguments of the likelihood head.
          encoder: your own encoder instead of the MLP: a Keras layer, or
            ``factory(input_shape=data_shape, output_shape=...)`` returning one
            (:func:`~tfvae.models.builders.own_network`).
          decoder: your own decoder, likewise (``input_shape=(latent_dim,)``).
          **kwargs: the model's own arguments (``beta``, ``kl``, ``seed``, ...).
        """
        posterior = cls.build_posterior(latent_dim, kwargs)
        head = likelihood_head(data_shape, likelihood, likelihood_kwargs)
        return cls(
            own_network(encoder, "encoder", data_shape, posterior.params_shape,
                        lambda: MLP(posterior.params_shape, hidden_units, activation, name="encoder")),
            own_network(decoder, "decoder", (posterior.latent_dim,), head.params_shape,
                        lambda: mirrored_decoder(head, hidden_units, activation)),
            posterior, head, **kwargs)

    @classmethod
    def conv(
        cls,
        data_shape: Sequence[int] = (28, 28, 1),
        latent_dim: int = 16,
        filters: Sequence[int] = (32, 64),
        hidden_units: Sequence[int] = (256,),
        activation: str = "relu",
        likelihood: str = "bernoulli",
        likelihood_kwargs: dict | None = None,
        encoder: NetworkFactory | None = None,
        decoder: NetworkFactory | None = None,
        **kwargs,
    ):
        """A convolutional encoder and transposed-convolution decoder for images.

        Args:
          data_shape: ``(height, width, channels)``, any size (the decoder
            centre-crops what its stride-2 stages make, see
            :class:`~tfvae.networks.ConvDecoder`).
          latent_dim: size of z.
          filters: encoder channels per stride-2 stage (the decoder mirrors them).
          hidden_units: dense widths between the convolutions and the code.
          activation: hidden activation.
          likelihood: registered likelihood name.
          likelihood_kwargs: extra arguments of the likelihood head.
          encoder: your own encoder (a layer or a factory, as for :meth:`mlp`).
          decoder: your own decoder, likewise.
          **kwargs: the model's own arguments.
        """
        posterior = cls.build_posterior(latent_dim, kwargs)
        head = likelihood_head(data_shape, likelihood, likelihood_kwargs)
        return cls(
            own_network(encoder, "encoder", data_shape, posterior.params_shape,
                        lambda: ConvEncoder(posterior.params_shape, filters, hidden_units=hidden_units,
                                            activation=activation, name="encoder")),
            own_network(decoder, "decoder", (posterior.latent_dim,), head.params_shape,
                        lambda: mirrored_decoder(head, hidden_units, activation, filters)),
            posterior, head, **kwargs)

    # -------------------------------------------------------------------- build
    def build(self, input_shape=None):
        x = tf.zeros((1, *self.data_shape), tf.float32)
        y = tf.zeros((1,), tf.int32) if self.conditional else None
        params = self.encoder(self._encoder_inputs(x, y))
        z = self.posterior.point(self.posterior(self.posterior.check_params(params, "encoder", "posterior")))
        params = self._decoder_params(z, False, y)
        self.likelihood(self.likelihood.check_params(params))
        self.built = True

    # -------------------------------------------------------------- conditioning
    def _set_conditioning(self, num_classes: int | None, condition_embedding: int | None) -> None:
        """Make the conditioning (once: a family may make it before its other layers, as the VAE does, so
        the label embedding's weights come first, where files saved by the former ``ConditionalVAE`` have them)."""
        if self.__dict__.get("_conditioning_made"):
            return
        self._conditioning_made = True
        if num_classes is None:
            if condition_embedding is not None:
                raise ValueError("condition_embedding needs num_classes (the model is unconditional)")
            self.num_classes, self.condition_embedding, self.label_embedding = None, None, None
            return
        if type(self).conditioning == "none":
            raise ValueError(f"{type(self).__name__} takes no class conditioning (num_classes={num_classes})")
        self.num_classes = check_int(num_classes, "num_classes", minimum=2)
        if condition_embedding is not None and check_int(condition_embedding, "condition_embedding", None) < 1:
            raise ValueError(f"condition_embedding must be None (one-hot) or >= 1, got {condition_embedding}")
        self.condition_embedding = None if condition_embedding is None else int(condition_embedding)
        self.label_embedding = (
            None if self.condition_embedding is None
            else keras.layers.Embedding(
                self.num_classes, self.condition_embedding, name="label_embedding",
                embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0),  # one-hot-sized features
            )
        )

    def check_condition(self, condition, batch: int | None = None) -> tf.Tensor | None:
        """Integer labels ``[B]`` in ``[0, num_classes)`` for a conditional model, ``None`` otherwise; or a clear error.

        Raises:
          ValueError: a conditional model got no labels, or labels of another shape or range; an
            unconditional model got labels.
          TypeError: labels that are not integers.
        """
        if not self.conditional:
            if condition is not None:
                raise ValueError(f"{type(self).__name__} is unconditional; got a condition")
            return None
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

    def _check_condition(self, condition) -> None:
        self.check_condition(condition)

    def condition_features(self, y: tf.Tensor) -> tf.Tensor:
        """``[B, K]`` float32 label features: one-hot, or the learned embedding."""
        if self.label_embedding is None:
            return tf.one_hot(y, self.num_classes, dtype=tf.float32)
        return tf.cast(self.label_embedding(y), tf.float32)

    def _encoder_inputs(self, x, condition):
        """The encoder's input: ``x``, with the label features joined for a conditional model."""
        if condition is None:
            return x
        c = self.condition_features(condition)
        if isinstance(self.encoder, ConvEncoder):
            tiles = tf.ones(tf.concat([tf.shape(x)[:-1], [1]], 0), tf.float32)
            return tf.concat([x, tiles * c[:, None, None, :]], axis=-1)
        return tf.concat([tf.reshape(x, [tf.shape(x)[0], -1]), c], axis=-1)

    def _decoder_params(self, z, training, condition=None):
        """The decoder's output for codes ``z`` (``[B, D]`` or ``[S, B, D]``), flattened to ``[S * B, ...]``."""
        flat = tf.reshape(z, [-1, self.latent_dim])
        if condition is not None:
            c = self.condition_features(condition)
            # z may be [S, B, D]: repeat the labels per sample (an empty batch has no rows to repeat)
            copies = tf.shape(flat)[0] // tf.maximum(tf.shape(c)[0], 1)
            flat = tf.concat([flat, tf.tile(c, [copies, 1])], axis=-1)
        return self.decoder(flat, training=training)

    # ------------------------------------------------------------ the contract

    def encode(self, x, condition=None, training: bool = False) -> tfd.Distribution:
        """The posterior ``q(z|x)``, batch shape ``[B]``, event shape ``[latent_dim]``.

        Args:
          x: float data of shape ``(batch, *data_shape)``.
          condition: unused by unconditional models (must be ``None``).
          training: whether layers run in training mode.
        """
        x = check_data_shape(x, self.data_shape)
        return self._encode(x, training, self.check_condition(condition, x.shape[0]))

    def decode(self, z, condition=None, training: bool = False) -> tfd.Distribution:
        """The likelihood ``p(x|z)``; batch shape ``z.shape[:-1]``, event shape the data shape.

        Args:
          z: codes of shape ``(batch, latent_dim)`` or ``(samples, batch, latent_dim)``.
          condition: unused by unconditional models (must be ``None``).
          training: whether layers run in training mode.
        """
        z = check_latent(z, self.latent_dim)
        return self._decode(z, training, self.check_condition(condition, z.shape[-2]))

    def embed(self, x, condition=None) -> tf.Tensor:
        """Latent features: the posterior head's ``point`` of ``q(z|x)``, ``[B, latent_dim]``.

        The posterior mean (or the code itself) for Gaussian and point-mass
        posteriors; the head's documented code otherwise (an IAF: the flow of
        its base mean).
        """
        return self.posterior.point(self.encode(x, condition))

    def reconstruct(self, x, condition=None) -> tf.Tensor:
        """``E[p(x | z)]`` at the code ``z = point(q(z|x))`` (:meth:`embed`): the mean reconstruction, like ``x``."""
        y = self.check_condition(condition)
        return self.decode(self.embed(x, y), y).mean()

    def call(self, inputs, training: bool = False):
        """The mean reconstruction of ``inputs``: ``x``, or ``(x, y)`` pairs for a conditional model."""
        if self.conditional:
            if not isinstance(inputs, (tuple, list)) or len(inputs) != 2:
                raise ValueError(f"{type(self).__name__} is conditional: it is called on (x, y) pairs")
            x, y = inputs
        else:
            x, y = inputs, None
        x = check_data_shape(x, self.data_shape)
        y = self.check_condition(y)
        return self._decode(self.posterior.point(self._encode(x, training, y)), training, y).mean()

    def _encode(self, x: tf.Tensor, training, condition=None) -> tfd.Distribution:
        return self.posterior(self.encoder(self._encoder_inputs(x, condition), training=training), training=training)

    def _decode(self, z: tf.Tensor, training, condition=None) -> tfd.Distribution:
        leading = tf.shape(z)[:-1]
        params = self._decoder_params(z, training, condition)
        params = tf.reshape(params, tf.concat([leading, self.likelihood.params_shape], axis=0))
        return self.likelihood(params)

    # ---------------------------------------------------------------- serving
    def posterior_parameters(self, x, condition=None) -> dict[str, tf.Tensor]:
        """``q(z|x)`` as tensors: ``mean`` and ``stddev``, each ``[B, latent_dim]``.

        Computed by the posterior head from the encoder's outputs
        (:meth:`~tfvae.distributions.DistributionHead.summary`), without building
        a TFP distribution: the serving graph holds only the computation.

        Args:
          x: data ``[B, *data_shape]``.
          condition: labels ``[B]`` for conditional models, else ``None``.
        """
        return self.posterior.summary(self.encoder_params(x, condition))

    def likelihood_parameters(self, z, condition=None) -> dict[str, tf.Tensor]:
        """``p(x|z)`` as tensors: ``mean`` and the likelihood's parameters (``logits``, or ``loc`` and ``scale``).

        Args:
          z: codes ``[B, latent_dim]``.
          condition: labels ``[B]`` for conditional models, else ``None``.
        """
        return self.likelihood.summary(self.decoder_params(z, condition))

    def encoder_params(self, x, condition=None) -> tf.Tensor:
        """The encoder network's output for ``x`` (and its labels): the posterior head's input."""
        return self.encoder(self._encoder_inputs(x, self.check_condition(condition)), training=False)

    def decoder_params(self, z, condition=None) -> tf.Tensor:
        """The decoder network's output for codes ``z`` ``[B, latent_dim]`` (and labels): the likelihood head's
        input."""
        params = self._decoder_params(z, False, self.check_condition(condition))
        return tf.reshape(params, [-1, *self.likelihood.params_shape])

    def reconstruction(self, x, condition=None) -> dict[str, tf.Tensor]:
        """``{"reconstruction": E[p(x | E[q(z|x)])]}`` from the heads' parameters (as :meth:`reconstruct`)."""
        z = self.posterior_parameters(x, condition)["mean"]
        return {"reconstruction": self.likelihood_parameters(z, condition)["mean"]}

    def score_terms(self, x, condition=None) -> dict[str, tf.Tensor]:
        """Per-example anomaly score and its terms, each ``[B]`` in nats (deterministic).

        ``score`` is the distortion ``-log p(x | E[q(z|x)])``; training
        penalties (sparsity, contraction) are left out: they are regularisers,
        some are batch statistics, and none measures how well one example is explained.
        """
        z = self.posterior_parameters(x, condition)["mean"]
        params = self.decoder_params(z, condition)
        distortion = -self.likelihood.log_prob_tensor(params, x, self.valid_entries(x))
        return {"score": distortion, "distortion": distortion}

    def valid_entries(self, x) -> tf.Tensor | None:
        """Which leading data dimensions of ``x`` count in the likelihood (``None``: all of them)."""
        return None

    def serving_signatures(self, prior=None, options=None) -> dict[str, ServingSignature]:
        """``serving_default`` (reconstruction), ``encode``, ``decode`` and a deterministic ``score``.

        Conditional models take a ``condition`` input (int32 labels) beside
        ``x`` or ``z`` in every signature.

        Raises:
          ServingError: a prior or options were given (this family takes none).
        """
        self.refuse_serving_extras(prior, options)
        condition = {"condition": label_input(self.num_classes)} if self.conditional else {}
        x = {"x": self.served_data(), **condition}
        z = {"z": latent_input(self.latent_dim), **condition}
        return {
            "serving_default": ServingSignature(x, self.reconstruction, "mean reconstruction E[p(x|E[q(z|x)])]"),
            "encode": ServingSignature(x, self.posterior_parameters, "posterior q(z|x): mean and standard deviation"),
            "decode": ServingSignature(z, self.likelihood_parameters, "likelihood p(x|z): mean and parameters"),
            "score": ServingSignature(x, self.score_terms, "per-example reconstruction error (distortion, nats)"),
        }

    # --------------------------------------------------------------- objective
    def unpack_data(self, data):
        """The model's inputs of a batch, checked: ``x`` (of ``x``, ``(x,)``, ``(x, y)``, ...); ``(x, y)`` labels
        included for a conditional model."""
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        if not self.conditional:
            return check_data_shape(x, self.data_shape)
        if y is None and isinstance(x, (tuple, list)) and len(x) == 2:
            x, y = x
        if y is None:
            raise ValueError(
                f"{type(self).__name__} trains on (x, y) pairs: give labels "
                "(fit(x, y) or load_dataset(..., with_labels=True))"
            )
        x = check_data_shape(x, self.data_shape)
        return x, self.check_condition(y, x.shape[0])

    def corrupt(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        """The encoder's input for clean data ``x`` (identity; denoising AEs corrupt it)."""
        return x

    def code_penalties(self, x_in: tf.Tensor, z: tf.Tensor, training: bool) -> dict[str, tf.Tensor]:
        """Per-example penalties on the code ``z = f(x_in)``, each ``[B]`` (none here)."""
        return {}

    def per_example_terms(self, x: tf.Tensor, training: bool = False, seed=None) -> dict[str, tf.Tensor]:
        """Per-example terms, each of shape ``[B]``: the distortion ``-log p(x|z)`` in nats
        at ``z = E[q(z|corrupt(x))]`` (the loss compares with the clean ``x``), and the
        model's :meth:`code_penalties`.

        ``seed``: the draws of families whose terms are random (the VAE family); every family
        takes it, so callers never ask which. Deterministic autoencoders do not use it.
        """
        x_in = self.corrupt(x, training)
        z = self.posterior.point(self._encode(x_in, training))
        distortion = -self._decode(z, training).log_prob(x)
        return {"distortion": distortion, **self.code_penalties(x_in, z, training)}

    def objective(self, terms: dict[str, tf.Tensor]) -> tf.Tensor:
        """The per-example loss minimised, from :meth:`per_example_terms`."""
        return terms["distortion"]

    def loss_terms(self, data, training: bool = False) -> dict[str, tf.Tensor]:
        terms = self.per_example_terms(self.unpack_data(data), training)
        out = {"loss": tf.reduce_mean(self.objective(terms))}
        for name in self.loss_term_names[1:]:
            out[name] = tf.reduce_mean(terms[name])
        return out

    def get_config(self) -> dict:
        conditioning = ({"num_classes": self.num_classes, "condition_embedding": self.condition_embedding}
                        if self.conditional else {})
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "posterior": keras.saving.serialize_keras_object(self.posterior),
            "likelihood": keras.saving.serialize_keras_object(self.likelihood),
            **conditioning,
        }
