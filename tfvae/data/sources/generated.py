"""Generated datasets as a source: an entry of :data:`tfvae.data.generated.GENERATED`, held in memory.

The examples have no labels (``with_labels``, ``binarize`` and
``dequantize`` do not apply) and keep the dtype the generator gives: float32
examples pass through the pipeline as they are, uint8 images are scaled to
``[0, 1]`` per batch.
"""

from __future__ import annotations

import types
from typing import TYPE_CHECKING

import numpy as np

from tfvae.data.sources.base import ArraySource, DatasetInfo, check_split

if TYPE_CHECKING:  # the catalogue imports the generators; the source needs only the entry it is given
    from tfvae.data.generated import GeneratedDataset

__all__ = ["GeneratedSource"]


class GeneratedSource(ArraySource):
    """A :class:`~tfvae.data.generated.GeneratedDataset`, made split by split when loaded.

    Args:
      name: its name in :data:`~tfvae.data.generated.GENERATED`.
      spec: the entry (shape, split sizes, generator).
    """

    image_options = False

    def __init__(self, name: str, spec: GeneratedDataset):
        self.name = name
        self.spec = spec

    def info(self) -> DatasetInfo:
        return DatasetInfo(
            name=self.name,
            source="generated",
            image_shape=tuple(self.spec.shape),
            num_classes=None,
            has_labels=False,
            splits=tuple(self.spec.splits),
            num_examples=types.MappingProxyType(dict(self.spec.splits)),
        )

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """``(examples, zeros)``: the generator's examples of ``split`` and placeholder labels."""
        check_split(split, tuple(self.spec.splits), self.name)
        x = self.spec.make(split)
        return x, np.zeros(len(x), np.int32)
