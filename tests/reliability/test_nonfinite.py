"""A NaN or infinite loss or gradient stops training (default) or skips the step; nothing bad is applied or saved.

The non-finite values are real: a data value of 1e30 under a Gaussian
likelihood makes the distortion overflow to inf, a learning rate of 1e30
blows the weights up after one step, ``sqrt`` at 0 has an infinite
derivative. Both drivers (Keras ``fit`` and ``tfvae.loops.train_loop``)
share one ``gradient_step``, so each check runs under both.
"""

from __future__ import annotations

import json
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfvae import Autoencoder
from tfvae.cli import main
from tfvae.loops import train_loop
from tfvae.models.base import GenerativeModel, NonFiniteError

BATCH = 8
BAD_STEP = 3  # the 1e30 value sits in the third batch


def _data(rng, bad: bool = True) -> np.ndarray:
    x = rng.normal(size=(4 * BATCH, 6)).astype("float32")
    if bad:
        x[(BAD_STEP - 1) * BATCH + 1, 2] = 1e30  # finite, but (x - mu)^2 overflows float32: distortion = inf
    return x


def _model(steps_per_execution: int = 1, jit_compile: bool = False, weights=None) -> Autoencoder:
    # deterministic (point-mass code, no random draws): a skipped step is exactly a step never taken
    model = Autoencoder.mlp((6,), latent_dim=2, hidden_units=(8,), likelihood="gaussian", seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), steps_per_execution=steps_per_execution,
                  jit_compile=jit_compile)
    if weights is not None:
        model.set_weights(weights)
    return model


def _train(model, x, driver, epochs=1, **kwargs):
    if driver == "fit":
        # a dataset of the same batches: fit refuses an ARRAY holding a value its likelihood cannot model
        # (1e38 into a Bernoulli) before any step, and these tests are about the step's own guard
        batches = tf.data.Dataset.from_tensor_slices(x).batch(BATCH)
        return model.fit(batches, epochs=epochs, verbose=0).history
    return train_loop(model, x, batch_size=BATCH, epochs=epochs, verbose=0,
                      steps_per_execution=model.steps_per_execution, jit_compile=bool(model.jit_compile), **kwargs)


def _assert_same_weights(a, b):
    # XLA may round differently from graph mode (1 ulp); a wrongly applied step differs by far more
    assert len(a.trainable_weights) == len(b.trainable_weights)
    for wa, wb in zip(a.trainable_weights, b.trainable_weights):
        np.testing.assert_allclose(np.asarray(wa), np.asarray(wb), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("driver,steps_per_execution,jit_compile",
                         [("fit", 1, False), ("fit", 4, True), ("loop", 4, False), ("loop", 1, True)])
def test_stop_names_the_step_and_the_term_and_applies_nothing(driver, steps_per_execution, jit_compile, rng):
    """Default "stop": NonFiniteError names step and term; the weights are those after the last good step,
    even when the bad step sits inside one tf.function call of several steps, and under XLA."""
    x = _data(rng)
    model = _model(steps_per_execution, jit_compile)
    reference = _model(weights=model.get_weights())  # the same start, trained on the good batches only
    with pytest.raises(NonFiniteError, match=rf"non-finite loss at step {BAD_STEP} \(epoch 1\): "
                                             r"term 'distortion' is inf \(loss inf\)"):
        _train(model, x, driver, epochs=2)
    _train(reference, x[: (BAD_STEP - 1) * BATCH], "fit")
    _assert_same_weights(model, reference)
    assert int(model.steps_done) == BAD_STEP - 1
    assert int(model.optimizer.iterations) == BAD_STEP - 1


@pytest.mark.parametrize("driver", ["fit", "loop"])
def test_skip_leaves_the_weights_as_if_the_step_never_happened(driver, rng):
    """"skip": the bad step changes neither weights nor optimizer; training goes on, the epoch warns."""
    x = _data(rng)
    model = _model()
    reference = _model(weights=model.get_weights())
    if driver == "fit":
        model.on_nonfinite = "skip"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = _train(model, x, driver, epochs=2, **({"on_nonfinite": "skip"} if driver == "loop" else {}))
    clean = np.delete(x, np.s_[(BAD_STEP - 1) * BATCH: BAD_STEP * BATCH], axis=0)
    _train(reference, clean, "fit", epochs=2)
    _assert_same_weights(model, reference)
    assert np.all(np.isfinite(history["loss"])) and len(history["loss"]) == 2
    assert int(model.optimizer.iterations) == 2 * 3 and int(model.steps_done) == 2 * 4
    skipped = [str(w.message) for w in caught if "skipped" in str(w.message)]
    assert skipped == [f"epoch {e}: skipped 1 training step(s) whose loss or gradient was not finite "
                       "(on_nonfinite='skip')" for e in (1, 2)]


class SqrtModel(GenerativeModel):
    """loss = mean(sqrt(|x w|)): finite at x = 0, but d sqrt(u)/du = inf there, so the gradient is NaN."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.w = self.add_weight(shape=(3, 1), initializer="ones", name="w")
        self.built = True

    def loss_terms(self, data, training=False):
        return {"loss": tf.reduce_mean(tf.sqrt(tf.abs(tf.matmul(data, self.w))))}


@pytest.mark.parametrize("driver", ["fit", "loop"])
def test_a_nan_gradient_with_a_finite_loss_is_named(driver):
    x = np.ones((12, 3), "float32")
    x[4:8] = 0.0  # the second batch: loss 0, gradient NaN
    model = SqrtModel(seed=0)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    with pytest.raises(NonFiniteError, match=r"non-finite gradient at step 2 \(epoch 1\): the loss terms are finite"):
        if driver == "fit":
            model.fit(x, batch_size=4, shuffle=False, verbose=0)
        else:
            train_loop(model, x, batch_size=4, verbose=0)
    np.testing.assert_allclose(model.w.numpy(), np.full((3, 1), 1 - 0.1 * 0.5 / np.sqrt(3)), rtol=1e-6)  # step 1 only


def test_float16_loss_scaling_still_skips_overflowing_steps_without_stopping(rng):
    """Under mixed_float16 an overflowing scaled gradient is routine: the LossScaleOptimizer skips the
    step and halves its scale; that is not a non-finite step to stop on."""
    keras.mixed_precision.set_global_policy("mixed_float16")
    x = rng.normal(size=(64, 6)).astype("float32")
    model = Autoencoder.mlp((6,), latent_dim=2, hidden_units=(8,), likelihood="gaussian", seed=0)
    optimizer = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(1e-2), initial_scale=2.0**24)
    model.compile(optimizer=optimizer)
    history = model.fit(x, batch_size=8, epochs=2, verbose=0, shuffle=False).history
    assert float(optimizer.dynamic_scale) < 2.0**24  # it overflowed and was lowered
    assert 0 < int(optimizer.iterations) < 16 and int(model.steps_done) == 16  # some steps skipped, none fatal
    assert np.all(np.isfinite(history["loss"]))


def test_cli_run_stops_with_one_line_and_writes_no_checkpoint(tmp_path, capsys):
    """`tfvae train` with a learning rate of 1e30: step 1 sends the weights to ~1e30, step 2's loss is inf."""
    run = tmp_path / "run"
    code = main(["train", "vae", "--out", str(run), "--quiet", "--epochs", "1", "--batch-size", "500",
                 "--learning-rate", "1e30", "--set", "model.hidden_units=[16]", "--set", "model.latent_dim=2"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("tfvae: error: non-finite loss at step 2 (epoch 1): term ") and err.count("\n") == 1
    assert "Traceback" not in err
    assert not list((run / "checkpoints").glob("ckpt-*")) and not (run / "history.csv").exists()
    assert not (run / ".lock").exists()  # released


def test_nonfinite_weights_are_never_checkpointed(tmp_path, monkeypatch):
    """A learning rate of 1e39 is inf in float32: one finite step makes the weights NaN/inf. With one step
    per epoch nothing sees a NaN loss before the epoch ends; the checkpoint must still refuse them."""
    from tfvae.config import default_config
    from tfvae.data import generated
    from tfvae.experiment import train

    x = np.random.default_rng(0).normal(size=(16, 6)).astype("float32")
    monkeypatch.setitem(generated.GENERATED, "reliability_toy",
                        generated.GeneratedDataset((6,), {"train": 16, "test": 16}, lambda split: x))
    config = default_config("autoencoder", [
        'data.dataset="reliability_toy"', "data.batch_size=16", 'model.likelihood="gaussian"',
        "model.hidden_units=[8]", "model.latent_dim=2", "train.epochs=1", "train.learning_rate=1e39"])
    with pytest.raises(NonFiniteError, match="the weights are not finite after epoch 1.*nothing of this epoch"):
        train(config, out=tmp_path / "run", verbose=0)
    assert not list((tmp_path / "run" / "checkpoints").glob("ckpt-*"))
    assert not (tmp_path / "run" / "history.csv").exists()


def test_stopped_run_keeps_its_last_good_checkpoint_and_resumes(tmp_path, monkeypatch):
    """Epoch 1 trains on good data; then the data goes bad (a 1e30 value appears) and the resumed run stops
    in epoch 2. The checkpoint of epoch 1 stays the newest, loads, and a resume on good data finishes."""
    from tfvae.config import default_config
    from tfvae.data import generated
    from tfvae.experiment import RunDirectory, load_run, train

    good = np.random.default_rng(0).normal(size=(64, 6)).astype("float32")
    bad = good.copy()
    bad[5, 1] = 1e30
    source = {"x": good}
    monkeypatch.setitem(generated.GENERATED, "reliability_toy",
                        generated.GeneratedDataset((6,), {"train": 64, "test": 64}, lambda split: source["x"]))
    overrides = ['data.dataset="reliability_toy"', "data.batch_size=16", 'model.likelihood="gaussian"',
                 "model.hidden_units=[8]", "model.latent_dim=2"]
    run = tmp_path / "run"
    train(default_config("vae", [*overrides, "train.epochs=1"]), out=run, verbose=0)
    epoch_one = load_run(run).model.get_weights()

    source["x"] = bad
    with pytest.raises(NonFiniteError, match=r"non-finite loss at step \d+ \(epoch 2\): term 'distortion' is inf"):
        train(default_config("vae", [*overrides, "train.epochs=3"]), out=run, resume=True, verbose=0)
    assert sorted(p.name for p in (run / "checkpoints").glob("*.index")) == ["ckpt-1.index"]
    assert [row["epoch"] for row in RunDirectory(run).read_history()] == [1.0]
    loaded = load_run(run)
    assert loaded.epochs_done == 1
    for a, b in zip(loaded.model.get_weights(), epoch_one):
        np.testing.assert_array_equal(a, b)

    source["x"] = good
    result = train(default_config("vae", [*overrides, "train.epochs=3"]), out=run, resume=True, verbose=0)
    assert [row["epoch"] for row in RunDirectory(run).read_history()] == [1.0, 2.0, 3.0]
    assert int(result.model.optimizer.iterations) == 3 * 4
    assert np.isfinite(json.loads((run / "summary.json").read_text())["test"]["loss"])


def _vq_model(weights=None):
    from tfvae.models.quantized.vq_vae import VQVAE

    model = VQVAE.conv(seed=0, num_embeddings=16, embedding_dim=4, filters=8, residual_filters=4,
                       num_residual_blocks=1, dead_code_threshold=0.9)  # restarts draw from the quantizer's stream
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    if weights is not None:
        model.set_weights(weights)
    return model


def _state(model) -> list[np.ndarray]:
    """Every variable a step may move but steps_done: weights, EMA counts/sums/codes, seed states."""
    return [np.array(v) for v in model.variables if v is not model.steps_done]


# each mode with each driver once in the fast pass; the other two pairs in the slow pass
@pytest.mark.parametrize("mode, driver", [("skip", "fit"), ("stop", "loop"),
                                          pytest.param("skip", "loop", marks=pytest.mark.slow),
                                          pytest.param("stop", "fit", marks=pytest.mark.slow)])
def test_a_step_not_applied_leaves_the_ema_codebook_and_every_state_variable_alone(mode, driver, rng):
    """A non-finite encoder output puts NaNs into the EMA statistics during the forward pass;
    the step is not applied, so the codebook (and the seed states) must be as if it never ran."""
    x = (rng.uniform(size=(4 * BATCH, 28, 28, 1)) > 0.5).astype("float32")
    x[(BAD_STEP - 1) * BATCH + 1, 3, 3, 0] = 1e38  # the encoder output overflows: inf/NaN codes
    model = _vq_model()
    reference = _vq_model(weights=model.get_weights())
    assert all(np.array_equal(a, b) for a, b in zip(_state(model), _state(reference)))
    clean = np.delete(x, np.s_[(BAD_STEP - 1) * BATCH: BAD_STEP * BATCH], axis=0)
    if mode == "skip":
        model.on_nonfinite = "skip"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _train(model, x, driver)
        _train(reference, clean, "fit")
    else:
        with pytest.raises(NonFiniteError):
            _train(model, x, driver)
        _train(reference, x[: (BAD_STEP - 1) * BATCH], "fit")
    embeddings = np.asarray(model.quantizer.embeddings)
    assert np.all(np.isfinite(embeddings))
    for got, want in zip(_state(model), _state(reference)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_the_one_pass_finiteness_check_finds_every_nan_and_infinity():
    from tfvae.models.steps import _all_finite

    def check(*arrays):
        return bool(_all_finite([tf.constant(a) for a in arrays]))

    ok = np.ones((64, 32), np.float32)
    assert check(ok, np.zeros(3, np.float32)) and check()
    for bad in (np.nan, np.inf, -np.inf):
        damaged = ok.copy()
        damaged[17, 5] = bad
        assert not check(ok, damaged), bad
    both = ok.copy()
    both[0, 0], both[1, 1] = np.inf, -np.inf  # they would cancel in a careless sum: inf - inf is NaN
    assert not check(both)
    assert check(np.full(100_000, 1.0, np.float16))  # sums beyond float16's 65504 are taken in float32
    sparse = tf.IndexedSlices(tf.constant([[1.0, np.nan]]), tf.constant([0]), tf.constant([3, 2]))
    assert not bool(_all_finite([sparse]))


@pytest.mark.parametrize("jit_compile", [False, True])
def test_the_finiteness_check_is_exact_when_finite_gradients_sum_beyond_float32(jit_compile):
    """Finite elements whose float32 sum overflows (or would cancel) are finite; a NaN or inf among them is not."""
    from tfvae.models.steps import _all_finite

    check = tf.function(lambda *tensors: _all_finite(list(tensors)), jit_compile=jit_compile)
    huge = np.full(1000, 1e36, np.float32)  # sum 1e39 > 3.4e38
    cancelling = np.array([3e38, 3e38, -3e38, -3e38], np.float32)  # left to right: inf, then inf - 3e38 ...
    assert bool(check(tf.constant(huge))) and bool(check(tf.constant(cancelling)))
    assert bool(check(tf.constant(np.ones(3, np.float32)), tf.constant(huge), tf.constant(-cancelling)))
    for bad in (np.nan, np.inf, -np.inf):
        for finite in (huge, cancelling):
            damaged = finite.copy()
            damaged[1] = bad
            assert not bool(check(tf.constant(finite), tf.constant(damaged))), (bad, finite[:2])
