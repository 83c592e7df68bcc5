"""``.keras`` files: the training artefact (resume, fine-tune), beside the serving one."""

from __future__ import annotations

import os
import uuid
import zipfile
from pathlib import Path

import keras

from tfvae.errors import writing
from tfvae.export.errors import ExportError


def save_keras(model: keras.Model, path: str | Path) -> Path:
    """Save ``model`` (config, weights, seed state, optimizer) to a ``.keras`` file, atomically.

    Args:
      model: a tfvae model.
      path: the file; must end in ``.keras``.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ExportError(f"a Keras model file must end in .keras, got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.tmp.keras")
    try:
        with writing(path, "the Keras model file"):  # a full disk: one line naming the file, nothing left behind
            model.save(staging)
            os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)
    return path


def load_keras(path: str | Path, compile: bool = True) -> keras.Model:
    """Load a model saved by :func:`save_keras` (or ``model.save``).

    Args:
      path: the ``.keras`` file.
      compile: restore the optimizer too (to resume training).

    Raises:
      ExportError: the file is missing or is not a Keras archive.
    """
    import tfvae.applications  # noqa: F401  (registers every serializable class with Keras:
    import tfvae.models  # noqa: F401  models, heads, layers, networks, applications)

    path = Path(path)
    if not path.is_file():
        raise ExportError(f"Keras model file not found: {path}")
    if not zipfile.is_zipfile(path):
        raise ExportError(f"{path} is not a .keras archive")
    return keras.saving.load_model(path, compile=compile)
