"""Scaling, binarisation (dynamic / static) and dequantisation, alone and in the pipeline."""

import numpy as np
import pytest
import tensorflow as tf

from tfvae.data import load_arrays, load_dataset
from tfvae.data.preprocessing import (
    bernoulli_binarize,
    dequantize,
    preprocess_images,
    scale,
)

SEED = tf.constant([3, 4], tf.int64)

# ----------------------------------------------------------------------------
# The tensor functions
# ----------------------------------------------------------------------------


def test_scale_is_exact_division_by_255():
    x = tf.constant([0, 1, 128, 254, 255], tf.uint8)
    np.testing.assert_array_equal(scale(x).numpy(), np.array([0, 1, 128, 254, 255], np.float32) / 255.0)
    with pytest.raises(TypeError, match="uint8"):
        scale(tf.constant([0.5]))


def test_bernoulli_binarize_values_and_frequency():
    probs = tf.constant(np.repeat([[0.0, 0.2, 0.7, 1.0]], 20000, axis=0), tf.float32)
    b = bernoulli_binarize(probs, SEED).numpy()
    assert set(np.unique(b)) == {0.0, 1.0}
    assert b[:, 0].sum() == 0 and b[:, 3].sum() == 20000  # p=0 never, p=1 always
    # Frequencies within 5 standard errors of p.
    np.testing.assert_allclose(b[:, 1:3].mean(axis=0), [0.2, 0.7], atol=5 * np.sqrt(0.25 / 20000))
    np.testing.assert_array_equal(b, bernoulli_binarize(probs, SEED).numpy())  # stateless
    assert not np.array_equal(b, bernoulli_binarize(probs, SEED + 1).numpy())


def test_dequantize_stays_in_the_pixel_bin_and_below_one():
    k = tf.constant(np.tile(np.arange(256, dtype=np.uint8), 400))
    y = dequantize(k, SEED).numpy()
    assert y.dtype == np.float32
    assert y.min() >= 0.0 and y.max() < 1.0
    np.testing.assert_array_equal(np.floor(y * 256.0), k.numpy().astype(np.float32))
    # The noise fills the bin: mean offset ~ 1/2 (uniform), not a constant.
    offset = y * 256.0 - k.numpy()
    assert abs(offset.mean() - 0.5) < 0.01 and offset.std() > 0.25


def test_dequantize_never_reaches_one_even_for_white_pixels():
    # A float32 uniform u close to 1 would round 255 + u up to 256 (y == 1.0)
    # about 15 times in a million draws; the 2^-16 grid never does.
    y = dequantize(tf.fill([1_000_000], tf.constant(255, tf.uint8)), SEED).numpy()
    assert y.max() < 1.0 and y.min() >= 255.0 / 256.0


def test_preprocess_images_rejects_binarize_with_dequantize():
    with pytest.raises(ValueError, match="mutually exclusive"):
        preprocess_images(tf.zeros([2], tf.uint8), SEED, binarize=True, dequantize_noise=True)


# ----------------------------------------------------------------------------
# In the pipeline
# ----------------------------------------------------------------------------


def _epoch(ds):
    return np.concatenate(list(ds.as_numpy_iterator()))


@pytest.fixture(scope="module")
def test_probs():
    x, _ = load_arrays("digits", "test")
    return x.astype(np.float32) / 255.0


def test_dynamic_binarization_differs_between_epochs(test_probs):
    ds = load_dataset("digits", "test", batch_size=250, shuffle=False, binarize="dynamic", seed=5)
    e1, e2 = _epoch(ds), _epoch(ds)
    assert e1.shape == (1000, 28, 28, 1) and e1.dtype == np.float32
    assert set(np.unique(e1)) == {0.0, 1.0} and set(np.unique(e2)) == {0.0, 1.0}
    assert not np.array_equal(e1, e2)
    # It is a Bernoulli draw of the right image: 0 pixels stay 0, 255 stay 1,
    # and the mean of the draws tracks the intensities.
    assert e1[test_probs == 0.0].max() == 0.0 and e1[test_probs == 1.0].min() == 1.0
    assert abs(e1.mean() - test_probs.mean()) < 0.005
    # Reproducible: a new pipeline with the same seed repeats the same epochs.
    again = load_dataset("digits", "test", batch_size=250, shuffle=False, binarize="dynamic", seed=5)
    np.testing.assert_array_equal(_epoch(again), e1)
    np.testing.assert_array_equal(_epoch(again), e2)


def test_static_binarization_is_identical_every_epoch(test_probs):
    ds = load_dataset("digits", "test", batch_size=250, shuffle=False, binarize="static", seed=5)
    e1, e2 = _epoch(ds), _epoch(ds)
    assert set(np.unique(e1)) == {0.0, 1.0}
    np.testing.assert_array_equal(e1, e2)
    assert e1[test_probs == 0.0].max() == 0.0 and e1[test_probs == 1.0].min() == 1.0
    # Not a threshold: pixels of intensity strictly between 0 and 1 get both values.
    mid = (test_probs > 0.3) & (test_probs < 0.7)
    assert 0.2 < e1[mid].mean() < 0.8
    # Fixed per example, whatever the shuffle order and without the cache.
    shuffled = load_dataset(
        "digits", "test", batch_size=250, shuffle=True, binarize="static", seed=5, with_labels=True, cache=False
    )
    s1 = np.concatenate([x for x, _ in shuffled.as_numpy_iterator()])
    s2 = np.concatenate([x for x, _ in shuffled.as_numpy_iterator()])
    assert not np.array_equal(s1, s2)  # different order...
    rows = lambda a: sorted(r.tobytes() for r in a.astype(np.uint8).reshape(len(a), -1))  # noqa: E731
    assert rows(s1) == rows(s2) == rows(e1)  # ...same binarised images


def test_dequantize_differs_between_epochs_and_stays_in_unit_interval():
    x, _ = load_arrays("digits", "test")
    ds = load_dataset("digits", "test", batch_size=250, shuffle=False, dequantize=True, seed=1)
    e1, e2 = _epoch(ds), _epoch(ds)
    assert not np.array_equal(e1, e2)
    for e in (e1, e2):
        assert e.dtype == np.float32 and e.min() >= 0.0 and e.max() < 1.0
        np.testing.assert_array_equal(np.floor(e * 256.0), x.astype(np.float32))


def test_labels_are_kept_with_random_preprocessing():
    _, y = load_arrays("digits", "test")
    for kwargs in ({"binarize": "dynamic"}, {"binarize": "static"}, {"dequantize": True}):
        ds = load_dataset("digits", "test", batch_size=400, shuffle=False, with_labels=True, **kwargs)
        labels = np.concatenate([b[1] for b in ds.as_numpy_iterator()])
        np.testing.assert_array_equal(labels, y)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"binarize": "sometimes"}, "binarize must be"),
        ({"binarize": "dynamic", "dequantize": True}, "mutually exclusive"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_invalid_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_dataset("digits", "test", **kwargs)


def test_keras_fit_gets_a_new_dynamic_draw_every_epoch():
    import keras

    def losses(binarize):
        # A frozen model (learning rate 0) whose loss is the mean pixel value, so
        # the per-epoch loss changes only when the data does.
        ds = load_dataset("digits", "test", 250, shuffle=False, binarize=binarize, seed=0)
        ds = ds.map(lambda x: (x, tf.zeros_like(x)))
        model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Dense(1, kernel_initializer="ones")])
        model.compile(keras.optimizers.SGD(0.0), "mse")
        return model.fit(ds, epochs=3, verbose=0, shuffle=False).history["loss"]

    dynamic, static = losses("dynamic"), losses("static")
    assert len(set(dynamic)) == 3
    assert len(set(static)) == 1
