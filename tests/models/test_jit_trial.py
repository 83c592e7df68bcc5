"""jit_compile="auto": a timed trial of XLA against the plain graph that leaves the model as it found it."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfvae.data import load_dataset
from tfvae.loops import train_loop
from tfvae.models import VAE, jit_trial

BATCH = 100


def make_model():
    model = VAE.mlp(latent_dim=2, hidden_units=(16,), seed=3)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def state(model):
    return [v.numpy().copy() for v in (*model.variables, *model.optimizer.variables)]


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return (rng.random((400, 28, 28, 1)) < 0.3).astype("float32")


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch):
    monkeypatch.setattr(jit_trial, "_CACHE", {})


def test_the_trial_times_both_and_puts_every_variable_back(data):
    model = make_model()
    model.fit(data, batch_size=BATCH, epochs=1, verbose=0)  # moments, iterations, seed state all non-zero
    before = state(model)
    batch = jit_trial.trial_batch(tf.TensorSpec((None, 28, 28, 1), tf.float32), BATCH)
    trial = jit_trial.run_jit_trial(model, model.optimizer, batch, steps_per_execution=4, on_nonfinite="stop",
                                    rounds=2)
    assert trial.xla_step_s > 0 and trial.graph_step_s > 0 and trial.cost_s > 0
    assert trial.jit_compile == (trial.xla_step_s < trial.graph_step_s)
    assert trial.speedup == pytest.approx(trial.graph_step_s / trial.xla_step_s)
    for a, b in zip(before, state(model)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
@pytest.mark.parametrize("driver", ["fit", "loop"])
def test_a_long_run_decides_by_trial_and_trains_as_if_none_ran(driver, data, monkeypatch):
    monkeypatch.setattr(jit_trial, "TRIAL_MIN_STEPS", 4)  # 400 / 100 * 2 epochs = 8 steps
    model = make_model()
    if driver == "fit":
        model.fit(data, batch_size=BATCH, epochs=2, verbose=0)
    else:
        train_loop(model, data, batch_size=BATCH, epochs=2, verbose=0)
    trial = model.jit_trial
    assert isinstance(trial, jit_trial.JitTrial) and not trial.cached
    if driver == "fit":
        assert bool(model.jit_compile) == trial.jit_compile

    reference = make_model()  # the same run with the trial's choice given explicitly: no trial
    if driver == "fit":
        reference.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=trial.jit_compile)
        reference.fit(data, batch_size=BATCH, epochs=2, verbose=0)
    else:
        train_loop(reference, data, batch_size=BATCH, epochs=2, verbose=0, jit_compile=trial.jit_compile)
    assert reference.jit_trial is None
    for a, b in zip(state(model), state(reference)):
        np.testing.assert_array_equal(a, b)


def test_a_short_run_keeps_the_static_rule_without_a_trial(data):
    model = make_model()
    model.fit(data, batch_size=BATCH, epochs=1, verbose=0)  # 4 steps < TRIAL_MIN_STEPS
    assert model.jit_trial is None and model.jit_compile is False  # no accelerator here


@pytest.mark.slow
def test_the_decision_is_cached_per_config_and_shape(data, monkeypatch, capsys):
    monkeypatch.setattr(jit_trial, "TRIAL_MIN_STEPS", 1)
    first, second = make_model(), make_model()
    train_loop(first, data, batch_size=BATCH, epochs=1, verbose=1)
    train_loop(second, data, batch_size=BATCH, epochs=1, verbose=1)
    assert not first.jit_trial.cached and second.jit_trial.cached
    assert second.jit_trial.jit_compile == first.jit_trial.jit_compile
    out = capsys.readouterr().out
    assert out.count("jit_compile='auto'") == 2 and "decided by an earlier trial" in out
    other_batch = make_model()
    train_loop(other_batch, data, batch_size=BATCH // 2, epochs=1, verbose=0)
    assert not other_batch.jit_trial.cached


def test_the_batch_size_is_read_from_a_tfvae_dataset():
    dataset = load_dataset("digits", "train", batch_size=64, limit=256)
    assert jit_trial.batch_size_of(dataset) == 64
    assert jit_trial.planned_steps(dataset, epochs=3, initial_epoch=1) == 2 * 4


def test_trial_batches_follow_the_spec():
    spec = (tf.TensorSpec((None, 5), tf.float32), tf.TensorSpec((None,), tf.int32))
    x, y = jit_trial.trial_batch(spec, 7)
    assert x.shape == (7, 5) and y.shape == (7,) and y.dtype == tf.int32
    assert float(tf.reduce_min(x)) >= 0 and float(tf.reduce_max(x)) < 1
