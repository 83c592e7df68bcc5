"""``tfvae sample`` picks what to draw from the model's capabilities: its own prior, a label, or nothing."""

import numpy as np

from tfvae.cli import main
from tfvae.experiment import load_run

TINY = ["--epochs", "1", "--batch-size", "500", "--set", "model.hidden_units=[16]", "--set", "model.latent_dim=2",
        "--quiet"]


def test_conditional_run_needs_a_label_and_samples_that_class(tmp_path, capsys):
    run = tmp_path / "cvae"
    assert main(["train", "cvae", *TINY, "--out", str(run)]) == 0
    assert load_run(run).model.capabilities.conditional
    assert main(["sample", str(run), "-n", "3"]) == 2
    assert "conditional model: pass --label CLASS" in capsys.readouterr().err
    out = tmp_path / "three.png"
    assert main(["sample", str(run), "-n", "3", "--label", "3", "--seed", "1", "--out", str(out), "--npy"]) == 0
    drawn = np.load(out.with_suffix(".npy"))
    assert drawn.shape == (3, 28, 28, 1) and out.read_bytes()[:4] == b"\x89PNG"
    model = load_run(run).model
    expected = model.sample(3, condition=np.full(3, 3, np.int32), seed=[1, 0]).numpy()
    np.testing.assert_allclose(drawn, expected, atol=1e-6)  # the class-3 draws of seed 1
    assert main(["sample", str(run), "-n", "3", "--label", "3", "--temperature", "0.5"]) == 2
    assert "--temperature applies to autoregressive priors" in capsys.readouterr().err


def test_a_model_without_a_prior_is_refused_by_name(tmp_path, capsys):
    run = tmp_path / "ae"
    assert main(["train", "autoencoder", *TINY, "--out", str(run)]) == 0
    assert not load_run(run).model.capabilities.has_prior
    assert main(["sample", str(run)]) == 2
    assert "holds an Autoencoder, which has no prior to sample from" in capsys.readouterr().err
