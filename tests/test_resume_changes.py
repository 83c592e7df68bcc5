"""``tfvae train --resume`` continues the run as saved (issue 30): what it takes, what it refuses, what it says."""

import csv
import json

import numpy as np
import pytest

from tfvae.cli import main
from tfvae.experiment import load_run

TINY = ["--set", "train.pictures=false", "--batch-size", "250", "--set", "model.hidden_units=[16]", "--set",
        "model.latent_dim=2", "--quiet"]


def epochs(run):
    with (run / "history.csv").open(newline="") as handle:
        return [int(float(row["epoch"])) for row in csv.DictReader(handle)]


@pytest.mark.slow  # five resumes of one run: CI's slow pass (the fast pass resumes in tests/test_cli.py)
def test_resume_keeps_the_runs_own_settings_refuses_what_it_cannot_take_and_says_what_it_applies(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "vae", "--out", str(run), "--epochs", "2", *TINY]) == 0
    before = (run / "history.csv").read_text()
    # no --epochs: the run's own 2 (vae.toml's 20 is not asked for): nothing left to train, and the summary says 2
    assert main(["train", "vae", "--out", str(run), "--resume", *TINY]) == 0
    assert epochs(run) == [1, 2] and json.loads((run / "summary.json").read_text())["epochs"] == 2
    capsys.readouterr()
    # fewer epochs than done, another architecture, another seed: one line each, nothing changed
    for extra, words in ((["--epochs", "1"], "has trained 2 epochs: train.epochs = 1 would go back"),
                         (["--set", "model.latent_dim=8"], "model.latent_dim is 2 there, not 8"),
                         (["--seed", "3"], "train.seed is 0 there, not 3")):
        assert main(["train", "vae", "--out", str(run), "--resume", *TINY, *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0], err
    assert (run / "history.csv").read_text() == before
    assert json.loads((run / "config.json").read_text())["model"]["latent_dim"] == 2
    # a new learning rate is applied deliberately: said, recorded, and used by the optimizer
    assert main(["train", "vae", "--out", str(run), "--resume", "--epochs", "3", "--learning-rate", "5e-4",
                 *TINY[:-1]]) == 0
    out = capsys.readouterr().out
    assert "Resuming with train.learning_rate = 0.0005 (was 0.001)" in out
    assert "Resuming with train.epochs = 3 (was 2)" in out
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["learning_rate"] == 5e-4 and config["train"]["epochs"] == 3
    assert epochs(run) == [1, 2, 3]
    loaded = load_run(run)
    np.testing.assert_allclose(float(loaded.model.optimizer.learning_rate), 5e-4, rtol=1e-6)
    assert loaded.epochs_done == 3
