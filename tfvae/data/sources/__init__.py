"""Data sources: where the examples of a named dataset come from, all behind one :class:`Source` protocol.

=================================== =================================================
source                              module
=================================== =================================================
embedded digits (``"digits"``)      :mod:`tfvae.data.sources.digits`
IDX directories                     :mod:`tfvae.data.sources.idx` (files read with
                                    :mod:`tfvae.data.idx_format`)
tensorflow-datasets                 :mod:`tfvae.data.sources.tfds_source`
generated (``"sines"``, ...)        :mod:`tfvae.data.sources.generated` (catalogue:
                                    :mod:`tfvae.data.generated`)
``npy:<file>``, ``npz:<file>``      :mod:`tfvae.data.sources.npy`
``images:<folder>`` (PNG/JPEG)      :mod:`tfvae.data.sources.images`
``csv:<file>``                      :mod:`tfvae.data.sources.csv_source`
``tfrecord:<glob>`` (streamed)      :mod:`tfvae.data.sources.tfrecord`
arrays from Python (``"array"``)    :mod:`tfvae.data.sources.user` (also the checks and
                                    the seeded train/test split of the user's data)
=================================== =================================================

:mod:`tfvae.data.datasets` resolves a name to a source and builds the one
pipeline over it (:func:`tfvae.data.load_dataset`); :mod:`tfvae.data.names`
checks the paths of the user's files without importing TensorFlow.
"""

from tfvae.data.sources.base import (
    ArraySource,
    DatasetInfo,
    DatasetUnavailableError,
    EmptySplitError,
    Source,
    UserDataError,
)
from tfvae.data.sources.csv_source import CsvSource
from tfvae.data.sources.digits import DigitsSource
from tfvae.data.sources.generated import GeneratedSource
from tfvae.data.sources.idx import IdxSource
from tfvae.data.sources.images import ImageFolderSource
from tfvae.data.sources.npy import NpySource
from tfvae.data.sources.tfds_source import TfdsSource
from tfvae.data.sources.tfrecord import TFRecordSource
from tfvae.data.sources.user import ArraysSource

__all__ = [
    "ArraySource",
    "ArraysSource",
    "CsvSource",
    "DatasetInfo",
    "DatasetUnavailableError",
    "DigitsSource",
    "EmptySplitError",
    "GeneratedSource",
    "IdxSource",
    "ImageFolderSource",
    "NpySource",
    "Source",
    "TFRecordSource",
    "TfdsSource",
    "UserDataError",
]
