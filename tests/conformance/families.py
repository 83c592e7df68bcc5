"""The conformance registry: one entry per model family, each run through the same checks.

Add a family here when you add a model to the library: the registry name of
the model it covers (``model``), a small ``build`` factory, ``data(model, rng)``
(one small training batch, as ``fit`` takes it) and, when the model serves
SavedModel signatures of its own, the signatures it documents (names, dtypes,
shapes: the table in docs/export.md) and ``reference(model, signature, inputs)``, the
numbers the in-memory model gives through its public API. ``config`` names
the shipped ``training/<config>.toml`` the CLI door runs for the family.

The gate (every registered model has a family, ``test_coverage.py``):

- ``test_models.py``: ``fit`` = ``train_loop``, eager = graph = XLA, mixed
  precision, config and ``.keras`` round trips, for every family;
- ``test_conformance.py`` (families that serve): the ``.keras`` round trip,
  the SavedModel in a process without tfvae or TFP, ``saved_model_cli``, the
  warmup file and input validation;
- ``test_cli_door.py`` (slow): ``tfvae train / evaluate / plot / sample /
  export`` on each family's shipped config.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pytest

from tfvae import (
    IWAE,
    VAE,
    VQVAE,
    VQVAE2,
    Autoencoder,
    BetaVAE,
    ConditionalVAE,
    ContractiveAE,
    DenoisingAE,
    FactorVAE,
    KSparseAE,
    Seq2SeqAE,
    SparseAE,
)
from tfvae.applications import RatingsAE, low_rank_ratings
from tfvae.data.sequences import sine_sequences
from tfvae.models.quantized.pixelcnn import PixelCNN
from tfvae.models.sequential.td_vae import TDVAE

#: name -> (dtype as saved_model_cli prints it, shape with -1 for the batch)
Specs = dict[str, tuple[str, tuple[int, ...]]]


@dataclass
class Family:
    """One entry of the conformance registry.

    Args:
      build: a fresh small model (``seed`` fixed, so numbers are reproducible).
      model: the name the model's class is registered under (``tfvae.registry.MODELS``).
      kind: the objective kind (a key of :data:`REPRESENTATIVES`): one family per kind runs the whole
        matrix in the fast pass, the others the basic checks there and the rest with ``-m slow``.
      data: ``data(model, rng)``: one small training batch as ``fit`` and
        ``loss_terms`` take it: ``x``, ``(x, labels)`` for conditional models,
        sequences, code maps (or a dict of codes and conditioning) for PixelCNN.
      expected: ``expected(model) -> {signature: (input specs, output specs)}``;
        ``None`` for a model without serving signatures of its own (PixelCNN:
        it is served inside its VQ-VAE's ``sample``).
      reference: ``reference(model, signature, inputs) -> {output: array}``.
      inputs: ``inputs(model, rng) -> {signature: {input: array}}``.
      prior: ``prior(model)``, a prior exported with the model
        (``export_saved_model(model, path, prior=...)``); the family's
        ``reference`` then takes it as ``reference(model, signature, inputs, prior=...)``.
      config: the shipped ``training/<config>.toml`` the CLI door runs (``None``: none).
      same_model_as: another family that builds the same model (the same
        config but for the seed); this one differs only in what it exports
        with it (a prior), so the generic model checks (test_models.py) run
        on the other one alone.
    """

    build: Callable
    model: str
    data: Callable
    kind: str
    expected: Callable[..., dict[str, tuple[Specs, Specs]]] | None = None
    reference: Callable[..., dict[str, np.ndarray]] | None = None
    inputs: Callable[..., dict[str, dict[str, np.ndarray]]] | None = None
    notes: str = field(default="")
    prior: Callable | None = None
    config: str | None = None
    same_model_as: str | None = None

    @property
    def serves(self) -> bool:
        """The model has serving signatures of its own (the SavedModel checks run for it)."""
        return self.expected is not None

    def make(self):
        """``(model, prior)``: a fresh model and its prior (``None`` for families without one)."""
        model = self.build()
        return model, (self.prior(model) if self.prior is not None else None)

    def reference_outputs(self, model, prior, signature: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The in-memory numbers of ``signature``, with the prior when the family has one."""
        if prior is None:
            return self.reference(model, signature, inputs)
        return self.reference(model, signature, inputs, prior=prior)


FLOAT, INT64 = "DT_FLOAT", "DT_INT64"
SEEDS = np.array([[11, 0], [11, 1], [12, 7]], np.int64)


# ------------------------------------------------------------- expectations
def autoencoder_expected(model, likelihood_params=("logits",)) -> dict[str, tuple[Specs, Specs]]:
    """The table in docs/export.md for autoencoders (``likelihood_params``: the decode outputs beside ``mean``)."""
    data, latent = (-1, *model.data_shape), (-1, model.latent_dim)
    terms = {name: (FLOAT, (-1,)) for name in ("score", "distortion")}
    return {
        "serving_default": ({"x": (FLOAT, data)}, {"reconstruction": (FLOAT, data)}),
        "encode": ({"x": (FLOAT, data)}, {"mean": (FLOAT, latent), "stddev": (FLOAT, latent)}),
        "decode": ({"z": (FLOAT, latent)}, {"mean": (FLOAT, data), **{p: (FLOAT, data) for p in likelihood_params}}),
        "score": ({"x": (FLOAT, data)}, terms),
    }


def vae_expected(model, likelihood_params=("logits",),
                 score_terms=("elbo", "distortion", "rate")) -> dict[str, tuple[Specs, Specs]]:
    """The table in docs/export.md for VAEs: a seeded ``score`` (negative ELBO; IWAE: its bound) and ``sample``."""
    data, latent, seed = (-1, *model.data_shape), (-1, model.latent_dim), {"seed": (INT64, (-1, 2))}
    expected = autoencoder_expected(model, likelihood_params)
    terms = {name: (FLOAT, (-1,)) for name in ("score", *score_terms)}
    expected["score"] = ({"x": (FLOAT, data), **seed}, terms)
    expected["sample"] = (seed, {"samples": (FLOAT, data), "z": (FLOAT, latent)})
    return expected


# ------------------------------------------------------------------ inputs
def autoencoder_inputs(model, rng) -> dict[str, dict[str, np.ndarray]]:
    x = rng.uniform(0, 1, (3, *model.data_shape)).astype("float32")
    z = rng.normal(0, 1, (3, model.latent_dim)).astype("float32")
    return {"serving_default": {"x": x}, "encode": {"x": x}, "decode": {"z": z}, "score": {"x": x}}


def vae_inputs(model, rng) -> dict[str, dict[str, np.ndarray]]:
    inputs = autoencoder_inputs(model, rng)
    inputs["score"] = {"x": inputs["score"]["x"], "seed": SEEDS}
    inputs["sample"] = {"seed": SEEDS}
    return inputs


# ------------------------------------------------- in-memory reference numbers
def autoencoder_reference(model, signature: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """What the model's public API gives for ``signature`` on ``inputs``."""
    if signature == "serving_default":
        return {"reconstruction": model.reconstruct(inputs["x"]).numpy()}
    if signature == "encode":
        q = model.encode(inputs["x"])
        return {"mean": q.mean().numpy(), "stddev": q.stddev().numpy()}
    if signature == "decode":
        p = model.decode(inputs["z"])
        mean = p.mean().numpy()
        params = {k: np.broadcast_to(np.asarray(v), mean.shape) for k, v in p.distribution.parameters.items()
                  if hasattr(v, "dtype") and getattr(v, "shape", None) is not None and v.dtype.is_floating}
        return {"mean": mean, **params}
    if signature == "score":  # the reconstruction error at the code
        x = inputs["x"]
        distortion = -model.decode(model.encode(x).mean()).log_prob(x).numpy()
        return {"score": distortion, "distortion": distortion}
    raise KeyError(signature)


def vae_reference(model, signature: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Row i of ``score`` / ``sample`` is the model with its seed generator at ``seed[i]``."""
    if signature == "score":
        rows = []
        for x, seed in zip(inputs["x"], inputs["seed"]):
            model.seed_generator.state.assign(seed)
            terms = model.elbo(x[None])
            rows.append({"score": -terms[model.score_bound], **{name: terms[name] for name in model.score_term_names}})
        return {k: np.concatenate([np.asarray(r[k]) for r in rows]) for k in rows[0]}
    if signature == "sample":
        samples = [model.sample(1, seed=seed).numpy()[0] for seed in inputs["seed"]]
        z = [model.prior.sample(model.prior(), 1, seed).numpy()[0] for seed in inputs["seed"]]
        return {"samples": np.stack(samples), "z": np.stack(z)}
    return autoencoder_reference(model, signature, inputs)


def iaf_reference(model, signature: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The VAE's, but ``encode`` (an IAF has no closed-form mean): ``embed`` (the flow of the base mean, through
    the TFP bijector) and the unscented standard deviation, the sigma points ``m +- sqrt(D) s_j e_j`` put through
    the TFP bijector (the served graph computes both with its own tensor ops)."""
    if signature == "encode":
        q = model.encode(inputs["x"])
        loc, scale = q.distribution.loc.numpy(), q.distribution.stddev().numpy()
        offsets = (np.sqrt(model.latent_dim) * np.eye(model.latent_dim)[:, None, :] * scale).astype("float32")
        z = q.bijector.forward(np.concatenate([loc + offsets, loc - offsets])).numpy()
        return {"mean": model.embed(inputs["x"]).numpy(), "stddev": z.std(axis=0)}
    return vae_reference(model, signature, inputs)


def terms_reference(model, signature: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """For models whose distortion is masked (sequences, ratings): ``score`` from ``per_example_terms``."""
    if signature == "score":
        distortion = model.per_example_terms(inputs["x"])["distortion"].numpy()
        return {"score": distortion, "distortion": distortion}
    return autoencoder_reference(model, signature, inputs)


def sequence_inputs(model, rng) -> dict[str, dict[str, np.ndarray]]:
    inputs = autoencoder_inputs(model, rng)
    x = sine_sequences(3, max_length=model.data_shape[0], min_length=3, seed=int(rng.integers(1000)))
    return {**inputs, **{name: {"x": x} for name in ("serving_default", "encode", "score")}}


def ratings_inputs(model, rng) -> dict[str, dict[str, np.ndarray]]:
    inputs = autoencoder_inputs(model, rng)
    x = low_rank_ratings(3, model.data_shape[0], density=0.4, seed=int(rng.integers(1000)))
    return {**inputs, **{name: {"x": x} for name in ("serving_default", "encode", "score")}}


INT32 = "DT_INT32"
LABELS = np.array([2, 0, 1], np.int32)


def cvae_expected(model) -> dict[str, tuple[Specs, Specs]]:
    """The VAE table with a ``condition`` (int32, one label per row) on every signature."""
    expected = vae_expected(model)
    label = {"condition": (INT32, (-1,))}
    return {name: ({**inputs, **label}, outputs) for name, (inputs, outputs) in expected.items()}


def cvae_inputs(model, rng) -> dict[str, dict[str, np.ndarray]]:
    return {name: {**feed, "condition": LABELS} for name, feed in vae_inputs(model, rng).items()}


def cvae_reference(model, signature: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The public API with the labels: ``reconstruct(x, y)``, ``elbo(x, y, seed=...)``, ``sample(1, y, seed)``."""
    y = inputs["condition"]
    if signature == "serving_default":
        return {"reconstruction": model.reconstruct(inputs["x"], y).numpy()}
    if signature == "encode":
        q = model.encode(inputs["x"], y)
        return {"mean": q.mean().numpy(), "stddev": q.stddev().numpy()}
    if signature == "decode":
        p = model.decode(inputs["z"], y)
        return {"mean": p.mean().numpy(), "logits": p.distribution.logits.numpy()}
    if signature == "score":
        rows = [model.elbo(x[None], [label], seed=seed) for x, label, seed in zip(inputs["x"], y, inputs["seed"])]
        terms = {k: np.concatenate([r[k].numpy() for r in rows]) for k in rows[0]}
        return {"score": -terms["elbo"], **terms}
    if signature == "sample":
        samples = [model.sample(1, condition=label, seed=seed).numpy()[0] for label, seed in zip(y, inputs["seed"])]
        z = []
        for label, seed in zip(y, inputs["seed"]):
            prior = model.prior_for(np.array([label], np.int32))
            z.append(np.reshape(model.prior.sample(prior, 1, seed).numpy(), [-1]))
        return {"samples": np.stack(samples), "z": np.stack(z)}
    raise KeyError(signature)


# ------------------------------------------------------------------- VQ-VAE
def vq_levels(model) -> list[tuple[str, str | None, tuple[int, int], int]]:
    """``(input name, level, (h, w), K)`` per code map: ``indices``, or ``bottom_indices`` and ``top_indices``."""
    if isinstance(model, VQVAE2):
        return [(f"{level}_indices", level, model.code_shape[level], model.num_embeddings[level])
                for level in ("bottom", "top")]
    return [("indices", None, model.code_shape, model.num_embeddings)]


def vq_expected(model, prior=False, labels=False) -> dict[str, tuple[Specs, Specs]]:
    """The VQ rows of docs/export.md: codes out of ``encode``, into ``decode`` and out of ``sample`` (with a prior)."""
    data, latent = (-1, *model.data_shape), (-1, model.latent_dim)
    codes = {name: (INT32, (-1, *shape)) for name, _, shape, _ in vq_levels(model)}
    terms = {name: (FLOAT, (-1,)) for name in ("score", "distortion", "rate", "nll_bound")}
    expected = {
        "serving_default": ({"x": (FLOAT, data)}, {"reconstruction": (FLOAT, data)}),
        "encode": ({"x": (FLOAT, data)}, {**codes, "z": (FLOAT, latent)}),
        "decode": (codes, {"mean": (FLOAT, data), "logits": (FLOAT, data)}),
        "score": ({"x": (FLOAT, data)}, terms),
    }
    if prior:
        inputs = {"seed": (INT64, (-1, 2)), **({"label": (INT32, (-1,))} if labels else {})}
        expected["sample"] = (inputs, {"samples": (FLOAT, data), **codes})
    return expected


def vq_inputs(model, rng, prior=False, labels=False) -> dict[str, dict[str, np.ndarray]]:
    x = (rng.uniform(0, 1, (3, *model.data_shape)) > 0.5).astype("float32")
    codes = {name: rng.integers(0, k, (3, *shape)).astype("int32") for name, _, shape, k in vq_levels(model)}
    inputs = {"serving_default": {"x": x}, "encode": {"x": x}, "decode": codes, "score": {"x": x}}
    if prior:
        inputs["sample"] = {"seed": SEEDS, **({"label": LABELS} if labels else {})}
    return inputs


def vq_codes(model, feed) -> dict:
    """The code maps of a ``decode`` feed, as ``decode_indices`` takes them."""
    if isinstance(model, VQVAE2):
        return {"bottom": feed["bottom_indices"], "top": feed["top_indices"]}
    return feed["indices"]


def vq_draw(model, prior, seed, label=None) -> dict:
    """Row ``i`` of ``sample``: the prior's ``sample(1, seed=seed)``; VQ-VAE-2's bottom codes from ``seed + [1, 0]``."""
    label = None if label is None else int(label)
    if isinstance(model, VQVAE2):
        top = prior["top"].sample(1, label=label, seed=seed)
        bottom = prior["bottom"].sample(1, label=label, condition=top, seed=np.asarray(seed) + [1, 0])
        return {"bottom": bottom, "top": top}
    return model.sample_codes(1, prior, label=label, seed=seed)


def vq_reference(model, signature: str, inputs: dict[str, np.ndarray], prior=None) -> dict[str, np.ndarray]:
    """The public API: ``reconstruct``, ``encode_indices``, ``decode_indices``, ``bound``, ``sample``."""
    def by_name(codes):
        return {name: np.asarray(codes if level is None else codes[level]) for name, level, _, _ in vq_levels(model)}

    if signature == "serving_default":
        return {"reconstruction": model.reconstruct(inputs["x"]).numpy()}
    if signature == "encode":
        return {**by_name(model.encode_indices(inputs["x"])), "z": model.encode(inputs["x"]).mean().numpy()}
    if signature == "decode":
        p = model.decode_codes(vq_codes(model, inputs))
        return {"mean": p.mean().numpy(), "logits": p.distribution.logits.numpy()}
    if signature == "score":
        terms = {k: v.numpy() for k, v in model.bound(inputs["x"]).items()}
        return {"score": terms["nll_bound"], **terms}
    if signature == "sample":
        labels = inputs.get("label", [None] * len(inputs["seed"]))
        rows = [vq_draw(model, prior, seed, label) for seed, label in zip(inputs["seed"], labels)]
        if isinstance(model, VQVAE2):
            codes = {level: np.concatenate([r[level] for r in rows]) for level in ("bottom", "top")}
        else:
            codes = np.concatenate(rows)
        return {"samples": model.decode_codes(codes).mean().numpy(), **by_name(codes)}
    raise KeyError(signature)


# ------------------------------------------------------------------- TD-VAE
def tdvae_rollout(model) -> tuple[int, int]:
    """The documented export defaults: ``H = 2 * max_jump``; ``jump = max_jump`` (1 without jump conditioning)."""
    return 2 * model.max_jump, (model.max_jump if model.condition_on_jump else 1)


def tdvae_expected(model) -> dict[str, tuple[Specs, Specs]]:
    """The TD-VAE rows of docs/export.md: sequences of any length in, ``H`` rolled-out frames out."""
    horizon, _ = tdvae_rollout(model)
    frame, seed = tuple(model.frame_shape), {"seed": (INT64, (-1, 2))}
    sequences = (FLOAT, (-1, -1, *frame))
    terms = {name: (FLOAT, (-1,)) for name in ("score", "reconstruction", "smoothing_kl", "transition_kl")}
    return {
        "serving_default": ({"x": sequences}, {"reconstruction": sequences}),
        "rollout": ({"context": sequences, **seed},
                    {"frames": (FLOAT, (-1, horizon, *frame)), "z": (FLOAT, (-1, horizon, model.state_dim))}),
        "score": ({"x": sequences, **seed}, terms),
    }


def tdvae_inputs(model, rng, length=None) -> dict[str, dict[str, np.ndarray]]:
    """Three sequences of ``max_jump + 4`` frames (in [0, 1]); the rollout reads their first 3 frames."""
    length = length or model.max_jump + 4
    x = rng.uniform(0, 1, (3, length, *model.frame_shape)).astype("float32")
    return {"serving_default": {"x": x}, "rollout": {"context": x[:, :3], "seed": SEEDS},
            "score": {"x": x, "seed": SEEDS}}


def tdvae_reference(model, signature: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``model(x)``; row i of ``rollout`` is ``model.rollout(context[i:i+1], H, jump, seed=seed[i])``,
    of ``score`` ``model.per_example_terms(x[i:i+1], seed=seed[i])``."""
    if signature == "serving_default":
        return {"reconstruction": model(inputs["x"]).numpy()}
    if signature == "rollout":
        horizon, jump = tdvae_rollout(model)
        rows = [model.rollout(c[None], horizon, jump, seed=seed, return_z=True)
                for c, seed in zip(inputs["context"], inputs["seed"])]
        return {"frames": np.concatenate([f.numpy() for f, _ in rows]), "z": np.concatenate([z.numpy() for _, z in rows])}
    if signature == "score":
        rows = [model.per_example_terms(x[None], seed=seed) for x, seed in zip(inputs["x"], inputs["seed"])]
        terms = {k: np.concatenate([r[k].numpy() for r in rows]) for k in rows[0]}
        return {"score": terms.pop("loss"), **terms}
    raise KeyError(signature)


# ------------------------------------------------------------ training data
#: examples per training batch of the generic model checks
BATCH = 4


def image_data(model, rng) -> np.ndarray:
    """``BATCH`` images in [0, 1] of the model's data shape."""
    return rng.uniform(0, 1, (BATCH, *model.data_shape)).astype("float32")


def binary_data(model, rng) -> np.ndarray:
    """``BATCH`` binary images (VQ models, Bernoulli likelihood)."""
    return (image_data(model, rng) > 0.5).astype("float32")


def labelled_data(model, rng) -> tuple[np.ndarray, np.ndarray]:
    """``(x, labels)``: images and int32 class labels in ``[0, num_classes)``."""
    return image_data(model, rng), rng.integers(0, model.num_classes, BATCH).astype("int32")


def sequence_data(model, rng) -> np.ndarray:
    """Zero-padded sine waves of at least 3 steps, ``[BATCH, T, 1]``."""
    return sine_sequences(BATCH, max_length=model.data_shape[0], min_length=3, seed=int(rng.integers(1000)))


def ratings_data(model, rng) -> np.ndarray:
    """Sparse low-rank rating vectors (zeros unobserved)."""
    return low_rank_ratings(BATCH, model.data_shape[0], density=0.4, seed=int(rng.integers(1000)))


def tdvae_data(model, rng) -> np.ndarray:
    """Sequences of ``max_jump + 4`` frames in [0, 1]."""
    return rng.uniform(0, 1, (BATCH, model.max_jump + 4, *model.frame_shape)).astype("float32")


def code_data(model, rng) -> np.ndarray | dict[str, np.ndarray]:
    """Code maps ``[BATCH, H, W]``; with the model's conditioning a dict ``{codes, label, condition}``."""
    codes = rng.integers(0, model.num_embeddings, (BATCH, *model.code_shape)).astype("int32")
    if not model.num_classes and model.condition_shape is None:
        return codes
    data = {"codes": codes}
    if model.num_classes:
        data["label"] = rng.integers(0, model.num_classes, BATCH).astype("int32")
    if model.condition_shape is not None:
        data["condition"] = rng.integers(0, model.condition_num_embeddings,
                                         (BATCH, *model.condition_shape)).astype("int32")
    return data


#: small TD-VAE networks
TDVAE_SMALL = {"latent_dim": 2, "embedding_dim": 8, "belief_units": 8, "block_units": 8}

#: small VQ models: 16 codes of dimension 4, one residual block
VQ_SMALL = {"num_embeddings": 16, "embedding_dim": 4, "filters": 8, "residual_filters": 4, "num_residual_blocks": 1}
#: small PixelCNN priors over their codes
PRIOR_SMALL = {"filters": 16, "num_layers": 2, "seed": 0}

SHAPE = (8, 8, 1)  # small: the matrix checks the contract, the CLI door real shapes; goldens stay small

FAMILIES: dict[str, Family] = {
    "autoencoder": Family(
        model="autoencoder", kind="reconstruction", data=image_data, config="autoencoder",
        build=lambda: Autoencoder.mlp(SHAPE, latent_dim=3, hidden_units=(16,), seed=2),
        expected=autoencoder_expected, reference=autoencoder_reference, inputs=autoencoder_inputs,
    ),
    "denoising_ae": Family(
        model="denoising_ae", kind="reconstruction", data=image_data, config="denoising_ae",
        build=lambda: DenoisingAE.mlp(SHAPE, latent_dim=3, hidden_units=(16,), corruption="salt_and_pepper", seed=4),
        expected=autoencoder_expected, reference=autoencoder_reference, inputs=autoencoder_inputs,
    ),
    "sparse_ae": Family(
        model="sparse_ae", kind="reconstruction", data=image_data, config="sparse_ae",
        build=lambda: SparseAE.mlp(SHAPE, latent_dim=3, hidden_units=(16,), sparsity="kl", code_activation="sigmoid",
                                   seed=5),
        expected=autoencoder_expected,
        reference=autoencoder_reference, inputs=autoencoder_inputs,
    ),
    "k_sparse_ae": Family(
        model="k_sparse_ae", kind="reconstruction", data=image_data, config="k_sparse_ae",
        build=lambda: KSparseAE.mlp(SHAPE, latent_dim=4, hidden_units=(16,), k=2, seed=6),
        expected=autoencoder_expected, reference=autoencoder_reference, inputs=autoencoder_inputs,
    ),
    "contractive_ae": Family(
        model="contractive_ae", kind="reconstruction", data=image_data, config="contractive_ae",
        build=lambda: ContractiveAE.mlp(SHAPE, latent_dim=3, hidden_units=(16,), likelihood="gaussian", seed=7),
        expected=lambda model: autoencoder_expected(model, ("loc", "scale")),
        reference=autoencoder_reference, inputs=autoencoder_inputs,
    ),
    "seq2seq_ae": Family(
        model="seq2seq_ae", kind="masked reconstruction", data=sequence_data, config="seq2seq_ae",
        build=lambda: Seq2SeqAE.recurrent((6, 1), latent_dim=3, hidden_units=(8,), cell="lstm", seed=8),
        expected=lambda model: autoencoder_expected(model, ("loc", "scale")),
        reference=terms_reference, inputs=sequence_inputs,
    ),
    "ratings_ae": Family(
        model="ratings_ae", kind="masked reconstruction", data=ratings_data, config="ratings_ae",
        build=lambda: RatingsAE.mlp((12,), latent_dim=3, hidden_units=(8,), activation="selu", likelihood="gaussian",
                                    dense_refeeding=True, seed=9),
        expected=lambda model: autoencoder_expected(model, ("loc", "scale")),
        reference=terms_reference, inputs=ratings_inputs,
    ),
    "cvae": Family(
        model="cvae", kind="conditional elbo", data=labelled_data, config="cvae",
        build=lambda: ConditionalVAE.mlp(SHAPE, num_classes=3, latent_dim=3, hidden_units=(16,), seed=10),
        expected=cvae_expected, reference=cvae_reference, inputs=cvae_inputs,
    ),
    "cvae_conditional_prior": Family(
        model="cvae", kind="conditional elbo", data=labelled_data,
        build=lambda: ConditionalVAE.conv(SHAPE, num_classes=3, latent_dim=3, filters=(4,), hidden_units=(8,),
                                          condition_embedding=2, conditional_prior=True, seed=11),
        expected=cvae_expected, reference=cvae_reference, inputs=cvae_inputs,
    ),
    "vae_mog_prior": Family(
        model="vae", kind="elbo", data=image_data,
        build=lambda: VAE.mlp(SHAPE, latent_dim=3, hidden_units=(16,), prior="mog", num_components=4, seed=12),
        expected=vae_expected, reference=vae_reference, inputs=vae_inputs,
    ),
    "vae_vamp_prior": Family(
        model="vae", kind="elbo", data=image_data,
        build=lambda: VAE.mlp(SHAPE, latent_dim=3, hidden_units=(16,), prior="vamp", num_pseudo_inputs=3, seed=13),
        expected=vae_expected, reference=vae_reference, inputs=vae_inputs,
    ),
    "vae": Family(
        model="vae", kind="elbo", data=image_data, config="vae",
        build=lambda: VAE.mlp(SHAPE, latent_dim=3, hidden_units=(16,), seed=0),
        expected=vae_expected, reference=vae_reference, inputs=vae_inputs,
    ),
    "beta_vae": Family(
        model="beta_vae", kind="elbo", data=image_data, config="beta_vae",
        build=lambda: BetaVAE.mlp(SHAPE, latent_dim=3, hidden_units=(16,), likelihood="continuous_bernoulli",
                                  beta=2.5, num_samples=2, seed=1),
        expected=vae_expected, reference=vae_reference, inputs=vae_inputs,
    ),
    "factor_vae": Family(
        model="factor_vae", kind="elbo with a second update", data=image_data, config="factor_vae_shapes",
        build=lambda: FactorVAE.mlp(SHAPE, latent_dim=3, hidden_units=(16,), discriminator_units=(8,), gamma=5.0,
                                    seed=15),
        expected=vae_expected, reference=vae_reference, inputs=vae_inputs,
    ),
    "iwae": Family(
        model="iwae", kind="elbo", data=image_data, config="iwae",
        build=lambda: IWAE.mlp(SHAPE, latent_dim=3, hidden_units=(16,), k=3, seed=14),
        expected=lambda model: vae_expected(model, score_terms=("iwae_bound", "elbo", "distortion", "rate")),
        reference=vae_reference, inputs=vae_inputs,
    ),
    "iaf_vae": Family(
        model="vae", kind="elbo", data=image_data, config="iaf_vae",
        build=lambda: VAE.mlp(SHAPE, latent_dim=3, hidden_units=(16,), posterior="iaf", kl="mc", flow_steps=2,
                              flow_hidden_units=(8,), flow_context_dim=4, seed=16),
        expected=vae_expected, reference=iaf_reference, inputs=vae_inputs,
        notes="an inverse autoregressive flow posterior (TFP bijectors), Monte-Carlo KL",
    ),
    "conv_vae_gaussian": Family(
        model="vae", kind="elbo", data=image_data, config="conv_vae",
        build=lambda: VAE.conv((8, 8, 2), latent_dim=3, filters=(4, 8), hidden_units=(8,), likelihood="gaussian",
                               likelihood_kwargs={"learn_scale": "per_dimension"}, kl="mc", num_samples=2, seed=3),
        expected=lambda model: vae_expected(model, ("loc", "scale")),
        reference=vae_reference, inputs=vae_inputs,
    ),
    "tdvae": Family(
        model="tdvae", kind="state-space elbo", data=tdvae_data, config="tdvae",
        build=lambda: TDVAE.mlp((12, 3), hidden_units=(8,), max_jump=3, pairs_per_sequence=2, seed=30, **TDVAE_SMALL),
        expected=tdvae_expected, reference=tdvae_reference, inputs=tdvae_inputs,
        notes="vector frames, rollout jumps max_jump = 3 steps",
    ),
    "vq_vae": Family(
        model="vqvae", kind="vector quantisation", data=binary_data, config="vqvae",
        build=lambda: VQVAE.conv(SHAPE, seed=20, **VQ_SMALL),
        expected=vq_expected, reference=vq_reference, inputs=vq_inputs,
    ),
    "vq_vae_class_prior": Family(
        model="vqvae", kind="vector quantisation with a prior", data=binary_data, same_model_as="vq_vae",
        build=lambda: VQVAE.conv(SHAPE, seed=21, **VQ_SMALL),
        prior=lambda model: model.make_prior(num_classes=3, **PRIOR_SMALL),
        expected=lambda model: vq_expected(model, prior=True, labels=True),
        reference=vq_reference, inputs=lambda model, rng: vq_inputs(model, rng, prior=True, labels=True),
    ),
    "vq_vae2": Family(
        model="vqvae2", kind="vector quantisation", data=binary_data, config="vqvae2",
        build=lambda: VQVAE2.conv((16, 16, 1), seed=22, **VQ_SMALL),
        expected=vq_expected, reference=vq_reference, inputs=vq_inputs,
    ),
    "vq_vae2_prior": Family(
        model="vqvae2", kind="vector quantisation with a prior", data=binary_data, same_model_as="vq_vae2",
        build=lambda: VQVAE2.conv((16, 16, 1), seed=23, **VQ_SMALL),
        prior=lambda model: model.make_prior(**PRIOR_SMALL),
        expected=lambda model: vq_expected(model, prior=True),
        reference=vq_reference, inputs=lambda model, rng: vq_inputs(model, rng, prior=True),
    ),
    "pixelcnn": Family(
        model="pixelcnn", kind="autoregressive", data=code_data,
        build=lambda: PixelCNN(num_embeddings=16, code_shape=(4, 4), filters=8, num_layers=2, seed=40),
        notes="no serving signatures of its own: served inside its VQ-VAE's sample (vq_vae_class_prior, "
              "vq_vae2_prior); the CLI door trains it with `tfvae train vq_prior --from RUN`",
    ),
    "pixelcnn_conditional": Family(
        model="pixelcnn", kind="autoregressive", data=code_data,
        build=lambda: PixelCNN(num_embeddings=16, code_shape=(4, 4), filters=8, num_layers=2, num_classes=3,
                               label_embedding=2, condition_shape=(2, 2), condition_num_embeddings=8,
                               attention_every=2, attention_heads=2, seed=41),
        notes="a class label, a coarser code map (VQ-VAE-2's bottom prior) and causal self-attention",
    ),
}


#: objective kind -> the family that runs the whole matrix in the fast pass. The other families of a kind run
#: the basic contract checks there (build, one fit = loop step, config round trip, the golden files) and the
#: rest of the matrix with ``-m slow`` (docs/contributing.md, "How a family enters the tiers").
REPRESENTATIVES = {
    "reconstruction": "autoencoder",
    "masked reconstruction": "seq2seq_ae",
    "elbo": "vae",
    "elbo with a second update": "factor_vae",
    "conditional elbo": "cvae",
    "state-space elbo": "tdvae",
    "vector quantisation": "vq_vae",
    "vector quantisation with a prior": "vq_vae_class_prior",
    "autoregressive": "pixelcnn",
}


def tiered(names: Iterable[str]) -> list:
    """``names`` as test parameters: a kind's representative as it is, any other family marked ``slow``."""
    representatives = set(REPRESENTATIVES.values())
    return [name if name in representatives else pytest.param(name, marks=pytest.mark.slow) for name in names]
