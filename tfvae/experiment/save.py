"""A model trained in Python (``model.fit``, your own loop, a notebook) written as a run directory.

:func:`save_run` writes the directory ``tfvae train`` writes -- ``config.json``,
``run.json``, ``checkpoints/``, ``history.csv``, ``summary.json`` -- plus the
model itself as ``model.keras``, so ``tfvae evaluate / plot / sample / export``
(and ``tfvae train vq_prior --from``) work on it::

    model.fit(x_train, epochs=5)
    save_run(model, "runs/mine", data={"train": x_train, "test": x_test})

A run saved this way is rebuilt from its ``model.keras`` (any model, your own
networks included, as long as Keras can save them: register your layers with
``keras.saving.register_keras_serializable``), not from ``config.json``'s
``[model]`` table, which records the family and the code size only. Arrays
given as ``data`` are stored in the run (``RUN/data.npz``) and become its
dataset ``npz:RUN/data.npz``; a dataset name (``"digits"``, ``"npz:..."``,
``"images:..."``) is recorded as it is. ``tfvae train --resume`` does not
apply to such a run (it would rebuild the model from the config): continue
training it in Python and save it again into a new directory.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tfvae.config import DataConfig, ExperimentConfig
from tfvae.experiment.build import run_learning_rates
from tfvae.experiment.checkpoint import Checkpointer, check_finite_weights
from tfvae.experiment.data import run_dataset_info
from tfvae.experiment.run_dir import RunDirectory, RunError
from tfvae.export.keras_file import save_keras
from tfvae.fileio import DirectoryLock
from tfvae.models.base import GenerativeModel
from tfvae.registry import MODELS

__all__ = ["DATA_FILE", "MODEL_FILE", "save_run"]

MODEL_FILE = "model.keras"
"""The model of a run saved from Python (``run.json`` names it under ``model_file``)."""

DATA_FILE = "data.npz"
"""Arrays given to :func:`save_run` as the run's data."""


def _registered_name(model: GenerativeModel) -> str:
    """The registry name of the model's class (or of the nearest registered base class)."""
    for cls in type(model).__mro__:
        for name in MODELS.names():
            if name in MODELS and MODELS.get(name) is cls:
                return name
    raise RunError(f"{type(model).__name__} is not a registered tfvae model (MODELS.register): it cannot be saved "
                   "as a run directory")


def _data_config(data: Any, run: RunDirectory) -> DataConfig:
    """The ``[data]`` table for ``data``; arrays are written to ``RUN/data.npz`` first."""
    if isinstance(data, DataConfig):
        return dataclasses.replace(data)
    if isinstance(data, str):
        return DataConfig(dataset=data)
    if isinstance(data, Mapping):
        unknown = sorted(set(data) - {"train", "test", "train_labels", "test_labels"})
        if unknown or "train" not in data or "test" not in data:
            raise ValueError("data as a dict needs 'train' and 'test' arrays (and optionally 'train_labels', "
                             f"'test_labels'), got keys {sorted(data)}")
        arrays = {"x_train": data["train"], "x_test": data["test"]}
        if "train_labels" in data or "test_labels" in data:
            arrays.update(y_train=data["train_labels"], y_test=data["test_labels"])
    elif isinstance(data, tuple) and len(data) == 2:
        arrays = {"x": data[0], "y": data[1]}
    elif isinstance(data, np.ndarray):
        arrays = {"x": data}
    else:
        raise TypeError("data must be a dataset name (e.g. 'npz:/data/x.npz'), a DataConfig, an array, an (x, y) "
                        f"pair or a dict of 'train' and 'test' arrays, got {type(data).__name__}")
    arrays = {key: np.asarray(value) for key, value in arrays.items()}
    path = (run.path / DATA_FILE).resolve()
    with path.open("wb") as handle:
        np.savez(handle, **arrays)
    return DataConfig(dataset=f"npz:{path}")


def _history_rows(history) -> list[dict[str, float]]:
    """Rows ``{"epoch": n, term: value, ...}`` from a Keras ``History``, its ``.history`` dict or rows."""
    if history is None:
        return []
    logs = getattr(history, "history", history)
    if isinstance(logs, Mapping):
        lengths = {len(v) for v in logs.values()}
        if len(lengths) > 1:
            raise ValueError(f"history columns have different lengths: { {k: len(v) for k, v in logs.items()} }")
        epochs = lengths.pop() if lengths else 0
        return [{"epoch": float(i + 1), **{k: float(v[i]) for k, v in sorted(logs.items())}} for i in range(epochs)]
    return [{"epoch": float(row.get("epoch", i + 1)), **{k: float(v) for k, v in row.items() if k != "epoch"}}
            for i, row in enumerate(logs)]


def save_run(
    model: GenerativeModel,
    out: str | Path,
    data: Any,
    *,
    history=None,
    epochs: int | None = None,
    name: str | None = None,
    seed: int = 0,
    evaluate: bool = True,
) -> Path:
    """Write a trained model and its data as a run directory that the ``tfvae`` commands read.

    Args:
      model: a built tfvae model (trained or not). Its optimizer state is
        checkpointed when it was compiled.
      out: the run directory; it must not hold a run already.
      data: what the model trained on: a dataset name (``"digits"``,
        ``"npz:/data/x.npz"``, ``"images:/data/faces"``, ...), a
        :class:`~tfvae.config.DataConfig`, or arrays, stored in the run as
        ``data.npz``: one array (split into train/test by
        ``data.test_fraction``), an ``(x, y)`` pair, or
        ``{"train": x, "test": x_test}`` (optionally ``"train_labels"``,
        ``"test_labels"``). Arrays are what the model sees: float32 in
        ``[0, 1]`` for a Bernoulli likelihood, or ``uint8`` images (scaled by
        the pipeline).
      history: the ``History`` that ``model.fit`` returned (or its
        ``.history`` dict, or a list of per-epoch dicts): ``history.csv``.
      epochs: epochs trained (default: the history's length, else 0).
      name: the run's name in ``config.json`` (default: the directory's name).
      seed: the run's seed (the evaluation order and draws of the commands).
      evaluate: compute the test split's loss terms for ``summary.json`` (a
        pass over the test split).

    Returns:
      The run directory.

    Raises:
      RunError: ``out`` holds a run already, or the model is not a registered family.
      ValueError: the data do not fit the model (another example shape).
    """
    from tfvae.loops import evaluate_loop

    run = RunDirectory(out)
    if not isinstance(model, GenerativeModel):
        raise TypeError(f"model must be a tfvae model, got {type(model).__name__}")
    family = _registered_name(model)
    rows = _history_rows(history)
    epochs_done = int(epochs if epochs is not None else len(rows))
    created = not run.path.exists()
    run.path.mkdir(parents=True, exist_ok=True)
    try:
        with DirectoryLock(run.path, "tfvae save_run"):
            if run.holds_a_run():
                raise RunError(f"{run.path} already holds a run: save into a new directory")
            data_config = _data_config(data, run)
            config = ExperimentConfig(name=name or run.path.resolve().name, data=data_config)
            config.model.name = family
            config.model.latent_dim = int(getattr(model, "latent_dim", config.model.latent_dim))
            config.train.seed = int(seed)
            config.train.epochs = max(epochs_done, 1)
            config.validate()
            info = run_dataset_info(config)
            if tuple(info.data_shape) != tuple(model.data_shape):
                raise ValueError(f"the data's examples have shape {tuple(info.data_shape)} but the model takes "
                                 f"{tuple(model.data_shape)}")
            if model.optimizer is None:
                model.compile(optimizer={}, learning_rates=run_learning_rates(model, config.train))
            check_finite_weights(model, epochs_done)
            save_keras(model, run.path / MODEL_FILE)
            run.write_config(config)
            run.write_record(config, info, model.capabilities, model_file=MODEL_FILE)
            Checkpointer(run.checkpoint_dir, model).save(epochs_done)
            if rows:
                run.write_history(rows)
            test = {}
            if evaluate:
                from tfvae.data import load_dataset

                dataset = load_dataset(config.data.dataset, "test", 500, shuffle=False,
                                       with_labels=model.capabilities.conditional, **data_config.source_options())
                test = {k: v for k, v in evaluate_loop(model, dataset, verbose=0).items() if math.isfinite(v)}
            run.write_summary({"epochs": epochs_done, "saved_from": "python", "test": test, "images": []})
    except BaseException:
        if created:  # nothing of a failed save is left behind
            shutil.rmtree(run.path, ignore_errors=True)
        raise
    return run.path
