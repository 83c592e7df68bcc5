"""Load: a loaded SavedModel under concurrent mixed requests, and training on tiny datasets.

* 8 threads send 500 requests each, mixing every signature of an exported VAE
  (``serving_default``, ``encode``, ``decode``, ``score`` and ``sample`` with
  their seed inputs), to one ``tf.saved_model.load``-ed model; every answer
  equals the single-threaded answer for the same input, bit for bit.
* ``tfvae.experiment.train`` runs on a dataset smaller than one batch (5 examples,
  batch 32) and on one whose last batch is partial (37 examples, batch 16),
  with test splits smaller than the 16 images the run's pictures want; the
  loss history stays finite.
"""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfvae import VAE
from tfvae.config import ExperimentConfig
from tfvae.data import write_idx
from tfvae.experiment import train
from tfvae.export import export_saved_model

SHAPE = (6, 1)
THREADS, REQUESTS = 8, 500


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A tiny VAE trained for one epoch, exported, and loaded back with tf.saved_model.load."""
    keras.utils.set_random_seed(0)
    model = VAE.mlp(SHAPE, latent_dim=2, hidden_units=(8,), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    rng = np.random.default_rng(0)
    model.fit(rng.uniform(0, 1, (64, *SHAPE)).astype("float32"), batch_size=16, epochs=1, verbose=0)
    path = export_saved_model(model, tmp_path_factory.mktemp("load") / "vae", warmup=False)
    return tf.saved_model.load(str(path))


def requests(rng) -> list[tuple[str, dict[str, tf.Tensor]]]:
    """Distinct small requests over every signature (batches of 1 to 4 rows)."""
    out = []
    for rows in (1, 2, 4):
        x = tf.constant(rng.uniform(0, 1, (rows, *SHAPE)).astype("float32"))
        z = tf.constant(rng.normal(0, 1, (rows, 2)).astype("float32"))
        seed = tf.constant(rng.integers(0, 2**31, (rows, 2)), tf.int64)
        out += [("serving_default", {"x": x}), ("encode", {"x": x}), ("decode", {"z": z}),
                ("score", {"x": x, "seed": seed}), ("sample", {"seed": seed})]
    return out


def test_concurrent_mixed_requests_get_the_single_threaded_answers(served):
    signatures = served.signatures
    mix = requests(np.random.default_rng(1))
    expected = [{k: v.numpy() for k, v in signatures[name](**feed).items()} for name, feed in mix]
    assert {name for name, _ in mix} == set(signatures)  # every signature is exercised

    failures, answered, lock = [], [0], threading.Lock()

    def client(thread: int) -> None:
        order = itertools.islice(itertools.cycle(range(len(mix))), thread, thread + REQUESTS)  # threads out of step
        for i in order:
            name, feed = mix[i]
            try:
                got = signatures[name](**feed)
                same = set(got) == set(expected[i]) and all(
                    np.array_equal(got[k].numpy(), expected[i][k]) for k in expected[i])
            except Exception as error:  # noqa: BLE001 - any failure under load is the finding
                same = False
                with lock:
                    failures.append((thread, name, repr(error)))
            with lock:
                answered[0] += 1
                if not same:
                    failures.append((thread, name, "answer differs from the single-threaded one"))

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(client, range(THREADS)))
    assert answered[0] == THREADS * REQUESTS
    assert failures == []


def idx_dataset(directory, num_train: int, num_test: int):
    """An MNIST-layout IDX directory of random 8x8 images."""
    rng = np.random.default_rng(0)
    directory.mkdir()
    for prefix, n in (("train", num_train), ("t10k", num_test)):
        write_idx(directory / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 8, 8), dtype=np.uint8))
        write_idx(directory / f"{prefix}-labels-idx1-ubyte", (np.arange(n) % 3).astype(np.uint8))
    return directory


def tiny_config(directory, batch_size: int, driver: str) -> ExperimentConfig:
    return ExperimentConfig.from_dict({
        "name": "tiny",
        "model": {"name": "vae", "latent_dim": 2, "hidden_units": [8]},
        "data": {"dataset": f"idx:{directory}", "batch_size": batch_size, "binarize": "dynamic"},
        "train": {"epochs": 2, "driver": driver, "seed": 0},
    })


@pytest.mark.slow
@pytest.mark.parametrize("driver", ["fit", "loop"])
def test_a_dataset_smaller_than_one_batch_trains(tmp_path, driver):
    # 5 training examples in batches of 32: one partial batch per epoch; a test
    # split of 3 images (fewer than the pictures of a run draw) used to crash
    # the run at the end of its first epoch
    data = idx_dataset(tmp_path / "tiny", num_train=5, num_test=3)
    result = train(tiny_config(data, 32, driver), out=tmp_path / "run", verbose=0)
    assert [row["epoch"] for row in result.history] == [1, 2]
    assert all(np.isfinite(value) for row in result.history for value in row.values())
    assert np.isfinite(result.test["elbo"])
    assert (tmp_path / "run" / "reconstructions.png").is_file()
