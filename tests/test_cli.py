"""The tfvae command line end to end: help, train, resume, and errors."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from tfvae.cli import main
from tfvae.commands.train import TRAINING_DIRS
from tfvae.data import load_dataset

TINY = ["--epochs", "1", "--set", "train.pictures=false", "--batch-size", "250", "--set",
        "model.hidden_units=[32]", "--set", "model.latent_dim=4", "--quiet"]


def history_epochs(run):
    with (run / "history.csv").open() as handle:
        return [int(float(row["epoch"])) for row in csv.DictReader(handle)]


def test_help_documents_every_option():
    out = subprocess.run(
        [sys.executable, "-m", "tfvae.cli", "train", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for option in ("--dataset", "--driver", "--epochs", "--precision", "--jit", "--no-jit", "--out", "--resume",
                   "--set", "--seed", "--batch-size", "--steps-per-execution", "--data-dir"):
        assert option in out
    assert "{float32,mixed_float16,mixed_bfloat16,auto}" in "".join(out.split())  # --precision auto
    top = subprocess.run([sys.executable, "-m", "tfvae.cli", "--help"], capture_output=True, text=True, check=True).stdout
    assert "train" in top and "configs" in top


@pytest.mark.parametrize("driver, pictures", [("fit", True), ("loop", False)])
def test_train_writes_the_run_directory(driver, pictures, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "vae", "--driver", driver, "--out", str(run), *TINY,
                 "--set", f"train.pictures={str(pictures).lower()}"]) == 0
    for name in ("config.json", "history.csv", "summary.json"):
        assert (run / name).is_file(), name
    assert any((run / "logs").iterdir())
    pngs = sorted(p.name for p in run.glob("*.png"))
    assert (pngs == ["reconstructions.png", "samples.png"]) if pictures else pngs == []
    assert (run / "logs" / "images").is_dir() == pictures  # the TensorBoard pictures of every epoch
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["driver"] == driver and config["model"]["latent_dim"] == 4
    assert config["train"]["pictures"] is pictures
    summary = json.loads((run / "summary.json").read_text())
    assert sorted(summary["images"]) == pngs
    assert summary["test"]["elbo"] < 0 and summary["test"]["rate"] > 0
    assert summary["precision"] == "float32"
    assert summary["jit_compile"] == {"jit_compile": False}  # a 16-step run: no trial, the CPU rule
    assert history_epochs(run) == [1]


@pytest.mark.slow  # a training run to convergence or a second driver/precision of a fast check: CI's slow pass
def test_precision_auto_trains_in_the_policy_it_resolves_and_records_it(tmp_path):
    import keras

    from tfvae.performance import resolve_precision

    run = tmp_path / "run"
    assert main(["train", "vae", "--precision", "auto", "--out", str(run), *TINY]) == 0
    resolved = resolve_precision("auto")  # mixed_bfloat16 on this CPU (AVX512_BF16), on an Ampere+ GPU
    assert json.loads((run / "summary.json").read_text())["precision"] == resolved
    assert json.loads((run / "config.json").read_text())["train"]["precision"] == "auto"  # re-resolved on --resume
    assert keras.mixed_precision.global_policy().name == "float32"  # restored after the run
    assert main(["train", "vae", "--precision", "auto", "--out", str(run), "--resume", "--epochs", "2", "--quiet"]) == 0
    assert json.loads((run / "summary.json").read_text())["precision"] == resolved
    assert history_epochs(run) == [1, 2]


def test_resume_continues_from_the_saved_step(tmp_path, capsys):
    from tfvae.experiment import (
        Checkpointer,
        RunDirectory,
        build_model,
        load_run,
        train,
    )

    run = tmp_path / "run"
    assert main(["train", "vae", "--out", str(run), *TINY]) == 0
    steps_per_epoch = 4000 // 250
    # a second plain run into the same directory is refused and changes nothing
    before = (run / "history.csv").read_text()
    assert main(["train", "vae", "--out", str(run), *TINY]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert (run / "history.csv").read_text() == before

    config = RunDirectory(run).read_config()
    config.train.epochs = 3
    result = train(config, out=run, resume=True, verbose=0)
    assert history_epochs(run) == [1, 2, 3]
    assert int(result.model.optimizer.iterations) == 3 * steps_per_epoch  # not 2 * steps: it went on from step 16
    # load_run rebuilds the same model from the run directory
    loaded = load_run(run)
    assert loaded.epochs_done == 3 and int(loaded.model.optimizer.iterations) == 3 * steps_per_epoch
    x = next(iter(load_dataset("digits", "test", 8)))
    np.testing.assert_allclose(loaded.model.reconstruct(x), result.model.reconstruct(x), rtol=1e-5, atol=1e-6)
    # the newest checkpoint holds epoch 3, step 48
    model = build_model(config.model, (28, 28, 1))
    model.compile(optimizer="adam")
    assert Checkpointer(run / "checkpoints", model).restore_latest() == 3
    assert int(model.optimizer.iterations) == 3 * steps_per_epoch


@pytest.mark.slow  # the checkpoint of both optimizers is checked fast in tests/models/test_factor_vae.py
def test_a_two_update_model_resumes_both_optimizers_at_the_configs_rates(tmp_path):
    """FactorVAE through the CLI: train.learning_rates reaches the discriminator's optimizer, resume restores both."""
    from tfvae.experiment import RunDirectory, load_run, train

    run = tmp_path / "run"
    small = [*TINY, "--set", "data.dataset=digits", "--set", "model.options={discriminator_units = [16]}",
             "--set", "train.learning_rates={discriminator = 2e-4}"]
    assert main(["train", "factor_vae_shapes", "--out", str(run), *small]) == 0
    config = RunDirectory(run).read_config()
    assert config.train.learning_rates == {"discriminator": 2e-4}
    config.train.epochs = 2
    config.train.learning_rates = {"discriminator": 3e-4}  # a resume may change the rates
    result = train(config, out=run, resume=True, verbose=0)
    steps = 2 * (4000 // 250)
    optimizers = result.model.update_optimizers()
    assert [int(o.iterations) for o in optimizers.values()] == [steps, steps]  # both went on from step 16
    assert result.model.dataset_size == 4000  # the run tells the model its training set size
    assert float(optimizers["discriminator"].learning_rate) == pytest.approx(3e-4)
    loaded = load_run(run).model.update_optimizers()
    for name, optimizer in optimizers.items():
        for a, b in zip(optimizer.variables, loaded[name].variables):
            np.testing.assert_array_equal(np.asarray(b), np.asarray(a), err_msg=f"{name}: {a.path}")


def test_corrupt_checkpoint_is_named_and_kept(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "vae", "--out", str(run), *TINY]) == 0
    data_file = next((run / "checkpoints").glob("ckpt-1.data-*"))
    data_file.write_bytes(b"not a checkpoint")
    assert main(["train", "vae", "--out", str(run), "--resume", "--epochs", "2", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "ckpt-1" in err and "could not be restored" in err
    assert data_file.read_bytes() == b"not a checkpoint"
    assert history_epochs(run) == [1]


def test_cli_errors_are_one_line_and_exit_2(tmp_path, capsys):
    assert main(["train", "no_such_model", "--out", str(tmp_path / "a")]) == 2
    assert "neither a config file" in capsys.readouterr().err
    assert main(["train", "vae", "--set", "train.epohcs=1", "--out", str(tmp_path / "b")]) == 2
    assert "did you mean 'epochs'" in capsys.readouterr().err
    assert main(["train", "missing.toml"]) == 2
    assert main(["train", "vae", "--dataset", "no_such_data", "--out", str(tmp_path / "c")]) == 2
    assert "data.dataset: Unknown dataset 'no_such_data'" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


# vq_prior trains on a VQ-VAE run's codes (--from RUN): tests/test_vq_cli.py. tdvae (moving digits: two
# minutes an epoch on 2 cores) is left to tests/models/test_td_vae.py (conv frames) and
# tests/data/test_sequences.py (the data); tdvae_oscillator covers the TD-VAE CLI path here
SLOW_CONFIGS = ("tdvae",)
SHIPPED = sorted(p.stem for p in TRAINING_DIRS[1].glob("*.toml")
                 if "fashion" not in p.stem and p.stem != "vq_prior" and p.stem not in SLOW_CONFIGS)


def _door_configs() -> set[str]:
    """The configs the conformance door (tests/conformance/test_cli_door.py, slow) trains, with either driver."""
    from conformance.families import FAMILIES

    return {family.config for family in FAMILIES.values() if family.config}


# the shipped configs the door does not train run here, in the slow pass (the fast suite's budget); the fast pass
# loads and builds every config (tests/test_config.py) and trains one model per objective kind (tests/conformance)
@pytest.mark.slow
@pytest.mark.parametrize("config", [c for c in SHIPPED if c not in _door_configs()])
def test_every_shipped_config_trains_from_the_cli(config, tmp_path):
    run = tmp_path / config
    driver = "loop" if SHIPPED.index(config) % 2 else "fit"
    # 256 examples a split: the drivers and the files, not the learning (the conformance door runs the rest)
    assert main(["train", config, "--epochs", "1", "--driver", driver, "--quiet", "--out", str(run),
                 "--set", "data.limit=256"]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert np.isfinite(summary["test"]["loss"]) and history_epochs(run) == [1]
    if config.startswith("tdvae"):
        assert (run / "rollout.png").is_file()  # context | rollout film strip



@pytest.mark.slow  # keeps the fast suite short; CI's slow pass runs it
def test_tdvae_run_exports_a_rollout_signature(tmp_path):
    import tensorflow as tf

    from tfvae.experiment import load_run

    run = tmp_path / "td"
    assert main(["train", "tdvae_oscillator", "--epochs", "1", "--quiet", "--out", str(run)]) == 0
    tags = {value.tag for path in (run / "logs" / "images").rglob("events.out.tfevents.*")
            for event in tf.compat.v1.train.summary_iterator(str(path)) for value in event.summary.value}
    assert any("rollout" in tag for tag in tags), tags  # the film strip reaches TensorBoard
    assert main(["export", str(run), "--out-root", str(tmp_path / "sm"), "--name", "td", "--no-warmup",
                 "--option", "horizon=3"]) == 0
    served = tf.saved_model.load(str(tmp_path / "sm" / "td" / "1"))
    context = np.linspace(-1, 1, 2 * 8, dtype="float32").reshape(2, 8, 1)
    frames = served.signatures["rollout"](context=tf.constant(context), seed=tf.constant([[4, 0], [5, 0]], tf.int64))
    model = load_run(run).model
    expected = model.rollout(context[:1], 3, jump=model.max_jump, seed=4)
    np.testing.assert_allclose(frames["frames"].numpy()[:1], np.asarray(expected), rtol=1e-5, atol=1e-5)
