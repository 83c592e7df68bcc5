"""TD-VAE export: ``serving_default`` (filtered reconstructions), seeded ``rollout`` and ``score``.

The generic checks (clean-process load, saved_model_cli, warmup, wrong shapes)
run over the TD-VAE families of ``tests/conformance/families.py``; these
tests pin the row semantics, the export options and the error messages.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf

from tfvae import VAE
from tfvae.cli import build_parser
from tfvae.export import ExportError, ServingModule, export_saved_model, signature_table
from tfvae.models.sequential.td_vae import TDVAE

SMALL = {"latent_dim": 2, "embedding_dim": 8, "belief_units": 8, "block_units": 8}
SEEDS = np.array([[5, 0], [5, 1], [-3, 9]], np.int64)


@pytest.fixture(scope="module")
def served():
    """A TD-VAE on 3-vectors (max_jump 3) and its default signatures (H = 6, jump = 3)."""
    model = TDVAE.mlp((12, 3), hidden_units=(8,), max_jump=3, pairs_per_sequence=2, seed=0, **SMALL)
    return SimpleNamespace(model=model, functions=ServingModule(model).concrete_functions)


def sequences(rng, length, n=3):
    return rng.normal(size=(n, length, 3)).astype("float32")


def test_default_rollout_is_twice_max_jump_frames_max_jump_steps_apart(served):
    assert served.model.rollout_settings() == (6, 3)
    outputs = served.functions["rollout"].structured_outputs
    assert outputs["frames"].shape.as_list() == [None, 6, 3] and outputs["z"].shape.as_list() == [None, 6, 2]
    unconditioned = TDVAE.mlp((5, 2), hidden_units=(4,), max_jump=4, condition_on_jump=False, seed=0)
    assert unconditioned.rollout_settings() == (8, 1)


@pytest.mark.parametrize("context_length", [1, 7])
def test_rollout_row_i_is_model_rollout_of_row_i_with_seed_i(served, rng, context_length):
    context = sequences(rng, context_length)
    out = served.functions["rollout"](context=tf.constant(context), seed=tf.constant(SEEDS))
    assert out["frames"].shape == (3, 6, 3) and out["z"].shape == (3, 6, 2)
    for i, seed in enumerate(SEEDS):
        frames, z = served.model.rollout(context[i:i + 1], 6, 3, seed=seed, return_z=True)
        np.testing.assert_array_equal(out["frames"][i], frames[0])
        np.testing.assert_array_equal(out["z"][i], z[0])
    # an int seed s is the pair [s, 0]
    np.testing.assert_array_equal(out["frames"][0], served.model.rollout(context[:1], 6, 3, seed=5)[0])


def test_rollout_is_deterministic_for_a_seed_and_varies_with_it(served, rng):
    context = tf.constant(np.repeat(sequences(rng, 4, n=1), 2, axis=0))  # one context, twice
    seeds = tf.constant([[1, 2], [1, 3]], tf.int64)
    first = served.functions["rollout"](context=context, seed=seeds)
    again = served.functions["rollout"](context=context, seed=seeds)
    np.testing.assert_array_equal(first["frames"], again["frames"])
    assert not np.allclose(first["z"][0], first["z"][1])  # another seed, another draw


def test_score_row_i_is_per_example_terms_of_row_i_with_seed_i(served, rng):
    x = sequences(rng, 9)
    out = {k: v.numpy() for k, v in served.functions["score"](x=tf.constant(x), seed=tf.constant(SEEDS)).items()}
    assert sorted(out) == ["reconstruction", "score", "smoothing_kl", "transition_kl"]
    for i, seed in enumerate(SEEDS):
        terms = served.model.per_example_terms(x[i:i + 1], seed=seed)
        np.testing.assert_allclose(out["score"][i], terms["loss"][0], rtol=1e-5, atol=1e-5)
        for name in ("reconstruction", "smoothing_kl", "transition_kl"):
            np.testing.assert_allclose(out[name][i], terms[name][0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["score"], out["reconstruction"] + out["smoothing_kl"] + out["transition_kl"],
                               rtol=1e-5, atol=1e-5)
    again = served.functions["score"](x=tf.constant(x), seed=tf.constant(SEEDS))
    np.testing.assert_array_equal(again["score"], out["score"])


def test_serving_default_is_the_model_call_for_any_length(served, rng):
    for length in (2, 12):
        x = sequences(rng, length)
        out = served.functions["serving_default"](x=tf.constant(x))["reconstruction"]
        np.testing.assert_allclose(out, served.model(x), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    ("signature", "feed", "message"),
    [
        ("score", {"x": (3, 3, 3)}, r"x needs sequences of at least 4 time steps \(max_jump \+ 1"),
        ("score", {"x": (3, 12, 2)}, r"x must have shape \(batch, time, 3\); got\] \[3 12 2\]"),
        ("score", {"seed": (3, 3)}, r"seed must have shape \(batch, 2\)"),
        ("score", {"seed": (2, 2)}, "seed needs one row per example of x"),
        ("score", {"x": "nan"}, "x contains NaN"),
        ("rollout", {"context": (3, 0, 3)}, "context needs sequences of at least 1 time step;"),
        ("rollout", {"context": (3, 4)}, r"context must have shape \(batch, time, 3\)"),
        ("rollout", {"context": "nan"}, "context contains NaN"),
        ("rollout", {"seed": (1, 2)}, "seed needs one row per example of context"),
        ("serving_default", {"x": (3, 5, 4)}, r"x must have shape \(batch, time, 3\)"),
    ],
)
def test_bad_inputs_fail_in_graph_with_clear_messages(served, signature, feed, message):
    valid = {"serving_default": {"x": np.zeros((3, 5, 3), np.float32)},
             "rollout": {"context": np.zeros((3, 2, 3), np.float32), "seed": SEEDS},
             "score": {"x": np.zeros((3, 5, 3), np.float32), "seed": SEEDS}}[signature]
    inputs = dict(valid)
    for key, value in feed.items():
        if value == "nan":
            inputs[key] = np.full_like(valid[key], np.nan)
        else:
            inputs[key] = np.zeros(value, valid[key].dtype)
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        served.functions[signature](**{k: tf.constant(v) for k, v in inputs.items()})


def test_image_frames_with_latent_layers_and_no_jump_conditioning(rng):
    model = TDVAE.conv((4, 8, 8, 1), filters=(4,), hidden_units=(8,), num_layers=2, max_jump=2,
                       condition_on_jump=False, seed=1, **SMALL)
    functions = ServingModule(model).concrete_functions  # H = 4 frames, jump 1
    context = (rng.uniform(size=(2, 3, 8, 8, 1)) > 0.5).astype("float32")
    out = functions["rollout"](context=tf.constant(context), seed=tf.constant(SEEDS[:2]))
    assert out["frames"].shape == (2, 4, 8, 8, 1) and out["z"].shape == (2, 4, 4)
    for i, seed in enumerate(SEEDS[:2]):
        np.testing.assert_array_equal(out["frames"][i], model.rollout(context[i:i + 1], 4, seed=seed)[0])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"x must have shape \(batch, time, 8, 8, 1\)"):
        functions["serving_default"](x=tf.zeros([2, 3, 8, 8, 2]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="x needs sequences of at least 3 time steps"):
        functions["score"](x=tf.zeros([2, 2, 8, 8, 1]), seed=tf.constant(SEEDS[:2]))


def test_options_set_the_rollout_horizon_and_jump(served, rng, tmp_path):
    path = export_saved_model(served.model, tmp_path / "tdvae", options={"horizon": 2, "jump": 1}, warmup=False)
    loaded = tf.saved_model.load(str(path))
    context = sequences(rng, 3)
    out = loaded.signatures["rollout"](context=tf.constant(context), seed=tf.constant(SEEDS))
    assert out["frames"].shape == (3, 2, 3)
    for i, seed in enumerate(SEEDS):
        np.testing.assert_allclose(out["frames"][i], served.model.rollout(context[i:i + 1], 2, 1, seed=seed)[0],
                                   rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"horizon": 0}, "horizon must be >= 1"),
        ({"jump": 4}, r"jump must be in \[1, max_jump=3\]"),
        ({"jump": 1.5}, "must be an integer"),
        ({"steps": 3}, r"unknown TDVAE export options \['steps'\]"),
    ],
)
def test_bad_options_fail_at_export(served, options, message):
    with pytest.raises(ExportError, match=message):
        ServingModule(served.model, options=options)


def test_jump_must_be_one_without_jump_conditioning():
    model = TDVAE.mlp((5, 2), hidden_units=(4,), max_jump=3, condition_on_jump=False, seed=0)
    with pytest.raises(ExportError, match="condition_on_jump=False"):
        ServingModule(model, options={"jump": 2})


def test_families_without_options_refuse_them():
    model = VAE.mlp((4,), latent_dim=2, hidden_units=(4,), seed=0)
    with pytest.raises(ExportError, match="take no export options"):
        ServingModule(model, options={"horizon": 3})
    assert [row[0] for row in signature_table(ServingModule(model, options={}))] == [
        "decode", "encode", "sample", "score", "serving_default"]


def test_cli_parses_export_options():
    args = build_parser().parse_args(["export", "runs/tdvae", "--option", "horizon=8", "--option", "jump=2"])
    assert dict(args.option) == {"horizon": 8, "jump": 2}
    with pytest.raises(SystemExit):
        build_parser().parse_args(["export", "runs/tdvae", "--option", "horizon"])
