"""Train a model run: build the model, fit it, write its run directory.

A model run's directory (:class:`~tfvae.experiment.run_dir.RunDirectory`)
holds ``config.json``, ``history.csv`` (one row per epoch: epoch, train
terms, val_ terms), ``logs/`` (TensorBoard scalars), ``checkpoints/``,
``reconstructions.png`` (test examples, odd rows, and their reconstructions),
``samples.png`` (models with a prior) and ``summary.json`` (the final test
terms, per example in nats -- masked data: per observed entry --, the
training time, the precision policy it trained in and the jit_compile
trial's choice and timings).

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
  ``train.on_nonfinite = "stop"`` stops the run before its epoch ends);
- a write that fails (a full disk: a checkpoint, the TensorBoard logs, a run
  file) stops the run with one :class:`~tfvae.errors.DiskWriteError` naming
  the path and the space; a failed checkpoint's partial files are removed, so
  ``--resume`` continues from the one before once there is space.

Under ``train.strategy = "multi_worker"`` every worker runs :func:`train` with
the same config and ``out``; only the chief writes the run directory (the
others save their checkpoints to a temporary directory they delete at once).
Resuming needs the run directory on a file system every worker can read.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tfvae.config import ExperimentConfig
from tfvae.distribute import is_chief, is_distributed, make_strategy
from tfvae.errors import writing
from tfvae.experiment.build import build_model, run_learning_rates
from tfvae.experiment.checkpoint import Checkpointer, check_finite_weights
from tfvae.experiment.data import run_data, run_dataset_info
from tfvae.experiment.run_dir import CONFIG_FILE, RunDirectory, RunError
from tfvae.fileio import DirectoryLock, refuse_symlink
from tfvae.loops import evaluate_loop, train_loop
from tfvae.models.base import GenerativeModel
from tfvae.models.catalogue import catalogue_of
from tfvae.performance import resolve_jit_compile, resolve_precision
from tfvae.viz import ImageLogger, image_grid, save_png

#: what TensorFlow's writers (summaries, checkpoints) raise when a file cannot be written, besides ``OSError``
_TF_WRITE_ERRORS = (OSError, tf.errors.OpError)


def _writing(path: Path, what: str, errors: tuple[type[BaseException], ...] = (OSError,)):
    """A block writing ``path`` of a run: a failure (a full disk) is one ``DiskWriteError`` line naming it.

    Args:
      path: the file or folder written.
      what: what it is, for the message (``"the TensorBoard logs"``).
      errors: what a failed write raises there: ``OSError`` for Python's writers, :data:`_TF_WRITE_ERRORS`
        around TensorFlow's (only the writing goes in the block: a computation's ``OpError`` is not a write).
    """
    return writing(path, what, errors, then="; free some space, then continue with --resume")


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
        self.writer = None
        if write_files:
            with _writing(run.path / "logs", "the TensorBoard logs", _TF_WRITE_ERRORS):
                self.writer = tf.summary.create_file_writer(str(run.path / "logs"))

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        done = epoch + 1
        check_finite_weights(self.model, done)  # before anything of the epoch is written
        self.rows.append({"epoch": float(done), **{k: float(v) for k, v in logs.items()}})
        # The row first, then the checkpoint: a run killed between the two resumes from the previous
        # checkpoint and drops this row (RunDirectory.repair_history), so no epoch is missing or repeated.
        if self.write_files:
            with _writing(self.run.history_path, f"the history row of epoch {done}"):
                self.run.append_history(done, logs)
            logs_dir = self.run.path / "logs"
            with _writing(logs_dir, "the TensorBoard logs", _TF_WRITE_ERRORS), self.writer.as_default(step=done):
                for key, value in logs.items():
                    tf.summary.scalar(key, float(value))
                self.writer.flush()
        if done % self.every == 0:
            self.checkpointer.save(done)  # a failed save removes its partial files (DiskWriteError)


class RunImageLogger(ImageLogger):
    """:class:`ImageLogger` of a run: a picture that cannot be written (a full disk) is one line naming the folder."""

    def writing(self):
        return _writing(self.log_dir, "the TensorBoard pictures", _TF_WRITE_ERRORS)


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
    """The run's end pictures: those its catalogue names (:attr:`tfvae.models.catalogue.Catalogue.run_pictures`)."""
    pictures = catalogue_of(model).run_pictures
    conditional = model.capabilities.conditional  # how the decodes are fed: with labels
    written = []
    if "rollout" in pictures:  # a sequence model (TD-VAE): context, rollout and truth as a film strip
        from tfvae.viz.plots import plot_rollout

        written.append(save_png(directory / "rollout.png", plot_rollout(model, test_batch, seed=0)))
    if "reconstructions" in pictures:
        condition = {"condition": labels[:32]} if conditional else {}
        originals = test_batch[:32]
        recon = model.reconstruct(originals, **condition).numpy()
        rows = [block for i in range(0, len(originals), 8) for block in (originals[i : i + 8], recon[i : i + 8])]
        written.append(save_png(directory / "reconstructions.png", image_grid(np.concatenate(rows), columns=8)))
    if "samples" in pictures:
        if conditional:  # one row per class
            classes = np.repeat(np.arange(min(model.num_classes, 8)), 8)
            samples = model.sample(len(classes), condition=classes, seed=tf.constant([0, 1])).numpy()
        else:
            samples = model.sample(64, seed=tf.constant([0, 1])).numpy()
        written.append(save_png(directory / "samples.png", image_grid(samples, columns=8)))
    return written


#: the settings a resume takes from the caller: how the run goes on, not what it computes (the rest is refused)
RESUME_SETTINGS = ("train.epochs", "train.learning_rate", "train.learning_rates", "train.strategy",
                   "train.on_nonfinite", "train.pictures",
                   "data.data_dir",  # the data moved: the same data, elsewhere
                   "train.precision", "train.jit_compile", "train.steps_per_execution", "train.checkpoint_every",
                   "train.keep_checkpoints")


def _flat(table: dict, prefix: str = "") -> dict:
    """``{"model.latent_dim": 16, ...}``: the config's keys, tables flattened (``options`` kept whole)."""
    flat = {}
    for key, value in table.items():
        if isinstance(value, dict) and prefix.count(".") < 1 and key in ("model", "data", "train"):
            flat.update(_flat(value, f"{key}."))
        else:
            flat[prefix + key] = value
    return flat


def resume_config(saved: ExperimentConfig, config: ExperimentConfig, changed, run: RunDirectory):
    """The config a resume goes on with: the saved one, with the caller's changes that a resume can take.

    Args:
      saved: the run's ``config.json``.
      config: what the caller asks for.
      changed: the dotted keys the caller set (``--set``, flags); ``None``:
        every key where ``config`` differs from ``saved`` (the Python API).
      run: the run directory, for the messages.

    Returns:
      ``(config, applied)``: the config to go on with, and ``{key: (before, after)}`` of what it changed.

    Raises:
      RunError: a change a resume cannot take (the model, the data, the seed,
        the driver): the checkpoints hold that run; the message names the key.
    """
    old, new = _flat(saved.to_dict()), _flat(config.to_dict())
    old.pop("name"), new.pop("name")

    def asked(key: str) -> bool:
        return changed is None or any(c == key or c.startswith(key + ".") for c in changed)

    differences = {key: (old[key], new[key]) for key in old if old[key] != new.get(key) and asked(key)}
    refused = [key for key in differences if key not in RESUME_SETTINGS]
    if refused:
        key = refused[0]
        raise RunError(
            f"--resume continues {run.path} as it was saved: {key} is {differences[key][0]!r} there, not "
            f"{differences[key][1]!r} (its checkpoints hold that run); leave {key} out to continue it, or train a "
            "new run with another --out"
        )
    merged = ExperimentConfig.from_dict(saved.to_dict())
    for key, (_, after) in differences.items():
        table, name = key.split(".", 1)
        setattr(getattr(merged, table), name, after)
    merged.validate()
    return merged, differences


def train(
    config: ExperimentConfig,
    out: str | Path | None = None,
    resume: bool = False,
    verbose: int = 1,
    changed=None,
) -> RunResult:
    """Train ``config`` into a run directory; resume it from its last checkpoint.

    Args:
      config: the experiment. On resume the saved ``config.json`` goes on,
        with the caller's changes of :data:`RESUME_SETTINGS` (epochs,
        learning rate, how the run is carried out; each said in a line and
        written to ``config.json``); a change of anything else (the model,
        the data, the seed, the driver) is refused by name. ``train.epochs``
        may not go below the epochs done.
      out: the run directory; defaults to ``runs/<config.name>``.
      resume: continue the run in ``out`` from its newest checkpoint. A
        directory with nothing to resume (absent, only a stale ``.lock``, or
        killed before its first checkpoint) starts the run from scratch,
        saying so in one line, so a preemptible job can relaunch the same
        command line.
      verbose: 0 silent, 1 progress bars and a summary line (on the chief only
        when several workers train).
      changed: on resume, the dotted keys the caller set (the command line's
        ``--set`` keys and flags): only those count as changes, so a value
        the caller did not ask for (``tfvae train vae``'s 20 epochs) never
        replaces the run's own. ``None``: every difference from the saved config.

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
        if (run.read_record() or {}).get("model_file"):
            raise RunError(f"{run.path} was saved from Python (tfvae.experiment.save_run): its model is "
                           f"{run.path / 'model.keras'}, not the config, so --resume cannot rebuild it; continue "
                           "training it in Python")
        config, applied = resume_config(saved, config, changed, run)  # written once the checkpoint agrees
    else:
        applied = {}
    # A multi-worker strategy must exist before TensorFlow runs any op.
    strategy = make_strategy(config.train.strategy)
    chief = is_chief(strategy)
    if not chief:
        return _train(config, run, resume, 0, strategy, chief, applied)
    # One writer per run directory: the lock is taken before looking at what the directory holds, so
    # two runs started together cannot both find it empty.
    created = not run.path.exists()
    try:
        with DirectoryLock(run.path, "tfvae train"):
            if not resume and run.holds_a_run():
                raise RunError(
                    f"{run.path} already holds a run; pass --resume to continue it, or --out for a new directory"
                )
            removed = run.remove_leftovers() if resume else []
            if removed and verbose:
                print(f"Removed what an interrupted write left in {run.path}: {', '.join(removed)}")
            return _train(config, run, resume, verbose, strategy, chief, applied)
    finally:
        if created:  # failed before writing anything: leave no empty directory behind
            with contextlib.suppress(OSError):
                run.path.rmdir()


def _drop_image_preprocessing(config: ExperimentConfig) -> None:
    """Turn off ``data.binarize`` / ``data.dequantize`` for data that is not 8-bit images, with a warning.

    Both act on ``uint8`` pixels; a shipped config (``tfvae train vae`` binarises) given float data
    (``--dataset csv:...``, ``npz:`` of floats) would otherwise be refused by the loader. The run's
    ``config.json`` records the settings it really trained with.
    """
    from tfvae.data.datasets import resolve_source

    options = {k: v for k, v in config.data.source_options().items() if k not in ("pad_to", "limit", "standardize")}
    images = resolve_source(config.data.dataset, download=False, **options).image_options
    if images and not config.data.standardize:
        return
    dropped = [f"data.{key} = {value!r}" for key, value in (("binarize", config.data.binarize),
                                                              ("dequantize", config.data.dequantize)) if value]
    if dropped:
        why = ("data.standardize = true asks for real values" if images
               else f"{config.data.dataset!r} holds other values")
        warnings.warn(f"{' and '.join(dropped)} apply to 8-bit images; {why}: turned off for this run "
                      "(config.json records it)", RuntimeWarning, stacklevel=3)
        config.data.binarize, config.data.dequantize = None, False


def _check_data_values(config: ExperimentConfig, model: GenerativeModel, examples: int = 512) -> None:
    """Refuse, before training, data whose values the model's likelihood cannot model (its first examples).

    Raises:
      DataRangeError: the message names the dataset and what to do (``x / 255``, a Gaussian likelihood).
    """
    from tfvae.data import load_dataset
    from tfvae.validation import DataRangeError

    # the values as loaded (scaled to [0, 1] when uint8), before any binarisation or dequantisation
    batches = load_dataset(config.data.dataset, "train", examples, shuffle=False, cache=False,
                           **config.data.source_options())
    x = next(iter(batches.take(1))).numpy()
    try:
        model.check_data_values(x)
    except DataRangeError as error:
        raise DataRangeError(f"data.dataset {config.data.dataset!r}: {error} (model.likelihood = "
                             f"{config.model.likelihood!r})") from error


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


def _train(config: ExperimentConfig, run: RunDirectory, resume: bool, verbose: int, strategy, chief: bool,
           applied: dict) -> RunResult:
    from tfvae.data import load_dataset

    distributed = is_distributed(strategy)
    precision = _set_precision(config.train.precision)  # "auto" -> the policy this device computes fastest
    try:
        for folder, what in ((run.path / "logs", "TensorBoard logs"), (run.checkpoint_dir, "checkpoints")):
            refuse_symlink(folder, f"the run's {what}")  # TensorFlow's writers would follow a planted link
        data = config.data
        info = run_dataset_info(config)
        if not resume:
            _drop_image_preprocessing(config)
        keras.utils.set_random_seed(config.train.seed)  # data order; the model's seed= fixes its weights

        def in_scope():
            return strategy.scope() if distributed else contextlib.nullcontext()

        with in_scope():  # variables (model and optimizer) are created by the strategy
            model = build_model(config.model, info.data_shape, seed=config.train.seed, num_classes=info.num_classes)
        model.on_nonfinite = config.train.on_nonfinite
        if info.num_examples.get("train"):  # for objectives that read it (model.needs_dataset_size)
            model.set_dataset_size(info.num_examples["train"])
        conditional = model.capabilities.conditional
        loader = dict(
            batch_size=data.batch_size,
            seed=config.train.seed,
            binarize=data.binarize,
            dequantize=data.dequantize,
            with_labels=conditional,
            **data.source_options(),
        )
        _check_data_values(config, model)
        train_data = load_dataset(data.dataset, "train", **loader)
        test_data = load_dataset(data.dataset, "test", **loader)
        with in_scope():
            model.compile(
                optimizer={},  # each update's optimizer from its declaration, at the run's rates
                learning_rates=run_learning_rates(model, config.train),
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
            if config.train.epochs < initial_epoch:
                raise RunError(f"{run.path} has trained {initial_epoch} epochs: train.epochs = {config.train.epochs} "
                               f"would go back (the checkpoints keep the newest); pass --epochs {initial_epoch} or more")
            rates = run_learning_rates(model, config.train)
            for name, optimizer in model.update_optimizers().items():  # the restore brought back the saved ones
                if name in rates:
                    optimizer.learning_rate.assign(rates[name])
            # history.csv must hold the checkpoint's epochs once each: repaired, or refused before any change
            with _writing(run.history_path, "the repaired history"):
                dropped, damaged = run.repair_history(initial_epoch) if chief else ([], [])
            with _writing(run.checkpoint_dir / "checkpoint", "the checkpoint list"):
                tidied = checkpointer.tidy() if chief and resume_from_checkpoint else ""  # surplus, stale list
            if tidied and verbose:
                print(f"Tidied the checkpoints of {run.path}: {tidied}")
            if applied and chief:
                with _writing(run.config_path, "the run's config"):
                    run.write_config(config)  # config.json tells what the run goes on with
            for key, (before, after) in applied.items() if verbose else ():
                print(f"Resuming with {key} = {after!r} (was {before!r})")
            if damaged:
                warnings.warn(f"{run.history_path}: removed damaged row(s) at line(s) {', '.join(map(str, damaged))} "
                              "(cut short, not numbers, or repeated)", RuntimeWarning, stacklevel=2)
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
            with _writing(run.config_path, "the run's config"):
                run.write_config(config)
        if chief and not run.record_path.exists():  # a run from before run.json gets one on resume
            with _writing(run.record_path, "the run's record"):
                run.write_record(config, info, model.capabilities)
        logger = RunLogger(run, checkpointer, config.train.checkpoint_every, write_files=chief)
        callbacks: list[keras.callbacks.Callback] = [logger]
        if chief and config.train.pictures:
            pictures, picture_labels = run_data(config, "test", batch_size=500).arrays(limit=500)
            callbacks.append(RunImageLogger(run.path / "logs" / "images", pictures, seed=config.train.seed,
                                            labels=picture_labels))
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
            images = []
            if config.train.pictures:
                images, labels = run_data(config, "test", batch_size=64).arrays(limit=64)
                with _writing(run.path, "the run's pictures"):
                    images = _write_images(model, images, labels, run.path)
            trial = model.jit_trial  # set by fit / train_loop when jit_compile="auto" ran its trial
            jit = trial.as_dict() if trial is not None else {
                "jit_compile": resolve_jit_compile(config.train.jit_compile, distributed)}
            summary = {"epochs": config.train.epochs, "train_seconds": round(seconds, 2), "precision": precision,
                       "jit_compile": jit,
                       "test": test, "images": [p.name for p in images]}
            with _writing(run.summary_path, "the run's summary"):
                run.write_summary(summary)
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
