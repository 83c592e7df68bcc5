"""IDX directories: MNIST-format files on disk, read with :mod:`tfvae.data.idx_format`.

:mod:`tfvae.data.idx_format` reads and writes ONE IDX file; this source knows the
directory layout of MNIST / Fashion-MNIST: ``train-images-idx3-ubyte``,
``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
``t10k-labels-idx1-ubyte``, each optionally ``.gz`` (the
``name.idx3-ubyte`` spelling is accepted too). Splits ``"train"`` and
``"test"`` (t10k); a directory may hold only one of them. The label files are
optional: a split with images but no labels gets labels 0, and the dataset
has labels (``DatasetInfo.has_labels``) only when every split has its label
file.
"""

from __future__ import annotations

import functools
import os
import types

import numpy as np

from tfvae.data.idx_format import read_idx, read_idx_header
from tfvae.data.sources.base import (
    ArraySource,
    DatasetInfo,
    DatasetUnavailableError,
    check_split,
    readonly,
)

__all__ = ["FASHION_MNIST_IDX_DIR", "IDX_SPLIT_PREFIX", "IdxSource", "idx_file", "is_idx_dir"]

FASHION_MNIST_IDX_DIR = "/usr/share/datasets/fashion-mnist"
"""Where Debian's ``dataset-fashion-mnist`` package installs the IDX files."""

IDX_SPLIT_PREFIX = {"train": "train", "test": "t10k"}
"""Split name -> the file name prefix of its images and labels."""


def idx_file(directory: str, prefix: str, kind: str, ndim: int) -> str | None:
    """The path of e.g. ``train-images-idx3-ubyte[.gz]`` in ``directory``, or None."""
    for stem in (f"{prefix}-{kind}-idx{ndim}-ubyte", f"{prefix}-{kind}.idx{ndim}-ubyte"):
        for suffix in ("", ".gz"):
            path = os.path.join(directory, stem + suffix)
            if os.path.isfile(path):
                return path
    return None


def is_idx_dir(directory: str | None) -> bool:
    """Whether ``directory`` holds the images of at least one IDX split."""
    return bool(directory) and os.path.isdir(directory) and any(
        idx_file(directory, prefix, "images", 3) for prefix in IDX_SPLIT_PREFIX.values()
    )


@functools.lru_cache(maxsize=8)
def _read_idx_pair(images_path: str, labels_path: str | None, stamp: tuple) -> tuple[np.ndarray, np.ndarray]:
    del stamp  # part of the cache key only: a rewritten file is read again
    x = read_idx(images_path)
    y = read_idx(labels_path) if labels_path is not None else np.zeros(len(x), np.int32)
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
    return readonly(x, y.astype(np.int32))


class IdxSource(ArraySource):
    """The images and labels of an IDX directory, read whole and cached per file (a rewritten file is read again).

    Args:
      name: the dataset name.
      directory: the IDX directory (``~`` expanded).
      missing_hint: when given, a missing directory raises
        :class:`DatasetUnavailableError` with this hint (how to install it)
        instead of ``FileNotFoundError``.

    Raises:
      FileNotFoundError: ``directory`` is a file, or missing (no hint).
      DatasetUnavailableError: ``directory`` is missing and a hint was given.
    """

    def __init__(self, name: str, directory: str, missing_hint: str = ""):
        self.name = name
        self.directory = os.path.abspath(os.path.expanduser(directory))
        self.location = self.directory
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

    @staticmethod
    def _expected() -> str:
        return (
            "Expected IDX files train-images-idx3-ubyte, train-labels-idx1-ubyte, "
            "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (each optionally .gz; the labels optional)."
        )

    def _paths(self, split: str) -> tuple[str, str | None] | None:
        """``(images, labels or None)`` of ``split``, or None when its images are missing."""
        prefix = IDX_SPLIT_PREFIX[split]
        images = idx_file(self.directory, prefix, "images", 3)
        labels = idx_file(self.directory, prefix, "labels", 1)
        return (images, labels) if images else None

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(s for s in IDX_SPLIT_PREFIX if self._paths(s))

    def _require(self, split: str) -> tuple[str, str | None]:
        check_split(split, tuple(IDX_SPLIT_PREFIX), self.name)
        paths = self._paths(split)
        if paths is None:
            prefix = IDX_SPLIT_PREFIX[split]
            raise FileNotFoundError(
                f"Split {split!r} of IDX directory {self.directory} needs {prefix}-images-idx3-ubyte "
                f"(and, for labels, {prefix}-labels-idx1-ubyte; optionally .gz); found: "
                f"{', '.join(sorted(os.listdir(self.directory))) or 'nothing'}"
            )
        return paths

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        images, labels = self._require(split)
        stamp = tuple((os.stat(p).st_mtime_ns, os.stat(p).st_size) for p in (images, labels) if p is not None)
        return _read_idx_pair(images, labels, stamp)

    def info(self) -> DatasetInfo:
        splits = self.splits
        if not splits:
            raise FileNotFoundError(f"No IDX split found in {self.directory}. {self._expected()}")
        counts = {}
        image_shape = None
        has_labels = True
        for split in splits:
            images, labels = self._require(split)
            _, shape = read_idx_header(images)
            counts[split] = shape[0]
            image_shape = tuple(shape[1:]) + ((1,) if len(shape) == 3 else ())
            has_labels = has_labels and labels is not None
        num_classes = None
        if has_labels:
            _, y = self.arrays(splits[0])
            num_classes = int(y.max()) + 1 if len(y) else 0
        return DatasetInfo(
            name=self.name,
            source="idx",
            image_shape=image_shape,
            num_classes=num_classes,
            has_labels=has_labels,
            splits=splits,
            num_examples=types.MappingProxyType(counts),
            location=self.directory,
        )
