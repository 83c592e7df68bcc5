"""`tfvae evaluate RUN --disentanglement` on a run with known factors, and its error elsewhere."""

import json

import pytest

from tfvae.cli import main

TINY = ["--epochs", "1", "--set", "train.pictures=false", "--batch-size", "500", "--set",
        "model.hidden_units=[32]", "--set", "model.latent_dim=4", "--quiet"]


@pytest.mark.slow  # keeps the fast suite short; CI's slow pass runs it
def test_scores_land_in_metrics_json(tmp_path, capsys):
    run = tmp_path / "shapes"
    assert main(["train", "beta_vae_shapes", "--out", str(run), *TINY]) == 0
    assert main(["evaluate", str(run), "--iwae-k", "0", "--max-examples", "100", "--disentanglement", "--quiet"]) == 0
    scores = json.loads((run / "metrics.json").read_text())["disentanglement"]
    assert set(scores) == {"beta_vae", "factor_vae", "mig", "dci_disentanglement"}
    assert all(0.0 <= value <= 1.0 for value in scores.values())
    assert "disentanglement: beta_vae" in capsys.readouterr().out


def test_needs_a_dataset_with_factors(tmp_path, capsys):
    run = tmp_path / "digits"
    assert main(["train", "vae", "--out", str(run), *TINY]) == 0
    assert main(["evaluate", str(run), "--iwae-k", "0", "--max-examples", "50", "--disentanglement", "--quiet"]) == 2
    assert "needs a dataset with known factors" in capsys.readouterr().err
