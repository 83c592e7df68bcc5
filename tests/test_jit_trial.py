"""jit_compile="auto": the run's first calls time XLA against the plain graph, and the run keeps the faster."""

from __future__ import annotations

import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfvae import jit_trial
from tfvae.data import load_dataset
from tfvae.loops import _make_runner, train_loop
from tfvae.models import VAE
from tfvae.models.quantized.pixelcnn import PixelCNN
from tfvae.random import normal

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
        batch = next(iterator)  # a real variant takes its batch before XLA compiles (and fails)
        if self.fail:
            raise tf.errors.InvalidArgumentError(None, None, "Detected unsupported operations when trying to compile")
        time.sleep(self.seconds)
        return batch


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
    assert [trial(batches) for _ in range(3)] == [0, 1, 2]  # the graph ran the batch the failed XLA call took
    assert calls == ["graph", "xla", "graph", "graph"]
    assert not decisions[0].jit_compile and "InvalidArgumentError" in decisions[0].xla_error
    assert "does not compile with XLA" in decisions[0].describe()


class Uncompilable(VAE):
    """A VAE whose step XLA cannot compile (a ``tf.py_function``), logging the sum of every batch it trains on."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen = []

    def loss_terms(self, data, training: bool = False):
        tf.py_function(lambda total: self.seen.append(round(float(total), 3)), [tf.reduce_sum(data)], [])
        return super().loss_terms(data, training)


def test_xla_failing_to_compile_a_real_runner_loses_no_batch(quick_trial):
    seen, decisions = [], []

    def log(batch):  # an op XLA cannot compile
        tf.py_function(lambda b: seen.append(int(b)), [batch], [])

    def make(jit):  # the loop's runner of four steps a call
        return _make_runner(tf.function(log, jit_compile=jit), 4)

    trial = jit_trial.AlternatingTrial({jit: make(jit) for jit in (False, True)}, lambda ran: int(ran),
                                       decisions.append, batches_per_call=4)
    iterator = iter(tf.data.Dataset.range(12))
    assert [int(trial(iterator)) for _ in range(4)] == [4, 4, 4, 0]
    # the XLA call took batches 4-7 (and its loop fetched the next before the step failed): the graph ran them
    assert seen == list(range(12)) and "InvalidArgumentError" in decisions[0].xla_error


@pytest.mark.slow  # a run of each driver (about 5 s each here); the test above checks the trial itself
@pytest.mark.parametrize("driver", ["fit", "loop"])
def test_a_step_xla_cannot_compile_loses_no_batch(driver, quick_trial):
    data = (np.random.default_rng(1).random((64, 4, 4, 1)) < 0.3).astype("float32")  # 16 batches of 4
    model = Uncompilable.mlp(data_shape=(4, 4, 1), latent_dim=2, hidden_units=(4,), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile="auto", steps_per_execution=4)
    if driver == "fit":
        model.fit(data, batch_size=4, epochs=1, verbose=0, shuffle=False)
    else:
        train_loop(model, data, batch_size=4, epochs=1, verbose=0, steps_per_execution=4, jit_compile="auto")
    assert model.jit_trial.xla_error and not model.jit_trial.jit_compile
    # the XLA call's four batches, taken before it failed, were trained on by the graph: every batch once, in order
    assert int(model.optimizer.iterations) == 16
    assert model.seen == [round(float(batch.sum()), 3) for batch in data.reshape(16, 4, 4, 4, 1)]


def test_a_step_with_keras_dropout_keeps_the_graph_without_running_xla(quick_trial):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dropout(0.5, seed=1)])
    total = tf.Variable(0.0)

    def step(batch):  # a training step that draws Keras' dropout masks
        total.assign_add(tf.reduce_sum(model(tf.ones((2, 3)) * tf.cast(batch, tf.float32), training=True)))

    variants = {jit: _make_runner(tf.function(step, jit_compile=jit), 2) for jit in (False, True)}
    decisions = []
    randomness = lambda *args: jit_trial.step_randomness(model, variants[False], *args)  # noqa: E731
    trial = jit_trial.AlternatingTrial(variants, lambda ran: int(ran), decisions.append, batches_per_call=2,
                                       randomness=randomness)
    iterator = iter(tf.data.Dataset.range(1, 9))
    assert [int(trial(iterator)) for _ in range(5)] == [2, 2, 2, 2, 0]
    (decision,) = decisions  # decided after the graph's first call, XLA never traced nor run
    assert not decision.jit_compile and "StatelessRandomUniformV2" in decision.note
    assert variants[True].experimental_get_tracing_count() == 0


def pixelcnn_run(codes, jit_compile):
    model = PixelCNN(4, (4, 4), filters=8, num_layers=2, dropout=0.3, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=jit_compile, steps_per_execution=2)
    model.fit(codes, batch_size=8, epochs=2, verbose=0)
    return model


@pytest.mark.slow  # three PixelCNN runs (about 25 s here); the test above checks the trial itself
def test_auto_keeps_the_graph_for_a_step_with_keras_dropout(quick_trial):
    codes = np.random.default_rng(0).integers(0, 4, (64, 4, 4))
    runs = []
    for _ in range(2):
        jit_trial._CACHE.clear()  # each run makes its own trial
        runs.append(pixelcnn_run(codes, "auto"))
    explicit = pixelcnn_run(codes, False)
    for run in runs:
        trial = run.jit_trial
        assert not trial.jit_compile and not trial.cached and "StatelessRandomUniformV2" in trial.note
        assert "XLA off (the step draws random numbers" in trial.describe() and trial.as_dict()["note"] == trial.note
    # XLA never ran: both runs are the explicit graph run, bit for bit (XLA's dropout masks would differ)
    for a, b, c in zip(state(runs[0]), state(runs[1]), state(explicit)):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


def test_only_random_ops_that_xla_draws_differently_are_reported():
    spec = tf.TensorSpec((2, 3), tf.float32)
    portable = tf.function(lambda x: x + normal(tf.shape(x), tf.constant([1, 2], tf.int64)))
    dropout = keras.layers.Dropout(0.5, seed=1)
    keras_drop = tf.function(lambda x: dropout(x, training=True))
    stateful = tf.function(lambda x: x + tf.random.uniform(tf.shape(x)))
    assert jit_trial.random_ops(portable.get_concrete_function(spec).graph) == set()  # tfvae.random: Philox bits
    assert jit_trial.random_ops(keras_drop.get_concrete_function(spec).graph) == {"StatelessRandomUniformV2"}
    assert jit_trial.random_ops(stateful.get_concrete_function(spec).graph) == {"RandomUniform"}
    # without a readable graph, the model's Keras random layers tell
    model = keras.Sequential([keras.Input((3,)), dropout])
    assert "dropout" in jit_trial.step_randomness(model, lambda iterator: None, iter([]))
    assert jit_trial.step_randomness(VAE.mlp(data_shape=(3,), latent_dim=2, hidden_units=(4,), seed=0),
                                     lambda iterator: None, iter([])) is None


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
