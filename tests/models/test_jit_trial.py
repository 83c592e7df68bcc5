"""jit_compile="auto": the run's first calls time XLA against the plain graph, and the run keeps the faster."""

from __future__ import annotations

import time

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
    model.compile(optimizer=keras.optimizers.Adam(1e-3), steps_per_execution=1)
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


@pytest.fixture
def quick_trial(monkeypatch):
    """A trial that decides after two timed calls of each variant, for runs of >= 4 steps."""
    monkeypatch.setattr(jit_trial, "TRIAL_MIN_STEPS", 4)
    monkeypatch.setattr(jit_trial, "TRIAL_CALLS", 2)
    monkeypatch.setattr(jit_trial, "TRIAL_MIN_SECONDS", 0.0)


class Variant:
    """A training function that takes ``seconds`` per step and logs which variant ran."""

    def __init__(self, name, seconds, calls, fail=False):
        self.name, self.seconds, self.calls, self.fail = name, seconds, calls, fail

    def __call__(self, iterator):
        self.calls.append(self.name)
        if self.fail:
            raise tf.errors.InvalidArgumentError(None, None, "Detected unsupported operations when trying to compile")
        time.sleep(self.seconds)
        return next(iterator)


def test_the_trial_alternates_real_calls_and_keeps_the_faster(quick_trial):
    calls, decisions = [], []
    variants = {False: Variant("graph", 0.02, calls), True: Variant("xla", 0.002, calls)}
    trial = jit_trial.AlternatingTrial(variants, steps_of=lambda _: 4, on_decided=decisions.append)
    batches = iter(range(100))
    results = [trial(batches) for _ in range(10)]
    assert results == list(range(10))  # every call is a real step on the next batch, none lost or repeated
    # one untimed call of each (tracing, compiling), then alternated until each has TRIAL_CALLS timed calls
    assert calls[:6] == ["graph", "xla", "graph", "xla", "graph", "xla"]
    assert calls[6:] == ["xla"] * 4  # decided: only the faster from then on
    (decision,) = decisions
    assert decision.jit_compile and decision.calls == 2 and trial.decision is decision
    # the timed calls were those after the warm-up; per step, so divided by the steps each call ran
    assert decision.graph_step_s == pytest.approx(0.02 / 4, rel=0.5)
    assert decision.xla_step_s == pytest.approx(0.002 / 4, abs=0.002)
    # the trial's cost: what it spent beyond a run given XLA (XLA's first call, then 0.002 s per call):
    # the graph's three calls, less XLA's time for the same steps
    assert decision.speedup > 2 and 3 * 0.018 - 0.01 < decision.cost_s < 3 * 0.018 + 0.03


def test_a_variant_that_does_not_compile_with_xla_loses_and_the_run_goes_on(quick_trial):
    calls, decisions = [], []
    variants = {False: Variant("graph", 0.0, calls), True: Variant("xla", 0.0, calls, fail=True)}
    trial = jit_trial.AlternatingTrial(variants, steps_of=lambda steps: 1, on_decided=decisions.append)
    batches = iter(range(100))
    assert [trial(batches) for _ in range(3)] == [0, 1, 2]
    assert calls == ["graph", "xla", "graph", "graph"]
    assert not decisions[0].jit_compile and "InvalidArgumentError" in decisions[0].xla_error
    assert "does not compile with XLA" in decisions[0].describe()


@pytest.mark.slow
@pytest.mark.parametrize("driver", ["fit", "loop"])
def test_a_long_run_decides_by_trial_and_trains_as_with_the_choice_given(driver, data, quick_trial):
    model = make_model()
    if driver == "fit":
        model.fit(data, batch_size=BATCH, epochs=3, verbose=0)
    else:
        train_loop(model, data, batch_size=BATCH, epochs=3, verbose=0, steps_per_execution=1)
    trial = model.jit_trial
    assert isinstance(trial, jit_trial.JitTrial) and not trial.cached and trial.calls == 2
    assert np.isfinite(trial.xla_step_s) and np.isfinite(trial.graph_step_s)
    if driver == "fit":
        assert bool(model.jit_compile) == trial.jit_compile

    reference = make_model()  # the same run with the trial's choice given explicitly: no trial
    if driver == "fit":
        reference.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=trial.jit_compile, steps_per_execution=1)
        reference.fit(data, batch_size=BATCH, epochs=3, verbose=0)
    else:
        train_loop(reference, data, batch_size=BATCH, epochs=3, verbose=0, steps_per_execution=1,
                   jit_compile=trial.jit_compile)
    assert reference.jit_trial is None
    # the trial's calls were real steps of the same run (XLA and graph agree to float tolerance)
    assert int(model.optimizer.iterations) == int(reference.optimizer.iterations) == 12
    for a, b in zip(state(model), state(reference)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_a_short_run_keeps_the_static_rule_without_a_trial(data):
    model = make_model()
    model.fit(data, batch_size=BATCH, epochs=1, verbose=0)  # 4 steps < TRIAL_MIN_STEPS
    assert model.jit_trial is None and model.jit_compile is False  # no accelerator here


@pytest.mark.slow
def test_the_decision_is_cached_per_config_and_shape(data, quick_trial, capsys):
    first, second = make_model(), make_model()
    train_loop(first, data, batch_size=BATCH, epochs=2, verbose=1, steps_per_execution=1)
    train_loop(second, data, batch_size=BATCH, epochs=2, verbose=1, steps_per_execution=1)
    assert not first.jit_trial.cached and second.jit_trial.cached
    assert second.jit_trial.jit_compile == first.jit_trial.jit_compile
    out = capsys.readouterr().out
    assert out.count("jit_compile='auto'") == 2 and "decided by an earlier trial" in out
    other_batch = make_model()
    train_loop(other_batch, data, batch_size=BATCH // 2, epochs=2, verbose=0, steps_per_execution=1)
    assert not other_batch.jit_trial.cached


@pytest.mark.parametrize("binarize", [None, "dynamic"])  # dynamic: batches zipped with their seeds
def test_the_batch_size_is_read_from_a_tfvae_dataset(binarize):
    dataset = load_dataset("digits", "train", batch_size=64, limit=256, binarize=binarize)
    assert jit_trial.batch_size_of(dataset) == 64
    assert jit_trial.planned_steps(dataset, epochs=3, initial_epoch=1) == 2 * 4
