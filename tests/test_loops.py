"""Keras fit and the custom loop compute the same update, in every execution mode."""

import gc
import weakref

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfvae import VAE
from tfvae.loops import evaluate_loop, train_loop


def make_model():
    return VAE.mlp((28, 28, 1), latent_dim=4, hidden_units=(32,), seed=3, num_samples=2)


@pytest.fixture(scope="module")
def start():
    """One set of initial weights (and seed state) shared by every run."""
    return make_model().get_weights()


@pytest.fixture
def batch(rng):
    return rng.uniform(0, 1, (16, 28, 28, 1)).astype("float32")


def one_step(driver, weights, x):
    model = make_model()
    model.set_weights(weights)
    seed_state = model.seed_generator.state.numpy()
    model.seed_generator.state.assign(seed_state)
    optimizer = keras.optimizers.Adam(1e-2)
    if driver in ("fit-eager", "fit-graph", "fit-xla"):
        model.compile(optimizer=optimizer, run_eagerly=driver == "fit-eager", jit_compile=driver == "fit-xla")
        loss = model.fit(x, batch_size=len(x), epochs=1, shuffle=False, verbose=0).history["loss"][0]
    else:
        loss = train_loop(model, x, batch_size=len(x), optimizer=optimizer, jit_compile=driver == "loop-xla", verbose=0)[
            "loss"
        ][0]
    return loss, [np.asarray(w) for w in model.trainable_weights]


@pytest.fixture(scope="module")
def reference_step(start):
    """Keras ``fit`` in graph mode: the step every other mode must reproduce."""
    x = np.random.default_rng(0).uniform(0, 1, (16, 28, 28, 1)).astype("float32")
    loss, weights = one_step("fit-graph", start, x)
    initial = make_model()
    initial.set_weights(start)
    moved = max(np.abs(w - np.asarray(s)).max() for w, s in zip(weights, initial.trainable_weights))
    assert moved > 1e-3  # the step really changed the weights
    return x, loss, weights


# the XLA rows are the slow pass's: tests/conformance/test_models.py compares XLA with graph for every kind
@pytest.mark.parametrize("driver", ["fit-eager", "loop", pytest.param("fit-xla", marks=pytest.mark.slow),
                                    pytest.param("loop-xla", marks=pytest.mark.slow)])
def test_fit_and_custom_loop_give_the_same_loss_and_weights_in_every_mode(driver, start, reference_step):
    x, reference_loss, reference_weights = reference_step
    loss, weights = one_step(driver, start, x)
    np.testing.assert_allclose(loss, reference_loss, rtol=1e-5, err_msg=driver)
    for w, ref in zip(weights, reference_weights):
        np.testing.assert_allclose(w, ref, rtol=1e-4, atol=1e-4, err_msg=driver)


def test_steps_per_execution_does_not_change_the_result(start, rng):
    x = rng.uniform(0, 1, (70, 28, 28, 1)).astype("float32")  # 5 batches of 16, the last partial
    results = []
    for steps in (1, 3, 8):
        model = make_model()
        model.set_weights(start)
        history = train_loop(model, x, batch_size=16, epochs=2, steps_per_execution=steps,
                             optimizer=keras.optimizers.Adam(1e-3), verbose=0)
        results.append((history, [np.asarray(w) for w in model.trainable_weights], int(model.seed_generator.state[1])))
    (h1, w1, s1) = results[0]
    for h, w, s in results[1:]:
        np.testing.assert_allclose(h["loss"], h1["loss"], rtol=1e-5)
        for a, b in zip(w, w1):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        assert s == s1 == 2 * 5  # one draw per step, 5 steps per epoch


def test_history_validation_and_evaluate(start, rng):
    x = rng.uniform(0, 1, (32, 28, 28, 1)).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(8)
    model = make_model()
    model.set_weights(start)
    history = train_loop(model, dataset, epochs=3, optimizer=keras.optimizers.Adam(1e-3),
                         validation_data=dataset, verbose=0)
    assert set(history) == {*model.loss_term_names, *(f"val_{n}" for n in model.loss_term_names)}
    assert all(len(v) == 3 for v in history.values())
    assert history["loss"][-1] < history["loss"][0]
    evaluated = evaluate_loop(model, dataset, verbose=0)
    model.compile(optimizer="adam")
    keras_evaluated = model.evaluate(dataset, verbose=0, return_dict=True)
    assert set(evaluated) == set(model.loss_term_names)
    # both are per-example means over the same 32 examples (fresh draws: close, not equal)
    np.testing.assert_allclose(evaluated["distortion"], keras_evaluated["distortion"], rtol=1e-2)
    np.testing.assert_allclose(evaluated["rate"], history["val_rate"][-1], rtol=1e-1)


def test_loop_prints_a_progress_bar(start, batch, capsys):
    model = make_model()
    train_loop(model, batch, batch_size=8, epochs=1, optimizer=keras.optimizers.Adam(1e-3), verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1/1" in out and "2/2" in out and "elbo" in out


def test_loop_errors_name_the_problem(batch):
    model = make_model()
    with pytest.raises(ValueError, match="needs an optimizer"):
        train_loop(model, batch, batch_size=8)
    with pytest.raises(ValueError, match="batch_size"):
        train_loop(model, batch, optimizer=keras.optimizers.Adam())
    with pytest.raises(ValueError, match="no batches"):
        train_loop(model, tf.data.Dataset.from_tensor_slices(batch).batch(8).take(0), optimizer=keras.optimizers.Adam())


def test_the_cached_runners_do_not_keep_the_model_alive(batch):
    def trained() -> weakref.ref:
        model = make_model()
        train_loop(model, batch, batch_size=8, optimizer=keras.optimizers.Adam(1e-3), jit_compile=False, verbose=0)
        evaluate_loop(model, batch, batch_size=8, jit_compile=False, verbose=0)
        return weakref.ref(model)

    ref = trained()  # (TensorFlow holds the tracing caller's frame until it returns)
    gc.collect()
    assert ref() is None
