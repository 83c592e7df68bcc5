"""The prior run: the autoregressive prior of a VQ-VAE run (``tfvae train vq_prior --from RUN``).

A prior run is a run directory inside the VQ-VAE's, ``RUN/prior/``, written
by the same :class:`~tfvae.experiment.run_dir.RunDirectory` as a model run::

    prior.keras                     (VQ-VAE)  or  top.keras, bottom.keras (VQ-VAE-2)
    config.json  history.csv  summary.json  samples.png

The codes it learns are those of the run's (frozen) VQ-VAE on the run's data
(:func:`~tfvae.experiment.data.run_data`). ``summary.json`` holds, under
``test``, the VQ-VAE bound ``-log p(x) <= distortion + rate`` on the test
split under the uniform prior (``rate = h * w * log K`` nats) and under the
trained one (:func:`tfvae.metrics.vq_bound`, the report ``tfvae evaluate`` writes too), in
nats and, where the run's likelihood and data have a convention
(:func:`tfvae.metrics.bits_per_dim_convention`), in bits/dim.

A VQ-VAE-2 run gets two PixelCNNs, trained one after the other: the top one
over the top code maps, then the bottom one over the bottom maps conditioned
on the top maps (``VQVAE2.make_prior()`` / ``prior_data``). ``load_prior``
returns them as ``{"top": ..., "bottom": ...}``; each bound's ``levels`` gives
each level's rate (their sum is the bound's ``rate``). The run layer knows no
level by name: the model's ``code_levels()`` names them (:func:`prior_files`).
"""

from __future__ import annotations

import os
import time
import zipfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tfvae.config import ConfigError, ExperimentConfig
from tfvae.errors import with_article
from tfvae.experiment.build import build_prior, run_learning_rates
from tfvae.experiment.data import run_data
from tfvae.experiment.load import LoadedRun, load_run
from tfvae.experiment.run_dir import RunDirectory, RunError
from tfvae.fileio import DirectoryLock
from tfvae.metrics.codebook import prior_is_conditional, vq_bound
from tfvae.metrics.likelihood import bits_per_dim_convention
from tfvae.viz import image_grid, save_png

PRIOR_DIR = "prior"


def prior_directory(run_dir: str | Path) -> Path:
    """Where the prior of the run in ``run_dir`` lives: ``run_dir/prior``."""
    return Path(run_dir) / PRIOR_DIR


def _parts(prior) -> list[tuple[str, keras.Model]]:
    """``[("prior", model)]`` for one PixelCNN, ``[("top", ...), ("bottom", ...)]`` for a VQ-VAE-2's."""
    return list(prior.items()) if isinstance(prior, dict) else [("prior", prior)]


def save_prior(prior, directory: Path) -> None:
    """Write the prior's ``.keras`` file(s) atomically (a temporary name, then a rename)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, model in _parts(prior):
        final = directory / f"{name}.keras"
        partial = directory / f".{name}.partial.keras"
        model.save(partial)
        os.replace(partial, final)


def prior_files(model, run_dir: str | Path) -> dict[str | None, Path]:
    """The file of each level of a VQ model's trained prior, keyed by the levels of ``model.code_levels()``.

    One code map (a VQ-VAE, level ``None``): ``RUN/prior/prior.keras``; one
    map per level (a VQ-VAE-2's ``"top"`` and ``"bottom"``):
    ``RUN/prior/<level>.keras``, as :func:`save_prior` writes the dict of
    ``model.make_prior()``.

    Args:
      model: the run's VQ-VAE or VQ-VAE-2.
      run_dir: the run directory.
    """
    directory = prior_directory(run_dir)
    return {level: directory / f"{level or 'prior'}.keras" for _, level, _, _ in model.code_levels()}


def load_prior(run_dir: str | Path, model=None):
    """The trained prior of a VQ-VAE run: a :class:`~tfvae.models.quantized.pixelcnn.PixelCNN`, ``{"top", "bottom"}``, or
    ``None``.

    Args:
      run_dir: the run directory.
      model: the run's model, whose ``code_levels()`` name the prior's files
        (:func:`prior_files`); default: the run's, loaded.

    Raises:
      RunError: a prior file exists but cannot be loaded (the cause is chained).
    """
    if not any(prior_directory(run_dir).glob("*.keras")):  # nothing trained: no need to know the levels
        return None
    files = prior_files(load_run(run_dir).model if model is None else model, run_dir)
    if not all(path.is_file() for path in files.values()):
        return None
    try:
        parts = {level: keras.saving.load_model(path) for level, path in files.items()}
    except (OSError, ValueError, TypeError, KeyError, zipfile.BadZipFile) as error:  # unreadable: say which
        raise RunError(f"cannot load the prior in {prior_directory(run_dir)}: {error}") from error
    return parts[None] if None in parts else parts


def _codes(model, x: np.ndarray, labels, batch_size: int = 500):
    """The prior's training data for ``x``, computed in batches and concatenated."""
    parts = [model.prior_data(x[i : i + batch_size], None if labels is None else labels[i : i + batch_size])
             for i in range(0, len(x), batch_size)]
    return tf.nest.map_structure(lambda *t: np.concatenate([np.asarray(a) for a in t]), *parts)


def _fit(prior, train, test, config: ExperimentConfig, verbose: int) -> dict[str, list[float]]:
    prior.compile(optimizer={}, learning_rates=run_learning_rates(prior, config.train),
                  jit_compile=config.train.jit_compile, steps_per_execution=config.train.steps_per_execution)
    history = prior.fit(train, validation_data=(test,), epochs=config.train.epochs,
                        batch_size=config.data.batch_size, shuffle=True, verbose="auto" if verbose else 0)
    return history.history


def train_prior(config: ExperimentConfig, from_run: str | Path, out: str | Path | None = None,
                verbose: int = 1) -> dict:
    """Train the PixelCNN prior of a VQ-VAE run on its frozen codes.

    Args:
      config: ``kind = "prior"``, ``model.name = "pixelcnn"``; ``model.options``
        are the PixelCNN's declared options (``filters``, ``num_layers``,
        ``attention_every``, ...; ``num_classes = 0`` unless a class-conditional
        prior is wanted); ``train`` and ``data.batch_size`` set the
        optimisation. The dataset is the VQ-VAE run's.
      from_run: the VQ-VAE run directory.
      out: where the prior goes; defaults to ``from_run/prior``.
      verbose: 0 silent, 1 progress bars and a summary line.

    Returns:
      The summary written to ``summary.json``.
    """
    loaded = load_run(from_run)
    if not loaded.model.capabilities.needs_trained_prior:
        raise RunError(f"{from_run} holds {with_article(type(loaded.model).__name__)}, not a VQ-VAE: "
                       "vq_prior needs a vqvae or vqvae2 run")
    run = RunDirectory(out if out is not None else prior_directory(from_run))
    with DirectoryLock(run.path, "tfvae train vq_prior"):  # one prior trainer per directory
        if any(run.path.glob("*.keras")):
            raise RunError(f"{run.path} already holds a prior; pass another --out, or remove it to train again")
        return _train_prior(config, loaded, run, verbose)


def _train_prior(config: ExperimentConfig, loaded: LoadedRun, run: RunDirectory, verbose: int) -> dict:
    model = loaded.model
    prior = build_prior(config.model, model, seed=config.train.seed)
    conditional = prior_is_conditional(prior)
    keras.utils.set_random_seed(config.train.seed)

    train_split = run_data(loaded.config, "train")
    if conditional and not train_split.has_labels:
        raise ConfigError(f"a class-conditional prior needs labels; dataset {loaded.config.data.dataset!r} has none")
    x_train, y_train = train_split.arrays()
    test_split = run_data(loaded.config, "test", with_labels=conditional)
    x_test, y_test = test_split.arrays()
    codes_train = _codes(model, x_train, y_train if conditional else None)
    codes_test = _codes(model, x_test, y_test)

    started = time.perf_counter()
    columns: dict[str, list[float]] = {}
    for level, part in _parts(prior):
        train = codes_train[level] if isinstance(prior, dict) else codes_train
        test = codes_test[level] if isinstance(prior, dict) else codes_test
        for key, values in _fit(part, train, test, config, verbose).items():
            columns[key if level == "prior" else f"{level}_{key}"] = values
    seconds = time.perf_counter() - started
    save_prior(prior, run.path)

    data_config = loaded.config.data
    convention, why = bits_per_dim_convention(model.likelihood, data_config.binarize, data_config.dequantize)
    test = vq_bound(model, prior, test_split.dataset, bits_per_dim_convention=convention, bits_per_dim_note=why)
    num_classes = max(part.num_classes for _, part in _parts(prior))
    label = np.repeat(np.arange(min(10, num_classes)), 8) if conditional else None
    samples = model.sample(len(label) if conditional else 64, prior, condition=label, seed=config.train.seed).numpy()
    save_png(run.path / "samples.png", image_grid(samples, columns=8))
    summary = {"from_run": str(loaded.directory), "epochs": config.train.epochs, "train_seconds": round(seconds, 2),
               "test": test, "images": ["samples.png"]}
    run.write_config(config)
    run.write_history([{"epoch": epoch, **dict(zip(columns, row))}
                       for epoch, row in enumerate(zip(*columns.values()), start=1)])
    run.write_summary(summary)
    if verbose:
        learned, uniform = test["prior"], test["uniform"]
        if "levels" in learned:
            print("Prior NLL of the test codes by level: " + ", ".join(
                f"{level} {rate:.2f} nats (uniform {uniform['levels'][level]:.2f})"
                for level, rate in learned["levels"].items()))
        if learned["bits_per_dim"] is None:
            bound = f"bound {learned['nats']:.2f} nats (uniform {uniform['nats']:.2f}; no bits/dim: {why})"
        else:
            bound = f"bound {learned['bits_per_dim']:.4f} bits/dim (uniform {uniform['bits_per_dim']:.4f})"
        print(f"Prior NLL of the test codes: {learned['rate']:.2f} nats (uniform prior {uniform['rate']:.2f}); "
              f"{bound}; prior saved in {run.path}")
    return summary
