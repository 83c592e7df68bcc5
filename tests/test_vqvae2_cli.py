"""VQ-VAE-2 from the command line: train vqvae2 (digits padded to 32x32), vq_prior of both levels, sample, evaluate."""

import csv
import json
import math

import numpy as np
import pytest

from tfvae.cli import main
from tfvae.experiment import load_prior, load_run
from tfvae.metrics import code_nll, uniform_code_nll
from tfvae.models.quantized.pixelcnn import PixelCNN

# The whole module is the slow pass's (a VQ-VAE-2 run and both priors, ~30 s): the fast pass checks VQ-VAE-2
# through tests/models/test_vq_vae.py, the basic conformance checks and its golden files.
pytestmark = pytest.mark.slow

K = 16
TINY_VQ2 = ("model.options={num_embeddings = 16, embedding_dim = 4, filters = 8, residual_filters = 4, "
            "num_residual_blocks = 1}")
TINY_PRIOR = "model.options={filters = 8, num_layers = 2}"


@pytest.fixture(scope="module")
def vq2_run(tmp_path_factory):
    """A tiny VQ-VAE-2 run on the first 64 digits of each split, padded to 32x32, with both priors trained."""
    run = tmp_path_factory.mktemp("vq2") / "vqvae2"
    assert main(["train", "vqvae2", "--epochs", "1", "--batch-size", "32", "--set", TINY_VQ2,
                 "--set", "data.limit=64", "--quiet", "--out", str(run)]) == 0
    assert main(["train", "vq_prior", "--from", str(run), "--epochs", "3", "--batch-size", "16",
                 "--learning-rate", "0.01", "--set", TINY_PRIOR, "--quiet"]) == 0
    return run


def test_the_run_is_built_for_the_padded_digits(vq2_run):
    loaded = load_run(vq2_run)
    assert loaded.config.data.pad_to == 32 and loaded.config.data.limit == 64  # from training/vqvae2.toml + --set
    assert loaded.data_shape == (32, 32, 1)
    assert loaded.model.code_shape == {"bottom": (8, 8), "top": (4, 4)}


def test_vq_prior_trains_both_levels_and_load_prior_gives_the_dict(vq2_run):
    prior_dir = vq2_run / "prior"
    assert sorted(p.name for p in prior_dir.glob("*.keras")) == ["bottom.keras", "top.keras"]
    prior = load_prior(vq2_run)
    assert isinstance(prior, dict) and set(prior) == {"top", "bottom"}
    assert all(isinstance(p, PixelCNN) for p in prior.values())
    assert prior["top"].code_shape == (4, 4) and prior["top"].condition_shape is None
    assert prior["bottom"].code_shape == (8, 8) and prior["bottom"].condition_shape == (4, 4)  # given the top codes
    with open(prior_dir / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3
    assert {"top_loss", "top_val_loss", "bottom_loss", "bottom_val_loss"} <= set(rows[0])
    for level in ("top", "bottom"):  # each level was fitted: its training loss went down
        assert float(rows[-1][f"{level}_loss"]) < float(rows[0][f"{level}_loss"])

    summary = json.loads((prior_dir / "summary.json").read_text())
    uniform, learned = summary["test"]["uniform"], summary["test"]["prior"]
    assert uniform["levels"]["top"] == pytest.approx(16 * math.log(K))
    assert uniform["levels"]["bottom"] == pytest.approx(64 * math.log(K))
    assert uniform["rate"] == pytest.approx(80 * math.log(K))
    assert learned["rate"] == pytest.approx(learned["levels"]["top"] + learned["levels"]["bottom"])
    for level in ("top", "bottom"):
        assert 0 < learned["levels"][level] < uniform["levels"][level]
    assert learned["bits_per_dim"] == pytest.approx(learned["nats"] / (32 * 32 * math.log(2)))

    # the saved priors are the ones that give these numbers, level by level, on the run's test codes
    model = load_run(vq2_run).model
    from tfvae.data import load_dataset

    x = np.concatenate([np.asarray(b) for b in load_dataset("digits", "test", 64, shuffle=False, binarize="static",
                                                            pad_to=32, limit=64)])
    by_level = code_nll(model, prior, x)
    assert by_level["top"].mean() == pytest.approx(learned["levels"]["top"], rel=1e-4)
    assert by_level["bottom"].mean() == pytest.approx(learned["levels"]["bottom"], rel=1e-4)
    np.testing.assert_allclose(by_level["top"] + by_level["bottom"], model.prior_nll(prior, x).numpy(), rtol=1e-5)
    assert uniform_code_nll(model) == pytest.approx({"top": 16 * math.log(K), "bottom": 64 * math.log(K)})


def test_sample_writes_a_png_of_padded_digits(vq2_run):
    out = vq2_run / "samples.png"
    assert main(["sample", str(vq2_run), "-n", "6", "--seed", "3", "--columns", "3", "--out", str(out), "--npy"]) == 0
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    first = np.load(out.with_suffix(".npy"))
    assert first.shape == (6, 32, 32, 1) and 0 <= first.min() and first.max() <= 1
    assert width > 3 * 32 and height > 2 * 32  # a 3 x 2 grid of 32x32 images
    assert main(["sample", str(vq2_run), "-n", "6", "--seed", "3", "--out", str(out), "--npy"]) == 0
    np.testing.assert_array_equal(np.load(out.with_suffix(".npy")), first)  # same seed, same samples
    model, prior = load_run(vq2_run).model, load_prior(vq2_run)
    np.testing.assert_allclose(first, model.sample(6, prior, seed=3).numpy(), atol=1e-6)


def test_evaluate_reports_the_bound_under_both_levels_priors(vq2_run):
    assert main(["evaluate", str(vq2_run), "--iwae-k", "0", "--quiet"]) == 0
    record = json.loads((vq2_run / "metrics.json").read_text())
    bound = record["vq_bound"]
    summary = json.loads((vq2_run / "prior" / "summary.json").read_text())
    assert bound["uniform"]["rate"] == pytest.approx(80 * math.log(K))
    assert bound["uniform"]["levels"] == pytest.approx({"top": 16 * math.log(K), "bottom": 64 * math.log(K)})
    learned = bound["prior"]
    for name in ("uniform", "prior"):  # one report: evaluate's (whole test split) and the prior run's agree
        terms, expected = bound[name], summary["test"][name]
        assert terms["levels"] == pytest.approx(expected["levels"], rel=1e-4)
        for key in ("distortion", "rate", "nats", "bits_per_dim"):
            assert terms[key] == pytest.approx(expected[key], rel=1e-4), (name, key)
    assert learned["rate"] == pytest.approx(learned["levels"]["top"] + learned["levels"]["bottom"])
    assert learned["nats"] < bound["uniform"]["nats"]
    assert learned["bits_per_dim"] == pytest.approx(learned["nats"] / (1024 * math.log(2)))


@pytest.mark.slow  # a training run to convergence or a second driver/precision of a fast check: CI's slow pass
def test_export_carries_both_priors(vq2_run):
    import tensorflow as tf

    root = vq2_run / "exported"
    assert main(["export", str(vq2_run), "--out-root", str(root), "--name", "vq2", "--no-warmup"]) == 0
    served = tf.saved_model.load(str(root / "vq2" / "1"))
    assert {"encode", "decode", "score", "sample"} <= set(served.signatures)
    drawn = served.signatures["sample"](seed=tf.constant([[4, 0]], tf.int64))
    assert drawn["samples"].shape == (1, 32, 32, 1)
    assert drawn["top_indices"].shape == (1, 4, 4) and drawn["bottom_indices"].shape == (1, 8, 8)
