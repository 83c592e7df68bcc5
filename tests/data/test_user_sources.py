"""The user's own data: npy/npz files, image folders, CSV tables, TFRecord files and arrays from Python.

Every test writes its files to ``tmp_path`` and compares what the sources give
back with what it wrote: the values, the labels, and a train/test split that
is a reproducible partition of the examples.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfvae.config import ConfigError, ExperimentConfig
from tfvae.data import dataset_info, load_arrays, load_dataset, write_idx
from tfvae.data.names import check_dataset_path
from tfvae.data.sources.tfrecord import in_test_split
from tfvae.data.sources.user import split_indices

N = 20  # examples per file: small, so the whole module runs in seconds


def _rows(a: np.ndarray) -> list[bytes]:
    """Each example as bytes, to compare sets of examples whatever their order."""
    return [r.tobytes() for r in np.ascontiguousarray(a).reshape(len(a), -1)]


def _check_partition(name, x_all, y_all=None, **options):
    """``train`` and ``test`` of ``name`` hold exactly the examples written, each once, in file order."""
    x_train, y_train = load_arrays(name, "train", **options)
    x_test, y_test = load_arrays(name, "test", **options)
    index = split_indices(len(x_all), options.get("test_fraction", 0.1), options.get("split_seed", 0))
    np.testing.assert_array_equal(x_train, x_all[index["train"]])
    np.testing.assert_array_equal(x_test, x_all[index["test"]])
    assert sorted(_rows(np.concatenate([x_train, x_test]))) == sorted(_rows(x_all))
    assert len(x_test) == round(len(x_all) * options.get("test_fraction", 0.1))
    if y_all is not None:
        np.testing.assert_array_equal(y_train, y_all[index["train"]])
        np.testing.assert_array_equal(y_test, y_all[index["test"]])
    return x_train, x_test


# ----------------------------------------------------------------------------
# npy / npz
# ----------------------------------------------------------------------------


@pytest.fixture
def images_npy(tmp_path, rng):
    x = rng.integers(0, 256, size=(N, 8, 6), dtype=np.uint8)  # H != W catches transposes
    np.save(tmp_path / "x.npy", x)
    return f"npy:{tmp_path / 'x.npy'}", x


def test_npy_uint8_images_info_arrays_and_batches(images_npy):
    name, x = images_npy
    info = dataset_info(name)
    assert (info.source, info.image_shape, info.has_labels, info.num_classes) == ("npy", (8, 6, 1), False, None)
    assert dict(info.num_examples) == {"train": 18, "test": 2} and info.splits == ("train", "test")
    assert info.test_fraction == 0.1 and dict(info.options) == {"test_fraction": 0.1, "split_seed": 0}
    x_train, _ = _check_partition(name, x[..., None])
    assert x_train.dtype == np.uint8
    batches = list(load_dataset(name, "train", batch_size=8, shuffle=False, with_labels=True).as_numpy_iterator())
    images = np.concatenate([b[0] for b in batches])
    assert batches[0][0].shape == (8, 8, 6, 1) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    np.testing.assert_array_equal(images, x_train.astype(np.float32) / 255.0)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), np.zeros(18, np.int32))


def test_the_split_is_reproducible_and_follows_test_fraction_and_split_seed(images_npy):
    name, x = images_npy
    first = load_arrays(name, "test")[0]
    np.testing.assert_array_equal(load_arrays(name, "test")[0], first)
    other_seed = load_arrays(name, "test", split_seed=7)[0]
    assert sorted(_rows(other_seed)) != sorted(_rows(first))
    _check_partition(name, x[..., None], test_fraction=0.25, split_seed=7)
    info = dataset_info(name, test_fraction=0.25, split_seed=7)
    assert dict(info.num_examples) == {"train": 15, "test": 5} and info.test_fraction == 0.25
    assert dict(info.options) == {"test_fraction": 0.25, "split_seed": 7}


def test_npz_float_vectors_with_labels(tmp_path, rng):
    x = rng.standard_normal((N, 5)).astype(np.float64)  # float64 on disk -> float32 examples
    y = np.arange(N) % 4
    np.savez(tmp_path / "v.npz", x=x, y=y)
    name = f"npz:{tmp_path / 'v.npz'}"
    info = dataset_info(name)
    assert (info.image_shape, info.has_labels, info.num_classes, info.source) == ((5,), True, 4, "npz")
    x_train, _ = _check_partition(name, x.astype(np.float32), y)
    assert x_train.dtype == np.float32
    xb, yb = next(iter(load_dataset(name, "train", batch_size=100, shuffle=False, with_labels=True)))
    assert xb.dtype == tf.float32 and yb.dtype == tf.int32
    np.testing.assert_array_equal(xb.numpy(), x_train)  # float examples pass as they are, not scaled
    np.testing.assert_array_equal(yb.numpy(), load_arrays(name, "train")[1])
    with pytest.raises(ValueError, match="binarize and dequantize do not apply"):
        load_dataset(name, "train", binarize="dynamic")


def test_npz_float_vectors_without_labels(tmp_path, rng):
    x = rng.standard_normal((N, 3)).astype(np.float32)
    np.savez(tmp_path / "v.npz", x=x)
    name = f"npz:{tmp_path / 'v.npz'}"
    info = dataset_info(name)
    assert (info.has_labels, info.num_classes) == (False, None)
    _check_partition(name, x)
    np.testing.assert_array_equal(load_arrays(name, "train")[1], np.zeros(18, np.int32))
    with pytest.raises(ValueError, match="without labels: with_labels does not apply"):
        load_dataset(name, "train", with_labels=True)


def test_npz_with_its_own_splits(tmp_path, rng):
    x_train, x_test = (rng.integers(0, 256, size=(n, 4, 4, 3), dtype=np.uint8) for n in (12, 5))
    np.savez(tmp_path / "s.npz", x_train=x_train, x_test=x_test, y_train=np.arange(12) % 2, y_test=np.ones(5, int))
    name = f"npz:{tmp_path / 's.npz'}"
    info = dataset_info(name)
    assert dict(info.num_examples) == {"train": 12, "test": 5} and info.test_fraction is None
    assert info.image_shape == (4, 4, 3) and info.num_classes == 2
    np.testing.assert_array_equal(load_arrays(name, "train")[0], x_train)
    np.testing.assert_array_equal(load_arrays(name, "test")[1], np.ones(5))
    with pytest.raises(ValueError, match="test_fraction does not apply: the file holds its own splits"):
        load_arrays(name, "train", test_fraction=0.5)


# ----------------------------------------------------------------------------
# image folders
# ----------------------------------------------------------------------------


def _save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_grey_png_folder_with_class_subfolders(tmp_path, rng):
    x = rng.integers(0, 256, size=(N, 8, 8), dtype=np.uint8)
    labels = np.array([i % 3 for i in range(N)])
    classes = ["cat", "dog", "emu"]
    for i in range(N):  # sorted file order: class by class, then by name
        _save(tmp_path / "img" / classes[labels[i]] / f"{i:03d}.png", x[i])
    order = np.argsort(labels, kind="stable")
    name = f"images:{tmp_path / 'img'}"
    info = dataset_info(name)
    assert (info.source, info.image_shape, info.num_classes, info.has_labels) == ("images", (8, 8, 1), 3, True)
    assert dict(info.num_examples) == {"train": 18, "test": 2}
    _check_partition(name, x[order][..., None], labels[order])
    images, y = next(iter(load_dataset(name, "test", batch_size=5, with_labels=True)))
    assert images.shape == (2, 8, 8, 1) and images.dtype == tf.float32 and y.dtype == tf.int32
    assert float(tf.reduce_max(images)) <= 1.0


def test_colour_png_folder_without_labels_and_the_image_options(tmp_path, rng):
    x = rng.integers(0, 256, size=(6, 8, 8, 3), dtype=np.uint8)
    for i in range(6):
        _save(tmp_path / "rgb" / f"{i}.png", x[i])
    (tmp_path / "rgb" / "notes.txt").write_text("not an image: skipped")
    name = f"images:{tmp_path / 'rgb'}"
    info = dataset_info(name)
    assert (info.image_shape, info.has_labels, info.num_classes) == ((8, 8, 3), False, None)
    _check_partition(name, x)
    grey, _ = load_arrays(name, "train", channels=1)
    assert grey.shape == (5, 8, 8, 1)
    expected = np.asarray(Image.fromarray(x[split_indices(6, 0.1, 0)["train"][0]]).convert("L"))
    np.testing.assert_array_equal(grey[0, ..., 0], expected)
    small = dataset_info(name, image_size=[4, 6], channels=1)
    assert small.image_shape == (4, 6, 1) and small.options["image_size"] == (4, 6)
    assert load_arrays(name, "test", image_size=(4, 6))[0].shape == (1, 4, 6, 3)


def test_an_image_of_another_size_is_named_and_image_size_fixes_it(tmp_path, rng):
    _save(tmp_path / "mixed" / "a.png", rng.integers(0, 256, size=(8, 8), dtype=np.uint8))
    _save(tmp_path / "mixed" / "b.png", rng.integers(0, 256, size=(10, 8), dtype=np.uint8))
    name = f"images:{tmp_path / 'mixed'}"
    with pytest.raises(ValueError, match=r"b\.png is 10x8 \(HxW\) but the first image.*data\.image_size"):
        load_arrays(name, "train")
    x, _ = load_arrays(name, "train", image_size=(8, 8), test_fraction=0.5)
    assert x.shape == (1, 8, 8, 1)


# ----------------------------------------------------------------------------
# CSV
# ----------------------------------------------------------------------------


def test_csv_with_a_label_column(tmp_path, rng):
    x = np.round(rng.standard_normal((N, 3)), 3).astype(np.float32)
    y = np.arange(N) % 2
    lines = ["a,label,b,c"] + [f"{r[0]},{lab},{r[1]},{r[2]}" for r, lab in zip(x, y)]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    name = f"csv:{tmp_path / 't.csv'}"
    info = dataset_info(name, label_column="label")
    assert (info.source, info.image_shape, info.num_classes) == ("csv", (3,), 2)
    _check_partition(name, x, y, label_column="label")
    xb, yb = next(iter(load_dataset(name, "train", batch_size=4, with_labels=True, label_column="label")))
    assert xb.shape == (4, 3) and xb.dtype == tf.float32 and yb.dtype == tf.int32
    unlabelled = dataset_info(name)  # without label_column every column is a feature
    assert unlabelled.image_shape == (4,) and not unlabelled.has_labels


@pytest.mark.parametrize(
    ("content", "options", "message"),
    [
        ("a,b\n1,2\n3,x\n", {}, r"row 3, column 'b': 'x' is not a number"),
        ("a,b\n1,nan\n", {}, r"row 2, column 'b': 'nan' is not a finite number"),
        ("a,y\n1,2.5\n", {"label_column": "y"}, r"row 2, label column 'y': '2.5' is not an integer"),
        ("a,b\n1,2\n", {"label_column": "y"}, r"label_column 'y' is not a column; the columns are: a, b"),
        ("a,b\n1,2,3\n", {}, r"row 2 has 3 cells, the header 2 columns"),
        ("a,b\n", {}, r"has a header but no data rows"),
    ],
    ids=["text", "nan", "float-label", "no-label-column", "long-row", "no-rows"],
)
def test_csv_errors_name_the_row_and_column(tmp_path, content, options, message):
    (tmp_path / "bad.csv").write_text(content)
    with pytest.raises(ValueError, match=message):
        load_arrays(f"csv:{tmp_path / 'bad.csv'}", "train", **options)


# ----------------------------------------------------------------------------
# TFRecord
# ----------------------------------------------------------------------------


def _feature(value) -> tf.train.Feature:
    if isinstance(value, bytes):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
    if isinstance(value, (int, np.integer)):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))
    return tf.train.Feature(float_list=tf.train.FloatList(value=list(np.ravel(value))))


def _write_records(path: Path, records: list[dict]) -> None:
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in records:
            features = tf.train.Features(feature={k: _feature(v) for k, v in record.items()})
            writer.write(tf.train.Example(features=features).SerializeToString())


def _expected_split(sizes: list[int], fraction: float = 0.1, seed: int = 0) -> list[tuple[int, int]]:
    """``(file, record)`` of the test records by the documented rule."""
    return [(f, i) for f, n in enumerate(sizes) for i in range(n) if bool(in_test_split(f, i, fraction, seed))]


def test_tfrecord_float_vectors_stream_and_split_by_record(tmp_path, rng):
    x = rng.standard_normal((2 * N, 4)).astype(np.float32)
    y = np.arange(2 * N) % 5
    for f in range(2):
        part = slice(f * N, (f + 1) * N)
        _write_records(tmp_path / f"part-{f}.tfrecord", [{"x": a, "y": int(b)} for a, b in zip(x[part], y[part])])
    name = f"tfrecord:{tmp_path / 'part-*.tfrecord'}"
    features = {"x": "float32[4]", "y": "int64:5"}
    info = dataset_info(name, features=features)
    assert (info.source, info.image_shape, info.num_classes, info.has_labels) == ("tfrecord", (4,), 5, True)
    assert dict(info.num_examples) == {} and info.test_fraction == 0.1  # records are not counted

    test_at = [f * N + i for f, i in _expected_split([N, N])]
    x_test, y_test = load_arrays(name, "test", features=features)
    x_train, y_train = load_arrays(name, "train", features=features)
    np.testing.assert_array_equal(x_test, x[test_at])
    np.testing.assert_array_equal(y_test, y[test_at])
    train_at = [i for i in range(2 * N) if i not in test_at]
    np.testing.assert_array_equal(x_train, x[train_at])
    np.testing.assert_array_equal(y_train, y[train_at])
    assert 0 < len(test_at) < 2 * N
    # shuffled files, new order each epoch: the same records in each split
    ds = load_dataset(name, "train", batch_size=7, seed=3, features=features, with_labels=True)
    assert isinstance(ds, tf.data.Dataset)
    for _ in range(2):
        got = np.concatenate([b[0] for b in ds.as_numpy_iterator()])
        assert sorted(_rows(got)) == sorted(_rows(x_train))
    # another seed, another split
    assert [f * N + i for f, i in _expected_split([N, N], 0.5, 9)] != test_at
    x_half, _ = load_arrays(name, "test", features=features, test_fraction=0.5, split_seed=9)
    np.testing.assert_array_equal(x_half, x[[f * N + i for f, i in _expected_split([N, N], 0.5, 9)]])


def test_tfrecord_png_images_shape_from_the_first_record(tmp_path, rng):
    x = rng.integers(0, 256, size=(N, 8, 8, 3), dtype=np.uint8)
    _write_records(tmp_path / "img.tfrecord",
                   [{"image": tf.io.encode_png(a).numpy(), "label": i % 2} for i, a in enumerate(x)])
    name = f"tfrecord:{tmp_path / 'img.tfrecord'}"
    features = {"image": "png", "label": "int64"}
    info = dataset_info(name, features=features)
    assert (info.image_shape, info.has_labels, info.num_classes) == ((8, 8, 3), True, None)
    test_at = [i for _, i in _expected_split([N])]
    images, labels = load_arrays(name, "test", features=features)
    assert images.dtype == np.uint8
    np.testing.assert_array_equal(images, x[test_at])  # PNG is lossless
    np.testing.assert_array_equal(labels, np.array(test_at) % 2)
    batch = next(iter(load_dataset(name, "train", batch_size=4, features=features, binarize="dynamic")))
    assert batch.shape == (4, 8, 8, 3) and set(np.unique(batch.numpy())) <= {0.0, 1.0}
    small = dataset_info(name, features=features, image_size=[4, 4], channels=1)
    assert small.image_shape == (4, 4, 1)
    small_images, _ = load_arrays(name, "test", features=features, image_size=[4, 4], channels=1)
    assert small_images.shape == (len(test_at), 4, 4, 1)


def test_tfrecord_raw_uint8_images(tmp_path, rng):
    x = rng.integers(0, 256, size=(N, 4, 3), dtype=np.uint8)
    _write_records(tmp_path / "raw.tfrecord", [{"x": a.tobytes()} for a in x])
    name = f"tfrecord:{tmp_path / 'raw.tfrecord'}"
    info = dataset_info(name, features={"x": "uint8[4,3]"})
    assert info.image_shape == (4, 3, 1) and not info.has_labels
    got, _ = load_arrays(name, "train", features={"x": "uint8[4,3]"})
    np.testing.assert_array_equal(got[..., 0], x[[i for i in range(N) if (0, i) not in _expected_split([N])]])


@pytest.mark.parametrize(
    ("features", "message"),
    [
        (None, r"the TFRecord features must be declared"),
        ({"x": "float[8]"}, r"features\['x'\]: cannot parse 'float\[8\]'"),
        ({"x": "uint8[8]"}, r"uint8 examples are raw images uint8\[H,W\] or uint8\[H,W,C\]"),
        ({"y": "int64"}, r"has no example feature"),
        ({"x": "float32[2]", "z": "float32[2]"}, r"two example features"),
    ],
    ids=["missing", "bad-dtype", "uint8-vector", "label-only", "two-examples"],
)
def test_tfrecord_feature_spec_errors(tmp_path, features, message):
    _write_records(tmp_path / "r.tfrecord", [{"x": np.zeros(2, np.float32)}])
    with pytest.raises(ValueError, match=message):
        dataset_info(f"tfrecord:{tmp_path / 'r.tfrecord'}", features=features)


# ----------------------------------------------------------------------------
# arrays from Python, IDX without labels
# ----------------------------------------------------------------------------


def test_arrays_from_python(rng):
    x = rng.standard_normal((N, 6)).astype(np.float32)
    y = np.arange(N) % 3
    info = dataset_info(x)
    assert (info.name, info.source, info.image_shape, info.has_labels) == ("array", "array", (6,), False)
    _check_partition(x, x)
    _check_partition((x, y), x, y, test_fraction=0.3, split_seed=1)
    assert dataset_info((x, y)).num_classes == 3
    xb, yb = next(iter(load_dataset((x, y), "train", batch_size=100, shuffle=False, with_labels=True)))
    np.testing.assert_array_equal(xb.numpy(), load_arrays(x, "train")[0])
    np.testing.assert_array_equal(yb.numpy(), y[split_indices(N, 0.1, 0)["train"]])
    assert x.flags.writeable  # the caller's array is left as it was
    images = rng.integers(0, 256, size=(N, 5, 5), dtype=np.uint8)
    batch = next(iter(load_dataset(images, "test", batch_size=8, dequantize=True)))
    assert batch.shape == (2, 5, 5, 1) and 0.0 <= float(tf.reduce_min(batch)) and float(tf.reduce_max(batch)) < 1.0
    with pytest.raises(ValueError, match=r"array: 20 examples but 3 labels"):
        dataset_info((x, y[:3]))
    binary = x > 0  # bool: float32 0/1
    bits, _ = load_arrays(binary, "train")
    assert bits.dtype == np.float32
    np.testing.assert_array_equal(bits, binary[split_indices(N, 0.1, 0)["train"]].astype(np.float32))


def test_idx_directory_without_label_files(tmp_path, rng):
    images = rng.integers(0, 256, size=(7, 5, 4), dtype=np.uint8)
    write_idx(tmp_path / "train-images-idx3-ubyte", images)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", images[:3])
    info = dataset_info(f"idx:{tmp_path}")
    assert (info.has_labels, info.num_classes, dict(info.num_examples)) == (False, None, {"train": 7, "test": 3})
    x, y = load_arrays(f"idx:{tmp_path}", "train")
    np.testing.assert_array_equal(x[..., 0], images)
    np.testing.assert_array_equal(y, np.zeros(7, np.int32))
    # a label file for one split only: that split's labels are read, the dataset has no labels overall
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.arange(7, dtype=np.uint8) % 2)
    assert not dataset_info(f"idx:{tmp_path}").has_labels
    np.testing.assert_array_equal(load_arrays(f"idx:{tmp_path}", "train")[1], np.arange(7) % 2)


# ----------------------------------------------------------------------------
# errors and options
# ----------------------------------------------------------------------------


def test_missing_paths_are_file_not_found_errors_naming_them(tmp_path):
    (tmp_path / "file.npz").write_bytes(b"")
    cases = {
        f"npz:{tmp_path / 'data.npz'}": r"npz:.*data\.npz: no such file \(.*data\.npz does not exist\)",
        f"npy:{tmp_path}": r"is a directory, not a file",
        f"csv:{tmp_path / 'no.csv'}": r"no such file",
        f"images:{tmp_path / 'nodir'}": r"images:.*nodir: no such directory",
        f"images:{tmp_path / 'file.npz'}": r"file\.npz \(the image folder\) is a file, not a directory",
        f"idx:{tmp_path / 'nodir'}": r"does not exist",
        f"tfrecord:{tmp_path / '*.tfrecord'}": r"no file matches .*\*\.tfrecord",
        f"tfrecord:{tmp_path}": r"is a directory, not a file: give a file or a glob",
    }
    for name, message in cases.items():
        with pytest.raises(FileNotFoundError, match=message) as from_helper:
            check_dataset_path(name)
        with pytest.raises(FileNotFoundError) as from_loader:
            dataset_info(name, features={"x": "float32[1]"} if name.startswith("tfrecord:") else None)
        assert str(from_loader.value) == str(from_helper.value)  # the command line's message, word for word
    with pytest.raises(ValueError, match=r"no path after 'csv:': write csv:PATH"):
        check_dataset_path("csv:")
    check_dataset_path("digits")  # not a path: nothing to check


def test_the_names_module_imports_neither_tensorflow_nor_numpy(tmp_path):
    path = Path(__file__).resolve().parents[2] / "tfvae" / "data" / "names.py"
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('names', {str(path)!r})\n"
        "names = importlib.util.module_from_spec(spec); spec.loader.exec_module(names)\n"
        "try:\n"
        f"    names.check_dataset_path({'npz:' + str(tmp_path / 'x.npz')!r})\n"
        "except FileNotFoundError as e:\n"
        "    print(e)\n"
        "print(sorted(m for m in ('tensorflow', 'numpy') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [f"npz:{tmp_path / 'x.npz'}: no such file ({tmp_path / 'x.npz'} does not exist)", "[]"]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda d: os.mkdir(d / "empty"), r"holds no PNG or JPEG files"),
        (lambda d: np.savez(d / "data", a=np.zeros((2, 2))), r"has no array 'x' \(nor 'x_train' and 'x_test'\); "
                                                             r"it holds: a"),
        (lambda d: np.savez(d / "data", x=np.zeros((3, 2)), y=np.zeros(2, int)), r"3 examples but 2 labels in 'y'"),
        (lambda d: np.savez(d / "data", x=np.array([[0.0], [np.nan]])), r"'x' holds a NaN or an infinity "
                                                                         r"\(first in example 1\)"),
        (lambda d: np.savez(d / "data", x=np.zeros((3, 2)), y=np.array([0.5, 1, 2])), r"labels 'y' must be integers"),
        (lambda d: np.savez(d / "data", x=np.zeros((3, 2), np.int64)), r"holds int64 values; expected uint8 images"),
    ],
    ids=["empty-folder", "npz-without-x", "label-length", "nan", "float-labels", "int64-examples"],
)
def test_bad_data_is_a_value_error_naming_the_problem(tmp_path, setup, message):
    setup(tmp_path)
    name = f"images:{tmp_path / 'empty'}" if (tmp_path / "empty").exists() else f"npz:{tmp_path / 'data.npz'}"
    with pytest.raises(ValueError, match=message):
        dataset_info(name)


def test_options_that_do_not_apply_are_errors_only_when_set(images_npy):
    name, _ = images_npy
    with pytest.raises(ValueError, match=r"label_column='y' does not apply to dataset 'digits': it is an option of "
                                         r"csv: data \(data\.label_column\)"):
        dataset_info("digits", label_column="y")
    with pytest.raises(ValueError, match=r"image_size=\[4, 4\] does not apply to dataset 'npy:"):
        load_arrays(name, "train", image_size=[4, 4])
    with pytest.raises(ValueError, match=r"test_fraction must be a number in \(0, 1\), got 1.5"):
        dataset_info(name, test_fraction=1.5)
    # defaults are no error anywhere
    assert dataset_info("digits", test_fraction=0.1, split_seed=0, features={}).num_classes == 10


def test_config_source_options_reach_the_loader(tmp_path, rng):
    x = np.round(rng.standard_normal((N, 2)), 3)
    (tmp_path / "t.csv").write_text("u,v,k\n" + "".join(f"{a},{b},{i % 2}\n" for i, (a, b) in enumerate(x)))
    data = {"dataset": f"csv:{tmp_path / 't.csv'}", "label_column": "k", "test_fraction": 0.25, "split_seed": 3}
    config = ExperimentConfig.from_dict({"data": data})
    options = config.data.source_options()
    assert options == {"data_dir": None, "pad_to": None, "limit": None, "label_column": "k",
                       "test_fraction": 0.25, "split_seed": 3}
    info = dataset_info(config.data.dataset, **options)
    assert (info.image_shape, info.num_classes, dict(info.num_examples)) == ((2,), 2, {"train": 15, "test": 5})
    x_test, _ = load_arrays(config.data.dataset, "test", **options)
    np.testing.assert_array_equal(x_test, x.astype(np.float32)[split_indices(N, 0.25, 3)["test"]])
    assert ExperimentConfig.from_dict({"data": {"features": {"x": "png"}, "image_size": [8, 8], "channels": 3}}) \
        .data.source_options()["features"] == {"x": "png"}
    for bad, message in [({"test_fraction": 1.0}, r"^data\.test_fraction: must be in \(0, 1\), got 1\.0$"),
                         ({"image_size": [8]}, r"^data\.image_size: must be \[H, W\]"),
                         ({"channels": 2}, r"^data\.channels: must be 1 \(grey\), 3 \(RGB\) or absent, got 2$"),
                         ({"features": {"x": 3}}, r"^data\.features: must be a table of feature name"),
                         ({"label_column": 3}, r"^data\.label_column: expected str or NoneType")]:
        with pytest.raises(ConfigError, match=message):
            ExperimentConfig.from_dict({"data": bad})
