"""NumPy files: ``npy:PATH`` (one array of examples) and ``npz:PATH`` (arrays ``x`` and optional ``y``).

- ``npy:x.npy``: the examples, no labels.
- ``npz:data.npz`` with ``x`` (and optionally ``y``, integer labels): split
  into ``"train"`` and ``"test"`` by the seeded permutation of
  :mod:`tfvae.data.sources.user` (options ``test_fraction``, ``split_seed``).
- ``npz:data.npz`` with ``x_train`` and ``x_test`` (and optionally both
  ``y_train`` and ``y_test``): those are the splits (``test_fraction`` and
  ``split_seed`` do not apply).

``uint8`` examples are images ``[N, H, W, C]`` (``[N, H, W]`` gets ``C = 1``),
scaled to ``[0, 1]`` by the pipeline; float examples of any shape (e.g.
vectors ``[N, D]``) pass as ``float32`` and must be finite. Files are read
whole (``allow_pickle=False``) and cached per file; a rewritten file is read
again.
"""

from __future__ import annotations

import functools
import os
import types

import numpy as np

from tfvae.data.sources.base import UserDataError, readonly
from tfvae.data.sources.user import UserArraySource, UserData, check_examples, check_labels, check_split_options

__all__ = ["NpySource"]


def _read(path: str, what: str):
    try:
        return np.load(path, allow_pickle=False)
    except Exception as error:  # noqa: BLE001  (a bad zip, a truncated or pickled array: all one message)
        raise UserDataError(f"{what}: cannot read {path}: {error}") from None


def _frozen(x: np.ndarray, y: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    (x,) = readonly(x)
    return x, (readonly(y)[0] if y is not None else None)


@functools.lru_cache(maxsize=4)
def _load(path: str, kind: str, what: str, stamp: tuple) -> UserData:
    """The checked contents of an ``.npy`` / ``.npz`` file (``stamp`` only keys the cache)."""
    del stamp
    loaded = _read(path, what)
    if kind == "npy":
        if not isinstance(loaded, np.ndarray):
            loaded.close()
            raise UserDataError(f"{what}: {path} is an .npz archive, not one .npy array: use npz:{path}")
        return UserData(*_frozen(check_examples(loaded, what), None))
    if isinstance(loaded, np.ndarray):
        raise UserDataError(f"{what}: {path} holds one .npy array, not an .npz archive: use npy:{path}")
    with loaded as archive:
        keys = set(archive.files)
        found = ", ".join(sorted(keys)) or "nothing"
        if {"x_train", "x_test"} & keys:
            if "x" in keys:
                raise UserDataError(f"{what}: {path} holds both 'x' and 'x_train'/'x_test': keep one layout")
            missing = [k for k in ("x_train", "x_test") if k not in keys]
            labelled = [k for k in ("y_train", "y_test") if k in keys]
            if missing:
                raise UserDataError(f"{what}: {path} has no array {missing[0]!r} (it holds: {found})")
            if len(labelled) == 1:
                raise UserDataError(f"{what}: {path} has {labelled[0]!r} but no "
                                    f"{'y_test' if labelled[0] == 'y_train' else 'y_train'!r}: give both or neither")
            splits = {}
            for split in ("train", "test"):
                x = check_examples(archive[f"x_{split}"], what, f"x_{split}")
                y = check_labels(archive[f"y_{split}"], len(x), what, f"y_{split}") if labelled else None
                splits[split] = _frozen(x, y)
            if splits["train"][0].shape[1:] != splits["test"][0].shape[1:] or \
                    splits["train"][0].dtype != splits["test"][0].dtype:
                raise UserDataError(f"{what}: 'x_train' ({splits['train'][0].dtype} {splits['train'][0].shape[1:]}) "
                                    f"and 'x_test' ({splits['test'][0].dtype} {splits['test'][0].shape[1:]}) must "
                                    "hold examples of the same dtype and shape")
            return UserData(None, None, types.MappingProxyType(splits))
        if "x" not in keys:
            raise UserDataError(f"{what}: {path} has no array 'x' (nor 'x_train' and 'x_test'); it holds: {found}")
        x = check_examples(archive["x"], what, "x")
        y = check_labels(archive["y"], len(x), what, "y") if "y" in keys else None
        return UserData(*_frozen(x, y))


class NpySource(UserArraySource):
    """An ``.npy`` or ``.npz`` file of examples, held in memory (the layouts are in the module docstring).

    Args:
      name: the dataset name (``"npy:PATH"`` / ``"npz:PATH"``).
      path: the file (``~`` expanded).
      kind: ``"npy"`` or ``"npz"``.
      test_fraction: fraction of the examples drawn into ``"test"`` (``None``:
        0.1); an error with an ``.npz`` that holds its own splits.
      split_seed: seed of that draw (``None``: 0); same rule.

    Raises:
      ValueError: a bad ``kind``, ``test_fraction`` or ``split_seed``.
    """

    def __init__(self, name: str, path: str, kind: str, *, test_fraction: float | None = None,
                 split_seed: int | None = None):
        if kind not in ("npy", "npz"):
            raise UserDataError(f"NpySource kind must be 'npy' or 'npz', got {kind!r}")
        self.name = name
        self.kind = kind
        self.path = os.path.abspath(os.path.expanduser(path))
        self.location = self.path
        self._explicit_split_options = {k: v for k, v in (("test_fraction", test_fraction),
                                                          ("split_seed", split_seed)) if v is not None}
        self.test_fraction, self.split_seed = check_split_options(test_fraction, split_seed, name)

    def data(self) -> UserData:
        """The file's checked contents (read once per version of the file).

        Raises:
          FileNotFoundError: the file is gone.
          ValueError: the file cannot be read or holds the wrong arrays (the
            message names the file and the array), or it holds its own
            splits and ``test_fraction`` / ``split_seed`` was set.
        """
        try:
            status = os.stat(self.path)
        except OSError:
            raise FileNotFoundError(f"{self.name}: no such file ({self.path} does not exist)") from None
        data = _load(self.path, self.kind, self.name, (status.st_mtime_ns, status.st_size))
        if data.splits is not None and self._explicit_split_options:
            key = next(iter(self._explicit_split_options))
            raise UserDataError(f"{self.name}: {key} does not apply: the file holds its own splits "
                                "('x_train' and 'x_test')")
        return data

    @property
    def options(self):  # type: ignore[override]
        """``test_fraction`` and ``split_seed`` when the source drew the split, else none."""
        if self.data().splits is not None:
            return types.MappingProxyType({})
        return types.MappingProxyType({"test_fraction": self.test_fraction, "split_seed": self.split_seed})
