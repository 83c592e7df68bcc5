"""Determinism: the same config and seed give the same loss history on CPU, with both drivers.

The run trains on 37 examples in batches of 16 (a final partial batch of 5)
with dynamic binarisation (fresh noise every epoch) and a test split of 7
images, so shuffling, the per-batch noise seeds, the model's sampling seeds,
weight initialisation and the partial batch all take part. Two runs of the
same config in one process must write the same ``history.csv``, float for
float, and the history must be finite.
"""

from __future__ import annotations

import numpy as np
import pytest

from tfvae.config import ExperimentConfig
from tfvae.data import write_idx
from tfvae.experiment import train


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    directory = tmp_path_factory.mktemp("partial")
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 37), ("t10k", 7)):
        write_idx(directory / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 8, 8), dtype=np.uint8))
        write_idx(directory / f"{prefix}-labels-idx1-ubyte", (np.arange(n) % 3).astype(np.uint8))
    return directory


def config(directory, driver: str, seed: int = 3) -> ExperimentConfig:
    return ExperimentConfig.from_dict({
        "name": "determinism",
        "model": {"name": "vae", "latent_dim": 2, "hidden_units": [8]},
        "data": {"dataset": f"idx:{directory}", "batch_size": 16, "binarize": "dynamic"},
        "train": {"epochs": 2, "driver": driver, "seed": seed},
    })


@pytest.mark.slow
@pytest.mark.parametrize("driver", ["fit", "loop"])
def test_same_config_and_seed_give_the_same_history(data, tmp_path, driver):
    first = train(config(data, driver), out=tmp_path / "first", verbose=0)
    second = train(config(data, driver), out=tmp_path / "second", verbose=0)
    assert [row["epoch"] for row in first.history] == [1, 2]
    assert all(np.isfinite(v) for row in first.history for v in row.values())
    assert first.history == second.history  # every term, train and validation, exactly
    assert (tmp_path / "first" / "history.csv").read_text() == (tmp_path / "second" / "history.csv").read_text()
    assert first.test == second.test
    # the seed matters: another seed gives another history
    other = train(config(data, driver, seed=4), out=tmp_path / "other", verbose=0)
    assert other.history != first.history
