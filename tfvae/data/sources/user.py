"""The user's own data held in memory: checks, the seeded train/test split, and arrays passed from Python.

Sources of the user's files (``npy:``, ``npz:``, ``images:``, ``csv:``) and
arrays passed from Python (``load_dataset(x, "train")``) read ALL their
examples into memory and, unless the data came split (an ``.npz`` with
``x_train``/``x_test``), make the two splits themselves:

- ``"test"``: ``round(N * test_fraction)`` examples (at least 1 and at most
  ``N - 1`` when ``N >= 2``), the first of
  ``np.random.default_rng(split_seed).permutation(N)``;
- ``"train"``: the others.

Each split keeps the examples in their original order (file order, array
order), so ``limit=N`` keeps the first ``N`` of them. The same data,
``test_fraction`` and ``split_seed`` always give the same split;
``DatasetInfo.test_fraction`` and ``DatasetInfo.options`` record them.

Examples are ``uint8`` images ``[H, W, C]`` (``[N, H, W]`` gets ``C = 1``;
scaled to ``[0, 1]`` by the pipeline; ``binarize``/``dequantize`` apply) or
float examples of any shape (passed as ``float32``; a NaN or an infinity is an
error; ``bool`` arrays become float32 0/1). Labels are optional non-negative integers; without them
``has_labels`` is ``False``, ``num_classes`` ``None`` and the labels zeros.
"""

from __future__ import annotations

import dataclasses
import numbers
import types
from collections.abc import Mapping
from typing import Any

import numpy as np

from tfvae.data.sources.base import ArraySource, DatasetInfo, UserDataError, check_split, readonly

__all__ = [
    "DEFAULT_SPLIT_SEED",
    "DEFAULT_TEST_FRACTION",
    "USER_SPLITS",
    "ArraysSource",
    "UserArraySource",
    "UserData",
    "check_examples",
    "check_labels",
    "check_split_options",
    "split_indices",
]

DEFAULT_TEST_FRACTION = 0.1
"""Fraction of the examples that a source without a test split puts in ``"test"``."""

DEFAULT_SPLIT_SEED = 0
"""Seed of the permutation that draws the ``"test"`` examples."""

USER_SPLITS = ("train", "test")
"""The splits of every user source."""


def check_split_options(test_fraction: Any, split_seed: Any, what: str) -> tuple[float, int]:
    """``(test_fraction, split_seed)`` as ``float`` and ``int``, defaults for ``None``.

    Args:
      test_fraction: a number in ``(0, 1)``, or ``None`` for
        :data:`DEFAULT_TEST_FRACTION`.
      split_seed: an integer ``>= 0``, or ``None`` for :data:`DEFAULT_SPLIT_SEED`.
      what: the dataset, for the messages.

    Raises:
      ValueError: either is out of range or of the wrong type.
    """
    fraction = DEFAULT_TEST_FRACTION if test_fraction is None else test_fraction
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real) or not 0 < float(fraction) < 1:
        raise UserDataError(f"{what}: test_fraction must be a number in (0, 1), got {test_fraction!r}")
    seed = DEFAULT_SPLIT_SEED if split_seed is None else split_seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise UserDataError(f"{what}: split_seed must be an integer >= 0, got {split_seed!r}")
    return float(fraction), int(seed)


def split_indices(n: int, test_fraction: float, split_seed: int) -> dict[str, np.ndarray]:
    """The example indices of ``"train"`` and ``"test"`` (the rule is in the module docstring), each sorted.

    Args:
      n: number of examples.
      test_fraction: fraction in ``(0, 1)`` drawn into ``"test"``.
      split_seed: seed of the permutation.

    Returns:
      ``{"train": int64 indices, "test": int64 indices}``, disjoint, together ``0..n-1``.
    """
    num_test = int(round(n * test_fraction))
    if n >= 2:
        num_test = min(max(num_test, 1), n - 1)
    order = np.random.default_rng(split_seed).permutation(n)
    return {"train": np.sort(order[num_test:]), "test": np.sort(order[:num_test])}


def check_examples(x: Any, what: str, key: str = "x") -> np.ndarray:
    """``x`` as uint8 images ``[N, H, W, C]`` or float32 examples ``[N, ...]``, checked.

    Args:
      x: the examples (``uint8`` ``[N, H, W]`` / ``[N, H, W, C]``, or any
        float dtype ``[N, ...]``; ``bool`` becomes float32 0/1).
      what: the dataset, for the messages.
      key: the name of the array in the file, for the messages.

    Returns:
      A uint8 ``[N, H, W, C]`` or float32 ``[N, ...]`` array (``x`` itself
      when it already is one).

    Raises:
      ValueError: another dtype, a shape that is not an image / has no example
        dimension, or a NaN or infinity in float examples.
    """
    x = np.asarray(x)
    if x.dtype == np.bool_:  # binary data: 0.0 / 1.0
        x = x.astype(np.float32)
    if x.dtype == np.uint8:
        if x.ndim == 3:
            x = x[..., None]
        if x.ndim != 4:
            raise UserDataError(f"{what}: uint8 examples are images [N, H, W] or [N, H, W, C]; {key!r} has shape "
                                f"{x.shape}")
        return x
    if not np.issubdtype(x.dtype, np.floating):
        raise UserDataError(f"{what}: {key!r} holds {x.dtype} values; expected uint8 images (0..255) or float "
                            "examples (convert it with .astype(np.float32) or .astype(np.uint8))")
    if x.ndim < 2:
        raise UserDataError(f"{what}: {key!r} has shape {x.shape}; expected examples [N, ...] with at least one "
                            "feature dimension, e.g. [N, D] (reshape it with x[:, None])")
    x = x.astype(np.float32, copy=False)
    finite = np.isfinite(x.reshape(len(x), -1)).all(axis=1)
    if not finite.all():
        first = int(np.argmin(finite))
        raise UserDataError(f"{what}: {key!r} holds a NaN or an infinity (first in example {first}); "
                            "float examples must be finite")
    return x


def check_labels(y: Any, n: int, what: str, key: str = "y") -> np.ndarray:
    """``y`` as int32 labels ``[n]``, checked.

    Args:
      y: integer class labels, ``>= 0``.
      n: the number of examples they label.
      what: the dataset, for the messages.
      key: the name of the array in the file, for the messages.

    Raises:
      ValueError: not 1-D, not ``n`` long, not integers, or negative.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise UserDataError(f"{what}: labels {key!r} must be 1-D [N], got shape {y.shape}")
    if len(y) != n:
        raise UserDataError(f"{what}: {n} examples but {len(y)} labels in {key!r}: they must be as many")
    if y.dtype == np.bool_ or not (np.issubdtype(y.dtype, np.integer)
                                   or np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0)):
        raise UserDataError(f"{what}: labels {key!r} must be integers (class indices 0..K-1), got {y.dtype} values")
    if len(y) and y.min() < 0:
        raise UserDataError(f"{what}: labels {key!r} must be >= 0 (class indices 0..K-1), got {y.min()}")
    if len(y) and y.max() > np.iinfo(np.int32).max:
        raise UserDataError(f"{what}: labels {key!r} must fit int32, got {y.max()}")
    return y.astype(np.int32)


@dataclasses.dataclass(frozen=True)
class UserData:
    """What a user source holds, checked: all examples, or the splits it came with.

    Attributes:
      x: all examples (``None`` when the data came split).
      y: their int32 labels, ``None`` without labels.
      splits: ``{"train": (x, y), "test": (x, y)}`` when the data came split
        (``y`` ``None`` without labels), else ``None``.
    """

    x: np.ndarray | None
    y: np.ndarray | None
    splits: Mapping[str, tuple[np.ndarray, np.ndarray | None]] | None = None

    @property
    def example(self) -> np.ndarray:
        """Some examples (all, or the training split's), for the dtype and shape."""
        return self.x if self.splits is None else self.splits["train"][0]

    @property
    def has_labels(self) -> bool:
        """Whether the data came with labels."""
        return (self.y if self.splits is None else self.splits["train"][1]) is not None

    def all_labels(self) -> list[np.ndarray]:
        """Every label array held (one, or one per split; none without labels)."""
        if self.splits is None:
            return [self.y] if self.y is not None else []
        return [y for _, y in self.splits.values() if y is not None]


class UserArraySource(ArraySource):
    """The in-memory user sources' common part: :meth:`info` and :meth:`arrays` over :meth:`data`.

    Subclasses set ``name``, ``kind`` (``DatasetInfo.source``), ``location``,
    ``test_fraction``, ``split_seed`` and ``options`` (the options in
    effect, for ``DatasetInfo.options``), and implement :meth:`data`.
    """

    kind: str
    test_fraction: float = DEFAULT_TEST_FRACTION
    split_seed: int = DEFAULT_SPLIT_SEED
    options: Mapping[str, Any] = types.MappingProxyType({})

    def data(self) -> UserData:  # pragma: no cover - abstract
        """All the examples, checked (cached by the subclass where it reads files)."""
        raise NotImplementedError

    @property
    def image_options(self) -> bool:  # type: ignore[override]
        """``binarize``, ``dequantize`` and ``with_labels`` apply: the examples are uint8 images."""
        return self.data().example.dtype == np.uint8

    def _split(self, split: str) -> tuple[np.ndarray, np.ndarray | None]:
        check_split(split, USER_SPLITS, self.name)
        data = self.data()
        if data.splits is not None:
            return data.splits[split]
        index = split_indices(len(data.x), self.test_fraction, self.split_seed)[split]
        return data.x[index], (data.y[index] if data.y is not None else None)

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """``(examples, int32 labels)`` of ``"train"`` or ``"test"`` (labels zeros when there are none)."""
        x, y = self._split(split)
        return x, (y if y is not None else np.zeros(len(x), np.int32))

    def info(self) -> DatasetInfo:
        """What the data holds: the split sizes, example shape and classes (``max(label) + 1``) of :meth:`data`."""
        data = self.data()
        if data.splits is not None:
            counts = {split: len(x) for split, (x, _) in data.splits.items()}
        else:
            counts = {split: len(i) for split, i in split_indices(len(data.x), self.test_fraction,
                                                                  self.split_seed).items()}
        labels = data.all_labels()
        num_classes = max((int(y.max()) + 1 for y in labels if len(y)), default=0) if data.has_labels else None
        return DatasetInfo(
            name=self.name,
            source=self.kind,
            image_shape=tuple(int(d) for d in data.example.shape[1:]),
            num_classes=num_classes,
            has_labels=data.has_labels,
            splits=USER_SPLITS,
            num_examples=types.MappingProxyType(counts),
            location=self.location,
            test_fraction=None if data.splits is not None else self.test_fraction,
            options=types.MappingProxyType(dict(self.options)),
        )


class ArraysSource(UserArraySource):
    """Arrays passed from Python (``load_dataset(x, "train")`` or ``load_dataset((x, y), "train")``).

    Named ``"array"``; split into ``"train"`` and ``"test"`` by the seeded
    permutation of the module docstring. The arrays are checked once and
    never written to; :meth:`arrays` returns copies.

    Args:
      data: an array of examples, or a tuple ``(x, y)`` with integer labels.
      test_fraction: fraction of the examples in ``"test"`` (``None``: 0.1).
      split_seed: seed of the split (``None``: 0).

    Raises:
      ValueError: a tuple that is not ``(x, y)``, or examples/labels that fail
        :func:`check_examples` / :func:`check_labels`.
    """

    kind = "array"

    def __init__(self, data: Any, *, test_fraction: float | None = None, split_seed: int | None = None):
        self.name = "array"
        self.location = None
        self.test_fraction, self.split_seed = check_split_options(test_fraction, split_seed, "array")
        self.options = types.MappingProxyType({"test_fraction": self.test_fraction, "split_seed": self.split_seed})
        if isinstance(data, tuple):
            if len(data) != 2:
                raise UserDataError(f"array: expected an array of examples or a tuple (x, y), got a tuple of "
                                    f"{len(data)}")
            x, y = data
        else:
            x, y = data, None
        x = check_examples(x, "array")
        y = check_labels(y, len(x), "array") if y is not None else None
        (x,) = readonly(x.view())  # a read-only view: the caller's array stays writable
        self._data = UserData(x, readonly(y)[0] if y is not None else None)

    def data(self) -> UserData:
        return self._data
