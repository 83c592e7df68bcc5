"""The VQ-VAE workflow from the command line: train vqvae, train vq_prior --from RUN, sample."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tfvae.cli import main
from tfvae.experiment import load_prior, load_run
from tfvae.models.quantized.pixelcnn import PixelCNN

SMALL_VQ = "model.options={num_embeddings = 16, embedding_dim = 4, filters = 8, residual_filters = 4, num_residual_blocks = 1}"
SMALL_PRIOR = "model.options={filters = 16, num_layers = 2}"


@pytest.fixture(scope="module")
def vq_trained(tmp_path_factory):
    """One tiny VQ-VAE run, never changed: tests take copies."""
    run = tmp_path_factory.mktemp("vq") / "vqvae"
    assert main(["train", "vqvae", "--epochs", "1", "--batch-size", "250", "--set", SMALL_VQ, "--quiet",
                 "--set", "train.pictures=false", "--out", str(run)]) == 0
    return run


@pytest.fixture(scope="module")
def vq_run(vq_trained, tmp_path_factory):
    """A copy of the run that the module's tests share (they add its prior)."""
    return Path(shutil.copytree(vq_trained, tmp_path_factory.mktemp("vq_shared") / "vqvae"))


def test_vqvae_prior_and_samples(vq_run, capsys):
    summary = json.loads((vq_run / "summary.json").read_text())
    assert {"distortion", "vq_loss", "perplexity", "usage"} <= set(summary["test"])
    assert main(["train", "vq_prior", "--from", str(vq_run), "--epochs", "1", "--batch-size", "250",
                 "--set", SMALL_PRIOR, "--quiet"]) == 0
    prior_dir = vq_run / "prior"
    for name in ("prior.keras", "samples.png", "summary.json", "history.csv", "config.json"):
        assert (prior_dir / name).is_file(), name
    prior_summary = json.loads((prior_dir / "summary.json").read_text())
    test = prior_summary["test"]  # the VQ-VAE bound report, as `tfvae evaluate` writes it
    assert test["uniform"]["rate"] == pytest.approx(49 * np.log(16))
    assert 0 < test["prior"]["rate"] < test["uniform"]["rate"]  # the learned prior beats the uniform one
    assert test["prior"]["nats"] < test["uniform"]["nats"]
    assert test["prior"]["distortion"] == test["uniform"]["distortion"]
    assert isinstance(load_prior(vq_run), PixelCNN)
    assert main(["evaluate", str(vq_run), "--iwae-k", "0", "--max-examples", "200", "--quiet"]) == 0
    bound = json.loads((vq_run / "metrics.json").read_text())["vq_bound"]
    assert bound["uniform"]["rate"] == pytest.approx(49 * np.log(16), rel=1e-5)
    assert bound["prior"]["nats"] < bound["uniform"]["nats"]
    assert bound["prior"]["bits_per_dim"] == pytest.approx(bound["prior"]["nats"] / (784 * np.log(2)))

    out = vq_run / "s.png"
    assert main(["sample", str(vq_run), "-n", "4", "--seed", "5", "--out", str(out), "--npy"]) == 0
    first = np.load(out.with_suffix(".npy"))
    assert main(["sample", str(vq_run), "-n", "4", "--seed", "5", "--out", str(out), "--npy"]) == 0
    again = np.load(out.with_suffix(".npy"))
    assert again.shape == (4, 28, 28, 1) and out.is_file()
    np.testing.assert_array_equal(first, again)  # same seed, same samples

    # the export carries the prior: a sample signature equal to the in-memory sampler
    import tensorflow as tf

    assert main(["export", str(vq_run), "--out-root", str(vq_run / "exported"), "--name", "vq", "--no-warmup"]) == 0
    served = tf.saved_model.load(str(vq_run / "exported" / "vq" / "1"))
    assert {"encode", "decode", "score", "sample"} <= set(served.signatures)
    drawn = served.signatures["sample"](seed=tf.constant([[5, 0]], tf.int64))["indices"].numpy()
    model = load_run(vq_run).model
    np.testing.assert_array_equal(drawn, model.sample_codes(1, load_prior(vq_run), seed=5).numpy())

    # a second prior into the same place is refused and the first is kept
    before = (prior_dir / "prior.keras").read_bytes()
    assert main(["train", "vq_prior", "--from", str(vq_run), "--epochs", "1", "--set", SMALL_PRIOR, "--quiet"]) == 2
    assert "already holds a prior" in capsys.readouterr().err
    assert (prior_dir / "prior.keras").read_bytes() == before


def test_errors_name_the_fix(vq_run, tmp_path, capsys):
    assert main(["train", "vq_prior", "--epochs", "1", "--quiet"]) == 2
    assert "pass --from RUN" in capsys.readouterr().err
    vae_run = tmp_path / "vae"
    assert main(["train", "vae", "--epochs", "1", "--batch-size", "250", "--set", "model.hidden_units=[16]",
                 "--set", "model.latent_dim=2", "--set", "train.pictures=false", "--quiet", "--out", str(vae_run)]) == 0
    assert main(["train", "vq_prior", "--from", str(vae_run), "--quiet"]) == 2
    assert "not a VQ-VAE" in capsys.readouterr().err
    assert main(["train", "vae", "--from", str(vae_run), "--quiet"]) == 2
    assert "--from applies to priors" in capsys.readouterr().err
    assert main(["train", "vqvae", "--set", "model.latent_dim=8", "--quiet", "--out", str(tmp_path / "x")]) == 2
    assert "model.latent_dim does not apply" in capsys.readouterr().err
    # a VAE run samples its own prior p(z)
    assert main(["sample", str(vae_run), "-n", "3", "--out", str(tmp_path / "v.png")]) == 0
    assert (tmp_path / "v.png").is_file()


def test_sample_without_a_prior_says_how_to_train_one(vq_trained, tmp_path, capsys):
    run = Path(shutil.copytree(vq_trained, tmp_path / "vq"))
    assert main(["sample", str(run)]) == 2
    assert "tfvae train vq_prior --from" in capsys.readouterr().err
