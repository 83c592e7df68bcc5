"""Collaborative filtering: masked MSE, dense re-feeding, RMSE on held-out ratings, MovieLens loading.

The model lives in :mod:`tfvae.models.autoencoders.ratings_ae`, the matrices in :mod:`tfvae.data.ratings`;
:mod:`tfvae.applications` re-exports both beside ``rating_rmse``.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import tfvae.applications
from tfvae.applications import rating_rmse
from tfvae.data import DatasetUnavailableError
from tfvae.data.ratings import low_rank_ratings, movielens_ratings, split_ratings
from tfvae.models.autoencoders.ratings_ae import RatingsAE, masked_mse
from tfvae.registry import MODELS


def test_the_model_and_the_matrices_keep_their_names_and_their_application_exports():
    # saved .keras files name the class "tfvae>RatingsAE": moving the module must not change it
    assert keras.saving.get_registered_name(RatingsAE) == "tfvae>RatingsAE"
    assert keras.saving.get_registered_object("tfvae>RatingsAE") is RatingsAE
    assert MODELS.get("ratings_ae") is RatingsAE
    for name, value in {"RatingsAE": RatingsAE, "masked_mse": masked_mse, "low_rank_ratings": low_rank_ratings,
                        "split_ratings": split_ratings, "movielens_ratings": movielens_ratings}.items():
        assert getattr(tfvae.applications, name) is value
        assert getattr(tfvae.applications.recommender, name) is value


def test_a_saved_ratings_model_loads_back(tmp_path):
    model = RatingsAE.mlp((12,), latent_dim=3, hidden_units=(8,), activation="selu", likelihood="gaussian",
                          dense_refeeding=True, seed=0)
    x = low_rank_ratings(4, 12, density=0.5, seed=1)
    model.predict_ratings(tf.constant(x))
    model.save(tmp_path / "ratings.keras")
    loaded = keras.saving.load_model(tmp_path / "ratings.keras", compile=False)
    assert type(loaded) is RatingsAE and loaded.dense_refeeding
    np.testing.assert_allclose(loaded.predict_ratings(tf.constant(x)).numpy(),
                               model.predict_ratings(tf.constant(x)).numpy(), rtol=1e-6)


def test_masked_mse_ignores_missing_entries(rng):
    truth = rng.uniform(1, 5, (8, 20)).astype("float32")
    observed = rng.uniform(size=(8, 20)) < 0.3
    predicted = rng.uniform(1, 5, (8, 20)).astype("float32")
    value = float(masked_mse(truth, predicted, observed))
    expected = np.mean((truth[observed] - predicted[observed]) ** 2)
    assert value == pytest.approx(expected, rel=1e-5)
    changed_pred = np.where(observed, predicted, 100.0).astype("float32")
    changed_truth = np.where(observed, truth, -7.0).astype("float32")
    assert float(masked_mse(changed_truth, changed_pred, observed)) == pytest.approx(value, rel=1e-6)
    assert float(masked_mse(truth, predicted, np.zeros_like(observed))) == 0.0


def test_model_loss_is_the_masked_mse_of_its_predictions(rng):
    ratings = low_rank_ratings(16, 30, density=0.3, seed=1)
    model = RatingsAE.mlp((30,), latent_dim=4, hidden_units=(8,), activation="selu", likelihood="gaussian", seed=0)
    terms = model.loss_terms(ratings)
    predicted = model.predict_ratings(tf.constant(ratings)).numpy()
    observed = ratings != 0
    assert float(terms["loss"]) == pytest.approx(np.mean((ratings[observed] - predicted[observed]) ** 2), rel=1e-5)
    refeeding = RatingsAE.mlp((30,), latent_dim=4, hidden_units=(8,), activation="selu", dense_refeeding=True,
                              likelihood="gaussian", seed=0)
    refeeding.set_weights(model.get_weights())
    terms2 = refeeding.loss_terms(ratings)
    dense = refeeding.predict_ratings(tf.constant(ratings))
    refeed = np.mean((dense.numpy() - refeeding.predict_ratings(dense).numpy()) ** 2)
    assert float(terms2["refeed_mse"]) == pytest.approx(refeed, rel=1e-5)
    assert float(terms2["loss"]) == pytest.approx(float(terms["loss"]) + refeed, rel=1e-5)


# without dense refeeding in the slow pass: a second training run of the same check
@pytest.mark.parametrize("dense_refeeding", [pytest.param(False, marks=pytest.mark.slow), True])
def test_held_out_rmse_beats_the_item_mean_baseline(dense_refeeding):
    train, test = split_ratings(low_rank_ratings(seed=0), test_fraction=0.2, seed=0)
    assert not np.any((train != 0) & (test != 0))
    known = train[train != 0]
    item_mean = np.array([c[c != 0].mean() if np.any(c) else known.mean() for c in train.T])
    baseline = np.sqrt(np.mean(((test - item_mean[None]) ** 2)[test != 0]))
    model = RatingsAE.mlp((train.shape[1],), latent_dim=32, hidden_units=(128,), activation="selu",
                          likelihood="gaussian", dense_refeeding=dense_refeeding, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(train, batch_size=32, epochs=40, verbose=0)
    rmse = rating_rmse(model, train, test)
    assert rmse < 0.75 * baseline, (rmse, baseline)  # measured: 0.52 / 0.65 against 1.08


def test_trains_through_the_custom_loop():
    from tfvae.loops import train_loop

    ratings = low_rank_ratings(32, 20, density=0.3, seed=2)
    model = RatingsAE.mlp((20,), latent_dim=4, hidden_units=(8,), likelihood="gaussian", dense_refeeding=True, seed=0)
    history = train_loop(model, ratings, batch_size=8, epochs=3, optimizer=keras.optimizers.Adam(1e-2), verbose=0)
    assert set(history) == {"loss", "masked_mse", "masked_rmse", "refeed_mse", "observed"}
    assert history["masked_mse"][-1] < history["masked_mse"][0]


def test_movielens_matrix_through_real_tfds_code():
    with tfds.testing.mock_data(num_examples=50):
        matrix = movielens_ratings(download=True)
    assert matrix.ndim == 2 and matrix.dtype == np.float32
    assert 0 < np.count_nonzero(matrix) <= 50


def test_movielens_unprepared_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetUnavailableError, match="not prepared"):
        movielens_ratings(data_dir=str(tmp_path))
