r"""VQ-VAE (van den Oord et al. 2017) and the two-level VQ-VAE-2 (Razavi et al. 2019).

Both keep the :class:`~tfvae.models.Autoencoder` contract: ``encode(x)`` is a
point mass on the quantized code (the latent map flattened to ``[B, h*w*d]``),
``decode(z)`` the likelihood ``p(x|z)``; and add ``encode_indices`` /
``decode_indices`` for the discrete codes a prior (:class:`~tfvae.models.quantized.pixelcnn.PixelCNN`)
models.

The loss per example is the distortion plus the quantizer's loss,

    loss(x) = -log p(x | z_q(x)) + sum_p ||sg[z_e,p] - e_k||^2 + beta sum_p ||z_e,p - sg[e_k]||^2

(the codebook term is absent with the EMA quantizer), in nats, averaged
over the batch. As a bound on ``-log p(x)`` (the paper's ELBO with a
deterministic one-hot posterior over codes) the rate is ``-log p(codes)``:
``h * w * log K`` under the uniform prior, the prior's NLL under a learned
one; :meth:`VQVAE.bound` returns both parts.

References:
  van den Oord, A., Vinyals, O. & Kavukcuoglu, K. (2017). Neural Discrete
  Representation Learning. NeurIPS.
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
from tfvae.layers.vector_quantizer import VectorQuantizer, VectorQuantizerEMA
from tfvae.models.autoencoders.autoencoder import Autoencoder
from tfvae.models.builders import as_layer, likelihood_head
from tfvae.models.contract import (
    ServingError,
    ServingInput,
    ServingSignature,
    label_input,
    seed_input,
)
from tfvae.models.quantized.pixelcnn import PixelCNN
from tfvae.networks.resnet import ResNetDecoder, ResNetEncoder, latent_size
from tfvae.random import derive_seed
from tfvae.registry import MODELS, serializable
from tfvae.validation import check_data_shape, check_indices

tfd = tfp.distributions


def make_quantizer(num_embeddings: int, embedding_dim: int, ema: bool, name: str, **options) -> VectorQuantizer:
    """A :class:`VectorQuantizerEMA` (``ema=True``) or a gradient-trained :class:`VectorQuantizer`."""
    if ema:  # restarts draw from a seed of their own, derived from the model's and the quantizer's name
        options["seed"] = derive_seed(options.get("seed"), name)
        return VectorQuantizerEMA(num_embeddings, embedding_dim, name=name, **options)
    options = {k: v for k, v in options.items() if k == "commitment_cost"}  # no EMA state to restart
    return VectorQuantizer(num_embeddings, embedding_dim, name=name, **options)


#: the builders restart a code whose EMA assignment count falls below this
#: (about one assignment per two batches); measured on the digits: 5 epochs
#: reach codebook perplexity 59 of 128 with restarts and 6 without.
DEFAULT_DEAD_CODE_THRESHOLD = 0.5


def _quantizer_options(kwargs: dict) -> dict:
    options = {name: kwargs.pop(name) for name in _QuantizedAutoencoder.quantizer_options if name in kwargs}
    options.setdefault("dead_code_threshold", DEFAULT_DEAD_CODE_THRESHOLD)
    options["seed"] = kwargs.get("seed")  # the model's seed: make_quantizer derives the quantizer's
    return options


class _QuantizedAutoencoder(Autoencoder):
    """What VQ-VAE and VQ-VAE-2 share: the loss, the bound and the builders' checks."""

    loss_term_names = ("loss", "distortion", "vq_loss", "perplexity", "usage")

    @property
    def capabilities(self):
        """Discrete code maps; samples need a prior trained over them (:meth:`make_prior`).

        No likelihood bound of its own (``likelihood_bound`` stays False): the point-mass code bounds
        ``-log p(x)`` only through a prior over the codes (:meth:`bound`: the uniform prior, or the trained one).
        """
        return super().capabilities.but(discrete_codes=True, needs_trained_prior=True, continuous_latent=False)
    #: options of the builders that configure the quantizers (``model.options`` in configs)
    quantizer_options: tuple[str, ...] = ("commitment_cost", "decay", "epsilon", "dead_code_threshold")
    architectures = {"conv": ()}  # the networks are set through model.options
    config_options = (*quantizer_options, "ema", "embedding_dim", "filters", "num_embeddings",
                      "num_residual_blocks", "residual_filters")

    @classmethod
    def mlp(cls, *args, **kwargs):
        raise ValueError(
            f"{cls.__name__} quantizes a spatial latent map: use the convolutional builder "
            f"({cls.__name__}.conv, architecture = \"conv\"), not mlp"
        )

    def vector_quantize(self, x: tf.Tensor, training: bool = False) -> dict[str, tf.Tensor]:
        """Encode and quantize: ``z`` (flat quantized code), ``loss`` ``[B]``, ``indices`` and statistics."""
        raise NotImplementedError

    def _encode(self, x: tf.Tensor, training, condition=None) -> tfd.Distribution:
        return self.posterior(self.vector_quantize(x, training)["z"])

    def per_example_terms(self, x: tf.Tensor, training: bool = False, seed=None) -> dict[str, tf.Tensor]:
        """``distortion`` ``-log p(x|z_q)`` and ``vq_loss`` per example; codebook statistics broadcast to ``[B]``.

        ``seed`` is taken by every family's ``per_example_terms``; quantisation draws nothing, so it is unused.
        """
        out = self.vector_quantize(x, training)
        distortion = -self._decode(out["z"], training).log_prob(x)
        batch = tf.shape(distortion)[:1]
        terms = {"distortion": distortion, "vq_loss": out["loss"]}
        for name in self.loss_term_names[3:]:
            terms[name] = tf.broadcast_to(out[name], batch)
        return terms

    def objective(self, terms: dict[str, tf.Tensor]) -> tf.Tensor:
        return terms["distortion"] + terms["vq_loss"]

    def uniform_rate(self) -> float:
        """``-log p(codes)`` under the uniform prior: ``sum over levels of h * w * log K`` nats."""
        raise NotImplementedError

    # ------------------------------------------------------------- the prior
    def make_prior(self, num_classes: int = 0, **options):
        """A fresh autoregressive prior over this model's codes.

        A :class:`~tfvae.models.quantized.pixelcnn.PixelCNN` for :class:`VQVAE`; for
        :class:`VQVAE2` a dict ``{"top": PixelCNN, "bottom": PixelCNN}`` whose
        bottom prior is conditioned on the top codes (Razavi et al. 2019).

        Args:
          num_classes: class labels of a class-conditional prior (0: none).
          **options: PixelCNN arguments (``filters``, ``num_layers``,
            ``attention_every``, ``seed``, ...).
        """
        raise NotImplementedError

    def prior_data(self, x, labels=None):
        """What the prior of :meth:`make_prior` trains on for data ``x`` (and ``labels``)."""
        raise NotImplementedError

    def prior_nll(self, prior, x, labels=None) -> tf.Tensor:
        """``-log p(codes(x))`` in nats per example under a trained prior (for :meth:`bound`)."""
        data = self.prior_data(x, labels)
        if isinstance(prior, dict):
            return -(prior["top"].log_prob(data["top"]) + prior["bottom"].log_prob(data["bottom"]))
        return -prior.log_prob(data)

    def sample(self, num_samples: int, prior=None, *, seed=None, condition=None, temperature: float = 1.0,
               label=None) -> tf.Tensor:
        """Images ``E[p(x | codes)]`` for codes drawn from ``prior`` (ancestral, raster order).

        The families' one ``sample(num_samples, *, seed, condition)`` with the
        trained prior this family samples through (``capabilities.needs_trained_prior``).

        Args:
          num_samples: number of images.
          prior: a trained prior from :meth:`make_prior` (``tfvae train vq_prior``).
          seed: an int: the same seed gives the same images.
          condition: class label(s) for a class-conditional prior.
          temperature: softmax temperature of the code draws.
          label: the former name of ``condition`` (still taken).

        Raises:
          ValueError: no prior, or both ``condition`` and ``label``.
        """
        if prior is None:
            raise ValueError(f"{type(self).__name__} samples through a trained prior over its codes: pass "
                             "prior=model.make_prior() once trained (tfvae train vq_prior --from RUN)")
        if label is not None and condition is not None:
            raise ValueError("give the class labels once: condition= (label= is its former name)")
        condition = label if condition is None else condition
        return self.decode_codes(self.sample_codes(num_samples, prior, condition, temperature, seed)).mean()

    def sample_codes(self, num_samples, prior, label=None, temperature=1.0, seed=None):
        raise NotImplementedError

    def decode_codes(self, codes) -> tfd.Distribution:
        """``p(x | codes)`` for the codes :meth:`sample_codes` or :meth:`encode_indices` return."""
        raise NotImplementedError

    # ---------------------------------------------------------------- serving
    #: temperature of the exported ``sample`` signature's code draws (the prior's own distribution)
    serving_temperature = 1.0

    def code_levels(self) -> list[tuple[str, str | None, tuple[int, int], int]]:
        """``(input name, level, (h, w), K)`` per code map, in decoding order.

        ``[("indices", None, (7, 7), K)]`` for :class:`VQVAE`;
        ``[("bottom_indices", "bottom", ...), ("top_indices", "top", ...)]`` for
        :class:`VQVAE2` (``level`` keys its dict-valued properties and codes).
        """
        raise NotImplementedError

    def codes_by_name(self, codes) -> dict[str, tf.Tensor]:
        """Code maps (a tensor, or VQ-VAE-2's ``{"bottom", "top"}`` dict) keyed by their input names, int32."""
        return {name: tf.cast(codes if level is None else codes[level], tf.int32)
                for name, level, _, _ in self.code_levels()}

    def posterior_parameters(self, x, condition=None) -> dict[str, tf.Tensor]:
        """The quantized code as ``mean`` (a point mass: ``stddev`` zeros), ``[B, latent_dim]``."""
        self._check_condition(condition)
        z = self.vector_quantize(x, training=False)["z"]
        return {"mean": z, "stddev": tf.zeros_like(z)}

    def encode_codes(self, x) -> dict[str, tf.Tensor]:
        """The int32 code maps of ``x`` by input name (as :meth:`encode_indices`) and ``z``, the flat quantized code."""
        out = self.vector_quantize(x, training=False)
        return {**self.codes_by_name(out["indices"]), "z": tf.reshape(out["z"], [-1, self.latent_dim])}

    def decode_code_parameters(self, **codes) -> dict[str, tf.Tensor]:
        """``p(x | codes)`` as tensors (``mean`` and the likelihood's parameters) for code maps by input name."""
        levels = {name: level for name, level, _, _ in self.code_levels()}
        maps = codes["indices"] if None in levels.values() else {levels[name]: codes[name] for name in levels}
        return self.likelihood.summary(self.decoder_params(self.z_from_codes(maps)))

    def z_from_codes(self, codes) -> tf.Tensor:
        """The flat quantized code ``[B, latent_dim]`` of code maps (the codebook vectors they index)."""
        raise NotImplementedError

    def score_terms(self, x, condition=None) -> dict[str, tf.Tensor]:
        """``score = nll_bound``, ``distortion`` and ``rate`` (uniform prior) per example, nats (:meth:`bound`)."""
        self._check_condition(condition)
        z = self.vector_quantize(x, training=False)["z"]
        distortion = -self.likelihood.log_prob_tensor(self.decoder_params(z), x)
        rate = tf.fill(tf.shape(distortion), tf.constant(self.uniform_rate(), tf.float32))
        return {"score": distortion + rate, "distortion": distortion, "rate": rate, "nll_bound": distortion + rate}

    def check_prior(self, prior) -> dict[str | None, PixelCNN]:
        """The prior by level (``{None: p}``, or ``{"top": .., "bottom": ..}``) after checking it fits.

        Raises:
          ServingError: not a prior of :meth:`make_prior`'s form for this model.
        """
        raise NotImplementedError

    def sample_codes_from_seed(self, priors: dict, seed, label=None) -> dict[str, tf.Tensor]:
        """One sample's code maps ``[h, w]`` by input name, drawn from ``seed`` (traceable).

        Args:
          priors: the checked prior (:meth:`check_prior`).
          seed: int64 ``[2]``.
          label: a scalar label for a class-conditional prior.
        """
        raise NotImplementedError

    def serving_signatures(self, prior=None, options=None) -> dict[str, ServingSignature]:
        """Codes in and out: ``serving_default``, ``encode`` (code maps and ``z``), ``decode`` (from code maps),
        ``score`` (the bound under the uniform prior) and, with a trained ``prior``, a seeded ``sample``.

        ``sample`` row ``i`` draws the code maps from ``seed[i]`` (VQ-VAE-2: the
        top from ``seed[i]``, the bottom from ``seed[i] + [1, 0]``, as
        :meth:`sample_codes` does with an int seed) and decodes them.

        Args:
          prior: the trained prior (:meth:`make_prior`), or ``None`` (no ``sample``).
          options: none taken.
        """
        self.refuse_serving_extras(None, options)
        priors = None if prior is None else self.check_prior(prior)
        x = {"x": self.served_data()}
        codes = {name: ServingInput("codes", shape, "int32", depth=depth)
                 for name, _, shape, depth in self.code_levels()}
        signatures = {
            "serving_default": ServingSignature(x, self.reconstruction, "mean reconstruction E[p(x|quantized code)]"),
            "encode": ServingSignature(x, self.encode_codes,
                                       "int32 code index maps (as encode_indices) and the flat quantized code z"),
            "decode": ServingSignature(codes, self.decode_code_parameters,
                                       "likelihood p(x|codes): mean and parameters"),
            "score": ServingSignature(x, self.score_terms, "per-example bound on -log p(x) in nats: distortion + rate "
                                                            "under the uniform prior"),
        }
        if priors is not None:
            num_classes = next(iter(priors.values())).num_classes
            label = {"label": label_input(num_classes)} if num_classes else {}

            def sample_row(seed, label=None):
                maps = self.sample_codes_from_seed(priors, seed, label)
                batch = {name: value[tf.newaxis] for name, value in maps.items()}
                return {"samples": self.decode_code_parameters(**batch)["mean"][0], **maps}

            outputs = {"samples": tf.TensorSpec(self.data_shape, tf.float32),
                       **{name: tf.TensorSpec(shape, tf.int32) for name, _, shape, _ in self.code_levels()}}
            what = "of the requested class, one per (seed, label) row" if label else "one per seed row"
            signatures["sample"] = ServingSignature(
                {"seed": seed_input(), **label}, sample_row,
                f"decoded code maps drawn from the PixelCNN prior, {what}", row_outputs=outputs, seeded=True,
                # vectorising the prior's loop over code positions serves 3-4x faster but makes the export trace
                # 5x longer (1 s -> 5 s for the tiny conformance model): rows are drawn one after the other
                vectorized=False)
        return signatures

    def _check_priors(self, priors: dict) -> dict:
        """Each level's prior models that level's maps; a VQ-VAE-2's bottom prior is conditioned on the top codes."""
        name = type(self).__name__
        shapes = {level: shape for _, level, shape, _ in self.code_levels()}
        for _, level, shape, depth in self.code_levels():
            p, where = priors[level], "the prior" if level is None else f"the {level} prior"
            if not isinstance(p, PixelCNN):
                raise ServingError(f"{where} must be a PixelCNN, got {type(p).__name__}")
            if tuple(p.code_shape) != tuple(shape) or p.num_embeddings != depth:
                raise ServingError(f"{where} models {p.code_shape} maps of {p.num_embeddings} codes; the {name} has "
                                   f"{shape} maps of {depth}")
            condition = shapes.get("top") if level == "bottom" else None
            if (p.condition_shape is None) != (condition is None) or (
                    condition is not None and tuple(p.condition_shape) != tuple(condition)):
                wanted = f"conditioned on the top codes {condition}" if condition else "not conditioned on code maps"
                raise ServingError(f"{where} must be {wanted}, got condition_shape={p.condition_shape}")
        if len({p.num_classes for p in priors.values()}) != 1:
            raise ServingError("the top and bottom priors must take the same class labels (num_classes)")
        return priors

    def bound(self, x, prior_nll=None) -> dict[str, tf.Tensor]:
        r"""Per-example upper bound on ``-log p(x)`` in nats: ``distortion + rate``.

        ``rate = -log p(codes(x))``: ``h * w * log K`` for the uniform prior
        (``prior_nll=None``), else the given per-example NLL of the codes under
        a learned prior (e.g. ``-PixelCNN.log_prob(encode_indices(x))``).

        Args:
          x: data ``(batch, *data_shape)``.
          prior_nll: optional ``[B]`` NLL of the codes under a learned prior.
        """
        x = check_data_shape(x, self.data_shape)
        z = self.vector_quantize(x, training=False)["z"]
        distortion = -self._decode(z, False).log_prob(x)
        if prior_nll is None:
            rate = tf.fill(tf.shape(distortion), tf.constant(self.uniform_rate(), tf.float32))
        else:
            rate = tf.cast(tf.convert_to_tensor(prior_nll), tf.float32)
            if rate.shape.rank != 1 or (rate.shape[0] is not None and distortion.shape[0] is not None
                                        and rate.shape[0] != distortion.shape[0]):
                raise ValueError(f"prior_nll must hold one NLL per example, shape ({distortion.shape[0]},); "
                                 f"got {tuple(rate.shape)}")
        return {"distortion": distortion, "rate": rate, "nll_bound": distortion + rate}


@MODELS.register("vqvae")
@serializable
class VQVAE(_QuantizedAutoencoder):
    r"""Vector-quantised autoencoder: ``x -> z_e -> nearest code z_q -> p(x|z_q)``.

    The encoder maps images to a ``[h, w, D]`` map, the quantizer replaces
    each ``D``-vector by its nearest codebook entry (straight-through
    gradient), the decoder maps the quantized map to the likelihood's
    parameters. ``encode_indices(x)`` returns the ``[B, h, w]`` code indices
    and ``decode_indices(indices)`` the likelihood ``p(x|e_indices)``.

    Loss terms: ``loss = distortion + vq_loss``, ``distortion`` (nats),
    ``vq_loss`` (codebook + commitment), ``perplexity`` and ``usage`` of the
    codebook in each batch (averaged over batches).

    Args:
      encoder: network ``x -> [B, h, w, D]`` (e.g. :class:`~tfvae.networks.ResNetEncoder`).
      decoder: network ``[B, h*w*D] -> likelihood parameters`` (e.g.
        :class:`~tfvae.networks.ResNetDecoder`, which reshapes flat codes).
      quantizer: a :class:`~tfvae.layers.VectorQuantizer` (or the EMA one) with
        ``embedding_dim == D``.
      likelihood: head turning decoder outputs into ``p(x|z)``.
      seed: seed of the model's random draws.
    """

    config_options = (*_QuantizedAutoencoder.config_options, "num_downsamples")

    def __init__(self, encoder, decoder, quantizer, likelihood, seed: int | None = None, **kwargs):
        kwargs.pop("posterior", None)  # always a point mass on the quantized code
        self.quantizer = as_layer(quantizer)
        encoder, likelihood = as_layer(encoder), as_layer(likelihood)
        z_e = encoder(tf.zeros((1, *likelihood.event_shape)))
        self.latent_shape = tuple(int(d) for d in z_e.shape[1:])
        if len(self.latent_shape) < 2 or self.latent_shape[-1] != self.quantizer.embedding_dim:
            raise ValueError(
                f"the encoder outputs {self.latent_shape} per example; the quantizer needs a map whose last "
                f"axis is its embedding_dim = {self.quantizer.embedding_dim}"
            )
        posterior = PointMassPosterior(latent_size(self.latent_shape), name="posterior")
        super().__init__(encoder, decoder, posterior, likelihood, seed=seed, **kwargs)

    @classmethod
    def conv(
        cls,
        data_shape: Sequence[int] = (28, 28, 1),
        num_embeddings: int = 128,
        embedding_dim: int = 16,
        filters: int = 64,
        residual_filters: int = 32,
        num_residual_blocks: int = 2,
        num_downsamples: int = 2,
        likelihood: str = "bernoulli",
        likelihood_kwargs: dict | None = None,
        ema: bool = True,
        **kwargs,
    ) -> VQVAE:
        """The paper's residual convolutional VQ-VAE (28x28 -> 7x7 codes, 32x32 -> 8x8).

        Args:
          data_shape: ``(H, W, C)``, divisible by ``2 ** num_downsamples``.
          num_embeddings: codebook size ``K``.
          embedding_dim: code dimension ``D``.
          filters: channels of the main convolutional path.
          residual_filters: channels inside the residual blocks.
          num_residual_blocks: residual blocks in the encoder and the decoder.
          num_downsamples: stride-2 stages (2: codes at a quarter of the resolution).
          likelihood: registered likelihood name.
          likelihood_kwargs: extra arguments of the likelihood head.
          ema: EMA codebook updates (:class:`VectorQuantizerEMA`), else gradients.
          **kwargs: quantizer options (``commitment_cost``, ``decay``, ``epsilon``,
            ``dead_code_threshold``: default 0.5, ``None`` turns restarts off) and the
            model's own (``seed``, also the seed of the restarts).
        """
        quantizer = make_quantizer(num_embeddings, embedding_dim, ema, "quantizer", **_quantizer_options(kwargs))
        head = likelihood_head(data_shape, likelihood, likelihood_kwargs)
        network = {"filters": filters, "residual_filters": residual_filters,
                   "num_residual_blocks": num_residual_blocks, "num_downsamples": num_downsamples}
        encoder = ResNetEncoder(embedding_dim, name="encoder", **network)
        latent_shape = encoder.output_shape_for(data_shape)
        decoder = ResNetDecoder(head.params_shape, latent_shape, name="decoder", **network)
        return cls(encoder, decoder, quantizer, head, **kwargs)

    def build(self, input_shape=None):
        x = tf.zeros((1, *self.data_shape), tf.float32)
        out = self.quantizer(self.encoder(x))
        params = self.decoder(tf.reshape(out["quantized"], [1, -1]))
        self.likelihood(self.likelihood.check_params(params))
        self.built = True

    @property
    def code_shape(self) -> tuple[int, int]:
        """``(h, w)`` of the code index maps."""
        return tuple(self.latent_shape[:-1])

    @property
    def num_embeddings(self) -> int:
        return int(self.quantizer.num_embeddings)

    def vector_quantize(self, x, training=False):
        out = self.quantizer(self.encoder(x, training=training), training=training)
        batch = tf.shape(out["quantized"])[0]
        return {
            "z": tf.reshape(out["quantized"], [batch, self.latent_dim]),
            "loss": out["loss"],
            "indices": out["encoding_indices"],
            "perplexity": out["perplexity"],
            "usage": out["usage"],
        }

    def encode_indices(self, x) -> tf.Tensor:
        """Code indices ``[B, h, w]`` (int32) of ``x`` (no codebook update)."""
        x = check_data_shape(x, self.data_shape)
        return self.quantizer.nearest(self.encoder(x, training=False))

    def decode_indices(self, indices, training: bool = False) -> tfd.Distribution:
        """The likelihood ``p(x | e_indices)`` for code maps ``[B, h, w]``."""
        indices = check_indices(indices, "indices", self.num_embeddings, (None, *self.code_shape), "code indices")
        return self._decode(self.z_from_codes(indices), training)

    def z_from_codes(self, codes) -> tf.Tensor:
        return tf.reshape(self.quantizer.lookup(codes), [tf.shape(codes)[0], self.latent_dim])

    def code_levels(self):
        return [("indices", None, tuple(self.code_shape), int(self.num_embeddings))]

    def check_prior(self, prior):
        if not isinstance(prior, PixelCNN):
            raise ServingError(f"the prior of a {type(self).__name__} is one PixelCNN (model.make_prior()), "
                               f"got {type(prior).__name__}")
        return self._check_priors({None: prior})

    def sample_codes_from_seed(self, priors, seed, label=None):
        label = None if label is None else label[tf.newaxis]
        codes = tf.zeros((1, *self.code_shape), tf.int32)
        temperature = tf.constant(self.serving_temperature, tf.float32)
        return {"indices": priors[None].sample_graph(codes, label, None, temperature, seed)[0]}

    def uniform_rate(self) -> float:
        return float(np.prod(self.code_shape)) * math.log(self.num_embeddings)

    def make_prior(self, num_classes: int = 0, **options) -> PixelCNN:
        return PixelCNN(self.num_embeddings, self.code_shape, num_classes=num_classes, **options)

    def prior_data(self, x, labels=None):
        codes = self.encode_indices(x)
        return codes if labels is None else {"codes": codes, "label": tf.convert_to_tensor(labels)}

    def sample_codes(self, num_samples, prior, label=None, temperature=1.0, seed=None) -> tf.Tensor:
        return prior.sample(num_samples, label=label, temperature=temperature, seed=seed)

    def decode_codes(self, codes) -> tfd.Distribution:
        return self.decode_indices(codes)

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("posterior")
        return {**config, "quantizer": keras.saving.serialize_keras_object(self.quantizer)}
