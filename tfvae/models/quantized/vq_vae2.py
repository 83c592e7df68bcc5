r"""VQ-VAE-2 (Razavi et al. 2019): two levels of codes, the bottom map conditioned on the top one.

It shares the loss, the bound, the serving signatures and the prior machinery
of :class:`~tfvae.models.quantized.vq_vae.VQVAE` (``_QuantizedAutoencoder``); its prior
(:meth:`VQVAE2.make_prior`) is a dict of two PixelCNNs, the bottom one
conditioned on the top codes.

References:
  Razavi, A., van den Oord, A. & Vinyals, O. (2019). Generating Diverse
  High-Fidelity Images with VQ-VAE-2. NeurIPS.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfvae.distributions import PointMassPosterior
from tfvae.models.builders import as_layer, likelihood_head
from tfvae.models.contract import ServingError
from tfvae.models.quantized.pixelcnn import PixelCNN
from tfvae.models.quantized.vq_vae import (
    _QuantizedAutoencoder,
    _quantizer_options,
    make_quantizer,
)
from tfvae.networks.resnet import ResNetDecoder, ResNetEncoder, latent_size
from tfvae.registry import MODELS, serializable
from tfvae.validation import check_data_shape, check_indices

tfd = tfp.distributions


@MODELS.register("vqvae2")
@serializable
class VQVAE2(_QuantizedAutoencoder):
    r"""Two-level VQ-VAE (Razavi et al. 2019): a top code map conditions the bottom one.

    ::

        h_b = E_b(x)                        [B, h, w, C]   (bottom features)
        z_t = Q_t(E_t(h_b))                 [B, h/2, w/2, D]
        z_b = Q_b(P_b([h_b, D_t(z_t)]))     [B, h, w, D]   (bottom conditioned on the top)
        p(x | z_b, z_t) = likelihood(D([z_b, U(z_t)]))

    ``E_t`` and ``D_t`` are residual networks with one stride-2 stage, ``P_b`` a
    1x1 convolution, ``U`` a stride-2 transposed convolution. The flat code
    ``z`` is ``[flatten(z_b), flatten(z_t)]``. ``encode_indices`` returns
    ``{"bottom": [B, h, w], "top": [B, h/2, w/2]}``; ``decode_indices(bottom, top)``.

    Args:
      bottom_encoder: ``x -> h_b`` (:class:`ResNetEncoder` with ``channels = C``).
      top_encoder: ``h_b -> [B, h/2, w/2, D]`` (:class:`ResNetEncoder`, one downsample).
      top_decoder: ``z_t -> [B, h, w, C]`` (:class:`ResNetDecoder`, one upsample).
      bottom_projection: ``[h_b, D_t(z_t)] -> [B, h, w, D]`` (a 1x1 ``Conv2D``).
      top_upsample: ``z_t -> [B, h, w, D]`` (a stride-2 ``Conv2DTranspose``).
      decoder: ``[B, h, w, 2D] -> likelihood parameters`` (:class:`ResNetDecoder`).
      top_quantizer, bottom_quantizer: the two codebooks (same ``D``).
      likelihood: head turning decoder outputs into ``p(x|z)``.
      seed: seed of the model's random draws.
    """

    loss_term_names = ("loss", "distortion", "vq_loss", "perplexity", "top_perplexity", "usage")

    def __init__(self, bottom_encoder, top_encoder, top_decoder, bottom_projection, top_upsample, decoder,
                 top_quantizer, bottom_quantizer, likelihood, seed: int | None = None, **kwargs):
        kwargs.pop("posterior", None)
        kwargs.pop("encoder", None)
        self.top_encoder = as_layer(top_encoder)
        self.top_decoder = as_layer(top_decoder)
        self.bottom_projection = as_layer(bottom_projection)
        self.top_upsample = as_layer(top_upsample)
        self.top_quantizer = as_layer(top_quantizer)
        self.bottom_quantizer = as_layer(bottom_quantizer)
        bottom_encoder, likelihood = as_layer(bottom_encoder), as_layer(likelihood)
        features = bottom_encoder(tf.zeros((1, *likelihood.event_shape)))
        top = self.top_encoder(features)
        dim = self.bottom_quantizer.embedding_dim
        if top.shape[-1] != self.top_quantizer.embedding_dim or self.top_quantizer.embedding_dim != dim:
            raise ValueError(
                f"top and bottom codes must have one dimension D: top encoder gives {top.shape[-1]}, "
                f"quantizers have {self.top_quantizer.embedding_dim} and {dim}"
            )
        self.bottom_shape = (int(features.shape[1]), int(features.shape[2]), dim)
        self.top_shape = tuple(int(d) for d in top.shape[1:])
        if self.top_shape[0] * 2 != self.bottom_shape[0] or self.top_shape[1] * 2 != self.bottom_shape[1]:
            raise ValueError(f"the top map {self.top_shape[:2]} must be half the bottom map {self.bottom_shape[:2]}")
        posterior = PointMassPosterior(latent_size(self.bottom_shape) + latent_size(self.top_shape), name="posterior")
        super().__init__(bottom_encoder, decoder, posterior, likelihood, seed=seed, **kwargs)

    @classmethod
    def conv(
        cls,
        data_shape: Sequence[int] = (32, 32, 1),
        num_embeddings: int = 128,
        embedding_dim: int = 16,
        filters: int = 64,
        residual_filters: int = 32,
        num_residual_blocks: int = 2,
        likelihood: str = "bernoulli",
        likelihood_kwargs: dict | None = None,
        ema: bool = True,
        **kwargs,
    ) -> VQVAE2:
        """Residual two-level VQ-VAE: bottom codes at 1/4 resolution, top codes at 1/8.

        Args:
          data_shape: ``(H, W, C)``, divisible by 8 (e.g. 32x32 -> 8x8 and 4x4 codes).
          num_embeddings: size ``K`` of each codebook.
          embedding_dim: code dimension ``D`` of both levels.
          filters: channels of the main convolutional paths.
          residual_filters: channels inside the residual blocks.
          num_residual_blocks: residual blocks per network.
          likelihood: registered likelihood name.
          likelihood_kwargs: extra arguments of the likelihood head.
          ema: EMA codebook updates, else gradients.
          **kwargs: quantizer options and the model's own (``seed``).
        """
        options = _quantizer_options(kwargs)
        head = likelihood_head(data_shape, likelihood, likelihood_kwargs)
        blocks = {"filters": filters, "residual_filters": residual_filters, "num_residual_blocks": num_residual_blocks}
        bottom_encoder = ResNetEncoder(filters, name="bottom_encoder", num_downsamples=2, **blocks)
        bottom_shape = bottom_encoder.output_shape_for(data_shape)
        top_encoder = ResNetEncoder(embedding_dim, name="top_encoder", num_downsamples=1, **blocks)
        top_shape = top_encoder.output_shape_for(bottom_shape)
        top_decoder = ResNetDecoder((*bottom_shape[:2], embedding_dim), top_shape, name="top_decoder",
                                    num_downsamples=1, **blocks)
        return cls(
            bottom_encoder=bottom_encoder,
            top_encoder=top_encoder,
            top_decoder=top_decoder,
            bottom_projection=keras.layers.Conv2D(embedding_dim, 1, dtype="float32", name="bottom_projection"),
            top_upsample=keras.layers.Conv2DTranspose(embedding_dim, 4, strides=2, padding="same", name="top_upsample"),
            decoder=ResNetDecoder(head.params_shape, (*bottom_shape[:2], 2 * embedding_dim), name="decoder",
                                  num_downsamples=2, **blocks),
            top_quantizer=make_quantizer(num_embeddings, embedding_dim, ema, "top_quantizer", **options),
            bottom_quantizer=make_quantizer(num_embeddings, embedding_dim, ema, "bottom_quantizer", **options),
            likelihood=head,
            **kwargs,
        )

    def build(self, input_shape=None):
        out = self.vector_quantize(tf.zeros((1, *self.data_shape), tf.float32))
        params = self.decoder(self._decoder_input(out["z"], False))
        self.likelihood(self.likelihood.check_params(params))
        self.built = True

    @property
    def code_shape(self) -> dict[str, tuple[int, int]]:
        """``{"bottom": (h, w), "top": (h/2, w/2)}``."""
        return {"bottom": tuple(self.bottom_shape[:2]), "top": tuple(self.top_shape[:2])}

    @property
    def num_embeddings(self) -> dict[str, int]:
        return {"bottom": int(self.bottom_quantizer.num_embeddings), "top": int(self.top_quantizer.num_embeddings)}

    def _top_and_features(self, x, training):
        features = self.encoder(x, training=training)
        return features, self.top_quantizer(self.top_encoder(features, training=training), training=training)

    def _bottom_input(self, features, z_top, training):
        conditioning = self.top_decoder(z_top, training=training)
        return self.bottom_projection(tf.concat([tf.cast(features, tf.float32), tf.cast(conditioning, tf.float32)], -1))

    def vector_quantize(self, x, training=False):
        features, top = self._top_and_features(x, training)
        bottom = self.bottom_quantizer(self._bottom_input(features, top["quantized"], training), training=training)
        batch = tf.shape(x)[0]
        z = tf.concat([tf.reshape(bottom["quantized"], [batch, -1]), tf.reshape(top["quantized"], [batch, -1])], -1)
        return {
            "z": z,
            "loss": bottom["loss"] + top["loss"],
            "indices": {"bottom": bottom["encoding_indices"], "top": top["encoding_indices"]},
            "perplexity": bottom["perplexity"],
            "top_perplexity": top["perplexity"],
            "usage": bottom["usage"],
        }

    def _decoder_input(self, z: tf.Tensor, training) -> tf.Tensor:
        bottom_size = latent_size(self.bottom_shape)
        z_bottom = tf.reshape(z[:, :bottom_size], [-1, *self.bottom_shape])
        z_top = tf.reshape(z[:, bottom_size:], [-1, *self.top_shape])
        upsampled = tf.cast(self.top_upsample(z_top, training=training), z_bottom.dtype)
        return tf.concat([z_bottom, upsampled], -1)

    def _decode(self, z: tf.Tensor, training, condition=None) -> tfd.Distribution:
        leading = tf.shape(z)[:-1]
        params = self.decoder(self._decoder_input(tf.reshape(z, [-1, self.latent_dim]), training), training=training)
        return self.likelihood(tf.reshape(params, tf.concat([leading, self.likelihood.params_shape], axis=0)))

    def encode_indices(self, x) -> dict[str, tf.Tensor]:
        """``{"bottom": [B, h, w], "top": [B, h/2, w/2]}`` int32 code indices (no codebook update)."""
        x = check_data_shape(x, self.data_shape)
        features, top = self._top_and_features(x, False)
        bottom = self.bottom_quantizer.nearest(self._bottom_input(features, top["quantized"], False))
        return {"bottom": bottom, "top": top["encoding_indices"]}

    def decode_indices(self, bottom, top, training: bool = False) -> tfd.Distribution:
        """The likelihood ``p(x | e_bottom, e_top)`` for bottom ``[B, h, w]`` and top ``[B, h/2, w/2]`` codes."""
        bottom = check_indices(bottom, "bottom", self.num_embeddings["bottom"], (None, *self.code_shape["bottom"]),
                               "code indices")
        top = check_indices(top, "top", self.num_embeddings["top"], (None, *self.code_shape["top"]), "code indices")
        return self._decode(self.z_from_codes({"bottom": bottom, "top": top}), training)

    def z_from_codes(self, codes) -> tf.Tensor:
        batch = tf.shape(codes["bottom"])[0]
        return tf.concat([
            tf.reshape(self.bottom_quantizer.lookup(codes["bottom"]), [batch, -1]),
            tf.reshape(self.top_quantizer.lookup(codes["top"]), [batch, -1]),
        ], -1)

    def decoder_params(self, z, condition=None) -> tf.Tensor:
        self._check_condition(condition)
        params = self.decoder(self._decoder_input(tf.reshape(z, [-1, self.latent_dim]), False), training=False)
        return tf.reshape(params, [-1, *self.likelihood.params_shape])

    def code_levels(self):
        return [(f"{level}_indices", level, tuple(self.code_shape[level]), int(self.num_embeddings[level]))
                for level in ("bottom", "top")]

    def check_prior(self, prior):
        if not isinstance(prior, dict) or sorted(prior) != ["bottom", "top"]:
            raise ServingError(f"the prior of a {type(self).__name__} is a dict {{'top': PixelCNN, 'bottom': "
                               f"PixelCNN}} (model.make_prior()), got {type(prior).__name__}")
        return self._check_priors(dict(prior))

    def sample_codes_from_seed(self, priors, seed, label=None):
        label = None if label is None else label[tf.newaxis]
        temperature = tf.constant(self.serving_temperature, tf.float32)
        top = priors["top"].sample_graph(tf.zeros((1, *self.code_shape["top"]), tf.int32), label, None,
                                         temperature, seed)
        bottom_seed = seed + tf.constant([1, 0], seed.dtype)  # as sample_codes: the bottom draws from seed + 1
        bottom = priors["bottom"].sample_graph(tf.zeros((1, *self.code_shape["bottom"]), tf.int32), label, top,
                                               temperature, bottom_seed)
        return {"bottom_indices": bottom[0], "top_indices": top[0]}

    def make_prior(self, num_classes: int = 0, **options) -> dict[str, PixelCNN]:
        shapes, sizes = self.code_shape, self.num_embeddings
        top_options = {k: v for k, v in options.items() if k != "condition_layers"}
        return {
            "top": PixelCNN(sizes["top"], shapes["top"], num_classes=num_classes, name="top_prior", **top_options),
            "bottom": PixelCNN(
                sizes["bottom"], shapes["bottom"], num_classes=num_classes, condition_shape=shapes["top"],
                condition_num_embeddings=sizes["top"], name="bottom_prior", **options,
            ),
        }

    def prior_data(self, x, labels=None) -> dict:
        codes = self.encode_indices(x)
        extra = {} if labels is None else {"label": tf.convert_to_tensor(labels)}
        top = {"codes": codes["top"], **extra} if extra else codes["top"]
        return {"top": top, "bottom": {"codes": codes["bottom"], "condition": codes["top"], **extra}}

    def sample_codes(self, num_samples, prior, label=None, temperature=1.0, seed=None) -> dict[str, tf.Tensor]:
        seed = None if seed is None else int(seed)
        top = prior["top"].sample(num_samples, label=label, temperature=temperature, seed=seed)
        bottom = prior["bottom"].sample(num_samples, label=label, condition=top, temperature=temperature,
                                        seed=None if seed is None else seed + 1)
        return {"bottom": bottom, "top": top}

    def decode_codes(self, codes) -> tfd.Distribution:
        return self.decode_indices(codes["bottom"], codes["top"])

    def uniform_rate(self) -> float:
        return sum(float(np.prod(self.code_shape[level])) * math.log(self.num_embeddings[level])
                   for level in ("bottom", "top"))

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("posterior")
        config["bottom_encoder"] = config.pop("encoder")
        for name in ("top_encoder", "top_decoder", "bottom_projection", "top_upsample", "top_quantizer",
                     "bottom_quantizer"):
            config[name] = keras.saving.serialize_keras_object(getattr(self, name))
        return config
