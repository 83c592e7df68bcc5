"""Experiment runs: build the model from a config, train it, keep a run directory.

A run directory ``runs/<name>/`` holds::

    config.json          the resolved config (what `--resume` restarts from)
    history.csv          one row per epoch: epoch, train terms, val_ terms
    logs/                TensorBoard scalars (train and validation terms)
    checkpoints/         tf.train.CheckpointManager: model weights, optimizer
                         state, epoch and the model's RNG state
    reconstructions.png  test digits (odd rows) and their reconstructions
    samples.png          decoded prior samples (models with a prior)
    summary.json         the final test terms, per example in nats

Nothing already saved is ever deleted: a directory that holds a run is only
reused with ``resume=True``.

Under ``train.strategy = "multi_worker"`` every worker runs :func:`train` with
the same config and ``out``; only the chief writes the run directory (the
others save their checkpoints to a temporary directory they delete at once).
Resuming needs the run directory on a file system every worker can read.
"""

from __future__ import annotations

import contextlib
import csv
import inspect
import json
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfvae.config import ConfigError, ExperimentConfig, ModelConfig
from tfvae.distribute import is_chief, is_distributed, make_strategy
from tfvae.errors import TfvaeError
from tfvae.loops import evaluate_loop, train_loop
from tfvae.models.base import GenerativeModel
from tfvae.registry import MODELS
from tfvae.viz import ImageLogger, image_grid, save_png

CONFIG_FILE = "config.json"
HISTORY_FILE = "history.csv"
SUMMARY_FILE = "summary.json"


class RunError(TfvaeError, RuntimeError):
    """A run directory cannot be used as asked (exists, missing, corrupt)."""


def _init_parameters(cls) -> set[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass is GenerativeModel:
            break
        if "__init__" in vars(klass):
            names |= set(inspect.signature(klass.__init__).parameters)
    return names


def build_model(config: ModelConfig, data_shape: tuple[int, ...], seed: int | None = None,
                num_classes: int | None = None) -> GenerativeModel:
    """Instantiate the registered model that ``config`` names, for data of ``data_shape``.

    Args:
      config: the ``[model]`` table.
      data_shape: shape of one example, e.g. ``(28, 28, 1)``.
      seed: the model's seed.
      num_classes: the dataset's number of classes, for conditional models
        (unless ``model.options.num_classes`` sets it).
    """
    cls = MODELS.get(config.name)
    builder = getattr(cls, config.architecture, None)
    if builder is None:
        raise ConfigError(f"model.architecture: {config.architecture!r} is not available for model {config.name!r}")
    parameters = inspect.signature(builder).parameters
    kwargs: dict[str, Any] = {
        "data_shape": tuple(data_shape),
        "likelihood": config.likelihood,
        "likelihood_kwargs": dict(config.likelihood_kwargs),
        "seed": seed,
    }
    # The generic network fields go to builders that take them; a field the
    # builder does not take must be left at its default (VQ-VAEs set their
    # networks through model.options instead).
    generic = {"latent_dim": config.latent_dim, "hidden_units": tuple(config.hidden_units),
               "activation": config.activation}
    if config.architecture == "conv":
        generic["filters"] = tuple(config.filters)
    defaults = ModelConfig()
    for name, value in generic.items():
        default = getattr(defaults, name)
        default = tuple(default) if isinstance(default, list) else default
        takes_it = name in parameters and not (
            isinstance(value, tuple) and not isinstance(parameters[name].default, (tuple, list))
        )
        if takes_it and not (config.architecture == "recurrent" and name == "activation"):
            kwargs[name] = value
        elif value != default:
            raise ConfigError(
                f"model.{name} does not apply to model {config.name!r} with architecture {config.architecture!r}"
                + ("; set it in model.options" if name in parameters else "")
            )
    accepted = _init_parameters(cls) | set(getattr(cls, "posterior_options", ())) | set(getattr(cls, "prior_options", ()))
    accepted |= set(getattr(cls, "quantizer_options", ()))
    accepted |= set(inspect.signature(builder).parameters) - set(kwargs)
    accepted -= {"self", "cls", "args", "kwargs", "encoder", "decoder", "posterior", "likelihood", "seed", "quantizer",
                 "bottom_encoder", "top_encoder", "top_decoder", "bottom_projection", "top_upsample",
                 "top_quantizer", "bottom_quantizer"}
    for option in ("beta", "kl", "num_samples"):
        value = getattr(config, option)
        if value is None:
            continue
        if option not in accepted:
            raise ConfigError(f"model.{option} does not apply to model {config.name!r}")
        kwargs[option] = value
    if getattr(cls, "conditional", False):
        if num_classes is None and "num_classes" not in config.options:
            raise ConfigError(f"model {config.name!r} is conditional: the dataset has no labels to condition on")
        kwargs["num_classes"] = num_classes
    for option, value in config.options.items():
        if option not in accepted:
            raise ConfigError(
                f"model.options.{option}: not an option of model {config.name!r}; "
                f"it takes: {', '.join(sorted(accepted)) or 'none'}"
            )
        kwargs[option] = value
    try:
        return builder(**kwargs)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"model: {error}") from None


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
        self.path.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(config.to_json() + "\n")

    def read_config(self) -> ExperimentConfig:
        if not self.config_path.is_file():
            raise RunError(f"{self.path} holds no run to resume (no {CONFIG_FILE})")
        try:
            return ExperimentConfig.from_dict(json.loads(self.config_path.read_text()))
        except (json.JSONDecodeError, ConfigError) as error:
            raise RunError(f"{self.config_path} is not a valid run config: {error}") from None

    def append_history(self, epoch: int, logs: dict[str, float]) -> None:
        row = {"epoch": epoch, **{k: float(v) for k, v in sorted(logs.items())}}
        new = not self.history_path.exists()
        with self.history_path.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)

    def read_history(self) -> list[dict[str, float]]:
        if not self.history_path.exists():
            return []
        with self.history_path.open() as handle:
            return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]


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
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(directory), max_to_keep=max_to_keep)

    def save(self, epoch: int) -> str | None:
        self.epoch.assign(epoch)
        if self.write:
            return self.manager.save(checkpoint_number=epoch)
        scratch = tempfile.mkdtemp(prefix="tfvae-worker-checkpoint-")
        try:
            self.checkpoint.write(str(Path(scratch) / f"ckpt-{epoch}"))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return None

    def restore_latest(self) -> int:
        """Restore the newest checkpoint; returns the number of epochs it had done."""
        path = self.manager.latest_checkpoint
        if path is None:
            raise RunError(f"no checkpoint in {self.manager.directory}")
        try:
            self.checkpoint.restore(path).assert_existing_objects_matched()
        except (tf.errors.OpError, AssertionError, ValueError, IndexError, KeyError) as error:
            raise RunError(
                f"checkpoint {path} could not be restored ({type(error).__name__}: {str(error).splitlines()[0]}); "
                "it is left as it is: restore an older one from the same directory or start a new run with --out"
            ) from None
        return int(self.epoch.numpy())


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
        self.rows.append({"epoch": float(done), **{k: float(v) for k, v in logs.items()}})
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


def _set_precision(precision: str) -> None:
    keras.mixed_precision.set_global_policy(precision)


def _write_images(model: GenerativeModel, test_batch: np.ndarray, labels: np.ndarray, directory: Path) -> list[Path]:
    written = []
    if hasattr(model, "rollout"):  # a sequence model (TD-VAE): context, rollout and truth as a film strip
        from tfvae.viz.plots import plot_rollout

        written.append(save_png(directory / "rollout.png", plot_rollout(model, test_batch, seed=0)))
        return written
    if test_batch.ndim != 4:  # not images
        return written
    condition = {}
    if getattr(model, "conditional", False):
        condition = {"condition": labels[:32]}
    originals = test_batch[:32]
    recon = model.reconstruct(originals, **condition).numpy()
    rows = [block for i in range(0, len(originals), 8) for block in (originals[i : i + 8], recon[i : i + 8])]
    written.append(save_png(directory / "reconstructions.png", image_grid(np.concatenate(rows), columns=8)))
    if hasattr(model, "prior") and hasattr(model, "sample"):
        if getattr(model, "conditional", False):  # one row per class
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
    """Rebuild the model of a run directory and restore its newest checkpoint.

    The model is built in float32 whatever precision it was trained in (its
    variables are float32 either way) and compiled with the run's optimizer,
    whose state is restored too.

    Args:
      path: a run directory written by :func:`train` (``runs/<name>``).

    Raises:
      RunError: no run there, or its checkpoint cannot be restored.
    """
    from tfvae.data import dataset_info

    run = RunDirectory(path)
    if not run.path.is_dir():
        raise RunError(f"run directory not found: {run.path}")
    config = run.read_config()
    try:
        info = dataset_info(config.data.dataset, data_dir=config.data.data_dir)
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
      resume: continue the run in ``out`` from its newest checkpoint.
      verbose: 0 silent, 1 progress bars and a summary line (on the chief only
        when several workers train).

    Under ``train.strategy`` ``"mirrored"`` or ``"multi_worker"`` the model and
    optimizer are built in the strategy's scope and ``data.batch_size`` is the
    GLOBAL batch (see :mod:`tfvae.distribute`). For ``"multi_worker"`` every
    worker calls this with the same config and ``out``; only the chief writes
    the run directory, and the returned ``history`` of the other workers
    holds the epochs they ran.
    """
    from tfvae.data import dataset_info, load_dataset

    run = RunDirectory(out if out is not None else Path("runs") / config.name)
    if resume:
        saved = run.read_config()
        if config.train.epochs != saved.train.epochs:
            saved.train.epochs = config.train.epochs
        if config.train.strategy != saved.train.strategy:  # how to run it, not what to run
            saved.train.strategy = config.train.strategy
            saved.validate()
        config = saved
    # A multi-worker strategy must exist before TensorFlow runs any op.
    strategy = make_strategy(config.train.strategy)
    distributed = is_distributed(strategy)
    chief = is_chief(strategy)
    if not chief:
        verbose = 0
    if not resume and chief and run.holds_a_run():
        raise RunError(
            f"{run.path} already holds a run; pass --resume to continue it, or --out for a new directory"
        )

    _set_precision(config.train.precision)
    try:
        data = config.data
        try:
            info = dataset_info(data.dataset, data_dir=data.data_dir)
        except ValueError as error:
            raise ConfigError(f"data.dataset: {error}") from None
        keras.utils.set_random_seed(config.train.seed)  # initial weights too: same config and seed, same run

        def in_scope():
            return strategy.scope() if distributed else contextlib.nullcontext()

        with in_scope():  # variables (model and optimizer) are created by the strategy
            model = build_model(config.model, info.data_shape, seed=config.train.seed, num_classes=info.num_classes)
        conditional = getattr(model, "conditional", False)
        loader = dict(
            batch_size=data.batch_size,
            seed=config.train.seed,
            binarize=data.binarize,
            dequantize=data.dequantize,
            data_dir=data.data_dir,
            with_labels=conditional,
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
        if resume:
            initial_epoch = checkpointer.restore_latest()
            if verbose:
                print(f"Resuming {run.path} from epoch {initial_epoch} (step {int(model.optimizer.iterations)})")
        elif chief:
            run.write_config(config)
        logger = RunLogger(run, checkpointer, config.train.checkpoint_every, write_files=chief)
        callbacks: list[keras.callbacks.Callback] = [logger]
        if chief:
            picture_batch = next(iter(load_dataset(data.dataset, "test", batch_size=500, shuffle=False, cache=False,
                                                   data_dir=data.data_dir, with_labels=info.has_labels)))
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
                )
            if config.train.epochs % config.train.checkpoint_every:
                checkpointer.save(config.train.epochs)
        seconds = time.perf_counter() - started
        test = evaluate_loop(model, test_data, verbose=verbose)  # every worker: it is a collective too
        if chief:
            picture_batch = next(iter(load_dataset(data.dataset, "test", batch_size=64, shuffle=False, cache=False,
                                                   data_dir=data.data_dir, with_labels=info.has_labels)))
            images, labels = picture_batch if info.has_labels else (picture_batch, None)
            images = _write_images(model, np.asarray(images), None if labels is None else np.asarray(labels),
                                   run.path)
            summary = {"epochs": config.train.epochs, "train_seconds": round(seconds, 2), "test": test,
                       "images": [p.name for p in images]}
            (run.path / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n")
    finally:
        _set_precision("float32")
    if verbose:
        headline = "elbo" if "elbo" in test else "loss"
        terms = ", ".join(f"{k} {v:.2f}" for k, v in test.items() if k != headline)
        print(f"Test {headline}: {test[headline]:.2f} nats/example ({terms}); run saved in {run.path}")
    history = run.read_history() if chief else logger.rows
    return RunResult(model, run.path, history, test, config.train.epochs)
