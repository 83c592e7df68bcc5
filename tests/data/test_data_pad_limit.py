"""``pad_to`` (zero-pad images to N x N) and ``limit`` (the first N examples) in every loader."""

import numpy as np
import pytest

from tfvae.data import dataset_info, image_padding, load_arrays, load_dataset


def _all(dataset):
    return np.concatenate([np.asarray(b) for b in dataset])


def test_image_padding_is_centred_with_the_extra_pixel_at_the_end():
    assert image_padding((28, 28, 1), 32) == ((2, 2), (2, 2))
    assert image_padding((28, 28, 1), 31) == ((1, 2), (1, 2))
    assert image_padding((28, 20, 3), 28) == ((0, 0), (4, 4))
    assert image_padding((28, 28, 1), None) == ((0, 0), (0, 0))


def test_pad_to_zero_pads_the_digits_around_the_original_pixels():
    x, _ = load_arrays("digits", "test")
    padded = _all(load_dataset("digits", "test", batch_size=10, shuffle=False, pad_to=32, limit=24))
    assert padded.shape == (24, 32, 32, 1) and padded.dtype == np.float32
    np.testing.assert_array_equal(padded[:, 2:30, 2:30], x[:24].astype(np.float32) / 255.0)
    border = padded.copy()
    border[:, 2:30, 2:30] = 0
    assert not border.any()  # 2 rows/columns of background 0 on every side
    assert padded[:, 2:30, 2:30].max() == 1.0  # the digits themselves are there


def test_odd_padding_and_static_binarisation_keep_the_unpadded_draws():
    kwargs = dict(batch_size=8, shuffle=False, binarize="static", seed=3, limit=16)
    plain = _all(load_dataset("digits", "train", **kwargs))
    padded = _all(load_dataset("digits", "train", pad_to=31, **kwargs))
    assert padded.shape == (16, 31, 31, 1)
    np.testing.assert_array_equal(padded[:, 1:29, 1:29], plain)  # the same Bernoulli draws
    assert not padded[:, :1].any() and not padded[:, 29:].any()
    assert not padded[:, :, :1].any() and not padded[:, :, 29:].any()
    assert set(np.unique(padded)) == {0.0, 1.0}


def test_dynamic_binarisation_and_dequantisation_treat_the_padding_as_background():
    binary = _all(load_dataset("digits", "train", batch_size=16, binarize="dynamic", pad_to=32, limit=16))
    assert not binary[:, :2].any() and not binary[:, 30:].any() and binary.any()
    noisy = _all(load_dataset("digits", "train", batch_size=16, shuffle=False, dequantize=True, pad_to=32, limit=16))
    assert noisy[:, :2].max() < 1 / 256 and noisy[:, :2].min() >= 0  # grey level 0 plus noise, like the background


def test_dataset_info_reports_the_padded_shape_and_the_limited_sizes():
    info = dataset_info("digits", pad_to=32)
    assert info.image_shape == (32, 32, 1) and info.data_shape == (32, 32, 1)
    assert dict(info.num_examples) == {"train": 4000, "test": 1000, "all": 5000}
    limited = dataset_info("digits", pad_to=32, limit=64)
    assert dict(limited.num_examples) == {"train": 64, "test": 64, "all": 64}
    assert dataset_info("digits").image_shape == (28, 28, 1)  # unchanged without it
    assert dict(dataset_info("sines", limit=7).num_examples) == {"train": 7, "test": 7}
    assert dataset_info("shapes", pad_to=70).data_shape == (70, 70, 1)


def test_load_arrays_pad_to_and_limit():
    x, y = load_arrays("digits", "train")
    xp, yp = load_arrays("digits", "train", pad_to=32, limit=5)
    assert xp.shape == (5, 32, 32, 1) and xp.dtype == np.uint8
    np.testing.assert_array_equal(xp[:, 2:30, 2:30], x[:5])
    np.testing.assert_array_equal(yp, y[:5])
    assert xp.sum() == x[:5].sum()  # nothing but zeros added


@pytest.mark.parametrize("split", ["train", "test"])
def test_limit_keeps_the_first_examples_of_each_split(split):
    x, _ = load_arrays("digits", split)
    ordered = _all(load_dataset("digits", split, batch_size=25, shuffle=False, limit=64))
    assert len(ordered) == 64
    np.testing.assert_array_equal(ordered, x[:64].astype(np.float32) / 255.0)
    shuffled = _all(load_dataset("digits", split, batch_size=25, shuffle=True, limit=64, seed=1))
    assert len(shuffled) == 64  # the same 64 examples, another order
    assert sorted(r.tobytes() for r in shuffled) == sorted(r.tobytes() for r in ordered)
    images, labels = next(iter(load_dataset("digits", split, batch_size=100, limit=30, with_labels=True)))
    assert images.shape[0] == labels.shape[0] == 30


def test_limit_and_padding_on_generated_datasets():
    sines = _all(load_dataset("sines", "train", batch_size=4, limit=10, shuffle=False))
    assert sines.shape == (10, 20, 1)
    shapes = _all(load_dataset("shapes", "test", batch_size=4, limit=6, pad_to=66, shuffle=False))
    plain = _all(load_dataset("shapes", "test", batch_size=4, limit=6, shuffle=False))
    assert shapes.shape == (6, 66, 66, 1)
    np.testing.assert_array_equal(shapes[:, 1:65, 1:65], plain)
    assert shapes.sum() == plain.sum()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: load_dataset("digits", "train", pad_to=20), r"pad_to=20 is smaller than the 28x28 images.*>= 28"),
        (lambda: dataset_info("digits", pad_to=27), r"pad_to=27 is smaller"),
        (lambda: load_arrays("digits", "test", pad_to=10), r"pad_to=10 is smaller"),
        (lambda: load_dataset("sines", "train", pad_to=32), r"pad_to applies to image datasets.*\(20, 1\)"),
        (lambda: dataset_info("lowrank_ratings", pad_to=400), r"pad_to applies to image datasets"),
        (lambda: load_dataset("digits", "train", limit=0), r"limit must be None or a positive integer, got 0"),
        (lambda: dataset_info("digits", limit=-3), r"limit must be None or a positive integer"),
        (lambda: load_dataset("digits", "train", pad_to=32.0), r"pad_to must be None or a positive integer"),
        (lambda: load_dataset("digits", "train", limit=True), r"limit must be None or a positive integer"),
    ],
)
def test_bad_pad_to_and_limit_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()
