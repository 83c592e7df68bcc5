"""Data sources: where the examples of a named dataset come from, all behind one :class:`Source` protocol.

=================================== =================================================
source                              module
=================================== =================================================
embedded digits (``"digits"``)      :mod:`tfvae.data.sources.digits`
IDX directories                     :mod:`tfvae.data.sources.idx` (files read with
                                    :mod:`tfvae.data.idx`)
tensorflow-datasets                 :mod:`tfvae.data.sources.tfds_source`
generated (``"sines"``, ...)        :mod:`tfvae.data.sources.generated` (catalogue:
                                    :mod:`tfvae.data.generated`)
=================================== =================================================

:mod:`tfvae.data.datasets` resolves a name to a source and builds the one
pipeline over it (:func:`tfvae.data.load_dataset`).
"""

from tfvae.data.sources.base import (
    ArraySource,
    DatasetInfo,
    DatasetUnavailableError,
    EmptySplitError,
    Source,
)
from tfvae.data.sources.digits import DigitsSource
from tfvae.data.sources.generated import GeneratedSource
from tfvae.data.sources.idx import IdxSource
from tfvae.data.sources.tfds_source import TfdsSource

__all__ = [
    "ArraySource",
    "DatasetInfo",
    "DatasetUnavailableError",
    "DigitsSource",
    "EmptySplitError",
    "GeneratedSource",
    "IdxSource",
    "Source",
    "TfdsSource",
]
