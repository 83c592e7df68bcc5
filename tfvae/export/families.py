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

TD-VAE (sequences ``[B, T, *frame]``; ``H`` and the jump are fixed at export time, see
:func:`tdvae_signatures`):

=================  ==========================  ===========================================
serving_default    x [B, T, *frame]            reconstruction [B, T, *frame] (filtered)
rollout            context [B, Tc, *frame],    frames [B, H, *frame], z [B, H, state]
                   seed [B, 2] int64
score              x [B, T, *frame],           score = loss, reconstruction,
                   seed [B, 2] int64           smoothing_kl, transition_kl [B] (nats)
=================  ==========================  ===========================================
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
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
from tfvae.models.td_vae import TDVAE

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


# ------------------------------------------------------------------- TD-VAE
#: the export options of the TD-VAE family (``export_saved_model(..., options={...})``)
TDVAE_OPTIONS = ("horizon", "jump")


def tdvae_rollout_settings(model: TDVAE, options: Mapping | None = None) -> tuple[int, int]:
    """``(horizon, jump)`` of a TD-VAE's exported ``rollout``: the defaults, or ``options``.

    Defaults: ``jump = max_jump`` when the model is conditioned on the jump
    (the longest step it was trained on: the farthest look-ahead per
    transition), else ``1`` (its only valid value); ``horizon = 2 * max_jump``
    transitions, so the default rollout predicts ``2 * max_jump ** 2`` time
    steps ahead (``2 * max_jump`` without jump conditioning).

    Raises:
      ExportError: an unknown option, a horizon below 1, or a jump outside
        ``[1, max_jump]`` (or other than 1 with ``condition_on_jump=False``).
    """
    options = dict(options or {})
    unknown = sorted(set(options) - set(TDVAE_OPTIONS))
    if unknown:
        raise ExportError(f"unknown TDVAE export options {unknown}; the options are {list(TDVAE_OPTIONS)}")

    def integer(name, default):
        value = options.get(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ExportError(f"the TDVAE export option {name!r} must be an integer, got {value!r}")
        return int(value)

    horizon = integer("horizon", 2 * model.max_jump)
    jump = integer("jump", model.max_jump if model.condition_on_jump else 1)
    if horizon < 1:
        raise ExportError(f"the rollout horizon must be >= 1, got {horizon}")
    if not 1 <= jump <= model.max_jump:
        raise ExportError(f"the rollout jump must be in [1, max_jump={model.max_jump}], got {jump}")
    if not model.condition_on_jump and jump != 1:
        raise ExportError("this TDVAE has condition_on_jump=False: its transitions are jumps of an unknown "
                          f"size, so the rollout jump must be 1, got {jump}")
    return horizon, jump


def checked_sequences(x: tf.Tensor, name: str, frame_shape, min_length: int,
                      after: tuple[tf.Tensor, ...] = ()) -> tf.Tensor:
    """Sequences ``x`` after in-graph checks: shape ``(batch, time, *frame_shape)``, ``time >= min_length``.

    The shape check comes first; the length check runs after it and after the
    ``after`` tensors (other inputs' checks), so a request with a wrong shape
    fails on its shape, not on a length computed from it.

    Args:
      x: the input.
      name: its name in the signature.
      frame_shape: the shape of one frame.
      min_length: the fewest time steps accepted.
      after: tensors whose checks must pass before the length check.
    """
    frame_shape = [int(d) for d in frame_shape]
    rank = len(frame_shape) + 1
    shape = tf.shape(x, out_type=tf.int32)
    padded = tf.concat([shape[2:], tf.fill([rank - 1], -1)], axis=0)[:rank - 1]
    same = tf.logical_and(
        tf.equal(tf.size(shape), rank + 1),
        tf.reduce_all(tf.equal(padded, tf.constant(frame_shape, tf.int32))),
    )
    expected = "(batch, time" + "".join(f", {d}" for d in frame_shape) + ")"
    with tf.control_dependencies([tf.debugging.Assert(same, [f"{name} must have shape {expected}; got", shape],
                                                      summarize=16)]):
        x = tf.identity(x)
    with tf.control_dependencies([x, *after]):
        length = tf.shape(x)[1]
        message = (f"{name} needs sequences of at least {min_length} time step{'s' if min_length > 1 else ''}"
                   + (" (max_jump + 1: the score draws pairs up to max_jump steps apart)" if min_length > 1 else "")
                   + "; got")
        enough = tf.debugging.Assert(length >= min_length, [message, length])
    with tf.control_dependencies([enough]):
        return tf.identity(x)


def tdvae_signatures(model: TDVAE, options: Mapping | None = None) -> dict[str, Signature]:
    """Signatures of :class:`~tfvae.models.TDVAE`: filtered reconstructions, seeded rollouts and scores.

    * ``serving_default``: ``x`` ``[B, T, *frame]`` (any ``T >= 1``) ``->
      reconstruction``, as ``model(x)``: the filtered reconstructions at the
      belief means.
    * ``rollout``: ``context`` ``[B, Tc, *frame]`` (any ``Tc >= 1``) and ``seed``
      int64 ``[B, 2]`` ``->`` ``frames`` ``[B, H, *frame]`` (predicted frame
      means; frame ``k`` predicts time ``Tc - 1 + (k + 1) * jump``) and ``z``
      ``[B, H, state_dim]``. Row ``i`` is ``model.rollout(context[i:i+1], H,
      jump, seed=seed[i], return_z=True)`` (rollout reads a pair seed as is and
      an int seed ``s`` as ``[s, 0]``: ``seed[i] = [s, 0]`` gives
      ``model.rollout(..., seed=s)``), so it is reproducible and independent
      of the other rows. ``H`` and ``jump`` are fixed at export time (see
      :func:`tdvae_rollout_settings`).
    * ``score``: ``x`` ``[B, T, *frame]`` with ``T >= max_jump + 1`` and ``seed``
      int64 ``[B, 2]`` ``->`` ``score`` (the loss: reconstruction +
      smoothing_kl + transition_kl), ``reconstruction``, ``smoothing_kl`` and
      ``transition_kl``, ``[B]`` in nats; row ``i`` is
      ``model.per_example_terms(x[i:i+1], seed=seed[i])`` (the pairs and the
      states drawn from that seed).

    Shapes, NaN and sequence lengths are checked in-graph before any model op.

    Args:
      model: a :class:`~tfvae.models.TDVAE`.
      options: ``{"horizon": H, "jump": j}`` for ``rollout`` (either may be
        left out); the defaults are ``H = 2 * max_jump`` and ``j = max_jump``
        (``1`` when ``condition_on_jump=False``).

    Raises:
      ExportError: invalid options (see :func:`tdvae_rollout_settings`).
    """
    horizon, jump = tdvae_rollout_settings(model, options)
    frame, min_length = tuple(model.frame_shape), model.max_jump + 1
    sequence = tf.TensorSpec([None, None, *frame], tf.float32)

    def seeded(x, seed, name):
        """(x, seed) checked: x's shape and values, seed's shape and rows, then x's length."""
        seed = same_batch(x, checked(seed, "seed", (2,)), f"seed needs one row per example of {name}; got rows")
        x = checked_sequences(x, name, frame, min_length if name == "x" else 1, after=(seed,))
        return finite(x, name), seed

    def reconstruct(x):
        return {"reconstruction": model(finite(checked_sequences(x, "x", frame, 1), "x"), training=False)}

    def rollout_row(context, seed):
        out = model.rollout_tensors(context[tf.newaxis], horizon, jump, seed)
        return {"frames": out["frames"][0], "z": out["z"][0]}

    def rollout(context, seed):
        context, seed = seeded(context, seed, "context")
        specs = {"frames": tf.TensorSpec([horizon, *frame], tf.float32),
                 "z": tf.TensorSpec([horizon, model.state_dim], tf.float32)}
        return per_row(rollout_row, (context, seed), specs)

    def score_row(x, seed):
        terms = model.per_example_terms(x[tf.newaxis], training=False, seed=seed)
        return {"score": terms["loss"][0], **{name: terms[name][0] for name in TDVAE_TERMS}}

    def score(x, seed):
        x, seed = seeded(x, seed, "x")
        return per_row(score_row, (x, seed), {name: tf.TensorSpec([], tf.float32) for name in ("score", *TDVAE_TERMS)})

    def score_example(batch_size):
        return {"x": np.full([batch_size, min_length, *frame], 0.5, np.float32),
                "seed": np.zeros([batch_size, 2], np.int64)}

    def rollout_example(batch_size):
        return {"context": np.full([batch_size, min_length, *frame], 0.5, np.float32),
                "seed": np.zeros([batch_size, 2], np.int64)}

    return {
        "serving_default": Signature({"x": sequence}, reconstruct,
                                     "filtered reconstructions E[p(x_t|E[p_B(z|b_t)])], as model(x)"),
        "rollout": Signature({"context": sequence, **seed_input()}, rollout,
                             f"{horizon} predicted frames {jump} step(s) apart after the context, "
                             "and their states; the draws from seed", rollout_example),
        "score": Signature({"x": sequence, **seed_input()}, score,
                           "per-sequence TD-VAE loss (nats) and its terms; pairs and draws from seed", score_example),
    }


#: the per-example terms ``score`` reports beside the loss
TDVAE_TERMS = ("reconstruction", "smoothing_kl", "transition_kl")

register_signatures(TDVAE)(tdvae_signatures)
