"""The signatures of the built-in families: ``Autoencoder`` (and its denoising, sparse,
k-sparse and contractive variants) and ``VAE`` (``BetaVAE``).

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
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

from tfvae.export.signatures import (
    Outputs,
    Signature,
    checked,
    finite,
    per_row,
    register_signatures,
    same_batch,
)
from tfvae.models import VAE, Autoencoder, ConditionalVAE

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


def checked_labels(model, condition: tf.Tensor, rows: tf.Tensor) -> tf.Tensor:
    """Labels after one in-graph check: shape ``(batch,)``, one per row of ``rows``, in ``[0, num_classes)``."""
    shape = tf.shape(condition)
    flat = tf.reshape(condition, [-1])
    valid = tf.logical_and(
        tf.logical_and(tf.equal(tf.size(shape), 1), tf.equal(tf.size(flat), tf.shape(rows)[0])),
        tf.reduce_all((flat >= 0) & (flat < model.num_classes)),
    )
    message = (f"condition must have shape (batch,) with one label per row of the batch, "
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
