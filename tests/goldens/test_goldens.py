"""Files written by an earlier tfvae still load and compute what they computed then.

Every conformance family has a golden under ``tests/goldens/<family>/`` (written by
``python -m tests.goldens.write``; see ``golden.py``): a ``.keras`` file, a training checkpoint and the
SavedModel signature listing, with the numbers the loaded model gave when they were written. A change
that breaks one of these checks breaks users' saved files: update the goldens on purpose and say so in
docs/saving.md ("Compatibility of saved files").
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conformance.families import FAMILIES, tiered
from goldens.golden import (
    MAX_TOTAL_BYTES,
    REQUIRED,
    ROOT,
    TOLERANCE,
    batch_from,
    golden_dir,
    group,
    listing,
    load_prior,
    model_numbers,
    rebuild,
    serving_numbers,
    stored_inputs,
    total_bytes,
)

from tfvae.experiment.checkpoint import Checkpointer
from tfvae.export import ServingModule, load_keras
from tfvae.registry import MODELS

NAMES = sorted(FAMILIES)
SERVING = sorted(name for name in NAMES if FAMILIES[name].serves)


def stored(name: str):
    return np.load(golden_dir(name) / "numbers.npz")


def assert_numbers(computed: dict[str, dict[str, np.ndarray]], arrays, name: str) -> None:
    """``computed`` (``{group: {output: array}}``) equals what the golden stored, output for output."""
    for prefix, values in computed.items():
        expected = group(arrays, prefix)
        assert expected, f"{name}: the golden has no {prefix}"
        assert sorted(values) == sorted(expected), f"{name}: {prefix} gives {sorted(values)}, was {sorted(expected)}"
        for key, value in expected.items():
            np.testing.assert_allclose(values[key], value, **TOLERANCE, err_msg=f"{name}: {prefix}/{key}")


def test_every_family_has_a_golden_and_every_golden_a_family():
    missing = {name: [f for f in REQUIRED + (("signatures.json",) if FAMILIES[name].serves else ())
                      if not (golden_dir(name) / f).is_file()] for name in NAMES}
    missing = {name: files for name, files in missing.items() if files}
    assert not missing, f"families without (complete) golden files: {missing}; run python -m tests.goldens.write NAME"
    stale = sorted(p.name for p in ROOT.iterdir() if p.is_dir() and p.name not in FAMILIES and p.name != "__pycache__")
    assert not stale, f"goldens of families that no longer exist: {stale}; delete them"


def test_the_goldens_stay_small():
    assert total_bytes() < MAX_TOTAL_BYTES, f"{total_bytes() / 1e6:.2f} MB of golden files: shrink the families"


@pytest.mark.parametrize("name", NAMES)
def test_the_keras_file_and_the_checkpoint_load_and_compute_their_numbers(name):
    """The ``.keras`` file loads (weights, optimizer, seed state) and computes the stored numbers; the checkpoint
    restores, variable for variable and slot for slot, into the model its ``model.json`` builds today."""
    directory = golden_dir(name)
    arrays = stored(name)
    loaded = load_keras(directory / "model.keras")
    assert type(loaded) is MODELS.get(json.loads((directory / "model.json").read_text())["model"])
    assert int(loaded.optimizer.iterations) == 1, "the optimizer state came back"
    state = [np.asarray(v) for v in loaded.variables]  # before computing: the seed streams move on
    assert_numbers(model_numbers(loaded, batch_from(arrays)), arrays, name)

    rebuilt = rebuild(directory)
    assert Checkpointer(directory / "checkpoint", rebuilt).restore_latest() == 1
    assert int(rebuilt.optimizer.iterations) == 1
    for ours, theirs in zip(rebuilt.variables, state, strict=True):  # weights and seed states
        np.testing.assert_array_equal(np.asarray(ours), theirs, err_msg=f"{name}: {ours.path}")
    for ours, theirs in zip(rebuilt.optimizer.variables, loaded.optimizer.variables, strict=True):
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs), err_msg=f"{name}: {ours.path}")


@pytest.mark.parametrize("name", tiered(SERVING))
def test_the_signature_listing_and_its_numbers_are_unchanged(name):
    directory = golden_dir(name)
    arrays = stored(name)
    module = ServingModule(load_keras(directory / "model.keras"), prior=load_prior(directory))
    assert listing(module) == json.loads((directory / "signatures.json").read_text()), (
        f"{name}: the SavedModel signatures changed (names, inputs or outputs): clients of exported models break")
    inputs = stored_inputs(arrays)
    assert sorted(inputs) == sorted(module.concrete_functions), "every signature has its stored numbers"
    assert_numbers(serving_numbers(module, inputs), arrays, name)
