"""Dataset names that point at files, checked without importing TensorFlow or numpy.

A dataset name ``<prefix>:<path>`` reads the user's own files
(:mod:`tfvae.data.sources`):

============= ===================================== ===========================
prefix        path                                  source
============= ===================================== ===========================
``npy:``      a ``.npy`` file                       :mod:`~tfvae.data.sources.npy`
``npz:``      a ``.npz`` file                       :mod:`~tfvae.data.sources.npy`
``images:``   a folder of PNG/JPEG files            :mod:`~tfvae.data.sources.images`
``csv:``      a ``.csv`` file with a header row     :mod:`~tfvae.data.sources.csv_source`
``tfrecord:`` a glob of TFRecord files              :mod:`~tfvae.data.sources.tfrecord`
``idx:``      a directory of IDX files              :mod:`~tfvae.data.sources.idx`
============= ===================================== ===========================

:func:`check_dataset_path` says in one line what is wrong with such a path
(missing, a file where a folder is needed, ...). The command line calls it
before it imports TensorFlow; :func:`tfvae.data.datasets.resolve_source` calls
it too, so both give the same message. :data:`SOURCE_OPTIONS` lists which
source options (``data.image_size``, ``data.label_column``, ...) each kind of
source takes.
"""

from __future__ import annotations

import glob
import os

__all__ = [
    "DIRECTORY_PREFIXES",
    "FILE_PREFIXES",
    "OPTION_DEFAULTS",
    "PATH_PREFIXES",
    "SOURCE_OPTIONS",
    "check_dataset_path",
    "split_prefix",
]

GENERATED_SHAPES: dict[str, tuple[int, ...]] = {
    "sines": (20, 1),
    "lowrank_ratings": (300,),
    "shapes": (64, 64, 1),
    "oscillator": (30, 1),
    "moving_digits": (20, 32, 32, 1),
}
"""The generated sets and the shape of one example: the one catalogue of their names, read by the generators
(:data:`tfvae.data.generated.GENERATED`) and by the checks that run before numpy is imported (:mod:`tfvae.sizes`)."""

EMBEDDED_SHAPES: dict[str, tuple[int, ...]] = {"digits": (28, 28, 1)}
"""The datasets shipped inside the package (:mod:`tfvae.data.sources.digits`) and their example shape."""

FILE_PREFIXES = ("npy:", "npz:", "csv:")
"""Prefixes whose path is one file."""

DIRECTORY_PREFIXES = ("images:", "idx:")
"""Prefixes whose path is a directory."""

PATH_PREFIXES = (*FILE_PREFIXES, *DIRECTORY_PREFIXES, "tfrecord:")
"""Every prefix that names files (``tfrecord:`` takes a glob)."""

_ROLES = {"images:": "image folder", "idx:": "IDX directory"}

OPTION_DEFAULTS = {
    "image_size": None,
    "channels": None,
    "label_column": None,
    "features": None,
    "test_fraction": 0.1,
    "split_seed": 0,
}
"""The source options and their defaults (``features``: also ``{}``); a default value is never an error."""

SOURCE_OPTIONS = {
    "npy": ("test_fraction", "split_seed"),
    "npz": ("test_fraction", "split_seed"),
    "images": ("image_size", "channels", "test_fraction", "split_seed"),
    "csv": ("label_column", "test_fraction", "split_seed"),
    "tfrecord": ("features", "image_size", "channels", "test_fraction", "split_seed"),
    "array": ("test_fraction", "split_seed"),
}
"""Source kind -> the options it takes; every other source (digits, idx, tfds, generated) takes none."""


def split_prefix(name: str) -> tuple[str, str] | None:
    """``("npz:", "data.npz")`` for ``"npz:data.npz"``; ``None`` when ``name`` has none of :data:`PATH_PREFIXES`."""
    if not isinstance(name, str):
        return None
    for prefix in PATH_PREFIXES:
        if name.startswith(prefix):
            return prefix, name[len(prefix):]
    return None


def check_dataset_path(name: str) -> None:
    """Raise a one-line error when the path of a ``<prefix>:<path>`` dataset name cannot be what it must be.

    Names without one of :data:`PATH_PREFIXES` (``digits``, tfds names, ...)
    and ``idx:`` with no path (the directory then comes from ``data_dir``)
    pass unchecked. ``~`` is expanded.

    Args:
      name: a dataset name, e.g. ``"npz:data.npz"`` or ``"tfrecord:/data/part-*.tfrecord"``.

    Raises:
      ValueError: the prefix is followed by no path (``"csv:"``).
      FileNotFoundError: the path does not exist, is a directory where a file
        is needed (``npy:``, ``npz:``, ``csv:``) or a file where a directory is
        needed (``images:``, ``idx:``), or no file matches a ``tfrecord:`` glob.
    """
    parts = split_prefix(name)
    if parts is None:
        return
    prefix, path = parts
    if not path:
        if prefix == "idx:":
            return
        raise ValueError(f"{name}: no path after {prefix!r}: write {prefix}PATH, "
                         f"e.g. {prefix}{_EXAMPLE[prefix]}")
    full = os.path.abspath(os.path.expanduser(path))
    if prefix == "tfrecord:":
        if os.path.isdir(full):
            raise FileNotFoundError(f"{name}: {full} is a directory, not a file: give a file or a glob such as "
                                    f"tfrecord:{os.path.join(path, '*.tfrecord')}")
        matches = [p for p in glob.glob(full) if os.path.isfile(p)]
        if not matches:
            raise FileNotFoundError(f"{name}: no file matches {full}")
        return
    if prefix in FILE_PREFIXES:
        if os.path.isdir(full):
            raise FileNotFoundError(f"{name}: {full} is a directory, not a file")
        if not os.path.isfile(full):
            raise FileNotFoundError(f"{name}: no such file ({full} does not exist)")
        return
    if os.path.exists(full) and not os.path.isdir(full):
        raise FileNotFoundError(f"{name}: {full} (the {_ROLES[prefix]}) is a file, not a directory")
    if not os.path.isdir(full):
        raise FileNotFoundError(f"{name}: no such directory ({full} does not exist)")


_EXAMPLE = {"npy:": "x.npy", "npz:": "data.npz", "csv:": "table.csv", "images:": "photos/",
            "tfrecord:": "/data/part-*.tfrecord"}
