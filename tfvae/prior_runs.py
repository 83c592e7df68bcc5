"""Train, save and load the autoregressive prior of a VQ-VAE run (``tfvae train vq_prior --from RUN``).

The prior lives inside the VQ-VAE's run directory, ``RUN/prior/``::

    prior.keras                     (VQ-VAE)  or  top.keras, bottom.keras (VQ-VAE-2)
    config.json  history.csv  summary.json  samples.png

The codes it learns are those of the run's (frozen) VQ-VAE on the run's
dataset; ``summary.json`` compares the prior's held-out NLL of those codes
with the uniform prior's ``h * w * log K`` nats, and states the VQ-VAE bound
``-log p(x) <= distortion + rate`` in nats and bits/dim under both.

A VQ-VAE-2 run gets two PixelCNNs, trained one after the other: the top one
over the top code maps, then the bottom one over the bottom maps conditioned
on the top maps (``VQVAE2.make_prior()`` / ``prior_data``). ``load_prior``
returns them as ``{"top": ..., "bottom": ...}``; the summary's
``test_codes_nll.levels`` gives each level's NLL (their sum is the prior's).
"""

from __future__ import annotations

import csv
import inspect
import io
import json
import math
import os
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tfvae.config import ConfigError, ExperimentConfig
from tfvae.data import dataset_info
from tfvae.errors import with_article
from tfvae.fileio import DirectoryLock, atomic_write_text
from tfvae.models.pixelcnn import PixelCNN
from tfvae.runs import RunError, load_run
from tfvae.viz import image_grid, save_png

PRIOR_DIR = "prior"
LEVELS = ("top", "bottom")


def prior_directory(run_dir: str | Path) -> Path:
    return Path(run_dir) / PRIOR_DIR


def save_prior(prior, directory: Path) -> None:
    """Write the prior's ``.keras`` file(s) atomically (a temporary name, then a rename)."""
    directory.mkdir(parents=True, exist_ok=True)
    parts = prior.items() if isinstance(prior, dict) else [("prior", prior)]
    for name, model in parts:
        final = directory / f"{name}.keras"
        partial = directory / f".{name}.partial.keras"
        model.save(partial)
        os.replace(partial, final)


def load_prior(run_dir: str | Path):
    """The trained prior of a VQ-VAE run: a :class:`PixelCNN`, ``{"top", "bottom"}``, or ``None``.

    Raises:
      RunError: a prior file exists but cannot be loaded.
    """
    directory = prior_directory(run_dir)
    files = {name: directory / f"{name}.keras" for name in ("prior", *LEVELS)}
    try:
        if files["prior"].is_file():
            return keras.saving.load_model(files["prior"])
        if all(files[level].is_file() for level in LEVELS):
            return {level: keras.saving.load_model(files[level]) for level in LEVELS}
    except Exception as error:  # noqa: BLE001  (any unreadable file: say which)
        raise RunError(f"cannot load the prior in {directory}: {error}") from None
    return None


def code_nll(model, prior, x, labels=None) -> dict[str, np.ndarray]:
    """Per-example ``-log p(codes(x))`` in nats under ``prior``, by level.

    Returns:
      ``{"prior": nll}`` for a one-level VQ-VAE, ``{"top": nll, "bottom": nll}``
      for a VQ-VAE-2 (the bottom level given the top codes); the sum over the
      levels is ``model.prior_nll(prior, x, labels)``.
    """
    data = model.prior_data(x, labels)
    if isinstance(prior, dict):
        return {level: -np.asarray(prior[level].log_prob(data[level])) for level in prior}
    return {"prior": -np.asarray(prior.log_prob(data))}


def uniform_code_nll(model) -> dict[str, float]:
    """``h * w * log K`` nats per level (``{"prior": ...}`` for one level): the uniform prior's NLL of the codes."""
    shapes, sizes = model.code_shape, model.num_embeddings
    if isinstance(shapes, dict):
        return {level: float(np.prod(shapes[level])) * math.log(sizes[level]) for level in LEVELS}
    return {"prior": float(np.prod(shapes)) * math.log(sizes)}


def _check_options(options: dict) -> dict:
    accepted = set(inspect.signature(PixelCNN.__init__).parameters) - {
        "self", "kwargs", "num_embeddings", "code_shape", "condition_shape", "condition_num_embeddings",
    }
    for name in options:
        if name not in accepted:
            raise ConfigError(f"model.options.{name}: not an option of the PixelCNN prior; it takes: "
                              f"{', '.join(sorted(accepted))}")
    return dict(options)


def _images(data, split: str, with_labels: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """A whole split, prepared as the run's data (a binarised run: one fixed Bernoulli draw)."""
    from tfvae.data import load_dataset

    binarize = "static" if data.binarize else None
    dataset = load_dataset(data.dataset, split, batch_size=1000, shuffle=False, binarize=binarize,
                           with_labels=with_labels, cache=False, **data.source_options())
    batches = list(dataset)
    if with_labels:
        return (np.concatenate([np.asarray(b[0]) for b in batches]),
                np.concatenate([np.asarray(b[1]) for b in batches]))
    return np.concatenate([np.asarray(b) for b in batches]), None


def _codes(model, x: np.ndarray, labels, batch_size: int = 500):
    """The prior's training data for ``x``, computed in batches and concatenated."""
    parts = [model.prior_data(x[i : i + batch_size], None if labels is None else labels[i : i + batch_size])
             for i in range(0, len(x), batch_size)]
    return tf.nest.map_structure(lambda *t: np.concatenate([np.asarray(a) for a in t]), *parts)


def _fit(prior: PixelCNN, train, test, config: ExperimentConfig, verbose: int) -> dict[str, list[float]]:
    prior.compile(optimizer=keras.optimizers.Adam(config.train.learning_rate),
                  jit_compile=config.train.jit_compile, steps_per_execution=config.train.steps_per_execution)
    history = prior.fit(train, validation_data=(test,), epochs=config.train.epochs,
                        batch_size=config.data.batch_size, shuffle=True, verbose="auto" if verbose else 0)
    return history.history


def train_prior(config: ExperimentConfig, from_run: str | Path, out: str | Path | None = None,
                verbose: int = 1) -> dict:
    """Train the PixelCNN prior of a VQ-VAE run on its frozen codes.

    Args:
      config: ``model.name = "pixelcnn"``; ``model.options`` are PixelCNN
        arguments (``filters``, ``num_layers``, ``attention_every``, ...;
        ``num_classes = 0`` unless a class-conditional prior is wanted);
        ``train`` and ``data.batch_size`` set the optimisation. The dataset is
        the VQ-VAE run's.
      from_run: the VQ-VAE run directory.
      out: where the prior goes; defaults to ``from_run/prior``.
      verbose: 0 silent, 1 progress bars and a summary line.

    Returns:
      The summary written to ``summary.json``.
    """
    loaded = load_run(from_run)
    model = loaded.model
    if not model.capabilities.needs_trained_prior:
        raise RunError(f"{from_run} holds {with_article(type(model).__name__)}, not a VQ-VAE: vq_prior needs a vqvae or vqvae2 run")
    directory = Path(out) if out is not None else prior_directory(from_run)
    with DirectoryLock(directory, "tfvae train vq_prior"):  # one prior trainer per directory
        if any(directory.glob("*.keras")):
            raise RunError(f"{directory} already holds a prior; pass another --out, or remove it to train again")
        return _train_prior(config, loaded, directory, verbose)


def _train_prior(config: ExperimentConfig, loaded, directory: Path, verbose: int) -> dict:
    from_run = loaded.directory
    model = loaded.model
    options = _check_options(config.model.options)
    conditional = int(options.get("num_classes", 0) or 0) > 0
    options.setdefault("seed", config.train.seed)
    keras.utils.set_random_seed(config.train.seed)

    data = loaded.config.data
    if conditional and not dataset_info(data.dataset, **data.source_options()).has_labels:
        raise ConfigError(f"a class-conditional prior needs labels; dataset {data.dataset!r} has none")
    x_train, y_train = _images(data, "train", conditional)
    x_test, y_test = _images(data, "test", conditional)
    codes_train = _codes(model, x_train, y_train if conditional else None)
    codes_test = _codes(model, x_test, y_test if conditional else None)

    prior = model.make_prior(**options)
    started = time.perf_counter()
    history: dict[str, list[float]] = {}
    levels = prior.items() if isinstance(prior, dict) else [("prior", prior)]
    for level, part in levels:
        train = codes_train[level] if isinstance(prior, dict) else codes_train
        test = codes_test[level] if isinstance(prior, dict) else codes_test
        for key, values in _fit(part, train, test, config, verbose).items():
            history[key if level == "prior" else f"{level}_{key}"] = values
    seconds = time.perf_counter() - started
    save_prior(prior, directory)

    labels_test = y_test if conditional else None
    parts = [code_nll(model, prior, x_test[i : i + 500], None if labels_test is None else labels_test[i : i + 500])
             for i in range(0, len(x_test), 500)]
    level_nll = {level: float(np.mean(np.concatenate([part[level] for part in parts]))) for level in parts[0]}
    prior_nll = sum(level_nll.values())
    distortion = float(np.mean(np.concatenate([
        model.bound(x_test[i : i + 500])["distortion"].numpy() for i in range(0, len(x_test), 500)
    ])))
    uniform = model.uniform_rate()
    dims = int(np.prod(model.data_shape))
    summary = {
        "from_run": str(Path(from_run)),
        "epochs": config.train.epochs,
        "train_seconds": round(seconds, 2),
        "test_codes_nll": {"prior": prior_nll, "uniform": uniform},
        "test_bound_nats": {"prior": distortion + prior_nll, "uniform": distortion + uniform},
        "test_bound_bits_per_dim": {
            "prior": (distortion + prior_nll) / (dims * math.log(2)),
            "uniform": (distortion + uniform) / (dims * math.log(2)),
        },
        "test_distortion": distortion,
    }
    if isinstance(prior, dict):  # VQ-VAE-2: each level's share
        uniform_levels = uniform_code_nll(model)
        summary["test_codes_nll"]["levels"] = {
            level: {"prior": level_nll[level], "uniform": uniform_levels[level]} for level in prior
        }
    label = np.repeat(np.arange(min(10, int(options["num_classes"]))), 8) if conditional else None
    samples = model.sample(len(label) if conditional else 64, prior, label=label, seed=config.train.seed).numpy()
    save_png(directory / "samples.png", image_grid(samples, columns=8))
    summary["images"] = ["samples.png"]
    atomic_write_text(directory / "config.json", json.dumps(config.to_dict(), indent=2) + "\n")
    lines = io.StringIO()
    writer = csv.writer(lines)
    writer.writerow(["epoch", *history])
    for epoch, row in enumerate(zip(*history.values()), start=1):
        writer.writerow([epoch, *row])
    atomic_write_text(directory / "history.csv", lines.getvalue())
    atomic_write_text(directory / "summary.json", json.dumps(summary, indent=2) + "\n")
    if verbose:
        if isinstance(prior, dict):
            print("Prior NLL of the test codes by level: " + ", ".join(
                f"{level} {nll['prior']:.2f} nats (uniform {nll['uniform']:.2f})"
                for level, nll in summary["test_codes_nll"]["levels"].items()))
        print(f"Prior NLL of the test codes: {prior_nll:.2f} nats (uniform prior {uniform:.2f}); "
              f"bound {summary['test_bound_bits_per_dim']['prior']:.4f} bits/dim "
              f"(uniform {summary['test_bound_bits_per_dim']['uniform']:.4f}); prior saved in {directory}")
    return summary
