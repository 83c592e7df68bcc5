"""``tfvae export RUN`` end to end, checked with the real ``saved_model_cli``."""

from __future__ import annotations

import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from conformance.cli_output import parse_show_all
from conformance.families import vae_expected

from tfvae.cli import build_parser, main
from tfvae.experiment import load_run
from tfvae.export import read_warmup_file

TINY = ["--epochs", "1", "--set", "train.pictures=false", "--batch-size", "250", "--set",
        "model.hidden_units=[32]", "--set", "model.latent_dim=4", "--quiet"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", "vae", *TINY, "--out", str(path)]) == 0
    return path


def test_export_writes_numbered_versions_of_the_trained_weights(run, tmp_path, capsys):
    root = tmp_path / "saved_models"
    assert main(["export", str(run), "--out-root", str(root)]) == 0
    out = capsys.readouterr().out
    assert f"to {root / 'vae' / '1'}" in out
    for line in ("serving_default  x float32 (-1, 28, 28, 1)  ->  reconstruction float32 (-1, 28, 28, 1)",
                 "sample           seed int64 (-1, 2)  ->  samples float32 (-1, 28, 28, 1), z float32 (-1, 4)"):
        assert line in out

    model = load_run(run).model  # the checkpoint's weights, not a fresh model
    x = np.random.default_rng(0).uniform(0, 1, (3, 28, 28, 1)).astype("float32")
    loaded = tf.saved_model.load(str(root / "vae" / "1"))
    np.testing.assert_allclose(loaded.signatures["serving_default"](x=tf.constant(x))["reconstruction"],
                               model.reconstruct(x), rtol=1e-5, atol=1e-6)
    assert sorted(r.predict_log.request.model_spec.signature_name for r in read_warmup_file(root / "vae" / "1")) == [
        "decode", "encode", "sample", "score", "serving_default"]

    # the real saved_model_cli lists the documented signatures (run as a module of this
    # interpreter: the console script is not on PATH when the venv is not activated)
    show = subprocess.run([sys.executable, "-m", "tensorflow.python.tools.saved_model_cli", "show", "--dir",
                           str(root / "vae" / "1"), "--all"],
                          capture_output=True, text=True, check=True).stdout
    assert parse_show_all(show) == vae_expected(model)

    assert main(["export", str(run), "--out-root", str(root), "--no-warmup", "--max-request-rows", "2"]) == 0
    assert not (root / "vae" / "2" / "assets.extra").exists()
    small = tf.saved_model.load(str(root / "vae" / "2")).signatures["serving_default"]
    assert small(x=tf.constant(x[:2]))["reconstruction"].shape == (2, 28, 28, 1)
    with pytest.raises(tf.errors.InvalidArgumentError, match="a request takes at most 2 "):
        small(x=tf.constant(x))
    assert main(["export", str(run), "--out-root", str(root), "--name", "digits", "--version", "5",
                 "--keras", str(tmp_path / "vae.keras")]) == 0
    assert sorted(p.name for p in (root / "vae").iterdir()) == ["1", "2"]
    assert sorted(p.name for p in (root / "digits").iterdir()) == ["5"]
    restored = keras.saving.load_model(tmp_path / "vae.keras")
    np.testing.assert_allclose(restored.reconstruct(x), model.reconstruct(x), rtol=1e-6)


def test_export_errors_are_one_line_with_exit_status_2(run, tmp_path, capsys):
    root = tmp_path / "saved_models"
    (root / "vae" / "3").mkdir(parents=True)
    cases = [
        (["export", str(tmp_path / "missing")], "run directory not found"),
        (["export", str(run), "--out-root", str(root), "--version", "3"], "already exists"),
        (["export", str(run), "--out-root", str(root), "--name", "../up"], "model name '../up'"),
        (["export", str(run), "--out-root", str(root), "--keras", str(tmp_path / "model.h5")], "must name a .keras"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("tfvae: error: ") and message in err and "\n" not in err, err
    assert sorted(p.name for p in (root / "vae").iterdir()) == ["3"]
    assert not (root / "up").exists() and not (tmp_path / "up").exists()


def test_help_and_bad_versions(capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["export", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in ("RUN", "--name", "--version", "--out-root", "--no-warmup", "--keras", "tf_serving_warmup_requests"):
        assert option in out
    assert "export" in build_parser().format_help()
    for option, what in (("--version", "version"), ("--max-request-rows", "row count")):
        for bad in ("0", "two"):
            with pytest.raises(SystemExit) as exit_info:
                main(["export", "runs/x", option, bad])
            assert exit_info.value.code == 2
            assert f"invalid {what} '{bad}': a positive integer" in capsys.readouterr().err
