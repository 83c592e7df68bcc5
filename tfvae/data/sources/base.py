"""The one protocol every data source follows, what it describes (:class:`DatasetInfo`) and its errors.

A source is where the examples of ONE named dataset come from. It does not
batch, shuffle or preprocess: :func:`tfvae.data.load_dataset` builds the same
pipeline over every source, and :func:`tfvae.data.load_arrays` reads a whole
split through :meth:`Source.arrays`. Two attributes tell the pipeline what
differs between sources, so it never asks which source it holds:

- ``in_memory``: the examples are numpy arrays held in memory. The pipeline
  shuffles all of them at once and does not cache them a second time.
- ``image_options``: the examples are labelled ``uint8`` images, so
  ``binarize``, ``dequantize`` and ``with_labels`` apply.

Examples are ``uint8`` images ``[H, W, C]`` (0..255, scaled to ``[0, 1]`` per
batch by the pipeline) or ``float32`` examples of any shape (passed as they
are); labels are ``int32`` (zeros when the dataset has none).
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np
import tensorflow as tf

from tfvae.errors import TfvaeError

__all__ = [
    "ArraySource",
    "DatasetInfo",
    "DatasetUnavailableError",
    "EmptySplitError",
    "Source",
    "UserDataError",
    "check_split",
    "readonly",
]


class DatasetUnavailableError(TfvaeError, RuntimeError):
    """A known dataset whose data is not on this machine and cannot be fetched."""


class EmptySplitError(TfvaeError, ValueError):
    """A split that holds no examples: a training pipeline over it would run no step."""


class UserDataError(TfvaeError, ValueError):
    """The user's files, arrays or source options are not what the source needs (the message names what and where)."""


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What a dataset holds, known without loading it.

    Attributes:
      name: the name it was resolved from (e.g. ``"digits"``, ``"mnist"``,
        ``"npz:data.npz"``; ``"array"`` for arrays passed from Python).
      source: ``"embedded"``, ``"idx"``, ``"tfds"``, ``"generated"``, or for
        the user's own data ``"npy"``, ``"npz"``, ``"images"``, ``"csv"``,
        ``"tfrecord"``, ``"array"``.
      image_shape: ``(H, W, C)`` of every image (the example shape of a
        generated dataset, e.g. ``(20, 1)`` for sequences).
      num_classes: number of label classes, ``None`` when there are no labels.
      has_labels: ``False`` when the labels are all 0 placeholders.
      splits: the split names.
      num_examples: examples per split, read-only; empty for a tfds dataset
        that is not prepared yet and for TFRecord files (not counted: that
        would read them all).
      location: the IDX directory, tfds data directory, or the user's file,
        folder or glob; ``None`` for the embedded and generated sets and
        in-memory arrays.
      test_fraction: the fraction of the examples drawn into ``"test"`` when
        the source made its own train/test split (see
        :mod:`tfvae.data.sources.user`); ``None`` when the data came split.
      options: the source options in effect (``test_fraction``,
        ``split_seed``, ``image_size``, ``channels``, ``label_column``,
        ``features``, ...), read-only; empty for sources that take none.
    """

    name: str
    source: str
    image_shape: tuple[int, ...]
    num_classes: int | None
    has_labels: bool
    splits: tuple[str, ...]
    num_examples: Mapping[str, int]
    location: str | None = None
    test_fraction: float | None = None
    options: Mapping[str, Any] = dataclasses.field(default_factory=lambda: types.MappingProxyType({}))

    @property
    def data_shape(self) -> tuple[int, ...]:
        """Shape of one example (``image_shape`` for images, ``(T, F)`` for sequences)."""
        return tuple(self.image_shape)


class Source(Protocol):
    """Where the examples of one dataset come from.

    Attributes:
      name: the dataset name the source was resolved from.
      location: the directory it reads (IDX directory, tfds data directory),
        ``None`` for data held in code.
      in_memory: the examples are numpy arrays in memory (shuffled all at
        once, never cached again).
      image_options: ``binarize``, ``dequantize`` and ``with_labels`` apply.
    """

    name: str
    location: str | None
    in_memory: bool
    image_options: bool

    def info(self) -> DatasetInfo:
        """What the dataset holds, without loading it (and without downloading)."""
        ...

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """The whole split in memory: ``(examples, int32 labels)``."""
        ...

    def examples(self, split: str, *, shuffle_files: bool, seed: int) -> tuple[tf.data.Dataset, int | None]:
        """Unbatched ``(example, label)`` pairs of the split, and their number when known.

        ``shuffle_files`` (with ``seed``) lets a file-backed source read its
        files in a shuffled order; in-memory sources ignore both.
        """
        ...


def readonly(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Mark ``arrays`` read-only (they are cached and shared) and return them."""
    for a in arrays:
        a.setflags(write=False)
    return arrays


def check_split(split: str, splits: tuple[str, ...], name: str) -> None:
    """Raise the ``ValueError`` that lists the valid splits when ``split`` is not one of them."""
    if split not in splits:
        raise ValueError(f"Unknown split {split!r} for dataset {name!r}; valid splits: {', '.join(splits)}")


class ArraySource:
    """A source held in memory as numpy arrays: subclasses give :meth:`info` and :meth:`arrays`."""

    name: str
    location: str | None = None
    in_memory = True
    image_options = True

    def info(self) -> DatasetInfo:  # pragma: no cover - abstract
        raise NotImplementedError

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def examples(self, split: str, *, shuffle_files: bool, seed: int) -> tuple[tf.data.Dataset, int | None]:
        """``arrays(split)`` as a dataset; the pipeline's shuffle buffer holds the whole split."""
        del shuffle_files, seed
        x, y = self.arrays(split)
        return tf.data.Dataset.from_tensor_slices((x, y)), len(x)
