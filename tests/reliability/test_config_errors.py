"""Bad config values and command-line options: an error naming the key, before anything is trained or written."""

from __future__ import annotations

import pytest

from tfvae.cli import main
from tfvae.config import ConfigError, default_config, load_config

# (override, text the error must contain): every value is refused with its key named
BAD_VALUES = [
    # ranges that were already checked (kept from regressing)
    ("model.latent_dim=0", "model.latent_dim: must be >= 1, got 0"),
    ("train.epochs=0", "train.epochs: must be >= 1, got 0"),
    ("train.learning_rate=0", "train.learning_rate: must be > 0, got 0.0"),
    ("train.learning_rate=-0.1", "train.learning_rate: must be > 0"),
    ("data.batch_size=-5", "data.batch_size: must be >= 1, got -5"),
    ("model.beta=-1", "model.beta: must be >= 0, got -1.0"),
    ("model.num_samples=0", "model.num_samples: must be >= 1"),
    ("train.steps_per_execution=0", "train.steps_per_execution: must be 'auto' or an integer >= 1"),
    ("train.steps_per_execution=often", "train.steps_per_execution: must be 'auto' or an integer >= 1"),
    ("train.jit_compile=fast", "train.jit_compile: must be true, false or 'auto'"),
    ("train.checkpoint_every=0", "train.checkpoint_every: must be >= 1"),
    ("train.keep_checkpoints=0", "train.keep_checkpoints: must be >= 1"),
    ('train.precision="float8"', "train.precision: must be one of"),
    # gaps this issue filled
    ("model.hidden_units=[0]", "model.hidden_units: must be a list of widths >= 1, got [0]"),
    ("model.hidden_units=[64,-1]", "model.hidden_units: must be a list of widths >= 1"),
    ("model.filters=[32,0]", "model.filters: must be a list of channel counts >= 1"),
    ('model.activation="relu6"', "model.activation: must be one of ['relu'"),
    ("model.beta=inf", "model.beta: expected a finite number, got inf"),
    ("model.beta=nan", "model.beta: expected a finite number, got nan"),
    ("train.learning_rate=inf", "train.learning_rate: expected a finite number, got inf"),
    ("train.learning_rate=nan", "train.learning_rate: expected a finite number, got nan"),
    ("train.seed=-1", "train.seed: must be in [0, 2**32 - 1], got -1"),
    ("train.seed=4294967296", "train.seed: must be in [0, 2**32 - 1]"),
    ('train.on_nonfinite="ignore"', "train.on_nonfinite: must be one of ['stop', 'skip'], got 'ignore'"),
    ('name="../elsewhere"', "name: must be a plain name"),
    ('name=""', "name: must be a plain name"),
    # types and unknown keys
    ("train.epochs=2.5", "train.epochs: expected int, got 2.5"),
    ("train.epochs=true", "train.epochs: expected int, got True"),
    ('model.latent_dim="8"', "model.latent_dim: expected int, got '8'"),
    ("train.jit_compile=1", "train.jit_compile: expected bool or str, got 1"),
    ("model.hidden_units=128", "model.hidden_units: expected a list of int, got 128"),
    ("model.hidden_units=[64,2.5]", "model.hidden_units[1]: expected int, got 2.5"),
    ("train.epoch=3", "train.epoch: unknown key; did you mean 'epochs'?"),
    ("optimizer.lr=3", "optimizer: unknown key"),
    ("train=3", "train: expected a table, got 3"),
    ("train.epochs.x=1", "train.epochs"),  # 'epochs is not a table' or 'expected int, got {...}'
    ("train.epochs", "override 'train.epochs': expected table.key=value"),
    ("train..epochs=3", "bad key 'train..epochs'"),
]


@pytest.mark.parametrize("override,message", BAD_VALUES, ids=[o for o, _ in BAD_VALUES])
def test_a_bad_value_names_its_key(override, message):
    with pytest.raises(ConfigError) as caught:
        default_config("vae", [override])
    assert message in str(caught.value)


@pytest.mark.parametrize("override,message", BAD_VALUES, ids=[o for o, _ in BAD_VALUES])
def test_the_command_line_refuses_it_in_one_line_before_training(override, message, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "vae", "--set", override, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err == f"tfvae: error: {err.removeprefix('tfvae: error: ')}" and err.count("\n") == 1, err
    assert message in err
    assert not out.exists()


def test_a_toml_file_with_a_bad_value_names_the_file_and_the_key(tmp_path, capsys):
    path = tmp_path / "exp.toml"
    path.write_text('[model]\nname = "vae"\nlatent_dim = 4\n\n[train]\nlearning_rate = -1.0\n')
    with pytest.raises(ConfigError, match=rf"{path}: train.learning_rate: must be > 0, got -1.0"):
        load_config(path)
    assert main(["train", str(path), "--out", str(tmp_path / "run"), "--quiet"]) == 2
    assert f"{path}: train.learning_rate: must be > 0" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


# the named options go through the same checks (--epochs 0 is train.epochs=0)
BAD_FLAGS = [
    (["--epochs", "0"], "train.epochs: must be >= 1, got 0"),
    (["--batch-size", "-1"], "data.batch_size: must be >= 1, got -1"),
    (["--learning-rate", "0"], "train.learning_rate: must be > 0"),
    (["--learning-rate", "nan"], "train.learning_rate: expected a finite number, got nan"),
    (["--learning-rate", "inf"], "train.learning_rate: expected a finite number, got inf"),
    (["--seed", "-3"], "train.seed: must be in [0, 2**32 - 1], got -3"),
    (["--steps-per-execution", "0"], "train.steps_per_execution: must be 'auto' or an integer >= 1"),
    (["--name", "a/b"], "name: must be a plain name"),
    (["--dataset", "no_such_data"], "data.dataset: Unknown dataset 'no_such_data'"),
]


@pytest.mark.parametrize("flags,message", BAD_FLAGS, ids=[" ".join(f) for f, _ in BAD_FLAGS])
def test_a_bad_option_names_the_key(flags, message, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "vae", *flags, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tfvae: error: ") and err.count("\n") == 1 and message in err, err
    assert not out.exists()


@pytest.mark.parametrize("flags", [["--on-nonfinite", "ignore"], ["--epochs", "ten"], ["--driver", "keras"]])
def test_argparse_rejects_malformed_options_with_usage(flags, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["train", "vae", *flags])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flags[0]}: invalid" in err and "Traceback" not in err


def test_on_nonfinite_is_a_setting_of_the_config_and_the_command_line():
    from tfvae.cli import build_parser
    from tfvae.commands.train import _flag_overrides, resolve_config

    def resolved(*argv):
        args = build_parser().parse_args(["train", "vae", *argv])
        return resolve_config(args.target, list(args.set or []) + _flag_overrides(args)).train.on_nonfinite

    assert resolved() == "stop"
    assert resolved("--on-nonfinite", "skip") == "skip"
    assert resolved("--set", 'train.on_nonfinite="skip"') == "skip"


def test_dequantize_and_binarize_together_are_refused_before_training():
    """Both preprocessing modes at once used to fail inside load_dataset with a traceback."""
    with pytest.raises(ConfigError, match="data.dequantize: cannot be combined with data.binarize = 'dynamic'"):
        default_config("vae", ['data.binarize="dynamic"', "data.dequantize=true"])
    assert default_config("vae", ["data.dequantize=true"]).data.dequantize is True
