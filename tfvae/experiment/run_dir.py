"""The run directory: its files (config, run record, history, summary), written atomically.

A run directory ``runs/<name>/`` holds::

    config.json          the resolved config (what `--resume` restarts from)
    run.json             what the run was trained on and what its model can do (see below)
    history.csv          one row per epoch: epoch, train terms, val_ terms
    summary.json         the final test terms and how the run went
    logs/ checkpoints/   TensorBoard scalars; tf.train.CheckpointManager (model runs)
    *.png                the run's pictures

A prior run (:mod:`tfvae.experiment.prior`) is a run directory too, ``RUN/prior/``,
written by the same :class:`RunDirectory`.

``config.json``, ``run.json``, ``history.csv`` and ``summary.json`` are
replaced atomically (temporary file, fsync, ``os.replace``).

``run.json`` (written when the run starts) records the data as the model saw
it -- source, location, example shape, number of classes, split sizes,
preprocessing -- and the model's capabilities, so the model is rebuilt from
the run alone (:func:`tfvae.experiment.load.load_run`: ``tfvae export`` and ``tfvae sample`` work
after the data has moved) and the command line checks what it can before
importing TensorFlow. Runs written before it existed are rebuilt from the
dataset's current description, as before.

The run's data is read back by :mod:`tfvae.experiment.data`; a trained
run is loaded by :mod:`tfvae.experiment.load`.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tfvae.config import ConfigError, ExperimentConfig
from tfvae.errors import TfvaeError
from tfvae.fileio import atomic_write_text

CONFIG_FILE = "config.json"
HISTORY_FILE = "history.csv"
SUMMARY_FILE = "summary.json"
RECORD_FILE = "run.json"
RECORD_FORMAT = 1
"""Version of ``run.json``'s layout; a reader refuses a newer one by name."""


class RunError(TfvaeError, RuntimeError):
    """A run directory cannot be used as asked (exists, missing, corrupt)."""


def _ranges(numbers: list[int]) -> str:
    """``"2, 4-6"`` for ``[2, 4, 5, 6]``."""
    parts, start = [], None
    for i, n in enumerate(numbers):
        start = n if start is None else start
        if i + 1 == len(numbers) or numbers[i + 1] != n + 1:
            parts.append(str(n) if start == n else f"{start}-{n}")
            start = None
    return ", ".join(parts)


def _plain(value):
    """``value`` with mappings as dicts and tuples as lists (what JSON writes)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class RunDirectory:
    """The files of one run (see the module docstring)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def history_path(self) -> Path:
        return self.path / HISTORY_FILE

    @property
    def summary_path(self) -> Path:
        return self.path / SUMMARY_FILE

    @property
    def record_path(self) -> Path:
        return self.path / RECORD_FILE

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / "checkpoints"

    def holds_a_run(self) -> bool:
        return self.config_path.exists() or self.checkpoint_dir.exists()

    def write_config(self, config: ExperimentConfig) -> None:
        atomic_write_text(self.config_path, config.to_json() + "\n")

    def read_config(self) -> ExperimentConfig:
        if not self.path.is_dir():
            raise RunError(f"{self.path} holds no run: the run directory does not exist")
        if not self.config_path.is_file():
            raise RunError(f"{self.path} holds no run (no {CONFIG_FILE})")
        try:
            return ExperimentConfig.from_dict(json.loads(self.config_path.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, UnicodeDecodeError, ConfigError) as error:
            raise RunError(f"{self.config_path} is not a valid run config: {error}") from error
        except RecursionError:
            raise RunError(f"{self.config_path} is not a valid run config: it is nested too deeply") from None
        except OSError as error:
            raise RunError(f"{self.config_path} cannot be read: {error.strerror or error}") from error

    def write_record(self, config: ExperimentConfig, info, capabilities, model_file: str | None = None) -> None:
        """Write ``run.json``: the data the run trains on (``info``, a ``DatasetInfo``) and ``capabilities``.

        ``model_file``: the ``.keras`` file in the run that holds the model (a
        run saved from Python, :func:`tfvae.experiment.save_run`); the model is
        then loaded from it instead of being built from ``config.json``.
        """
        record = {
            "format": RECORD_FORMAT,
            "data": {
                "dataset": config.data.dataset,
                "source": info.source,
                "location": info.location,
                "data_shape": list(info.data_shape),
                "num_classes": info.num_classes,
                "has_labels": bool(info.has_labels),
                "num_examples": {split: int(n) for split, n in info.num_examples.items()},
                "test_fraction": info.test_fraction,  # a split the source drew itself (None: its own splits)
                "source_options": _plain(info.options),
                "preprocessing": {"binarize": config.data.binarize, "dequantize": config.data.dequantize,
                                  **{k: v for k, v in config.data.source_options().items() if k != "data_dir"}},
            },
            "capabilities": dataclasses.asdict(capabilities),
        }
        if config.data.standardize:  # what a served model's inputs are expected to be, and samples to undo
            from tfvae.data import feature_statistics

            mean, std = feature_statistics(config.data.dataset, **config.data.source_options())
            record["data"]["standardization"] = {"mean": mean.tolist(), "std": std.tolist()}
        if model_file is not None:
            record["model_file"] = model_file
        atomic_write_text(self.record_path, json.dumps(record, indent=2) + "\n")

    def read_record(self) -> dict[str, Any] | None:
        """``run.json`` as a dict (checked), or ``None`` for a run written before it existed."""
        if not self.record_path.exists():
            return None
        try:
            record = json.loads(self.record_path.read_text(encoding="utf-8"))
            if not isinstance(record, dict) or not isinstance(record.get("data"), dict):
                raise ValueError("no 'data' table")
            if record.get("format", 0) > RECORD_FORMAT:
                raise ValueError(f"format {record['format']} is newer than this tfvae reads ({RECORD_FORMAT}); "
                                 "upgrade tfvae")
            shape = record["data"]["data_shape"]
            if not (isinstance(shape, list) and shape and all(isinstance(n, int) and n > 0 for n in shape)):
                raise ValueError(f"data.data_shape must be a list of positive integers, got {shape!r}")
            classes = record["data"].get("num_classes")
            if classes is not None and not (isinstance(classes, int) and classes > 0):
                raise ValueError(f"data.num_classes must be a positive integer or null, got {classes!r}")
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
            raise RunError(f"{self.record_path} is not a valid run record: {error}") from error
        except RecursionError:
            raise RunError(f"{self.record_path} is not a valid run record: it is nested too deeply") from None
        except OSError as error:
            raise RunError(f"{self.record_path} cannot be read: {error.strerror or error}") from error
        return record

    def remove_leftovers(self) -> list[str]:
        """Delete what a process killed while writing left behind; returns the names removed (sorted).

        Only files no finished write leaves: tfvae's temporary files
        (``.NAME.XXXXXXXX.partial``, anywhere in the run), TensorFlow's
        half-written checkpoints (``checkpoints/ckpt-N_temp/``) and temporary
        checkpoint lists (``checkpoints/checkpoint.tmp*``). Call it holding the
        run's lock (no other writer runs).
        """
        removed = []
        candidates = [*self.path.rglob(".*.partial"), *self.checkpoint_dir.glob("ckpt-*_temp*"),
                      *self.checkpoint_dir.glob("checkpoint.tmp*")]
        for path in candidates:
            if path.is_symlink() or path.is_file():
                path.unlink(missing_ok=True)
            elif path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                continue
            removed.append(str(path.relative_to(self.path)))
        return sorted(removed)

    def write_summary(self, summary: dict[str, Any]) -> None:
        atomic_write_text(self.summary_path, json.dumps(summary, indent=2) + "\n")

    def read_summary(self) -> dict[str, Any]:
        return json.loads(self.summary_path.read_text(encoding="utf-8"))

    def append_history(self, epoch: int, logs: dict[str, float]) -> None:
        """Add the row of ``epoch`` (the whole file is replaced atomically; every line ends in ``\\n``)."""
        row = {"epoch": epoch, **{k: float(v) for k, v in sorted(logs.items())}}
        existing = self.history_path.read_bytes().decode("utf-8") if self.history_path.exists() else ""
        if existing and not existing.endswith("\n"):
            existing += "\n"
        lines = io.StringIO()
        writer = csv.DictWriter(lines, fieldnames=list(row), lineterminator="\n")
        if not existing:
            writer.writeheader()
        writer.writerow(row)
        atomic_write_text(self.history_path, existing + lines.getvalue())

    def write_history(self, rows: list[dict[str, Any]], fields: list[str] | None = None) -> None:
        """Replace the history with ``rows`` (each with its ``epoch``; columns ``fields``), atomically."""
        fields = fields or list(dict.fromkeys(key for row in rows for key in row))
        lines = io.StringIO()
        writer = csv.DictWriter(lines, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.history_path, lines.getvalue())

    def read_history(self) -> list[dict[str, float]]:
        if not self.history_path.exists():
            return []
        with self.history_path.open(newline="") as handle:
            return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]

    def repair_history(self, epochs_done: int) -> tuple[list[int], list[int]]:
        """Make ``history.csv`` hold epochs ``1..epochs_done`` once each, as a resume from that checkpoint needs.

        Rows after ``epochs_done`` (trained, not checkpointed) are dropped, and
        so are damaged rows (a row cut short by a kill, a value that is not a
        number, a repeated epoch: the first good row of an epoch is kept); the
        file is then rewritten whole, every line ending in ``\\n`` (older runs
        wrote ``\\r\\n`` and appended ``\\n``). Epochs the
        checkpoint holds but no row records cannot be rebuilt (the checkpoints
        keep no metrics): that is refused before any training.

        Returns:
          ``(dropped, damaged)``: the epochs dropped after ``epochs_done``, and
          the line numbers of the damaged rows removed.

        Raises:
          RunError: rows of epochs ``<= epochs_done`` are missing (named), or
            the header is not a history's.
        """
        if not self.history_path.exists():
            rows, fields, damaged = [], None, []
        else:
            try:
                text = self.history_path.read_bytes().decode("utf-8")  # line endings as they are
            except UnicodeDecodeError as error:
                raise RunError(f"{self.history_path} is not a history (not UTF-8 text): {error}") from error
            reader = csv.DictReader(io.StringIO(text, newline=""))
            fields = reader.fieldnames
            if text.strip() and (not fields or fields[0] != "epoch"):
                raise RunError(f"{self.history_path} is not a history: its header is {fields!r}, not 'epoch,...'")
            rows, damaged, seen = [], [], set()
            for row in reader:
                try:
                    if None in row or None in row.values():  # too many or too few fields
                        raise ValueError
                    values = {k: float(v) for k, v in row.items()}
                    epoch = values["epoch"]
                    if not epoch.is_integer() or epoch < 1 or int(epoch) in seen:
                        raise ValueError
                except ValueError:
                    damaged.append(reader.line_num)
                    continue
                seen.add(int(epoch))
                rows.append(row)
        keep = [row for row in rows if float(row["epoch"]) <= epochs_done]
        dropped = [int(float(row["epoch"])) for row in rows if float(row["epoch"]) > epochs_done]
        missing = sorted(set(range(1, epochs_done + 1)) - {int(float(row["epoch"])) for row in keep})
        if missing:
            raise RunError(
                f"{self.history_path} has no row for epoch(s) {_ranges(missing)}, which the checkpoint of epoch "
                f"{epochs_done} includes: the checkpoints keep no metrics to rebuild them. Put the file back, or "
                "train a new run with another --out"
            )
        crlf = bool(rows) and "\r\n" in text  # written by an older tfvae (or edited): made "\n" like new rows
        if dropped or damaged or crlf:
            keep.sort(key=lambda row: float(row["epoch"]))
            self.write_history(keep, fields)
        return dropped, damaged
