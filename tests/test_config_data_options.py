"""``data.pad_to`` and ``data.limit`` in experiment configs, and the shipped VQ-VAE-2 config."""

from pathlib import Path

import pytest

from tfvae.config import ConfigError, ExperimentConfig, load_config
from tfvae.data import dataset_info

TRAINING = Path(__file__).resolve().parents[1] / "training"


def _config(**data):
    return ExperimentConfig.from_dict({"data": data})


def test_defaults_and_source_options():
    config = _config()
    assert config.data.pad_to is None and config.data.limit is None
    assert config.data.source_options() == {"data_dir": None, "pad_to": None, "limit": None}
    config = _config(pad_to=32, limit=64, data_dir="/somewhere")
    assert config.data.source_options() == {"data_dir": "/somewhere", "pad_to": 32, "limit": 64}
    # the info built from them is the data the loader yields
    info = dataset_info("digits", **_config(pad_to=32, limit=64).data.source_options())
    assert info.data_shape == (32, 32, 1) and info.num_examples["train"] == 64


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"pad_to": 20},
         r"^data\.pad_to: pad_to=20 is smaller than the 28x28 images of dataset 'digits': it must be >= 28$"),
        ({"pad_to": 0}, r"^data\.pad_to: must be an image size >= 1 or absent, got 0$"),
        ({"pad_to": 32, "dataset": "sines"}, r"^data\.pad_to: pad_to applies to image datasets"),
        ({"pad_to": "32"}, r"^data\.pad_to: expected int or NoneType, got '32'"),
        ({"pad_to": 32.0}, r"^data\.pad_to: expected int or NoneType"),
        ({"limit": 0}, r"^data\.limit: must be a number of examples >= 1 or absent, got 0$"),
        ({"limit": -5}, r"^data\.limit: must be a number of examples >= 1"),
        ({"limit": True}, r"^data\.limit: expected int or NoneType, got True"),
        ({"pad": 32}, r"^data\.pad: unknown key; did you mean 'pad_to'\?$"),
    ],
)
def test_bad_values_are_config_errors_naming_the_key(data, message):
    with pytest.raises(ConfigError, match=message):
        _config(**data)


def test_pad_to_equal_to_the_image_size_and_unknown_datasets_pass_validation():
    assert _config(pad_to=28).data.pad_to == 28
    assert _config(pad_to=64, dataset="shapes").data.pad_to == 64
    # a dataset that cannot be described here is left to the loader, which names the problem
    assert _config(pad_to=32, dataset="idx:/no/such/dir").data.pad_to == 32


def test_overrides_from_the_command_line(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[data]\ndataset = "digits"\n')
    config = load_config(path, ["data.pad_to=32", "data.limit=64"])
    assert (config.data.pad_to, config.data.limit) == (32, 64)
    with pytest.raises(ConfigError, match=r"c\.toml: data\.limit: must be a number of examples >= 1"):
        load_config(path, ["data.limit=0"])


def test_shipped_vqvae2_config_builds_the_two_level_model_for_32x32():
    from tfvae.experiment import build_model

    config = load_config(TRAINING / "vqvae2.toml")
    assert config.name == "vqvae2" and config.model.name == "vqvae2" and config.model.architecture == "conv"
    assert config.data.dataset == "digits" and config.data.pad_to == 32
    info = dataset_info(config.data.dataset, **config.data.source_options())
    assert info.data_shape == (32, 32, 1)
    model = build_model(config.model, info.data_shape, seed=0)
    assert model.capabilities.needs_trained_prior
    assert model.code_shape == {"bottom": (8, 8), "top": (4, 4)}
    # without the padding the 28x28 digits cannot make the two code maps
    with pytest.raises(ValueError, match="divisible"):
        build_model(config.model, (28, 28, 1), seed=0)
