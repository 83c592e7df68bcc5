"""A user's model, network and data as a run: save_run from Python, model.encoder from a config, run.json.

Every command (evaluate, plot, sample, export) must work on a run made from
Python, and export and sample must work after the run's data has moved away
(the run records the shape it was built for in ``run.json``).
"""

import json
import shutil
import textwrap
import uuid

import numpy as np
import pytest

import tfvae
from tfvae.cli import main
from tfvae.experiment import RECORD_FILE, RunError, load_run, save_run
from tfvae.validation import DataRangeError

SHAPE = (8, 8, 1)
TINY = ["--epochs", "1", "--set", "train.pictures=false", "--batch-size", "16", "--set", "model.hidden_units=[8]",
        "--set", "model.latent_dim=2", "--quiet"]


def binary_images(n: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, *SHAPE)) < 0.3).astype("float32")


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("tfvae: error: "), err
    return err[0]


@pytest.fixture(scope="module")
def python_run(tmp_path_factory):
    """A VAE trained with model.fit on arrays, saved with save_run; and the model itself."""
    model = tfvae.VAE.mlp(data_shape=SHAPE, latent_dim=2, hidden_units=(8,), seed=0)
    model.compile()
    history = model.fit(binary_images(48), epochs=2, batch_size=16, verbose=0)
    run = tmp_path_factory.mktemp("python_run") / "mine"
    assert save_run(model, run, data={"train": binary_images(48), "test": binary_images(16, seed=1)},
                    history=history) == run
    return run, model


def test_save_run_writes_what_tfvae_train_writes(python_run):
    run, model = python_run
    for name in ("config.json", RECORD_FILE, "history.csv", "summary.json", "model.keras", "data.npz"):
        assert (run / name).is_file(), name
    record = json.loads((run / RECORD_FILE).read_text())
    assert record["data"]["data_shape"] == list(SHAPE) and record["data"]["num_classes"] is None
    assert record["data"]["num_examples"] == {"train": 48, "test": 16}
    assert record["model_file"] == "model.keras" and record["capabilities"]["has_prior"] is True
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["name"] == "vae" and config["model"]["latent_dim"] == 2
    assert config["data"]["dataset"] == f"npz:{(run / 'data.npz').resolve()}"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["epochs"] == 2 and summary["saved_from"] == "python" and summary["test"]["elbo"] < 0
    assert (run / "history.csv").read_text().splitlines()[0].startswith("epoch,")
    assert len((run / "history.csv").read_text().splitlines()) == 3  # header + 2 epochs
    # the run gives back the same model: same reconstructions
    loaded = load_run(run)
    x = binary_images(4, seed=2)
    np.testing.assert_allclose(loaded.model.reconstruct(x).numpy(), model.reconstruct(x).numpy(), atol=1e-6)
    assert loaded.epochs_done == 2


@pytest.mark.slow  # four commands and an export: CI's slow pass (the fast one runs them on an npz run)
def test_the_commands_work_on_a_python_run_and_export_and_sample_without_its_data(python_run, tmp_path, capsys):
    source, _ = python_run
    run = tmp_path / "copy"
    shutil.copytree(source, run)
    config = json.loads((run / "config.json").read_text())
    config["data"]["dataset"] = f"npz:{(run / 'data.npz').resolve()}"  # the copy's own data
    (run / "config.json").write_text(json.dumps(config))
    assert main(["evaluate", str(run), "--iwae-k", "4", "--max-examples", "8", "--quiet"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["model"] == "vae" and metrics["epochs_done"] == 2
    assert main(["plot", str(run), "--only", "reconstructions", "prior_samples"]) == 0
    assert sorted(p.name for p in (run / "plots").iterdir()) == ["prior_samples.png", "reconstructions.png"]

    (run / "data.npz").rename(tmp_path / "moved.npz")  # the data goes away
    capsys.readouterr()
    assert main(["sample", str(run), "-n", "4", "--out", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").is_file()
    assert main(["export", str(run), "--out-root", str(tmp_path / "served"), "--no-warmup"]) == 0
    assert (tmp_path / "served" / "mine" / "1" / "saved_model.pb").is_file()  # named by config.json
    capsys.readouterr()
    assert main(["evaluate", str(run), "--iwae-k", "4", "--quiet"]) == 2
    line = one_error_line(capsys)
    assert "needs the data the run trained on" in line and "data.npz" in line and "tfvae export" in line


def test_save_run_refuses_a_taken_directory_and_data_of_another_shape(python_run, tmp_path):
    run, model = python_run
    with pytest.raises(RunError, match="already holds a run"):
        save_run(model, run, data=binary_images(8))
    target = tmp_path / "wrong"
    with pytest.raises(ValueError, match=r"examples have shape \(4, 4, 1\) but the model takes \(8, 8, 1\)"):
        save_run(model, target, data=np.zeros((20, 4, 4, 1), "float32"))
    assert not target.exists()  # nothing of a failed save is left


def test_resume_refuses_a_python_run(python_run, tmp_path, capsys):
    run = tmp_path / "copy"
    shutil.copytree(python_run[0], run)
    capsys.readouterr()
    assert main(["train", "vae", "--out", str(run), "--resume", *TINY]) == 2
    assert "saved from Python" in one_error_line(capsys)


def test_fit_refuses_values_the_likelihood_cannot_model():
    model = tfvae.VAE.mlp(data_shape=SHAPE, latent_dim=2, hidden_units=(8,), seed=0)
    model.compile()
    with pytest.raises(DataRangeError, match=r"values in \[0, 255\].*x / 255"):
        model.fit(np.linspace(0, 255, 16 * 64, dtype="float32").reshape(16, *SHAPE), verbose=0)
    with pytest.raises(DataRangeError, match="likelihood 'gaussian'"):
        model.fit(-binary_images(16) - 0.5, verbose=0)
    gaussian = tfvae.VAE.mlp(data_shape=SHAPE, latent_dim=2, hidden_units=(8,), likelihood="gaussian", seed=0)
    gaussian.compile()
    gaussian.fit(-binary_images(16) * 3, verbose=0)  # real values: any range


def test_cli_refuses_0_255_floats_into_a_bernoulli_in_one_line(tmp_path, capsys):
    data = tmp_path / "grey.npz"
    np.savez(data, x=binary_images(32) * 255.0)
    assert main(["train", "vae", "--dataset", f"npz:{data}", "--out", str(tmp_path / "run"), *TINY]) == 2
    line = one_error_line(capsys)
    assert "x / 255" in line and "npz:" in line and "bernoulli" in line
    assert not (tmp_path / "run").exists()


@pytest.fixture
def own_networks(tmp_path, monkeypatch):
    """A module of the user's, importable as ``<name>``: a good encoder factory and one of the wrong size."""
    name = f"own_nets_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent("""
        import keras
        import numpy as np

        def make_encoder(input_shape, output_shape):
            return keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(6, activation="tanh", name="mine"),
                                     keras.layers.Dense(int(np.prod(output_shape))), keras.layers.Reshape(output_shape)],
                                    name="my_encoder")

        def too_small(input_shape, output_shape):
            return keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(3)])
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


@pytest.mark.slow  # a CLI run with the user's network and four refusals: CI's slow pass
def test_a_config_names_the_users_encoder_and_the_run_trains_and_reloads(own_networks, tmp_path, capsys):
    data = tmp_path / "x.npz"
    np.savez(data, x=binary_images(40))
    config = tmp_path / "mine.toml"
    config.write_text(f'name = "mine"\n[model]\nname = "vae"\nencoder = "{own_networks}:make_encoder"\n'
                      f'[data]\ndataset = "npz:{data}"\n')
    run = tmp_path / "run"
    assert main(["train", str(config), "--out", str(run), *TINY]) == 0
    loaded = load_run(run)
    assert loaded.model.encoder.name == "my_encoder"
    assert [layer.name for layer in loaded.model.encoder.layers][1] == "mine"
    assert loaded.model.decoder.name == "decoder"  # the architecture's own
    assert main(["sample", str(run), "-n", "4"]) == 0

    capsys.readouterr()
    assert main(["train", str(config), "--out", str(tmp_path / "bad"), *TINY,
                 "--set", f'model.encoder="{own_networks}:too_small"']) == 2
    line = one_error_line(capsys)
    assert "too_small" in line and "encoder outputs shape (3,)" in line and "needs (4,)" in line
    assert main(["train", str(config), "--out", str(tmp_path / "bad"), *TINY,
                 "--set", 'model.encoder="no_such_module_xyz:f"']) == 2
    assert "cannot import 'no_such_module_xyz'" in one_error_line(capsys)
    assert main(["train", "cvae", "--out", str(tmp_path / "bad"), *TINY,
                 "--set", f'model.encoder="{own_networks}:make_encoder"']) == 2
    assert ("model.encoder: a conditional model's networks see the data with the label features joined, so a "
            "network of your own is not offered") in one_error_line(capsys)


def test_wrong_shapes_are_one_tfvae_error_naming_both_shapes_at_every_door():
    from tfvae.errors import TfvaeError
    from tfvae.loops import train_loop
    from tfvae.validation import DataShapeError

    assert issubclass(DataShapeError, TfvaeError) and issubclass(DataRangeError, TfvaeError)  # one CLI line each
    model = tfvae.VAE.mlp(data_shape=SHAPE, latent_dim=2, hidden_units=(8,), seed=0)
    model.compile()
    flat = np.zeros((16, 64), "float32")
    doors = {
        "fit": lambda: model.fit(flat, verbose=0),
        "train_loop": lambda: train_loop(model, flat, batch_size=8, epochs=1, verbose=0),
        "encode": lambda: model.encode(flat),
        "elbo": lambda: model.elbo(flat),
    }
    for door, call in doors.items():
        with pytest.raises(DataShapeError, match=r"must have shape \(batch, 8, 8, 1\), got \((16|8|None), 64\)"):
            call()
