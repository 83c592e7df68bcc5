"""The experiment package: run kinds, the run's data, history files, and errors that keep their cause."""

import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest

from tfvae.commands.train import TRAINING_DIRS
from tfvae.config import ConfigError, default_config, load_config
from tfvae.experiment import (
    Checkpointer,
    ModelRun,
    PriorRun,
    RunDirectory,
    RunError,
    build_model,
    build_prior,
    load_prior,
    run_data,
    run_kind,
)
from tfvae.metrics import vq_bound
from tfvae.registry import RUN_KINDS

TINY = ["model.hidden_units=[8]", "model.latent_dim=2"]
VQ_PRIOR_TOML = TRAINING_DIRS[1] / "vq_prior.toml"


def test_run_kinds_are_registered_and_chosen_by_the_config():
    assert RUN_KINDS.names() == ["model", "prior"]
    for name in RUN_KINDS.names():
        assert RUN_KINDS.get(name).__module__ == RUN_KINDS.builtin_modules()[name]
        assert RUN_KINDS.get(name).name == name
    assert isinstance(run_kind(default_config("vae")), ModelRun)
    config = load_config(VQ_PRIOR_TOML)
    assert config.kind == "prior" and isinstance(run_kind(config), PriorRun)
    with pytest.raises(ConfigError, match="kind: must be one of"):
        default_config("vae", ["kind=\"nope\""])


def test_a_prior_config_without_kind_still_runs_as_a_prior_with_a_deprecation():
    config = default_config("pixelcnn")
    assert config.kind == "model"
    with pytest.warns(FutureWarning, match="without kind = 'prior' is deprecated"):
        kind = run_kind(config)
    assert isinstance(kind, PriorRun) and config.kind == "prior"
    with pytest.raises(ConfigError, match="pass --from RUN"):
        kind.check(config)
    with pytest.raises(ConfigError, match="--from applies to priors"):
        ModelRun().check(default_config("vae"), from_run="runs/x")


def test_choosing_a_run_kind_does_not_import_tensorflow():
    code = ("import sys; from tfvae.config import default_config; from tfvae.experiment.kinds import run_kind\n"
            "run_kind(default_config('vae')).check(default_config('vae'))\n"
            "print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False"]


def test_build_chains_the_constructors_error():
    config = default_config("vae", ["model.options={free_bits = -1.0}", *TINY])
    with pytest.raises(ConfigError, match="free_bits must be >= 0") as caught:
        build_model(config.model, (28, 28, 1))
    assert isinstance(caught.value.__cause__, ValueError)


def test_build_prior_takes_what_the_prior_declares():
    vq = load_config(TRAINING_DIRS[1] / "vqvae.toml", ["model.options={num_embeddings = 8, embedding_dim = 2, filters = 4, "
                                  "residual_filters = 2, num_residual_blocks = 1}"])
    model = build_model(vq.model, (28, 28, 1), seed=0)
    prior_config = load_config(VQ_PRIOR_TOML,
                               ["model.options={filters = 4, num_layers = 1}"])
    prior = build_prior(prior_config.model, model, seed=0)
    assert prior.code_shape == model.code_shape and prior.filters == 4
    prior_config.model.options = {"num_layer": 2}
    with pytest.raises(ConfigError, match="model.options.num_layer: not an option of the pixelcnn prior"):
        build_prior(prior_config.model, model)
    prior_config.model.options = {"kernel_size": 2}  # the PixelCNN refuses an even kernel
    with pytest.raises(ConfigError) as caught:
        build_prior(prior_config.model, model)
    assert isinstance(caught.value.__cause__, (ValueError, TypeError))


def _checkpointer(tmp_path):
    model = build_model(default_config("vae", TINY).model, (28, 28, 1), seed=0)
    model.compile(optimizer=keras.optimizers.Adam())
    return Checkpointer(tmp_path / "checkpoints", model)


@pytest.mark.parametrize("content", [b"", b"\xff\xfe\x00 binary"])
def test_an_unreadable_checkpoint_list_is_the_cause_of_no_checkpoint(tmp_path, content):
    checkpointer = _checkpointer(tmp_path)
    checkpointer.directory.mkdir()
    (checkpointer.directory / "checkpoint").write_bytes(content)
    assert checkpointer.checkpoints() == []
    with pytest.raises(RunError, match="checkpoint list could not be read") as caught:
        checkpointer.restore_latest()
    assert isinstance(caught.value.__cause__, ValueError)


def test_checkpoint_listing_lets_unexpected_errors_through(tmp_path, monkeypatch):
    import tensorflow as tf

    checkpointer = _checkpointer(tmp_path)

    def broken(directory):
        raise RuntimeError("a bug, not an unreadable list")

    monkeypatch.setattr(tf.train, "get_checkpoint_state", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        checkpointer.checkpoints()


def test_a_damaged_prior_file_is_a_run_error_with_its_cause(tmp_path):
    from tfvae.models import VQVAE

    model = VQVAE.conv((8, 8, 1), num_embeddings=4, embedding_dim=2, filters=4, residual_filters=2,
                       num_residual_blocks=1, seed=0)
    (tmp_path / "prior").mkdir()
    (tmp_path / "prior" / "prior.keras").write_bytes(b"not a zip file")
    with pytest.raises(RunError, match="cannot load the prior") as caught:
        load_prior(tmp_path, model)
    assert caught.value.__cause__ is not None
    assert load_prior(tmp_path / "elsewhere") is None


def test_history_rows_round_trip_and_truncating_every_row_keeps_the_header(tmp_path):
    run = RunDirectory(tmp_path)
    run.write_history([{"epoch": 1, "loss": 2.0, "top_loss": 1.0}, {"epoch": 2, "loss": 1.5, "top_loss": 0.5}])
    assert run.read_history() == [{"epoch": 1.0, "loss": 2.0, "top_loss": 1.0},
                                  {"epoch": 2.0, "loss": 1.5, "top_loss": 0.5}]
    assert run.repair_history(0) == ([1, 2], [])
    run.append_history(1, {"top_loss": 3.0, "loss": 4.0})
    assert run.read_history() == [{"epoch": 1.0, "loss": 4.0, "top_loss": 3.0}]


def test_run_data_is_fixed_and_asks_the_dataset_for_labels(monkeypatch):
    import tfvae.data

    calls = []
    load = tfvae.data.load_dataset

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return load(*args, **kwargs)

    monkeypatch.setattr(tfvae.data, "load_dataset", spy)
    digits = default_config("vae", ["data.binarize=\"dynamic\"", "data.limit=50"])
    data = run_data(digits, "test", 20)
    x, labels = data.arrays(limit=30)
    assert data.has_labels and x.shape == (30, 28, 28, 1) and labels.shape == (30,)
    assert set(np.unique(x)) <= {0.0, 1.0}  # a binarised run: one fixed Bernoulli draw ...
    np.testing.assert_array_equal(x, run_data(digits, "test", 7).arrays(limit=30)[0])  # ... whatever the batch
    assert calls[0]["binarize"] == "static" and calls[0]["shuffle"] is False
    assert run_data(digits, "test", with_labels=False).arrays()[1] is None

    calls.clear()
    sines = default_config("tdvae", ["data.dataset=\"sines\""])
    data = run_data(sines, "test", 8)  # no labels: asked, not guessed from a failed load
    assert not data.has_labels and data.arrays(limit=8)[1] is None
    assert [c["with_labels"] for c in calls] == [False]
    with pytest.raises(ConfigError, match="has no labels"):
        run_data(sines, "test", with_labels=True)
    with pytest.raises(RunError, match="'nope' split") as caught:
        run_data(digits, "nope")
    assert isinstance(caught.value.__cause__, ValueError)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run_data(digits, "train", 10).arrays(limit=10)


def test_the_uniform_rate_and_the_prior_files_follow_the_models_code_levels(tmp_path):
    from tfvae.experiment import load_prior, prior_files
    from tfvae.metrics import uniform_code_nll
    from tfvae.models import VQVAE, VQVAE2

    small = dict(embedding_dim=2, filters=4, residual_filters=2, num_residual_blocks=1, seed=0)
    vq, vq2 = VQVAE.conv((8, 8, 1), num_embeddings=4, **small), VQVAE2.conv((16, 16, 1), num_embeddings=6, **small)
    assert uniform_code_nll(vq) == pytest.approx({"prior": np.prod(vq.code_shape) * np.log(4)})
    assert uniform_code_nll(vq2) == pytest.approx({level: np.prod(vq2.code_shape[level]) * np.log(6)
                                                   for level in ("top", "bottom")})
    assert prior_files(vq, tmp_path) == {None: tmp_path / "prior" / "prior.keras"}
    assert prior_files(vq2, tmp_path) == {level: tmp_path / "prior" / f"{level}.keras" for level in ("top", "bottom")}
    assert load_prior(tmp_path, vq2) is None  # nothing trained yet


def test_vq_bound_bits_per_dim_follow_the_one_convention():
    from tfvae.metrics import bits_per_dim
    from tfvae.models.quantized.vq_vae import VQVAE

    model = VQVAE.conv((8, 8, 1), num_embeddings=4, embedding_dim=2, filters=4, residual_filters=2,
                       num_residual_blocks=1, likelihood="gaussian", seed=0)
    rng = np.random.default_rng(0)
    x = ((rng.integers(0, 256, (4, 8, 8, 1)) + rng.random((4, 8, 8, 1))) / 256).astype("float32")  # dequantised
    dequantized = vq_bound(model, None, [x], bits_per_dim_convention="dequantized", bits_per_dim_note="why")
    bound = dequantized["uniform"]
    # a density on [0, 1]^D of (k + u) / 256 data: + log2(256) = 8 bits per dimension on top of nats / (D ln 2)
    assert bound["bits_per_dim"] == pytest.approx(bound["nats"] / (64 * np.log(2)) + 8.0)
    assert bound["bits_per_dim"] == pytest.approx(float(bits_per_dim(bound["nats"], 64, "dequantized")))
    assert (bound["bits_per_dim_convention"], bound["bits_per_dim_note"]) == ("dequantized", "why")
    discrete = vq_bound(model, None, [x], bits_per_dim_convention="discrete")["uniform"]
    assert discrete["bits_per_dim"] == pytest.approx(bound["nats"] / (64 * np.log(2)))
    none = vq_bound(model, None, [x])["uniform"]  # no convention (a density on data not dequantised): no bits/dim
    assert none["bits_per_dim"] is None and none["bits_per_dim_note"] == "no bits/dim convention given"
    assert none["nats"] == bound["nats"]
