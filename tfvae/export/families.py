"""The signatures of the built-in families: ``Autoencoder`` (and its denoising, sparse,
k-sparse and contractive variants), ``VAE`` (``BetaVAE``), ``ConditionalVAE``, and the
vector-quantised ``VQVAE`` / ``VQVAE2`` (with their PixelCNN prior, when one is given).

=================  ==========================  ===========================================
signature          inputs                      outputs
=================  ==========================  ===========================================
serving_default    x [B, *data]                reconstruction [B, *data]
encode             x [B, *data]                mean, stddev [B, latent]
decode             z [B, latent]               mean [B, *data], likelihood parameters
                                               (logits, or loc and scale) [B, *data]
score              x [B, *data] (+ seed [B,2]) score [B]; distortion [B] (and elbo, rate)
sample (VAE)       seed [B, 2] int64           samples [B, *data], z [B, latent]
=================  ==========================  ===========================================

VQ-VAE (``codes``: ``indices`` int32 ``[B, h, w]``; for VQ-VAE-2 ``bottom_indices``
``[B, h, w]`` and ``top_indices`` ``[B, h/2, w/2]``):

=================  ==========================  ===========================================
serving_default    x [B, *data]                reconstruction [B, *data]
encode             x [B, *data]                codes, z [B, latent] (flat quantized code)
decode             codes                       mean, likelihood parameters [B, *data]
score              x [B, *data]                score = nll_bound, distortion, rate [B]
                                               (nats; rate under the uniform prior)
sample (prior)     seed [B, 2] int64           samples [B, *data], codes
                   (+ label [B] int32)
=================  ==========================  ===========================================
"""

from __future__ import annotations

from collections.abc import Mapping

import tensorflow as tf
import tensorflow_probability as tfp

from tfvae.export.errors import ExportError
from tfvae.export.signatures import (
    Outputs,
    Signature,
    checked,
    finite,
    in_range,
    per_row,
    register_signatures,
    same_batch,
)
from tfvae.models import VAE, VQVAE, VQVAE2, Autoencoder, ConditionalVAE, PixelCNN

tfd = tfp.distributions

#: dtype of the ``seed`` inputs: one stateless ``[2]`` seed per row.
SEED_DTYPE = tf.int64


def data_inputs(model: Autoencoder) -> dict[str, tf.TensorSpec]:
    """The spec of a batch of data, ``x: float32 (batch, *data_shape)``.

    Conditional families extend this with their ``condition`` input.
    """
    return {"x": tf.TensorSpec([None, *model.data_shape], tf.float32)}


def seed_input() -> dict[str, tf.TensorSpec]:
    """``seed: int64 (batch, 2)``, one stateless seed per row."""
    return {"seed": tf.TensorSpec([None, 2], SEED_DTYPE)}


def likelihood_parameters(p: tfd.Distribution) -> Outputs:
    """The tensor parameters of a likelihood, by their TFP names, batch-first.

    ``Independent(Bernoulli)`` gives ``logits``; ``Independent(Normal)`` gives
    ``loc`` and ``scale`` (broadcast to the data shape).
    """
    base = p.distribution if isinstance(p, tfd.Independent) else p
    mean = p.mean()
    out = {}
    for name, value in sorted(base.parameters.items()):
        if not tf.is_tensor(value) or not value.dtype.is_floating:
            continue
        try:
            tf.broadcast_static_shape(value.shape, mean.shape)
        except ValueError:
            continue  # not one value per data dimension: not a batch-first output
        out[name] = tf.broadcast_to(tf.cast(value, tf.float32), tf.shape(mean))
    return out


#: The per-example terms ``score`` reports beside the score, when the model has them.
#: Training penalties (sparsity, contraction) are left out: they are regularisers,
#: some are batch statistics, and none measures how well one example is explained.
SCORE_TERMS = ("elbo", "distortion", "rate")


def anomaly_score(terms: dict[str, tf.Tensor]) -> tf.Tensor:
    """Per-example score: the negative ELBO when the model has one, else the distortion."""
    return -terms["elbo"] if "elbo" in terms else terms["distortion"]


def _terms(model: Autoencoder, x: tf.Tensor) -> Outputs:
    terms = model.per_example_terms(x, training=False)
    return {"score": anomaly_score(terms), **{name: terms[name] for name in SCORE_TERMS if name in terms}}


@register_signatures(Autoencoder)
def autoencoder_signatures(model: Autoencoder) -> dict[str, Signature]:
    """``serving_default``, ``encode``, ``decode`` and a deterministic ``score``.

    Args:
      model: an :class:`~tfvae.models.Autoencoder` (or subclass).
    """
    shape, latent = model.data_shape, model.latent_dim

    def reconstruct(x):
        return {"reconstruction": model.reconstruct(checked(x, "x", shape))}

    def encode(x):
        q = model.encode(checked(x, "x", shape))
        return {"mean": q.mean(), "stddev": q.stddev()}

    def decode(z):
        p = model.decode(checked(z, "z", (latent,)))
        return {"mean": p.mean(), **likelihood_parameters(p)}

    def score(x):
        return _terms(model, finite(checked(x, "x", shape), "x"))

    return {
        "serving_default": Signature(data_inputs(model), reconstruct, "mean reconstruction E[p(x|E[q(z|x)])]"),
        "encode": Signature(data_inputs(model), encode, "posterior q(z|x): mean and standard deviation"),
        "decode": Signature({"z": tf.TensorSpec([None, latent], tf.float32)}, decode,
                            "likelihood p(x|z): mean and parameters"),
        "score": Signature(data_inputs(model), score, "per-example reconstruction error (distortion, nats)"),
    }


@register_signatures(VAE)
def vae_signatures(model: VAE) -> dict[str, Signature]:
    """The autoencoder's signatures, a seeded ``score`` (negative ELBO) and ``sample``.

    ``score`` row ``i`` is ``-model.elbo(x[i:i+1])["elbo"]`` computed with the
    model's seed generator at state ``seed[i]`` (its ``num_samples`` Monte-Carlo
    draws come from that seed), so it is reproducible and independent of the
    other rows. ``sample`` row ``i`` is ``model.sample(1, seed=seed[i])``.

    Args:
      model: a :class:`~tfvae.models.VAE` (or subclass).
    """
    signatures = autoencoder_signatures(model)
    shape, latent = model.data_shape, model.latent_dim
    term_specs = {name: tf.TensorSpec([], tf.float32) for name in ("score", *SCORE_TERMS)}

    def score_row(x, seed):
        seed = tf.cast(seed, model.seed_generator.state.dtype)
        terms = model.per_example_terms(x[tf.newaxis], training=False, seed=seed)
        return {"score": -terms["elbo"][0], **{name: terms[name][0] for name in SCORE_TERMS}}

    def score(x, seed):
        x = finite(checked(x, "x", shape), "x")
        seed = same_batch(x, checked(seed, "seed", (2,)), "seed needs one row per example of x; got rows")
        return per_row(score_row, (x, seed), term_specs)

    def sample_row(seed):
        return {"z": model.prior.sample(model.prior(), 1, seed)[0]}

    def sample(seed):
        z = per_row(sample_row, (checked(seed, "seed", (2,)),), {"z": tf.TensorSpec([latent], tf.float32)})["z"]
        return {"samples": model.decode(z).mean(), "z": z}

    signatures["score"] = Signature({**data_inputs(model), **seed_input()}, score,
                                    "per-example negative ELBO (nats), Monte Carlo draws from seed")
    signatures["sample"] = Signature(seed_input(), sample, "decoded prior samples, one per seed row")
    return signatures


def condition_input() -> dict[str, tf.TensorSpec]:
    """``condition: int32 (batch,)``, one class label per row."""
    return {"condition": tf.TensorSpec([None], tf.int32)}


def checked_labels(model, condition: tf.Tensor, rows: tf.Tensor, name: str = "condition") -> tf.Tensor:
    """Labels after one in-graph check: shape ``(batch,)``, one per row of ``rows``, in ``[0, num_classes)``.

    Args:
      model: anything with ``num_classes`` (the model, or a class-conditional prior).
      condition: the labels.
      rows: a tensor with one row per example.
      name: the labels' input name, for the message.
    """
    shape = tf.shape(condition)
    flat = tf.reshape(condition, [-1])
    valid = tf.logical_and(
        tf.logical_and(tf.equal(tf.size(shape), 1), tf.equal(tf.size(flat), tf.shape(rows)[0])),
        tf.reduce_all((flat >= 0) & (flat < model.num_classes)),
    )
    message = (f"{name} must have shape (batch,) with one label per row of the batch, "
               f"each in [0, {model.num_classes}); got shape")
    with tf.control_dependencies([tf.debugging.Assert(valid, [message, shape, "and labels", flat], summarize=16)]):
        return tf.identity(condition)


@register_signatures(ConditionalVAE)
def conditional_vae_signatures(model: ConditionalVAE) -> dict[str, Signature]:
    """The VAE signatures, each with a ``condition`` input (int32 class labels, one per row).

    Args:
      model: a :class:`~tfvae.models.ConditionalVAE`.
    """
    shape, latent = model.data_shape, model.latent_dim
    data_and_label = {**data_inputs(model), **condition_input()}
    term_specs = {name: tf.TensorSpec([], tf.float32) for name in ("score", *SCORE_TERMS)}

    def reconstruct(x, condition):
        x = finite(checked(x, "x", shape), "x")
        y = checked_labels(model, condition, x)
        return {"reconstruction": model._decode(model._encode(x, False, y).mean(), False, y).mean()}

    def encode(x, condition):
        x = finite(checked(x, "x", shape), "x")
        q = model._encode(x, False, checked_labels(model, condition, x))
        return {"mean": q.mean(), "stddev": q.stddev()}

    def decode(z, condition):
        z = checked(z, "z", (latent,))
        p = model._decode(z, False, checked_labels(model, condition, z))
        return {"mean": p.mean(), **likelihood_parameters(p)}

    def score_row(x, y, seed):
        seed = tf.cast(seed, model.seed_generator.state.dtype)
        terms = model.per_example_terms((x[tf.newaxis], y[tf.newaxis]), training=False, seed=seed)
        return {"score": -terms["elbo"][0], **{name: terms[name][0] for name in SCORE_TERMS}}

    def score(x, condition, seed):
        x = finite(checked(x, "x", shape), "x")
        y = checked_labels(model, condition, x)
        seed = same_batch(x, checked(seed, "seed", (2,)), "seed needs one row per example of x; got rows")
        return per_row(score_row, (x, y, seed), term_specs)

    def sample_row(y, seed):
        prior = model.prior_for(y[tf.newaxis])
        z = model.prior.sample(prior, 1, seed)
        return {"z": tf.reshape(z, [latent])}

    def sample(seed, condition):
        seed = checked(seed, "seed", (2,))
        y = checked_labels(model, condition, seed)
        z = per_row(sample_row, (y, seed), {"z": tf.TensorSpec([latent], tf.float32)})["z"]
        return {"samples": model._decode(z, False, y).mean(), "z": z}

    return {
        "serving_default": Signature(data_and_label, reconstruct, "mean reconstruction given x and its label"),
        "encode": Signature(data_and_label, encode, "posterior q(z|x,y): mean and standard deviation"),
        "decode": Signature({"z": tf.TensorSpec([None, latent], tf.float32), **condition_input()}, decode,
                            "likelihood p(x|z,y): mean and parameters"),
        "score": Signature({**data_and_label, **seed_input()}, score,
                           "per-example negative ELBO (nats) given the label, Monte Carlo draws from seed"),
        "sample": Signature({**seed_input(), **condition_input()}, sample,
                            "decoded samples of the requested class, one per (seed, condition) row"),
    }


# ------------------------------------------------------------------- VQ-VAE
#: temperature of the exported code draws (the prior's own distribution)
SAMPLE_TEMPERATURE = 1.0


def code_levels(model) -> list[tuple[str, str | None, tuple[int, int], int]]:
    """``(input name, level, (h, w), K)`` per code map of a VQ model, in decoding order.

    ``[("indices", None, (7, 7), K)]`` for :class:`~tfvae.models.VQVAE`;
    ``[("bottom_indices", "bottom", ...), ("top_indices", "top", ...)]`` for
    :class:`~tfvae.models.VQVAE2` (``level`` keys its dict-valued properties).
    """
    if isinstance(model.code_shape, Mapping):
        return [(f"{level}_indices", level, tuple(model.code_shape[level]), int(model.num_embeddings[level]))
                for level in ("bottom", "top")]
    return [("indices", None, tuple(model.code_shape), int(model.num_embeddings))]


def check_prior(model, prior) -> dict[str | None, PixelCNN]:
    """The prior of a VQ model by level (``{None: p}``, or ``{"top": .., "bottom": ..}``), or an ExportError.

    A VQ-VAE takes one :class:`~tfvae.models.PixelCNN` over its ``(h, w)``
    codes; a VQ-VAE-2 the dict of :meth:`~tfvae.models.VQVAE2.make_prior`,
    whose bottom prior is conditioned on the top codes. Both levels of a
    class-conditional VQ-VAE-2 prior take the same labels.
    """
    name = type(model).__name__
    levels = code_levels(model)
    if levels[0][1] is None:
        if isinstance(prior, Mapping) or not isinstance(prior, PixelCNN):
            raise ExportError(f"the prior of a {name} is one PixelCNN (model.make_prior()), got {type(prior).__name__}")
        priors = {None: prior}
    else:
        if not isinstance(prior, Mapping) or sorted(prior) != ["bottom", "top"]:
            raise ExportError(f"the prior of a {name} is a dict {{'top': PixelCNN, 'bottom': PixelCNN}} "
                              f"(model.make_prior()), got {type(prior).__name__}")
        priors = dict(prior)
    shapes = {level: shape for _, level, shape, _ in levels}
    for _, level, shape, depth in levels:
        p, where = priors[level], "the prior" if level is None else f"the {level} prior"
        if not isinstance(p, PixelCNN):
            raise ExportError(f"{where} must be a PixelCNN, got {type(p).__name__}")
        if tuple(p.code_shape) != shape or p.num_embeddings != depth:
            raise ExportError(f"{where} models {p.code_shape} maps of {p.num_embeddings} codes; the {name} has "
                              f"{shape} maps of {depth}")
        condition = shapes["top"] if level == "bottom" else None
        if p.condition_shape != (None if condition is None else tuple(condition)):
            wanted = f"conditioned on the top codes {condition}" if condition else "not conditioned on code maps"
            raise ExportError(f"{where} must be {wanted}, got condition_shape={p.condition_shape}")
    if len({p.num_classes for p in priors.values()}) != 1:
        raise ExportError("the top and bottom priors must take the same class labels (num_classes)")
    return priors


def _draw_codes(prior: PixelCNN, seed, label=None, condition=None) -> tf.Tensor:
    """One code map ``[h, w]`` drawn from ``prior`` as ``prior.sample(1, label, condition, seed=seed)`` does.

    The export traces the prior's sampling loop (``PixelCNN._sample_graph``, a
    ``tf.while_loop`` over the ``h * w`` positions) into the signature itself:
    the SavedModel holds the loop and the prior's variables, and nothing of the
    Python-side sampler cache.
    """
    codes = tf.zeros((1, *prior.code_shape), tf.int32)
    temperature = tf.constant(SAMPLE_TEMPERATURE, tf.float32)
    return prior._sample_graph(codes, label, condition, temperature, seed)[0]


def vq_vae_signatures(model, prior=None) -> dict[str, Signature]:
    """Signatures of :class:`~tfvae.models.VQVAE` and :class:`~tfvae.models.VQVAE2`: codes in and out.

    * ``serving_default``: ``x -> reconstruction``, as ``model.reconstruct(x)``.
    * ``encode``: ``x ->`` the int32 code maps (``indices``; ``bottom_indices`` and
      ``top_indices`` for VQ-VAE-2), as ``model.encode_indices(x)``, and ``z``, the
      flat quantized code ``model.encode(x).mean()``.
    * ``decode``: the code maps ``->`` ``mean`` and the likelihood's parameters, as
      ``model.decode_indices(...)``. Indices out of ``[0, K)`` fail in-graph.
    * ``score``: ``x ->`` ``distortion``, ``rate`` (``h * w * log K`` summed over the
      levels: the uniform prior) and ``nll_bound = distortion + rate``, as
      ``model.bound(x)``, in nats per example; ``score`` is ``nll_bound``.
    * ``sample`` (only with a ``prior``): ``seed`` int64 ``[B, 2]`` (and ``label``
      int32 ``[B]`` for a class-conditional prior) ``->`` ``samples`` (likelihood means)
      and the drawn code maps. Row ``i`` is ``model.sample(1, prior, label=label[i],
      seed=seed[i])``; for VQ-VAE-2 the top codes are drawn from ``seed[i]`` and the
      bottom codes from ``seed[i] + [1, 0]`` (so ``seed[i] = [s, 0]`` gives
      ``model.sample(1, prior, seed=s)``).

    Args:
      model: a :class:`~tfvae.models.VQVAE` or :class:`~tfvae.models.VQVAE2`.
      prior: its trained prior (:meth:`~tfvae.models.VQVAE.make_prior`), or ``None``
        (no ``sample`` signature).
    """
    priors = None if prior is None else check_prior(model, prior)
    shape = model.data_shape
    levels = code_levels(model)
    two_level = levels[0][1] is not None

    def by_level(codes) -> Outputs:
        return {name: tf.cast(codes[level] if two_level else codes, tf.int32) for name, level, _, _ in levels}

    def checked_codes(inputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        out = {}
        for name, _, code_shape, depth in levels:
            value = in_range(checked(inputs[name], name, code_shape), name, depth)
            if out:
                first = levels[0][0]
                value = same_batch(out[first], value, f"{name} needs one row per row of {first}; got rows")
            out[name] = value
        return out

    def from_codes(codes: dict[str, tf.Tensor]):
        if two_level:
            return model.decode_indices(codes["bottom_indices"], codes["top_indices"])
        return model.decode_indices(codes["indices"])

    def encode(x):
        out = model.vector_quantize(finite(checked(x, "x", shape), "x"), training=False)
        return {**by_level(out["indices"]), "z": tf.reshape(out["z"], [-1, model.latent_dim])}

    def decode(**codes):
        p = from_codes(checked_codes(codes))
        return {"mean": p.mean(), **likelihood_parameters(p)}

    def score(x):
        terms = model.bound(finite(checked(x, "x", shape), "x"))
        return {"score": terms["nll_bound"], **terms}

    code_specs = {name: tf.TensorSpec([None, *code_shape], tf.int32) for name, _, code_shape, _ in levels}
    signatures = autoencoder_signatures(model)
    signatures.update({
        "encode": Signature(data_inputs(model), encode,
                            "int32 code index maps (as encode_indices) and the flat quantized code z"),
        "decode": Signature(code_specs, decode, "likelihood p(x|codes): mean and parameters"),
        "score": Signature(data_inputs(model), score,
                           "per-example bound on -log p(x) in nats: distortion + rate under the uniform prior"),
    })
    if priors is not None:
        signatures["sample"] = _vq_sample_signature(priors, levels, from_codes)
    return signatures


def _vq_sample_signature(priors, levels, from_codes) -> Signature:
    """``sample``: per seed row, code maps drawn by the prior(s) of ``priors``, decoded as a batch."""
    label_prior = next(iter(priors.values()))  # every level takes the same labels
    labelled = label_prior.num_classes > 0
    row_specs = {name: tf.TensorSpec(code_shape, tf.int32) for name, _, code_shape, _ in levels}

    def sample_row(seed, label=None):
        label = None if label is None else label[tf.newaxis]
        if None in priors:
            return {"indices": _draw_codes(priors[None], seed, label)}
        top = _draw_codes(priors["top"], seed, label)
        bottom_seed = seed + tf.constant([1, 0], seed.dtype)  # as VQVAE2.sample_codes: seed + 1
        bottom = _draw_codes(priors["bottom"], bottom_seed, label, top[tf.newaxis])
        return {"bottom_indices": bottom, "top_indices": top}

    def sample(seed, label=None):
        seed = checked(seed, "seed", (2,))
        if labelled:
            label = checked_labels(label_prior, label, seed, name="label")
            codes = per_row(sample_row, (seed, label), row_specs)
        else:
            codes = per_row(sample_row, (seed,), row_specs)
        return {"samples": from_codes(codes).mean(), **codes}

    inputs = {**seed_input(), **({"label": tf.TensorSpec([None], tf.int32)} if labelled else {})}
    what = "of the requested class, one per (seed, label) row" if labelled else "one per seed row"
    return Signature(inputs, sample, f"decoded code maps drawn from the PixelCNN prior, {what}")


register_signatures(VQVAE)(vq_vae_signatures)
register_signatures(VQVAE2)(vq_vae_signatures)
