"""The ImageLogger callback under Keras fit and under the custom loop."""

import keras
import numpy as np
import pytest

import tfvae
from tfvae.loops import train_loop
from tfvae.viz import PICTURES, ImageLogger


def small_vae():
    model = tfvae.VAE.mlp(latent_dim=2, hidden_units=(32,), seed=3)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def test_fit_logs_every_picture_at_each_epoch_end(digits, tmp_path, tensorboard_images):
    x, y = digits
    model = small_vae()
    logger = ImageLogger(tmp_path / "images", x[4000:4200], labels=y[4000:4200])
    model.fit(x[:1000], batch_size=100, epochs=2, callbacks=[logger], verbose=0, shuffle=False)
    logged = tensorboard_images(tmp_path / "images")
    assert set(logged) == set(PICTURES) and logger.skipped == {}
    for name, frames in logged.items():
        assert sorted(frames) == [1, 2], name  # step = epochs done
        assert frames[1].shape == frames[2].shape and frames[1].std() > 10
    # the model learned between the two epochs, and the pictures show it
    assert np.abs(logged["reconstructions"][1].astype(int) - logged["reconstructions"][2]).max() > 0


def test_the_custom_loop_logs_every_nth_epoch(digits, tmp_path, tensorboard_images):
    x, y = digits
    model = small_vae()
    logger = ImageLogger(tmp_path / "images", x[4000:4100], labels=y[4000:4100], every=2,
                         names=["reconstructions", "prior_samples"])
    train_loop(model, x[:1000], batch_size=100, epochs=3, callbacks=[logger], verbose=0)
    logged = tensorboard_images(tmp_path / "images")
    assert set(logged) == {"reconstructions", "prior_samples"}
    assert all(sorted(frames) == [2] for frames in logged.values())


def test_logging_images_does_not_change_training(digits, tmp_path):
    x = digits[0][:600]
    plain, logged = small_vae(), small_vae()
    logged.set_weights(plain.get_weights())  # same start (the seed drives sampling, not initialisation)
    train_loop(plain, x, batch_size=100, epochs=2, verbose=0)
    train_loop(logged, x, batch_size=100, epochs=2, verbose=0, callbacks=[ImageLogger(tmp_path, digits[0][4000:4050])])
    for a, b in zip(plain.weights, logged.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(plain.seed_generator.state.numpy(), logged.seed_generator.state.numpy())


def test_an_autoencoder_logs_what_it_can(digits, tmp_path, tensorboard_images):
    ae = tfvae.Autoencoder.mlp(latent_dim=4, hidden_units=(16,), seed=0)
    ae.compile(optimizer="adam")
    logger = ImageLogger(tmp_path, digits[0][4000:4100])
    ae.fit(digits[0][:300], batch_size=100, epochs=1, callbacks=[logger], verbose=0)
    assert set(tensorboard_images(tmp_path)) == set(PICTURES) - set(logger.skipped)
    assert set(logger.skipped) == {"stochastic_reconstructions", "prior_samples", "latent_manifold"}


def test_every_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="every"):
        ImageLogger(tmp_path, np.zeros((4, 28, 28, 1)), every=0)
