"""A CSV table: ``csv:PATH``, every column a number, each row one float32 example ``[D]``.

(Named ``csv_source`` so that no module of tfvae is called ``csv``.)

The first row is the header (column names, required). Every other row holds
one number per column (Python's ``float`` syntax; blank lines are skipped);
a cell that is not a finite number is an error naming its row (the line of
the file, the header being line 1) and column. Option ``label_column``
(``data.label_column``) names a column of integer class labels (``3`` or
``3.0``, ``>= 0``): it becomes the labels and is left out of the features.
Without it there are no labels, and every column is a feature.

The table is read whole with the :mod:`csv` module (cached per file; a
rewritten file is read again) and split into ``"train"`` and ``"test"`` by
the seeded permutation of :mod:`tfvae.data.sources.user` (``test_fraction``,
``split_seed``).
"""

from __future__ import annotations

import csv
import functools
import math
import os
import types

import numpy as np

from tfvae.data.sources.base import UserDataError, readonly
from tfvae.data.sources.user import UserArraySource, UserData, check_split_options

__all__ = ["CsvSource"]


def _number(cell: str, line: int, column: str, what: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise UserDataError(f"{what}: row {line}, column {column!r}: {cell!r} is not a number") from None
    if not math.isfinite(value):
        raise UserDataError(f"{what}: row {line}, column {column!r}: {cell!r} is not a finite number")
    return value


def _label(cell: str, line: int, column: str, what: str) -> int:
    try:
        return int(cell)
    except ValueError:
        pass
    try:
        value = float(cell)
    except ValueError:
        value = math.nan
    if not value.is_integer():
        raise UserDataError(f"{what}: row {line}, label column {column!r}: {cell!r} is not an integer class label")
    return int(value)


@functools.lru_cache(maxsize=4)
def _load(path: str, label_column: str | None, what: str, stamp: tuple) -> UserData:
    """The checked table (``stamp`` only keys the cache)."""
    del stamp
    try:
        handle = open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115  (closed below)
    except OSError as error:
        raise FileNotFoundError(f"{what}: cannot open {path}: {error.strerror or error}") from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            if not header or not any(h.strip() for h in header):
                raise UserDataError(f"{what}: {path} is empty: a header row of column names is required")
            names = [h.strip() for h in header]
            _check_header(names, label_column, what)
            label_at = names.index(label_column) if label_column is not None else None
            feature_at = [i for i in range(len(names)) if i != label_at]
            rows, labels = [], []
            for row in reader:
                if not row or all(not c.strip() for c in row):
                    continue
                line = reader.line_num
                if len(row) != len(names):
                    raise UserDataError(f"{what}: row {line} has {len(row)} cells, the header {len(names)} columns")
                rows.append([_number(row[i].strip(), line, names[i], what) for i in feature_at])
                if label_at is not None:
                    labels.append(_label(row[label_at].strip(), line, names[label_at], what))
        except UnicodeDecodeError as error:
            raise UserDataError(f"{what}: {path} is not UTF-8 text: {error}") from None
        except csv.Error as error:
            raise UserDataError(f"{what}: {path}, row {reader.line_num}: {error}") from None
    if not rows:
        raise UserDataError(f"{what}: {path} has a header but no data rows")
    x = np.asarray(rows, np.float32)
    if label_at is None:
        return UserData(readonly(x)[0], None)
    y = np.asarray(labels, np.int64)
    if y.min() < 0:
        raise UserDataError(f"{what}: label column {label_column!r} holds {y.min()}: class labels must be >= 0")
    return UserData(*readonly(x, y.astype(np.int32)))


def _check_header(names: list[str], label_column: str | None, what: str) -> None:
    empty = [i + 1 for i, n in enumerate(names) if not n]
    if empty:
        raise UserDataError(f"{what}: the header's column {empty[0]} has no name")
    seen = set()
    for n in names:
        if n in seen:
            raise UserDataError(f"{what}: the header names column {n!r} twice")
        seen.add(n)
    if label_column is not None:
        if label_column not in names:
            raise UserDataError(f"{what}: label_column {label_column!r} is not a column; the columns are: "
                                f"{', '.join(names)}")
        if len(names) == 1:
            raise UserDataError(f"{what}: {label_column!r} is the only column: no feature is left")


class CsvSource(UserArraySource):
    """A CSV table of numbers, held in memory (format and options in the module docstring).

    Args:
      name: the dataset name (``"csv:PATH"``).
      path: the file (``~`` expanded).
      label_column: the column of integer class labels; ``None``: no labels.
      test_fraction: fraction of the rows drawn into ``"test"`` (``None``: 0.1).
      split_seed: seed of that draw (``None``: 0).

    Raises:
      ValueError: a bad option value.
    """

    kind = "csv"
    image_options = False  # float32 vectors; with_labels applies when there is a label column

    def __init__(self, name: str, path: str, *, label_column: str | None = None,
                 test_fraction: float | None = None, split_seed: int | None = None):
        if label_column is not None and (not isinstance(label_column, str) or not label_column.strip()):
            raise UserDataError(f"{name}: label_column must be a column name, got {label_column!r}")
        self.name = name
        self.path = os.path.abspath(os.path.expanduser(path))
        self.location = self.path
        self.label_column = label_column.strip() if label_column is not None else None
        self.test_fraction, self.split_seed = check_split_options(test_fraction, split_seed, name)
        self.options = types.MappingProxyType({"label_column": self.label_column,
                                               "test_fraction": self.test_fraction, "split_seed": self.split_seed})

    def data(self) -> UserData:
        """The table, read once per version of the file.

        Raises:
          FileNotFoundError: the file is gone.
          ValueError: no header, a missing label column, a cell that is not a
            number, a non-integer label (each naming its row and column).
        """
        try:
            status = os.stat(self.path)
        except OSError:
            raise FileNotFoundError(f"{self.name}: no such file ({self.path} does not exist)") from None
        return _load(self.path, self.label_column, self.name, (status.st_mtime_ns, status.st_size))
