"""The sequence-to-sequence autoencoder on variable-length sequences."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from tfvae import Seq2SeqAE
from tfvae.data.sequences import sine_sequences
from tfvae.loops import train_loop
from tfvae.networks import RecurrentDecoder, RecurrentEncoder, sequence_mask


def lengths_of(x):
    return sequence_mask(x).numpy().sum(1)


def test_generated_sequences_have_variable_lengths_and_zero_padding():
    x = sine_sequences(200, max_length=20, min_length=5, seed=0)
    lengths = lengths_of(x)
    assert x.shape == (200, 20, 1) and lengths.min() >= 5 and lengths.max() == 20 and len(set(lengths)) > 10
    for row, n in zip(x, lengths):
        assert np.all(row[n:] == 0) and np.all(row[:n] != 0)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_distortion_counts_valid_steps_only(cell):
    x = sine_sequences(4, max_length=12, seed=1)
    model = Seq2SeqAE.recurrent((12, 1), latent_dim=3, hidden_units=(8,), cell=cell,
                                likelihood_kwargs={"scale": 0.5}, seed=0)
    distortion = model.per_example_terms(x)["distortion"].numpy()
    mean = model.reconstruct(x).numpy()
    for i, n in enumerate(lengths_of(x)):
        expected = -stats.norm.logpdf(x[i, :n, 0], mean[i, :n, 0], 0.5).sum()
        np.testing.assert_allclose(distortion[i], expected, rtol=1e-5)
    # the encoder ignores padding: a longer pad or garbage-free tail gives the same code
    longer = np.concatenate([x, np.zeros((4, 6, 1), "float32")], axis=1)
    encoder = model.encoder
    np.testing.assert_allclose(encoder(longer).numpy(), encoder(x).numpy(), rtol=1e-5, atol=1e-6)


def test_decoder_feeds_its_output_back():
    decoder = RecurrentDecoder((5, 2), units=4)
    z = tf.random.normal([3, 3], seed=0)
    y = decoder(z).numpy()
    assert y.shape == (3, 5, 2)
    # replay by hand: each step's input is the previous output
    state = [decoder.initial_state(z)]
    previous = tf.zeros([3, 2])
    for t in range(5):
        h, state = decoder.rnn_cell(previous, state)
        state = state if isinstance(state, (list, tuple)) else [state]
        previous = decoder.projection(h)
        np.testing.assert_allclose(y[:, t], previous.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.slow  # a training run to convergence or a second driver/precision of a fast check: CI's slow pass
def test_reconstructs_short_sequences_better_than_chance():
    train, test = sine_sequences(3000, seed=2), sine_sequences(500, seed=3)
    model = Seq2SeqAE.recurrent((20, 1), latent_dim=8, hidden_units=(64,), likelihood_kwargs={"scale": 0.1}, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(train, batch_size=32, epochs=6, verbose=0)
    valid = sequence_mask(test).numpy()
    error = ((model.reconstruct(test).numpy() - test)[..., 0] ** 2)[valid].mean()
    chance = ((test[..., 0] - train[..., 0][sequence_mask(train).numpy()].mean()) ** 2)[valid].mean()
    assert error < 0.35 * chance, (error, chance)  # measured: about 0.13 * chance


@pytest.mark.slow  # the conformance matrix checks this for every family (fast for its kind's representative)
def test_trains_in_the_loop_and_round_trips(tmp_path):
    x = sine_sequences(16, max_length=10, seed=4)
    model = Seq2SeqAE.recurrent((10, 1), latent_dim=2, hidden_units=(6,), cell="lstm", padding_value=0.0, seed=5)
    model.compile(optimizer="adam")
    history = train_loop(model, x, batch_size=8, epochs=2, verbose=0)
    assert np.isfinite(history["loss"]).all()
    config = json.loads(json.dumps(model.get_config()))
    assert json.loads(json.dumps(Seq2SeqAE.from_config(config).get_config())) == config
    model.save(tmp_path / "s2s.keras")
    loaded = keras.saving.load_model(tmp_path / "s2s.keras")
    np.testing.assert_allclose(loaded.reconstruct(x), model.reconstruct(x), rtol=1e-5, atol=1e-6)
    assert isinstance(loaded.encoder, RecurrentEncoder)


def test_bad_arguments():
    with pytest.raises(ValueError, match="cell must be one of"):
        Seq2SeqAE.recurrent(cell="rnn")
    with pytest.raises(ValueError, match="expects sequences"):
        RecurrentEncoder((3,))(np.zeros((2, 5), "float32"))
