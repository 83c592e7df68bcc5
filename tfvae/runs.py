"""Experiment runs: build the model from a config, train it, keep a run directory.

A run directory ``runs/<name>/`` holds::

    config.json          the resolved config (what `--resume` restarts from)
    history.csv          one row per epoch: epoch, train terms, val_ terms
    logs/                TensorBoard scalars (train and validation terms)
    checkpoints/         tf.train.CheckpointManager: model weights, optimizer
                         state, epoch and the model's RNG state
    reconstructions.png  test digits (odd rows) and their reconstructions
    samples.png          decoded prior samples (models with a prior)
    summary.json         the final test terms, per example in nats (masked data: per observed entry),
                         the training time, the precision policy it trained in and
                         the jit_compile trial's choice and timings (``jit_compile="auto"``)

Nothing already saved is ever deleted: a directory that holds a run is only
reused with ``resume=True``.

Faults (see README, "Reliability"):

- one ``tfvae train`` at a time per directory: ``RUN/.lock`` (created with
  ``O_EXCL``, holding the pid) makes a second one fail with an error naming
  the first; the lock of a killed run is taken over with a warning;
- ``config.json``, ``history.csv`` and ``summary.json`` are replaced
  atomically (temporary file, fsync, ``os.replace``); TensorFlow writes each
  checkpoint under a temporary name and only then lists it in
  ``checkpoints/checkpoint``, so a run killed at any moment leaves complete
  files and the previous checkpoint;
- at the end of an epoch its ``history.csv`` row is written, then its
  checkpoint; ``--resume`` restores the newest checkpoint that can be read
  (a truncated or garbage newest one is skipped with a warning) and drops
  the history rows after its epoch, so every epoch appears once;
- ``--resume`` on a directory with nothing to resume (a run killed before it
  wrote ``config.json`` or its first checkpoint) starts the run from scratch
  and says so, as Keras ``BackupAndRestore`` does;
- weights that are not finite are never checkpointed (and a NaN step under
  ``train.on_nonfinite = "stop"`` stops the run before its epoch ends).

This module is over 600 lines because it still does six jobs (building,
the run directory, checkpoints, the training driver, pictures, loading); it
is to become the package ``tfvae/experiment/`` (issue 21) rather than be
split piecemeal.

Under ``train.strategy = "multi_worker"`` every worker runs :func:`train` with
the same config and ``out``; only the chief writes the run directory (the
others save their checkpoints to a temporary directory they delete at once).
Resuming needs the run directory on a file system every worker can read.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfvae.config import ConfigError, ExperimentConfig, ModelConfig
from tfvae.distribute import is_chief, is_distributed, make_strategy
from tfvae.errors import TfvaeError
from tfvae.fileio import DirectoryLock, atomic_write_text
from tfvae.loops import evaluate_loop, train_loop
from tfvae.models.base import GenerativeModel, NonFiniteError
from tfvae.performance import resolve_jit_compile, resolve_precision
from tfvae.registry import MODELS
from tfvae.viz import ImageLogger, image_grid, save_png

CONFIG_FILE = "config.json"
HISTORY_FILE = "history.csv"
SUMMARY_FILE = "summary.json"


class RunError(TfvaeError, RuntimeError):
    """A run directory cannot be used as asked (exists, missing, corrupt)."""


#: the generic ``[model]`` fields a builder takes when its family lists them in ``architectures``
GENERIC_FIELDS = ("latent_dim", "hidden_units", "activation", "filters")
#: top-level ``[model]`` options a family takes when it lists them in ``config_options``
MODEL_OPTIONS = ("beta", "kl", "num_samples")


def build_model(config: ModelConfig, data_shape: tuple[int, ...], seed: int | None = None,
                num_classes: int | None = None) -> GenerativeModel:
    """Instantiate the registered model that ``config`` names, for data of ``data_shape``.

    The route is what the model class declares (:mod:`tfvae.models.contract`):
    ``cls.architectures[config.architecture]`` names the generic fields its
    builder ``cls.<architecture>`` takes, ``cls.config_options`` the
    ``model.options`` keys (and ``beta`` / ``kl`` / ``num_samples``); anything
    else that differs from its default is refused by name.

    Args:
      config: the ``[model]`` table.
      data_shape: shape of one example, e.g. ``(28, 28, 1)``.
      seed: the model's seed.
      num_classes: the dataset's number of classes, for conditional models
        (unless ``model.options.num_classes`` sets it).
    """
    cls = MODELS.get(config.name)
    fields = cls.architectures.get(config.architecture)
    if fields is None:
        available = ", ".join(sorted(cls.architectures)) or "none (it is not built from a config)"
        raise ConfigError(f"model.architecture: {config.architecture!r} is not available for model {config.name!r}; "
                          f"choose one of: {available}")
    kwargs: dict[str, Any] = {
        "data_shape": tuple(data_shape),
        "likelihood": config.likelihood,
        "likelihood_kwargs": dict(config.likelihood_kwargs),
        "seed": seed,
    }
    defaults = ModelConfig()
    for field in GENERIC_FIELDS:
        value = getattr(config, field)
        if field in fields:
            kwargs[field] = tuple(value) if isinstance(value, list) else value
        elif value != getattr(defaults, field):
            raise ConfigError(
                f"model.{field} does not apply to model {config.name!r} with architecture {config.architecture!r}"
                + ("; set it in model.options" if field in cls.config_options else "")
            )
    for option in MODEL_OPTIONS:
        value = getattr(config, option)
        if value is None:
            continue
        if option not in cls.config_options:
            raise ConfigError(f"model.{option} does not apply to model {config.name!r}")
        kwargs[option] = value
    if cls.conditional:
        if num_classes is None and "num_classes" not in config.options:
            raise ConfigError(f"model {config.name!r} is conditional: the dataset has no labels to condition on")
        kwargs["num_classes"] = num_classes
    for option, value in config.options.items():
        if option not in cls.config_options:
            raise ConfigError(
                f"model.options.{option}: not an option of model {config.name!r}; "
                f"it takes: {', '.join(sorted(cls.config_options)) or 'none'}"
            )
        kwargs[option] = value
    try:
        return getattr(cls, config.architecture)(**kwargs)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"model: {error}") from error


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
            raise RunError(f"{self.config_path} is not a valid run config: {error}") from None
        except OSError as error:
            raise RunError(f"{self.config_path} cannot be read: {error.strerror or error}") from None

    def append_history(self, epoch: int, logs: dict[str, float]) -> None:
        """Add the row of ``epoch`` (the whole file is replaced atomically)."""
        row = {"epoch": epoch, **{k: float(v) for k, v in sorted(logs.items())}}
        existing = self.history_path.read_text(encoding="utf-8") if self.history_path.exists() else ""
        if existing and not existing.endswith("\n"):
            existing += "\r\n"
        lines = io.StringIO()
        writer = csv.DictWriter(lines, fieldnames=list(row))
        if not existing:
            writer.writeheader()
        writer.writerow(row)
        atomic_write_text(self.history_path, existing + lines.getvalue())

    def read_history(self) -> list[dict[str, float]]:
        if not self.history_path.exists():
            return []
        with self.history_path.open(newline="") as handle:
            return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]

    def truncate_history(self, epochs_done: int) -> list[int]:
        """Drop the rows of epochs after ``epochs_done`` (trained, but not checkpointed); returns their epochs."""
        if not self.history_path.exists():
            return []
        with self.history_path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            fields, rows = reader.fieldnames, list(reader)
        keep = [row for row in rows if float(row["epoch"]) <= epochs_done]
        dropped = [int(float(row["epoch"])) for row in rows if float(row["epoch"]) > epochs_done]
        if dropped:
            lines = io.StringIO()
            writer = csv.DictWriter(lines, fieldnames=fields)
            writer.writeheader()
            writer.writerows(keep)
            atomic_write_text(self.history_path, lines.getvalue())
        return dropped


class Checkpointer:
    """``tf.train.CheckpointManager`` over the model, optimizer, epoch and RNG state.

    Model variables are keyed by their Keras path below the model (so the
    instance name, ``vae`` or ``vae_3``, does not matter; the RNG states are
    among them, without the ``_<n>`` Keras adds to names taken earlier in the
    process; a repeated path gets a ``+`` per repeat, in order),
    optimizer variables by position.

    With ``write=False`` (a multi-worker run's non-chief workers) ``save``
    still writes every variable, as each worker must under
    ``MultiWorkerMirroredStrategy``, but into a temporary directory that it
    deletes right away; ``restore_latest`` reads ``directory`` as usual.
    """

    def __init__(self, directory: Path, model: GenerativeModel, max_to_keep: int = 3, write: bool = True):
        self.write = write
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        prefix = f"{model.name}/"
        variables: dict[str, tf.Variable] = {}
        for variable in model.variables:
            path = variable.path
            if not path.startswith(prefix):
                # variables outside the model's scope (seed generators of its layers) get process-wide
                # unique names, seed_generator_1 in a process that made another model first: drop the suffix
                path = re.sub(r"^([^/]*?)_\d+/", r"\1/", path)
            key = path.removeprefix(prefix).replace("/", ".")
            while key in variables:  # e.g. the RNG states of recurrent layers share a path
                key += "+"
            variables[key] = variable
        self.checkpoint = tf.train.Checkpoint(
            model=variables,
            optimizer=list(model.optimizer.variables),
            epoch=self.epoch,
        )
        self.directory = Path(directory)
        self.max_to_keep = max_to_keep
        self.model = model
        self._manager: tf.train.CheckpointManager | None = None

    @property
    def manager(self) -> tf.train.CheckpointManager:
        """The ``tf.train.CheckpointManager`` that saves (made when first needed: reading needs none)."""
        if self._manager is None:
            try:
                self._manager = tf.train.CheckpointManager(self.checkpoint, str(self.directory), self.max_to_keep)
            except ValueError as error:  # an empty or half-valid checkpoints/checkpoint list
                state = self.directory / "checkpoint"
                aside = state.with_name(f"checkpoint.unreadable-{int(time.time())}")
                state.replace(aside)
                warnings.warn(f"{state} could not be read ({error}); moved it to {aside.name} and started a new list",
                              RuntimeWarning, stacklevel=2)
                self._manager = tf.train.CheckpointManager(self.checkpoint, str(self.directory), self.max_to_keep)
        return self._manager

    def save(self, epoch: int) -> str | None:
        """Save the model, optimizer and ``epoch``; refuses non-finite weights (:class:`NonFiniteError`).

        TensorFlow writes the files under a temporary name and renames them,
        then rewrites the ``checkpoint`` list atomically: a process killed
        while saving leaves the previous checkpoint as the newest.
        """
        check_finite_weights(self.model, epoch)
        self.epoch.assign(epoch)
        if self.write:
            return self.manager.save(checkpoint_number=epoch)
        scratch = tempfile.mkdtemp(prefix="tfvae-worker-checkpoint-")
        try:
            self.checkpoint.write(str(Path(scratch) / f"ckpt-{epoch}"))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return None

    def checkpoints(self) -> list[str]:
        """The checkpoint prefixes in the directory (``.../ckpt-<epoch>``), newest first.

        Found from the ``ckpt-*.index`` files and from the ``checkpoint`` list
        (which may name one whose files are gone), so neither a lost list nor
        a lost file hides the others.
        """
        numbers: dict[int, str] = {}
        listed: list[str] = []
        with contextlib.suppress(Exception):  # an unreadable list: the files still count
            state = tf.train.get_checkpoint_state(str(self.directory))
            listed = list(state.all_model_checkpoint_paths) if state is not None else []
        for prefix in [*listed, *(str(p.with_suffix("")) for p in self.directory.glob("ckpt-*.index"))]:
            match = re.fullmatch(r"ckpt-(\d+)", Path(prefix).name)
            if match:
                numbers.setdefault(int(match[1]), str(self.directory / Path(prefix).name))
        return [numbers[n] for n in sorted(numbers, reverse=True)]

    def restore_latest(self) -> int:
        """Restore the newest checkpoint that can be read; returns the number of epochs it had done.

        A newest checkpoint that is truncated, garbage or missing files is
        skipped with a warning naming it (and kept as it is); the next older
        one is restored.

        Raises:
          RunError: no checkpoint, or none can be restored (each one named, with why).
        """
        candidates = self.checkpoints()
        if not candidates:
            raise RunError(f"no checkpoint in {self.directory}")
        failures = []
        for path in candidates:
            try:
                self.checkpoint.restore(path).assert_existing_objects_matched()
            except Exception as error:  # noqa: BLE001  (any unreadable file: name it and try the next)
                first_line = (str(error).strip().splitlines() or [""])[0]
                failures.append(f"checkpoint {path} could not be restored ({type(error).__name__}: {first_line})")
                continue
            if failures:
                warnings.warn(
                    "; ".join(failures) + f"; restored the newest usable one, {path} (epoch {int(self.epoch.numpy())}). "
                    "The unreadable files are left as they are.",
                    RuntimeWarning,
                    stacklevel=2,
                )
            return int(self.epoch.numpy())
        raise RunError(
            "; ".join(failures) + ". No checkpoint there is usable; the files are left as they are: "
            "start a new run with --out"
        )


def check_finite_weights(model: GenerativeModel, epoch: int) -> None:
    """Raise :class:`NonFiniteError` when a weight of ``model`` is NaN or infinite (nothing is saved then)."""
    variables = [v for v in model.trainable_variables]
    if not variables:
        return
    if not bool(tf.reduce_all(tf.stack([tf.reduce_all(tf.math.is_finite(v)) for v in variables]))):
        bad = [v.path for v in variables if not bool(tf.reduce_all(tf.math.is_finite(v)))]
        raise NonFiniteError(
            f"the weights are not finite after epoch {epoch} ({', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''}); "
            "nothing of this epoch was saved: the newest checkpoint is the last good one. Lower the learning rate"
        )


class RunLogger(keras.callbacks.Callback):
    """Per epoch: a history.csv row, TensorBoard scalars and (every N epochs) a checkpoint.

    With ``write_files=False`` (non-chief workers) only the checkpoint save
    takes place (see :class:`Checkpointer`); the rows are kept in ``rows``.
    """

    def __init__(self, run: RunDirectory, checkpointer: Checkpointer, every: int = 1, write_files: bool = True):
        super().__init__()
        self.run = run
        self.checkpointer = checkpointer
        self.every = every
        self.write_files = write_files
        self.rows: list[dict[str, float]] = []
        self.writer = tf.summary.create_file_writer(str(run.path / "logs")) if write_files else None

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        done = epoch + 1
        check_finite_weights(self.model, done)  # before anything of the epoch is written
        self.rows.append({"epoch": float(done), **{k: float(v) for k, v in logs.items()}})
        # The row first, then the checkpoint: a run killed between the two resumes from the previous
        # checkpoint and drops this row (RunDirectory.truncate_history), so no epoch is missing or repeated.
        if self.write_files:
            self.run.append_history(done, logs)
            with self.writer.as_default(step=done):
                for key, value in logs.items():
                    tf.summary.scalar(key, float(value))
            self.writer.flush()
        if done % self.every == 0:
            self.checkpointer.save(done)


@dataclass
class RunResult:
    """What a finished run reports."""

    model: GenerativeModel
    directory: Path
    history: list[dict[str, float]]
    test: dict[str, float]
    epochs_done: int


def _set_precision(precision: str) -> str:
    """Set Keras' global policy to ``precision`` (``"auto"`` resolved for this device); return the policy set."""
    policy = resolve_precision(precision)
    keras.mixed_precision.set_global_policy(policy)
    return policy


def _write_images(model: GenerativeModel, test_batch: np.ndarray, labels: np.ndarray, directory: Path) -> list[Path]:
    """The run's end pictures, chosen by what the model declares it can do (``model.capabilities``)."""
    can = model.capabilities
    written = []
    if can.rollout:  # a sequence model (TD-VAE): context, rollout and truth as a film strip
        from tfvae.viz.plots import plot_rollout

        written.append(save_png(directory / "rollout.png", plot_rollout(model, test_batch, seed=0)))
        return written
    if not can.image_data:
        return written
    condition = {"condition": labels[:32]} if can.conditional else {}
    originals = test_batch[:32]
    recon = model.reconstruct(originals, **condition).numpy()
    rows = [block for i in range(0, len(originals), 8) for block in (originals[i : i + 8], recon[i : i + 8])]
    written.append(save_png(directory / "reconstructions.png", image_grid(np.concatenate(rows), columns=8)))
    if can.has_prior:
        if can.conditional:  # one row per class
            classes = np.repeat(np.arange(min(model.num_classes, 8)), 8)
            samples = model.sample(len(classes), condition=classes, seed=tf.constant([0, 1])).numpy()
        else:
            samples = model.sample(64, seed=tf.constant([0, 1])).numpy()
        written.append(save_png(directory / "samples.png", image_grid(samples, columns=8)))
    return written


@dataclass
class LoadedRun:
    """A trained model restored from a run directory."""

    config: ExperimentConfig
    model: GenerativeModel
    directory: Path
    epochs_done: int
    data_shape: tuple[int, ...]


def load_run(path: str | Path) -> LoadedRun:
    """Rebuild the model of a run directory and restore its newest readable checkpoint.

    A newest checkpoint that cannot be read (truncated, garbage, files
    missing) is skipped with a ``RuntimeWarning`` naming it; the one before is
    restored.

    The model is built in float32 whatever precision it was trained in (its
    variables are float32 either way) and compiled with the run's optimizer,
    whose state is restored too.

    Args:
      path: a run directory written by :func:`train` (``runs/<name>``).

    Raises:
      RunError: no run there, its ``config.json`` cannot be read, or no
        checkpoint can be restored (each one named, with why).
    """
    from tfvae.data import dataset_info

    run = RunDirectory(path)
    if not run.path.is_dir():
        raise RunError(f"run directory not found: {run.path}")
    config = run.read_config()
    try:
        info = dataset_info(config.data.dataset, **config.data.source_options())
    except ValueError as error:
        raise ConfigError(f"data.dataset: {error}") from None
    model = build_model(config.model, info.data_shape, seed=config.train.seed, num_classes=info.num_classes)
    model.compile(optimizer=keras.optimizers.Adam(config.train.learning_rate))
    epochs_done = Checkpointer(run.checkpoint_dir, model).restore_latest()
    return LoadedRun(config, model, run.path, epochs_done, info.data_shape)


def train(
    config: ExperimentConfig,
    out: str | Path | None = None,
    resume: bool = False,
    verbose: int = 1,
) -> RunResult:
    """Train ``config`` into a run directory; resume it from its last checkpoint.

    Args:
      config: the experiment (ignored on resume except ``train.epochs``, which
        may extend the run, and ``train.strategy``: the saved config is the
        one that continues).
      out: the run directory; defaults to ``runs/<config.name>``.
      resume: continue the run in ``out`` from its newest checkpoint. A
        directory with nothing to resume (absent, only a stale ``.lock``, or
        killed before its first checkpoint) starts the run from scratch,
        saying so in one line, so a preemptible job can relaunch the same
        command line.
      verbose: 0 silent, 1 progress bars and a summary line (on the chief only
        when several workers train).

    Under ``train.strategy`` ``"mirrored"`` or ``"multi_worker"`` the model and
    optimizer are built in the strategy's scope and ``data.batch_size`` is the
    GLOBAL batch (see :mod:`tfvae.distribute`). For ``"multi_worker"`` every
    worker calls this with the same config and ``out``; only the chief writes
    the run directory, and the returned ``history`` of the other workers
    holds the epochs they ran.
    """

    run = RunDirectory(out if out is not None else Path("runs") / config.name)
    if resume and not run.holds_a_run():  # killed before it wrote its config: nothing to resume
        if verbose:
            print(f"Nothing to resume in {run.path} (no {CONFIG_FILE} yet): starting the run from scratch")
        resume = False
    if resume:
        saved = run.read_config()
        if config.train.epochs != saved.train.epochs:
            saved.train.epochs = config.train.epochs
        for how in ("strategy", "on_nonfinite"):  # how to run it, not what to run
            if getattr(config.train, how) != getattr(saved.train, how):
                setattr(saved.train, how, getattr(config.train, how))
                saved.validate()
        config = saved
    # A multi-worker strategy must exist before TensorFlow runs any op.
    strategy = make_strategy(config.train.strategy)
    chief = is_chief(strategy)
    if not chief:
        return _train(config, run, resume, 0, strategy, chief)
    # One writer per run directory: the lock is taken before looking at what the directory holds, so
    # two runs started together cannot both find it empty.
    created = not run.path.exists()
    try:
        with DirectoryLock(run.path, "tfvae train"):
            if not resume and run.holds_a_run():
                raise RunError(
                    f"{run.path} already holds a run; pass --resume to continue it, or --out for a new directory"
                )
            return _train(config, run, resume, verbose, strategy, chief)
    finally:
        if created:  # failed before writing anything: leave no empty directory behind
            with contextlib.suppress(OSError):
                run.path.rmdir()


def _skip_epochs(dataset: tf.data.Dataset, epochs: int, driver: str) -> None:
    """Start and drop the iterators ``epochs`` epochs of ``driver`` would have made of ``dataset``.

    Each new iterator of a tfvae dataset draws the next shuffle order and
    noise, so a resumed run then sees the data of the epochs it continues, as
    if it had not stopped (same weights, tested). The custom loop makes one
    iterator per epoch; Keras ``fit`` (and its validation) makes two of a
    dataset whose length is known, as it starts the next one when a pass ends.
    """
    passes = 2 if driver == "fit" and int(dataset.cardinality()) > 0 else 1
    for _ in range(epochs * passes):
        iter(dataset)


def _train(config: ExperimentConfig, run: RunDirectory, resume: bool, verbose: int, strategy, chief: bool) -> RunResult:
    from tfvae.data import dataset_info, load_dataset

    distributed = is_distributed(strategy)
    precision = _set_precision(config.train.precision)  # "auto" -> the policy this device computes fastest
    try:
        data = config.data
        try:
            info = dataset_info(data.dataset, **data.source_options())
        except ValueError as error:
            raise ConfigError(f"data.dataset: {error}") from None
        keras.utils.set_random_seed(config.train.seed)  # data order; the model's seed= fixes its weights

        def in_scope():
            return strategy.scope() if distributed else contextlib.nullcontext()

        with in_scope():  # variables (model and optimizer) are created by the strategy
            model = build_model(config.model, info.data_shape, seed=config.train.seed, num_classes=info.num_classes)
        model.on_nonfinite = config.train.on_nonfinite
        conditional = model.capabilities.conditional
        loader = dict(
            batch_size=data.batch_size,
            seed=config.train.seed,
            binarize=data.binarize,
            dequantize=data.dequantize,
            with_labels=conditional,
            **data.source_options(),
        )
        train_data = load_dataset(data.dataset, "train", **loader)
        test_data = load_dataset(data.dataset, "test", **loader)
        with in_scope():
            model.compile(
                optimizer=keras.optimizers.Adam(config.train.learning_rate),
                jit_compile=config.train.jit_compile,
                steps_per_execution=config.train.steps_per_execution,
            )
        checkpointer = Checkpointer(run.checkpoint_dir, model, config.train.keep_checkpoints, write=chief)
        initial_epoch = 0
        resume_from_checkpoint = resume and bool(checkpointer.checkpoints())
        if resume and not resume_from_checkpoint and verbose:  # killed before its first checkpoint
            print(f"Nothing to resume in {run.path} (no checkpoint yet): starting the run from scratch")
        if resume:
            initial_epoch = checkpointer.restore_latest() if resume_from_checkpoint else 0
            dropped = run.truncate_history(initial_epoch) if chief else []
            if dropped:
                warnings.warn(
                    f"{run.history_path}: dropped the rows of epoch(s) {', '.join(map(str, dropped))}, which "
                    + (f"the checkpoint of epoch {initial_epoch} does not hold" if resume_from_checkpoint
                       else "no checkpoint holds")
                    + "; they are trained again",
                    RuntimeWarning,
                    stacklevel=2,
                )
            _skip_epochs(train_data, initial_epoch, config.train.driver)  # the data order and noise that follow
            _skip_epochs(test_data, initial_epoch, config.train.driver)  # (validated once per epoch)
            if verbose and resume_from_checkpoint:
                print(f"Resuming {run.path} from epoch {initial_epoch} (step {int(model.optimizer.iterations)})")
        elif chief:
            run.write_config(config)
        logger = RunLogger(run, checkpointer, config.train.checkpoint_every, write_files=chief)
        callbacks: list[keras.callbacks.Callback] = [logger]
        if chief:
            picture_batch = next(iter(load_dataset(data.dataset, "test", batch_size=500, shuffle=False, cache=False,
                                                   with_labels=info.has_labels, **data.source_options())))
            pictures, picture_labels = picture_batch if info.has_labels else (picture_batch, None)
            callbacks.append(ImageLogger(run.path / "logs" / "images", np.asarray(pictures), seed=config.train.seed,
                                         labels=None if picture_labels is None else np.asarray(picture_labels)))
        started = time.perf_counter()
        if initial_epoch < config.train.epochs:
            if config.train.driver == "fit":
                model.fit(
                    train_data,
                    epochs=config.train.epochs,
                    initial_epoch=initial_epoch,
                    validation_data=test_data,
                    callbacks=callbacks,
                    verbose="auto" if verbose else 0,
                )
            else:
                train_loop(
                    model,
                    train_data,
                    epochs=config.train.epochs,
                    initial_epoch=initial_epoch,
                    steps_per_execution=config.train.steps_per_execution,
                    jit_compile=config.train.jit_compile,
                    validation_data=test_data,
                    callbacks=callbacks,
                    verbose=verbose,
                    on_nonfinite=config.train.on_nonfinite,
                )
            if config.train.epochs % config.train.checkpoint_every:
                checkpointer.save(config.train.epochs)
        seconds = time.perf_counter() - started
        test = evaluate_loop(model, test_data, verbose=verbose)  # every worker: it is a collective too
        if chief:
            picture_batch = next(iter(load_dataset(data.dataset, "test", batch_size=64, shuffle=False, cache=False,
                                                   with_labels=info.has_labels, **data.source_options())))
            images, labels = picture_batch if info.has_labels else (picture_batch, None)
            images = _write_images(model, np.asarray(images), None if labels is None else np.asarray(labels),
                                   run.path)
            trial = model.jit_trial  # set by fit / train_loop when jit_compile="auto" ran its trial
            jit = trial.as_dict() if trial is not None else {
                "jit_compile": resolve_jit_compile(config.train.jit_compile, distributed)}
            summary = {"epochs": config.train.epochs, "train_seconds": round(seconds, 2), "precision": precision,
                       "jit_compile": jit,
                       "test": test, "images": [p.name for p in images]}
            atomic_write_text(run.path / SUMMARY_FILE, json.dumps(summary, indent=2) + "\n")
    finally:
        _set_precision("float32")
    if verbose:
        masked = model.capabilities.masked_data  # ratings: errors per observed entry, not nats
        headline = "elbo" if "elbo" in test else ("masked_rmse" if masked else "loss")
        terms = ", ".join(f"{k} {v:.2f}" for k, v in test.items() if k != headline)
        value = f"{test[headline]:.4f}" if masked else f"{test[headline]:.2f} nats/example"
        print(f"Test {headline}: {value} ({terms}); run saved in {run.path}")
    history = run.read_history() if chief else logger.rows
    return RunResult(model, run.path, history, test, config.train.epochs)
