"""One metric vocabulary for the ratings model: masked MSE / RMSE over observed entries, in training and evaluate."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfvae.applications import RatingsAE, low_rank_ratings
from tfvae.data.ratings import observed_entries
from tfvae.loops import evaluate_loop, train_loop
from tfvae.metrics import evaluate_model
from tfvae.models.autoencoders.ratings_ae import observed_squared_error


def _model(num_items, **kwargs):
    return RatingsAE.mlp((num_items,), latent_dim=4, hidden_units=(16,), activation="selu", likelihood="gaussian",
                         seed=0, **kwargs)


@pytest.fixture(scope="module")
def ratings():
    """Users with very different numbers of ratings, so a mean of per-batch ratios would differ."""
    x = low_rank_ratings(57, 25, density=0.3, seed=3)
    x[::4] = np.where(np.random.default_rng(0).uniform(size=x[::4].shape) < 0.9, low_rank_ratings(15, 25, density=1.0,
                                                                                                      seed=4), 0.0)
    x[1::7] = np.where(np.arange(25) < 2, x[1::7], 0.0)  # users with at most 2 ratings
    return x.astype("float32")


@pytest.fixture(scope="module")
def trained(ratings):
    model = _model(ratings.shape[1])
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    train_loop(model, ratings, batch_size=8, epochs=3, verbose=0)
    return model


def _numpy_masked_mse(model, x):
    predicted = model.predict_ratings(tf.constant(x)).numpy().astype(np.float64)
    observed = x != 0
    return float(np.mean((predicted[observed] - x[observed]) ** 2))


def test_training_evaluate_loop_and_evaluate_model_give_the_same_masked_rmse(trained, ratings):
    mse = _numpy_masked_mse(trained, ratings)
    # a mean of per-batch ratios is a different number on this data: the test can tell them apart
    batches = [ratings[i:i + 8] for i in range(0, len(ratings), 8)]
    ratios = [_numpy_masked_mse(trained, b) for b in batches]
    assert abs(np.average(ratios, weights=[len(b) for b in batches]) - mse) > 1e-3 * mse

    looped = evaluate_loop(trained, ratings, batch_size=8, verbose=0)  # summary.json's test terms
    evaluated = evaluate_model(trained, ratings, batch_size=11, verbose=0)  # metrics.json
    summary = json.loads(json.dumps(evaluated.summary()))
    keras_logs = trained.evaluate(ratings, batch_size=5, verbose=0, return_dict=True)  # Keras evaluate / fit logs

    assert looped["masked_mse"] == pytest.approx(mse, rel=1e-5)
    assert looped["masked_rmse"] == pytest.approx(np.sqrt(mse), rel=1e-5)
    assert keras_logs["masked_rmse"] == pytest.approx(np.sqrt(mse), rel=1e-5)
    assert summary["masked_mse"]["mean"] == pytest.approx(mse, rel=1e-6)
    assert summary["masked_rmse"]["mean"] == pytest.approx(np.sqrt(mse), rel=1e-6)
    assert summary["masked_rmse"]["mean"] == pytest.approx(looped["masked_rmse"], rel=1e-5)
    assert summary["masked_mse"]["observed_entries"] == int(np.count_nonzero(ratings))
    assert "per observed entry" in summary["masked_mse"]["average"]
    assert 0 < summary["masked_rmse"]["sem"] < summary["masked_rmse"]["mean"]
    # nothing averaged over unobserved entries is reported
    assert summary["observed"]["mean"] == pytest.approx(np.count_nonzero(ratings) / len(ratings))
    assert looped["observed"] == pytest.approx(summary["observed"]["mean"], rel=1e-6)
    for name in ("mse", "bce", "reconstruction_nll", "distortion", "squared_error"):
        assert name not in summary, name
    assert {"mse", "reconstruction_nll"} <= set(summary["skipped"])
    assert "masked RMSE (per observed entry)" in evaluated.table()


def test_the_training_epoch_value_is_the_pooled_mean(ratings):
    """With a learning rate of 0 the weights stay put, so the epoch's masked_mse is that of one fixed model."""
    for driver in ("loop", "fit"):
        model = _model(ratings.shape[1])
        mse = _numpy_masked_mse(model, ratings)
        if driver == "loop":
            history = train_loop(model, ratings, batch_size=8, epochs=1, optimizer=keras.optimizers.SGD(0.0),
                                 verbose=0)
        else:
            model.compile(optimizer=keras.optimizers.SGD(0.0))
            history = model.fit(ratings, batch_size=8, epochs=1, verbose=0).history
        assert history["masked_mse"][-1] == pytest.approx(mse, rel=1e-5), driver
        assert history["masked_rmse"][-1] == pytest.approx(np.sqrt(mse), rel=1e-5), driver


def _constant_model(prediction):
    """A model whose prediction is ``prediction`` for every user (zero decoder kernel, bias = prediction)."""
    model = _model(len(prediction))
    weights = {w.path.split("/", 2)[-1]: w for w in model.decoder.weights}
    kernel, bias = weights["projection/kernel"], weights["projection/bias"]
    kernel.assign(np.zeros(kernel.shape, np.float32))
    bias.assign(np.asarray(prediction, np.float32))
    return model


def test_wrong_predictions_of_unobserved_entries_cost_nothing():
    prediction = np.array([3.0, 4.0, 1000.0, -500.0, 2.5, 1e4], np.float32)
    x = np.zeros((9, 6), np.float32)
    rng = np.random.default_rng(1)
    for row in x:  # each user rates some of items 0, 1, 4, exactly as predicted
        keep = rng.uniform(size=3) < 0.7
        keep[rng.integers(3)] = True
        row[[0, 1, 4]] = np.where(keep, prediction[[0, 1, 4]], 0.0)
    model = _constant_model(prediction)
    np.testing.assert_allclose(model.predict_ratings(tf.constant(x)).numpy(), np.tile(prediction, (9, 1)), rtol=1e-6)

    terms = model.loss_terms(x)
    assert float(terms["masked_mse"]) == 0.0 and float(terms["masked_rmse"]) == 0.0
    looped = evaluate_loop(model, x, batch_size=4, verbose=0)
    assert looped["masked_mse"] == 0.0 and looped["masked_rmse"] == 0.0
    summary = evaluate_model(model, x, batch_size=4, verbose=0).summary()
    assert summary["masked_mse"]["mean"] == 0.0 and summary["masked_rmse"]["mean"] == 0.0


def test_zero_is_unobserved_for_arrays_and_tensors_alike():
    x = np.array([[3.0, 0.0, 1.0], [0.0, 0.0, 5.0]], np.float32)
    np.testing.assert_array_equal(observed_entries(x), [[True, False, True], [False, False, True]])
    np.testing.assert_array_equal(observed_entries(tf.constant(x)).numpy(), observed_entries(x))
    squared, observed = observed_squared_error(x, np.array([[1.0, 9.0, 1.0], [7.0, 7.0, 4.0]], np.float32))
    np.testing.assert_allclose(squared, [4.0, 1.0])  # (3 - 1)^2 and (5 - 4)^2: the unobserved 9 and 7s cost nothing
    np.testing.assert_allclose(observed, [2.0, 1.0])


def test_an_observed_error_counts_once_per_observed_entry():
    prediction = np.array([3.0, 4.0, 1000.0], np.float32)
    x = np.array([[3.0, 4.0, 0.0], [5.0, 0.0, 0.0]], np.float32)  # three observed entries, one off by 2
    model = _constant_model(prediction)
    summary = evaluate_model(model, x, batch_size=1, verbose=0).summary()
    assert summary["masked_mse"]["mean"] == pytest.approx(4.0 / 3.0)
    assert evaluate_loop(model, x, batch_size=1, verbose=0)["masked_mse"] == pytest.approx(4.0 / 3.0)  # not (0 + 4) / 2


def test_evaluate_asks_the_capabilities_not_the_class(ratings):
    """A plain autoencoder of the same data is not masked: it reports its per-dimension errors."""
    from tfvae.models import Autoencoder

    plain = Autoencoder.mlp((ratings.shape[1],), latent_dim=4, hidden_units=(16,), likelihood="gaussian", seed=0)
    assert not plain.capabilities.masked_data and _model(ratings.shape[1]).capabilities.masked_data
    summary = evaluate_model(plain, ratings, batch_size=16, verbose=0).summary()
    assert "mse" in summary and "masked_mse" not in summary


def test_nonfinite_steps_still_stop_training():
    """The observed-count weights keep a non-finite step visible to the guard."""
    from tfvae.models.base import NonFiniteError

    model = _constant_model(np.full(6, 1e30, np.float32))  # squared errors overflow to inf
    x = low_rank_ratings(16, 6, density=0.5, seed=5)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    with pytest.raises(NonFiniteError, match="masked_mse"):
        train_loop(model, x, batch_size=8, epochs=1, verbose=0)
    assert int(model.steps_done) == 0


def test_summary_json_and_metrics_json_report_the_same_masked_rmse(tmp_path):
    """`tfvae train ratings_ae` (summary.json, batches of 32) and `tfvae evaluate` (metrics.json, batches of 20)."""
    from tfvae.cli import main

    run = tmp_path / "ratings"
    assert main(["train", "ratings_ae", "--epochs", "1", "--set", "model.hidden_units=[16]", "--set",
                 "model.latent_dim=4", "--quiet", "--out", str(run)]) == 0
    assert main(["evaluate", str(run), "--quiet"]) == 0
    test = json.loads((run / "summary.json").read_text())["test"]
    metrics = json.loads((run / "metrics.json").read_text())
    for name in ("masked_mse", "masked_rmse", "observed"):
        assert metrics[name]["mean"] == pytest.approx(test[name], rel=1e-5), name
    assert "mse" not in metrics and "distortion" not in metrics
