"""TF Serving layout: ``<base>/<version>/``, versions written atomically.

TF Serving watches a model's base folder and loads every child whose name is
an integer. An export is written into a hidden sibling ``.tmp-<version>-<id>``
(not an integer, so ignored by the server) and renamed into place only once
complete, so a half-written version is never visible. An export that fails
(a full disk) removes its staging folder, and the base folder when the export
created it, and is one :class:`~tfvae.errors.DiskWriteError` naming the version.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from tfvae.errors import writing
from tfvae.export.errors import ExportError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # matched in full: "$" would let a final newline in
STAGING_PREFIX = ".tmp-"


def check_model_name(name: str) -> str:
    """A model name usable as one folder and in TF Serving's ``--model_name``."""
    if not _NAME.fullmatch(name or ""):
        raise ExportError(
            f"model name {name!r} must start with a letter or digit and use only letters, digits, '.', '_' or '-'"
        )
    return name


def existing_versions(base: str | Path) -> list[int]:
    """The integer version folders under ``base``, sorted (``[]`` when none)."""
    base = Path(base)
    if not base.is_dir():
        return []
    return sorted(int(p.name) for p in base.iterdir() if p.name.isdigit() and p.is_dir())


def next_version(base: str | Path) -> int:
    """One more than the largest version under ``base``, or 1."""
    versions = existing_versions(base)
    return versions[-1] + 1 if versions else 1


def _check_version(version: int) -> int:
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ExportError(f"version must be a positive integer, got {version!r}")
    return version


def check_target(base: str | Path, version: int | None = None) -> Path:
    """Refuse an export that cannot be written, before any work is done.

    Args:
      base: the model's base folder.
      version: the version asked for, if any.

    Raises:
      ExportError: ``base`` is not a folder, ``version`` is not a positive
        integer, or that version already exists.
    """
    base = Path(base)
    if base.exists() and not base.is_dir():
        raise ExportError(f"{base} exists and is not a folder")
    if version is not None:
        _check_version(version)
        if (base / str(version)).exists():
            raise ExportError(f"{base / str(version)} already exists; choose another --version or leave it out")
    return base


def publish(staging: Path, base: Path, version: int, take_next: bool) -> Path:
    """Rename the complete ``staging`` folder to ``base/<version>``.

    Args:
      staging: the finished export.
      base: the model's base folder.
      version: the version to take.
      take_next: when ``version`` was taken meanwhile (another exporter won
        the race), take the next free number instead of failing.

    Raises:
      ExportError: the version exists and ``take_next`` is false.
    """
    while True:
        target = base / str(version)
        if not target.exists():
            try:
                os.rename(staging, target)  # atomic; fails on a non-empty target
                return target
            except OSError as error:
                if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
        if not take_next:
            raise ExportError(f"{target} already exists; choose another --version or leave it out")
        version += 1


def write_version(base: str | Path, write: Callable[[Path], None], version: int | None = None, *,
                  errors: tuple[type[BaseException], ...] = (OSError,),
                  needed: Callable[[], int | None] | None = None) -> Path:
    """Run ``write(staging_dir)`` and publish the result as ``base/<version>``.

    Args:
      base: the model's base folder (``saved_models/<name>``); created if missing.
      write: fills an empty staging folder with the complete export.
      version: the version to write; by default the next free one.
      errors: what ``write`` raises when it cannot write (a full disk): ``OSError``, and TensorFlow's
        ``OpError`` for a SavedModel.
      needed: the bytes the export needs at least (its variables), for the message of a full disk.

    Returns:
      The version folder written.

    Raises:
      ExportError: ``version`` already exists, or ``base`` is not a folder.
      DiskWriteError: ``write`` raised one of ``errors``: one line naming
        ``base/<version>`` (and the space, for a full disk).
      Exception: whatever else ``write`` raises. In every case the staging
        folder is removed first (and ``base`` when this call created it), so
        an interrupted export leaves neither a version nor a temporary folder.
    """
    base = check_target(base, version)
    created = not base.exists()
    base.mkdir(parents=True, exist_ok=True)
    wanted = version if version is not None else next_version(base)
    staging = base / f"{STAGING_PREFIX}{wanted}-{uuid.uuid4().hex[:12]}"
    try:
        with writing(base / str(wanted), "the export", errors, needed, at_least=True,
                     then="; its partial files were removed: free some space, then export again"):
            write(staging)
        return publish(staging, base, wanted, take_next=version is None)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created:
            with contextlib.suppress(OSError):  # not empty: another exporter's version is there
                base.rmdir()
        raise
