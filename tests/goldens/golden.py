"""Golden files: what one family's files hold, how they are written and how today's code reads them.

Per conformance family (``tests/conformance/families.py``), ``tests/goldens/<family>/`` holds what a
user of an earlier tfvae kept:

- ``model.keras``: the family's model after one Adam step (weights, optimizer slots, seed state);
- ``prior.keras`` (``prior-top.keras`` / ``prior-bottom.keras`` for VQ-VAE-2): the prior exported with it;
- ``checkpoint/``: the training checkpoint a run directory keeps (:class:`tfvae.experiment.checkpoint.Checkpointer`,
  epoch 1), with ``model.json``, the registered name and ``get_config()`` a run rebuilds the model from;
- ``signatures.json``: the SavedModel signature listing (names, input and output specs;
  :func:`tfvae.export.signature_table`), for families that serve;
- ``numbers.npz``: the inputs and what the loaded model computed on them: ``loss_terms`` (evaluation mode),
  ``model(batch)`` and every serving signature.

``python -m tests.goldens.write`` writes them (see docs/tests.md); the tests in ``test_goldens.py``
load them with today's code and compare. A change that breaks one updates the goldens on purpose and says
so in docs/saving.md ("Compatibility of saved files").
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tfvae.experiment.checkpoint import Checkpointer
from tfvae.export import ServingModule, load_keras, save_keras, signature_table
from tfvae.models import gradient_step
from tfvae.registry import MODELS

ROOT = Path(__file__).resolve().parent
#: the files every family's golden has (signatures.json: families that serve)
REQUIRED = ("model.keras", "model.json", "numbers.npz", "checkpoint/checkpoint")
#: loaded files compute the stored numbers to this tolerance (other CPUs, other oneDNN kernels)
TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}
#: the goldens stay small
MAX_TOTAL_BYTES = 5_000_000


def golden_dir(name: str) -> Path:
    return ROOT / name


def prior_files(prior) -> dict[str, object]:
    """``file name -> prior model``: one ``prior.keras``, or one file per level of a VQ-VAE-2's prior dict."""
    if prior is None:
        return {}
    if isinstance(prior, dict):
        return {f"prior-{level}.keras": prior[level] for level in sorted(prior)}
    return {"prior.keras": prior}


def load_prior(directory: Path):
    """The prior stored beside the model (``None`` when the family has none)."""
    files = sorted(directory.glob("prior*.keras"))
    if not files:
        return None
    if [f.name for f in files] == ["prior.keras"]:
        return load_keras(files[0])
    return {f.stem.removeprefix("prior-"): load_keras(f) for f in files}


def batch_keys(batch) -> dict[str, np.ndarray]:
    """A training batch (an array, a tuple or a dict of arrays) as flat npz entries."""
    if isinstance(batch, dict):
        return {f"batch/dict/{k}": np.asarray(v) for k, v in batch.items()}
    if isinstance(batch, tuple):
        return {f"batch/tuple/{i}": np.asarray(v) for i, v in enumerate(batch)}
    return {"batch/array": np.asarray(batch)}


def batch_from(arrays):
    keys = [k for k in arrays.files if k.startswith("batch/")]
    if keys == ["batch/array"]:
        return arrays["batch/array"]
    if all(k.startswith("batch/tuple/") for k in keys):
        return tuple(arrays[k] for k in sorted(keys, key=lambda k: int(k.rsplit("/", 1)[1])))
    return {k.rsplit("/", 1)[1]: arrays[k] for k in keys}


def model_numbers(model, batch) -> dict[str, dict[str, np.ndarray]]:
    """``{"terms": loss_terms (evaluation mode), "call": {"output": model(batch)}}``, computed in this order
    from the saved seed state."""
    terms = {k: np.asarray(v) for k, v in model.loss_terms(batch, training=False).items()}
    return {"terms": terms, "call": {"output": np.asarray(model(batch, training=False))}}


def serving_numbers(module: ServingModule,
                    inputs: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, np.ndarray]]:
    """``{signature: outputs}`` on ``inputs``, from the in-memory :class:`ServingModule` of the model."""
    return {f"signature/{signature}": {k: v.numpy() for k, v in module.concrete_functions[signature](
        **{k: tf.constant(v) for k, v in feed.items()}).items()} for signature, feed in sorted(inputs.items())}


def flatten(groups: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """``{group: {name: array}}`` as npz entries ``group/name``."""
    return {f"{group}/{name}": np.asarray(value) for group, values in groups.items() for name, value in values.items()}


def group(arrays, prefix: str) -> dict[str, np.ndarray]:
    """The npz entries ``prefix/name`` as ``{name: array}``."""
    start = prefix + "/"
    return {key[len(start):]: arrays[key] for key in arrays.files
            if key.startswith(start) and "/" not in key[len(start):]}


def listing(module: ServingModule) -> list[list[str]]:
    """The SavedModel signature listing: ``[signature, inputs, outputs]`` rows (as ``saved_model_cli`` shows)."""
    return [list(row) for row in signature_table(module)]


def rebuild(directory: Path):
    """The model a run rebuilds from ``model.json`` (registered name and config), compiled, its optimizer built."""
    spec = json.loads((directory / "model.json").read_text())
    model = MODELS.get(spec["model"]).from_config(spec["config"])
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.optimizer.build(model.trainable_variables)
    return model


def write(name: str, family, directory: Path) -> None:
    """Write the golden of ``family`` into ``directory`` (emptied first)."""
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    model, prior = family.make()
    batch = family.data(model, np.random.default_rng(0))
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    gradient_step(model, model.optimizer, batch)  # off the initial weights, the optimizer slots filled
    (directory / "model.json").write_text(json.dumps({"model": family.model, "config": model.get_config()},
                                                     indent=1, sort_keys=True, default=repr) + "\n")
    Checkpointer(directory / "checkpoint", model, max_to_keep=1).save(1)
    save_keras(model, directory / "model.keras")
    for file_name, prior_model in prior_files(prior).items():
        save_keras(prior_model, directory / file_name)

    # the numbers come from the files, as the tests read them
    loaded, loaded_prior = load_keras(directory / "model.keras"), load_prior(directory)
    numbers = {**batch_keys(batch), **flatten(model_numbers(loaded, batch))}
    if family.serves:
        inputs = family.inputs(loaded, np.random.default_rng(0))
        numbers.update({f"input/{sig}/{k}": np.asarray(v) for sig, feed in inputs.items() for k, v in feed.items()})
        module = ServingModule(loaded, prior=loaded_prior)
        numbers.update(flatten(serving_numbers(module, inputs)))
        (directory / "signatures.json").write_text(json.dumps(listing(module), indent=1) + "\n")
    np.savez_compressed(directory / "numbers.npz", **numbers)


def stored_inputs(arrays) -> dict[str, dict[str, np.ndarray]]:
    inputs: dict[str, dict[str, np.ndarray]] = {}
    for key in arrays.files:
        if key.startswith("input/"):
            _, signature, name = key.split("/")
            inputs.setdefault(signature, {})[name] = arrays[key]
    return inputs


def total_bytes() -> int:
    return sum(p.stat().st_size for p in ROOT.rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc"))
