"""IDX reader/writer and IDX-directory datasets (MNIST file format)."""

import gzip
import os
import struct

import numpy as np
import pytest

from tfvae.data import (
    FASHION_MNIST_IDX_DIR,
    DatasetUnavailableError,
    IdxFormatError,
    dataset_info,
    load_arrays,
    load_dataset,
    read_idx,
    read_idx_header,
    write_idx,
)

# ----------------------------------------------------------------------------
# read_idx / write_idx
# ----------------------------------------------------------------------------


def test_read_idx_parses_hand_written_mnist_style_file(tmp_path):
    # Build the bytes by hand, as the MNIST spec describes them: magic 0x00000803
    # (uint8, 3 dims), big-endian uint32 dims 2 x 3 x 2, then the pixels.
    pixels = bytes(range(12))
    path = tmp_path / "images-idx3-ubyte"
    path.write_bytes(b"\x00\x00\x08\x03" + struct.pack(">III", 2, 3, 2) + pixels)
    x = read_idx(path)
    assert x.dtype == np.uint8
    assert x.shape == (2, 3, 2)
    np.testing.assert_array_equal(x, np.arange(12, dtype=np.uint8).reshape(2, 3, 2))


def test_write_idx_produces_the_exact_spec_bytes(tmp_path):
    labels = np.array([7, 2, 1, 0], np.uint8)
    write_idx(tmp_path / "labels", labels)
    assert (tmp_path / "labels").read_bytes() == b"\x00\x00\x08\x01" + struct.pack(">I", 4) + bytes([7, 2, 1, 0])
    # Multi-byte types are big-endian on disk.
    write_idx(tmp_path / "ints", np.array([1, -2], np.int32))
    assert (tmp_path / "ints").read_bytes() == b"\x00\x00\x0c\x01" + struct.pack(">I", 2) + struct.pack(">ii", 1, -2)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_round_trip_images_and_labels(tmp_path, rng, suffix):
    images = rng.integers(0, 256, size=(17, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=(17,), dtype=np.uint8)
    write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", images)
    write_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", labels)
    raw = (tmp_path / f"train-images-idx3-ubyte{suffix}").read_bytes()
    assert raw[:2] == (b"\x1f\x8b" if suffix else b"\x00\x00")  # really gzip-compressed, or not
    x = read_idx(tmp_path / f"train-images-idx3-ubyte{suffix}")
    y = read_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}")
    assert x.dtype == np.uint8 and x.shape == (17, 28, 28)
    assert y.dtype == np.uint8 and y.shape == (17,)
    np.testing.assert_array_equal(x, images)
    np.testing.assert_array_equal(y, labels)
    dtype, shape = read_idx_header(tmp_path / f"train-images-idx3-ubyte{suffix}")
    assert dtype == np.uint8 and shape == (17, 28, 28)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.float32, np.float64])
def test_round_trip_other_dtypes(tmp_path, rng, dtype):
    array = (rng.standard_normal((3, 4)) * 100).astype(dtype)
    write_idx(tmp_path / "a.gz", array)
    back = read_idx(tmp_path / "a.gz")
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    np.testing.assert_array_equal(back, array)


def test_gzip_detected_from_content_not_name(tmp_path):
    data = b"\x00\x00\x08\x01" + struct.pack(">I", 3) + bytes([5, 6, 7])
    (tmp_path / "labels-no-suffix").write_bytes(gzip.compress(data))
    np.testing.assert_array_equal(read_idx(tmp_path / "labels-no-suffix"), [5, 6, 7])


def test_write_idx_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(ValueError, match="int64"):
        write_idx(tmp_path / "x", np.zeros(3, np.int64))


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        read_idx(tmp_path / "nothing-here")


@pytest.mark.parametrize(
    "content, match",
    [
        (b"\x01\x02\x08\x01" + struct.pack(">I", 1) + b"\x00", "bad magic"),
        (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00", "unknown IDX dtype code 0x07"),
        (b"\x00\x00\x08", "truncated header"),
        (b"\x00\x00\x08\x03" + struct.pack(">I", 10), "truncated header"),
        (b"\x00\x00\x08\x03" + struct.pack(">III", 2, 2, 2) + bytes(5), "truncated data"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 2) + bytes(3), "longer than its header"),
    ],
    ids=["bad-magic", "bad-dtype", "short-magic", "short-dims", "short-data", "extra-bytes"],
)
@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_malformed_files_raise_clear_errors(tmp_path, content, match, compress):
    path = tmp_path / "bad"
    path.write_bytes(gzip.compress(content) if compress else content)
    with pytest.raises(IdxFormatError, match=match):
        read_idx(path)


def test_truncated_gzip_stream(tmp_path, rng):
    write_idx(tmp_path / "x.gz", rng.integers(0, 256, size=(50, 28, 28), dtype=np.uint8))
    raw = (tmp_path / "x.gz").read_bytes()
    (tmp_path / "cut.gz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(IdxFormatError, match="(?i)truncated|gzip"):
        read_idx(tmp_path / "cut.gz")


# ----------------------------------------------------------------------------
# IDX directories as datasets
# ----------------------------------------------------------------------------


def _write_split(directory, prefix, images, labels, gz):
    suffix = ".gz" if gz else ""
    write_idx(os.path.join(directory, f"{prefix}-images-idx3-ubyte{suffix}"), images)
    write_idx(os.path.join(directory, f"{prefix}-labels-idx1-ubyte{suffix}"), labels)


@pytest.fixture
def idx_dir(tmp_path, rng):
    """A tiny MNIST-layout directory: gzip train split (40 x 7x5), plain test split (9)."""
    train_x = rng.integers(0, 256, size=(40, 7, 5), dtype=np.uint8)  # H != W catches transposes
    train_y = (np.arange(40) % 4).astype(np.uint8)
    test_x = rng.integers(0, 256, size=(9, 7, 5), dtype=np.uint8)
    test_y = (np.arange(9) % 4).astype(np.uint8)
    _write_split(tmp_path, "train", train_x, train_y, gz=True)
    _write_split(tmp_path, "t10k", test_x, test_y, gz=False)
    return tmp_path, {"train": (train_x, train_y), "test": (test_x, test_y)}


@pytest.mark.parametrize("split", ["train", "test"])
def test_load_dataset_from_idx_dir(idx_dir, split):
    directory, expected = idx_dir
    x_true, y_true = expected[split]
    ds = load_dataset(f"idx:{directory}", split, batch_size=8, shuffle=False, with_labels=True)
    batches = list(ds.as_numpy_iterator())
    assert batches[0][0].shape == (8, 7, 5, 1) and batches[0][0].dtype == np.float32
    assert batches[0][1].dtype == np.int32
    x = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches])
    np.testing.assert_array_equal(x, x_true[..., None].astype(np.float32) / 255.0)
    np.testing.assert_array_equal(y, y_true)


def test_load_dataset_with_data_dir_pointing_at_idx_files(idx_dir):
    directory, expected = idx_dir
    x, y = load_arrays("my_local_digits", "test", data_dir=str(directory))
    assert x.shape == (9, 7, 5, 1) and x.dtype == np.uint8 and y.dtype == np.int32
    np.testing.assert_array_equal(x[..., 0], expected["test"][0])
    ds = load_dataset("idx", "train", batch_size=40, data_dir=str(directory), shuffle=False)
    np.testing.assert_array_equal(next(iter(ds)).numpy()[..., 0] * 255.0, expected["train"][0].astype(np.float32))


def test_shuffled_idx_epoch_is_a_permutation(idx_dir):
    directory, expected = idx_dir
    ds = load_dataset(f"idx:{directory}", "train", batch_size=16, seed=3, with_labels=True)
    x = np.concatenate([b[0] for b in ds.as_numpy_iterator()])
    x_true = expected["train"][0][..., None].astype(np.float32) / 255.0
    assert not np.array_equal(x, x_true)  # shuffled (40! orders; identity is practically impossible)
    order = lambda a: np.lexsort(a.reshape(len(a), -1).T)  # noqa: E731
    np.testing.assert_array_equal(x[order(x)], x_true[order(x_true)])


def test_idx_dataset_info(idx_dir):
    directory, _ = idx_dir
    info = dataset_info(f"idx:{directory}")
    assert info.source == "idx"
    assert info.image_shape == (7, 5, 1)
    assert info.num_examples == {"train": 40, "test": 9}
    assert info.splits == ("train", "test")
    assert info.num_classes == 4


def test_idx_dir_errors(tmp_path, idx_dir):
    directory, _ = idx_dir
    with pytest.raises(ValueError, match="train, test"):
        load_dataset(f"idx:{directory}", "validation")
    only_train = tmp_path / "only_train"
    only_train.mkdir()
    _write_split(only_train, "train", np.zeros((2, 3, 3), np.uint8), np.zeros(2, np.uint8), gz=False)
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte"):
        load_arrays(f"idx:{only_train}", "test")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_dataset(f"idx:{tmp_path / 'missing'}", "train")
    mismatch = tmp_path / "mismatch"
    mismatch.mkdir()
    _write_split(mismatch, "train", np.zeros((3, 2, 2), np.uint8), np.zeros(2, np.uint8), gz=False)
    with pytest.raises(ValueError, match="3 images but .* 2 labels"):
        load_arrays(f"idx:{mismatch}", "train")


def test_fashion_mnist_idx_missing_dir_says_how_to_install(tmp_path):
    with pytest.raises(DatasetUnavailableError, match="apt-get install dataset-fashion-mnist"):
        load_dataset("fashion_mnist_idx", "train", data_dir=str(tmp_path / "not-installed"))


@pytest.mark.skipif(
    not os.path.isdir(FASHION_MNIST_IDX_DIR),
    reason=f"{FASHION_MNIST_IDX_DIR} absent (apt-get install dataset-fashion-mnist)",
)
def test_debian_fashion_mnist_idx():
    info = dataset_info("fashion_mnist_idx")
    assert info.image_shape == (28, 28, 1)
    assert dict(info.num_examples) == {"train": 60000, "test": 10000}
    x, y = load_arrays("fashion_mnist_idx", "test")
    assert x.shape == (10000, 28, 28, 1) and x.dtype == np.uint8
    # Fashion-MNIST is balanced: 1,000 test images per class.
    np.testing.assert_array_equal(np.bincount(y, minlength=10), np.full(10, 1000))
    assert x.max() == 255 and x.min() == 0
    images, labels = next(iter(load_dataset("fashion_mnist_idx", "train", 64, with_labels=True)))
    assert images.shape == (64, 28, 28, 1) and labels.shape == (64,)
