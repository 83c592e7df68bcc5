"""Loading a trained run: the model of a run directory, rebuilt and restored from its newest checkpoint."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tfvae.config import ExperimentConfig
from tfvae.experiment.data import run_dataset_info
from tfvae.experiment.run_dir import RunDirectory, RunError

__all__ = ["LoadedRun", "load_run", "run_shape"]


@dataclass
class LoadedRun:
    """A trained model restored from a run directory."""

    config: ExperimentConfig
    model: Any
    directory: Path
    epochs_done: int
    data_shape: tuple[int, ...]
    record: dict[str, Any] = dataclasses.field(default_factory=dict)
    """The run's ``run.json`` (empty for a run written before it existed)."""


def load_run(path: str | Path) -> LoadedRun:
    """Rebuild the model of a run directory and restore its newest readable checkpoint.

    A newest checkpoint that cannot be read (truncated, garbage, files
    missing) is skipped with a ``RuntimeWarning`` naming it; the one before is
    restored.

    The model is built in float32 whatever precision it was trained in (its
    variables are float32 either way) and compiled with the run's optimizer,
    whose state is restored too.

    Args:
      path: a run directory written by :func:`tfvae.experiment.train`
        (``runs/<name>``).

    Raises:
      RunError: no run there, its ``config.json`` cannot be read, or no
        checkpoint can be restored (each one named, with why).
    """
    from tfvae.experiment.build import build_model, run_learning_rates
    from tfvae.experiment.checkpoint import Checkpointer

    run = RunDirectory(path)
    if run.path.is_file():
        raise RunError(f"{run.path} is a file, not a run directory")
    if not run.path.is_dir():
        raise RunError(f"run directory not found: {run.path}")
    config = run.read_config()
    data_shape, num_classes = run_shape(run, config)
    record = run.read_record() or {}
    model_file = record.get("model_file")
    if model_file is not None:  # saved from Python (save_run): the model is its .keras file
        from tfvae.export.keras_file import load_keras

        path = run.path / model_file
        try:
            model = load_keras(path, compile=False)
        except Exception as error:  # noqa: BLE001  (Keras raises many types for a damaged or foreign file)
            raise RunError(f"{path} cannot be loaded: {' '.join(str(error).split())[:300]} (a network of your "
                           "own must be importable and registered with keras.saving.register_keras_serializable)"
                           ) from error
    else:
        model = build_model(config.model, data_shape, seed=config.train.seed, num_classes=num_classes)
    model.compile(optimizer={}, learning_rates=run_learning_rates(model, config.train))
    built_from = run.path / model_file if model_file is not None else None  # None: config.json
    epochs_done = Checkpointer(run.checkpoint_dir, model).restore_latest(built_from)
    return LoadedRun(config, model, run.path, epochs_done, data_shape, record)


def run_shape(run: RunDirectory, config: ExperimentConfig) -> tuple[tuple[int, ...], int | None]:
    """The example shape and number of classes the run's model was built for.

    From ``run.json`` (no data needed); a run written before it existed asks
    the dataset, which must then be where it was.
    """
    record = run.read_record()
    if record is not None:
        return tuple(record["data"]["data_shape"]), record["data"].get("num_classes")
    info = run_dataset_info(config)
    return tuple(info.data_shape), info.num_classes
