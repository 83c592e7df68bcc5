"""Generic model checks run over EVERY family of the conformance registry (families.py).

- one Keras ``fit`` step and one :func:`tfvae.loops.train_loop` step give the same weights;
- eager, ``tf.function`` and XLA agree on ``loss_terms`` (the same seed
  states) and ``model(batch)``;
- under ``mixed_float16`` / ``mixed_bfloat16`` the networks compute in half
  precision while losses and distributions stay float32;
- ``get_config`` / ``from_config`` round trips of the model and of every
  tfvae layer inside it, and (for families without serving signatures, the
  others are in test_conformance.py) the ``.keras`` round trip.

Each check builds the family's tiny model and runs one batch of
``families.BATCH`` examples. The fast pass runs every check on one family per
objective kind and the basic ones (one training step, config round trip) on
every family; ``-m slow`` runs the rest of the matrix (``families.tiered``).
"""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from conformance.families import FAMILIES, tiered

from tfvae.export import load_keras, save_keras
from tfvae.loops import train_loop
from tfvae.models import gradient_step
from tfvae.models.autoencoders.autoencoder import Autoencoder
from tfvae.models.quantized.pixelcnn import PixelCNN
from tfvae.models.sequential.td_vae import TDVAE

#: every family but those that only export the same model with a prior (``Family.same_model_as``)
NAMES = sorted(name for name, family in FAMILIES.items() if family.same_model_as is None)
#: the whole matrix for a kind's representative in the fast pass, for the others with -m slow (families.tiered);
#: the basic contract checks (one training step, the config round trip) run on NAMES in the fast pass
TIERED = tiered(NAMES)
#: the same computation in two drivers / two models
TIGHT = {"rtol": 1e-5, "atol": 1e-6}
#: XLA fuses and reorders float arithmetic
XLA = {"rtol": 1e-4, "atol": 1e-5}


def make(name: str, seed: int = 0):
    """``(family, model, batch)``: the family's fresh model and one training batch."""
    family = FAMILIES[name]
    model = family.build()
    return family, model, family.data(model, np.random.default_rng(seed))


def snapshot(model) -> list[np.ndarray]:
    """Every variable of the model: weights, ``steps_done`` and the seed generators' states."""
    return [np.array(v) for v in model.variables]


def restore(model, values: list[np.ndarray]) -> None:
    assert [tuple(v.shape) for v in model.variables] == [tuple(np.shape(x)) for x in values]
    for variable, value in zip(model.variables, values):
        variable.assign(value)


def as_tensors(batch):
    return tf.nest.map_structure(tf.convert_to_tensor, batch)


def canonical(config: dict) -> str:
    return json.dumps(config, sort_keys=True, default=repr)


def outputs(model, batch) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
    """What the checks compare: the loss terms (evaluation mode) and the model's deterministic call."""
    return model.loss_terms(batch, training=False), model(batch, training=False)


def as_numpy(result) -> tuple[dict[str, np.ndarray], np.ndarray]:
    terms, called = result
    return {k: np.asarray(v) for k, v in terms.items()}, np.asarray(called)


# ------------------------------------------------------------------ one step
@pytest.mark.parametrize("name", NAMES)
def test_one_training_step_moves_the_weights_and_keeps_them_finite(name):
    """The basic check every family runs in the fast pass: one eager step of the optimizer fit and the loop use."""
    _, model, batch = make(name)
    start = snapshot(model)
    optimizers = model.prepare_update_optimizers(keras.optimizers.Adam(1e-2))  # one per declared update
    assert list(optimizers) == [update.name for update in model.updates]
    terms = gradient_step(model, optimizers, batch)
    assert sorted(terms) == sorted(model.loss_term_names)
    assert all(np.all(np.isfinite(np.asarray(v))) for v in terms.values()), terms
    assert [int(optimizer.iterations) for optimizer in optimizers.values()] == [1] * len(optimizers)
    trainable = [i for i, v in enumerate(model.variables) if v.trainable]
    moved = max(float(np.abs(np.asarray(model.variables[i]) - start[i]).max()) for i in trainable)
    assert moved > 1e-3, "the step changed the weights"
    assert all(np.all(np.isfinite(np.asarray(model.variables[i]))) for i in trainable)


# ------------------------------------------------------------------ fit = loop
@pytest.mark.parametrize("name", TIERED)
def test_one_fit_step_equals_one_train_loop_step(name):
    family, fitted, batch = make(name)
    looped = family.build()
    start = snapshot(fitted)
    restore(looped, start)  # the same weights and seed states
    dataset = tf.data.Dataset.from_tensors(batch)

    fitted.compile(optimizer=keras.optimizers.Adam(1e-2), steps_per_execution=1, jit_compile=False)
    fit_loss = fitted.fit(dataset, epochs=1, verbose=0).history["loss"][0]
    loop_loss = train_loop(looped, dataset, optimizer=keras.optimizers.Adam(1e-2), steps_per_execution=1,
                           jit_compile=False, verbose=0)["loss"][0]

    assert np.isfinite(fit_loss)
    np.testing.assert_allclose(loop_loss, fit_loss, rtol=1e-6)
    assert int(fitted.steps_done) == int(looped.steps_done) == 1
    moved = max(float(np.abs(np.asarray(v) - s).max()) for v, s in zip(fitted.variables, start) if v.trainable)
    assert moved > 1e-3, "the step changed the weights"
    for a, b in zip(fitted.variables, looped.variables):  # weights, EMA codebooks, seed states
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), **TIGHT, err_msg=f"{name}: {a.path}")


# --------------------------------------------------------- eager = graph = XLA
def xla_draws_as_graph() -> bool:
    """Whether XLA turns a stateless seed into the same numbers as eager/graph on this device.

    It does on CPU with TF 2.21; TF_STACK_NOTES records devices where it does
    not (there only seed-independent numbers can be compared across modes).
    """
    seed = tf.constant([7, 3], tf.int64)

    def draw():
        return tf.random.stateless_normal([64], seed), tf.random.stateless_uniform([64], seed)

    return all(np.allclose(a, b, rtol=1e-5, atol=1e-6) for a, b in zip(draw(), tf.function(draw, jit_compile=True)()))


@pytest.mark.parametrize("name", TIERED)
def test_eager_graph_and_xla_agree(name):
    """From the same variables and seed states, eager, graph and XLA compute the
    same ``loss_terms`` and ``model(batch)``; where XLA draws other numbers from a
    stateless seed (xla_draws_as_graph), the terms that depend on the seed are
    only checked to be finite and repeatable under XLA."""
    _, model, batch = make(name)
    batch = as_tensors(batch)
    start = snapshot(model)
    eager = as_numpy(outputs(model, batch))
    advanced = as_numpy(outputs(model, batch))  # the seed generators moved on: other draws
    seeded = {k for k in eager[0] if not np.array_equal(eager[0][k], advanced[0][k])}
    np.testing.assert_array_equal(advanced[1], eager[1], err_msg="model(batch) is deterministic")

    def run(function):
        restore(model, start)
        return as_numpy(function(batch))

    graph = run(tf.function(lambda b: outputs(model, b)))
    xla_function = tf.function(lambda b: outputs(model, b), jit_compile=True)
    xla, xla_again = run(xla_function), run(xla_function)
    same_draws = xla_draws_as_graph()

    assert sorted(graph[0]) == sorted(xla[0]) == sorted(eager[0]) == sorted(model.loss_term_names)
    for key in eager[0]:
        np.testing.assert_allclose(graph[0][key], eager[0][key], **TIGHT, err_msg=f"graph {key}")
        assert np.all(np.isfinite(xla[0][key])), f"XLA {key}"
        np.testing.assert_array_equal(xla_again[0][key], xla[0][key], err_msg=f"XLA {key}: same seed, same numbers")
        if same_draws or key not in seeded:
            np.testing.assert_allclose(xla[0][key], eager[0][key], **XLA, err_msg=f"XLA {key}")
    np.testing.assert_allclose(graph[1], eager[1], **TIGHT, err_msg="graph model(batch)")
    np.testing.assert_allclose(xla[1], eager[1], **XLA, err_msg="XLA model(batch)")


# ------------------------------------------------------------- mixed precision
def distributions(model, batch) -> dict:
    """The distributions the model hands to people: ``q(z|x)`` and ``p(x|z)`` (or its joint over codes)."""
    if isinstance(model, PixelCNN):
        return {"distribution": model.distribution(batch)}
    if isinstance(model, TDVAE):
        return {"decode": model.decode(tf.zeros([len(batch), model.state_dim]))}
    assert isinstance(model, Autoencoder), type(model)
    x, condition = batch if model.capabilities.conditional else (batch, None)
    q = model.encode(x, condition)
    return {"encode": q, "decode": model.decode(model.posterior.point(q), condition)}


def data_of(model, batch):
    """The data part of a batch, in the distribution's event space."""
    if isinstance(model, PixelCNN):
        return batch["codes"] if isinstance(batch, dict) else batch
    return batch[0] if model.capabilities.conditional else batch


# mixed_float16 has no native CPU kernels: its rows are the slow pass's, bfloat16's the fast one's
@pytest.mark.parametrize("policy", [pytest.param("mixed_float16", marks=pytest.mark.slow), "mixed_bfloat16"])
@pytest.mark.parametrize("name", TIERED)
def test_mixed_precision_computes_in_half_and_keeps_losses_and_distributions_float32(name, policy):
    keras.mixed_precision.set_global_policy(policy)  # before building; conftest restores float32
    _, model, batch = make(name)
    half = policy.removeprefix("mixed_")
    assert any(layer.compute_dtype == half for layer in model._flatten_layers()), "the networks compute in half"
    assert all(v.dtype == "float32" for v in model.trainable_variables), "variables stay float32"

    terms = model.loss_terms(batch, training=False)
    for key, value in terms.items():
        assert value.dtype == tf.float32, (key, value.dtype)
        assert np.all(np.isfinite(value.numpy())), key
    assert model(batch).dtype == tf.float32

    for key, distribution in distributions(model, batch).items():
        if isinstance(model, PixelCNN):  # a joint over int codes: its log-probabilities are float32
            assert distribution.log_prob(data_of(model, batch)).dtype == tf.float32
            continue
        assert distribution.dtype == tf.float32, (key, distribution.dtype)
        code = model.posterior.point(distribution) if key == "encode" else distribution.mean()  # a flow has no mean
        assert code.dtype == tf.float32, key
        if key == "decode" and not isinstance(model, TDVAE):
            assert distribution.log_prob(data_of(model, batch)).dtype == tf.float32

    # one training step with the optimizer train_loop / fit use under the policy
    optimizers = model.prepare_update_optimizers(keras.optimizers.Adam(1e-3))  # loss-scaled under mixed_float16
    assert all(isinstance(o, keras.optimizers.LossScaleOptimizer) == (policy == "mixed_float16")
               for o in optimizers.values())
    stepped = gradient_step(model, optimizers, batch)
    assert all(np.all(np.isfinite(v.numpy())) for v in stepped.values())
    assert all(np.all(np.isfinite(np.asarray(v))) for v in model.trainable_variables)


# ------------------------------------------------------------------ round trips
@pytest.mark.parametrize("name", NAMES)
def test_config_round_trip_of_the_model_and_every_tfvae_layer(name):
    _, model, batch = make(name)
    config = model.get_config()
    clone = type(model).from_config(config)
    assert type(clone) is type(model)
    assert canonical(clone.get_config()) == canonical(config)
    restore(clone, snapshot(model))
    np.testing.assert_allclose(np.asarray(clone(batch)), np.asarray(model(batch)), **TIGHT)
    ours, theirs = as_numpy(outputs(model, batch)), as_numpy(outputs(clone, batch))  # same seeds, same options
    for key in ours[0]:
        np.testing.assert_allclose(theirs[0][key], ours[0][key], **TIGHT, err_msg=key)

    layers = [layer for layer in model._flatten_layers(include_self=False)
              if type(layer).__module__.startswith("tfvae.")]
    assert layers, "the model is made of tfvae layers"
    for layer in layers:
        layer_config = layer.get_config()
        again = type(layer).from_config(layer_config)
        assert type(again) is type(layer)
        assert canonical(again.get_config()) == canonical(layer_config), f"{type(layer).__name__} {layer.name}"


@pytest.mark.parametrize("name", tiered(name for name in NAMES if not FAMILIES[name].serves))
def test_keras_file_round_trip_of_families_without_signatures(name, tmp_path):
    """(Families with signatures: test_conformance.test_keras_file_round_trip_resumes_and_computes_the_same.)"""
    _, model, batch = make(name)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    gradient_step(model, model.optimizer, batch)  # off the initial weights
    loaded = load_keras(save_keras(model, tmp_path / "model.keras"))
    assert type(loaded) is type(model)
    assert canonical(loaded.get_config()) == canonical(model.get_config())
    for a, b in zip(model.variables, loaded.variables):
        np.testing.assert_array_equal(np.asarray(b), np.asarray(a), err_msg=a.path)
    assert int(loaded.optimizer.iterations) == 1
    np.testing.assert_allclose(np.asarray(loaded(batch)), np.asarray(model(batch)), **TIGHT)
    ours, theirs = as_numpy(outputs(model, batch)), as_numpy(outputs(loaded, batch))
    for key in ours[0]:
        np.testing.assert_allclose(theirs[0][key], ours[0][key], **TIGHT, err_msg=key)


@pytest.mark.parametrize("name", TIERED)
def test_the_seed_determines_the_initial_weights(name):
    """``seed=`` alone fixes the initial weights: whatever Python's random stream held before, and untouched after."""
    import random

    random.seed(1)
    first = snapshot(FAMILIES[name].build())
    random.seed(2)
    state = random.getstate()
    second = snapshot(FAMILIES[name].build())
    assert random.getstate() == state, "building a seeded model moved the caller's Python random stream"
    assert len(first) == len(second)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_another_seed_gives_other_initial_weights():
    first = [np.array(v) for v in Autoencoder.mlp(data_shape=(4,), latent_dim=2, hidden_units=(3,), seed=0).weights]
    second = [np.array(v) for v in Autoencoder.mlp(data_shape=(4,), latent_dim=2, hidden_units=(3,), seed=1).weights]
    assert any(not np.array_equal(a, b) for a, b in zip(first, second))
