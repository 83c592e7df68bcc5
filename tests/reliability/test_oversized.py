"""Sizes far beyond any machine are refused by key before TensorFlow allocates anything (issue 30, item 6).

A ``latent_dim`` or ``hidden_units`` of 1e9, ``data.pad_to`` 1e6, a million
samples per example or per request ended in out-of-memory tracebacks, and
100,000 hidden layers in a build that seemed to hang. :mod:`tfvae.sizes`
estimates the model and the request from the config and refuses them in one
line; sensible large configs (a conv VAE on 256x256x3 images, layers of 4096,
an IWAE estimate with k = 5000 on MNIST) still pass. The checks are called
directly (milliseconds); one subprocess shows the command line refusing them
before TensorFlow is imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tfvae.config import ConfigError, DataConfig, ExperimentConfig, ModelConfig, apply_overrides, default_config
from tfvae.sizes import MAX_PARAMETERS, check_config, check_model, estimate, iwae_problem, sample_problem

TRAINING = Path(__file__).resolve().parents[2] / "training"
MANY = "[" + ",".join(["8"] * 1001) + "]"  # one layer above the limit

# (model, overrides, what the one error must start with, a text it must contain)
OVERSIZED = [
    ("vae", ["model.latent_dim=1000000000"], "model.latent_dim: the model would have 7.7e11 parameters",
     "(2.8 TiB of float32 weights), above the limit of 2e9 parameters; use a smaller latent_dim"),
    ("vae", ["model.hidden_units=[1000000000]"], "model.hidden_units: the model would have 1.6e12 parameters",
     "use smaller layers"),
    ("vae", [f"model.hidden_units={MANY}"], "model.hidden_units: 1,001 layers, above the limit of 1,000",
     "use fewer layers"),
    ("vae", ["model.architecture='conv'", f"model.filters={MANY}"], "model.filters: 1,001 layers",
     "above the limit of 1,000"),
    ("vae", ["data.pad_to=1000000"], "data.pad_to: the model would have 1e15 parameters", "pad to a smaller size"),
    ("vae", ["model.num_samples=1000000"], "model.num_samples: 1,000,000 samples per example would hold about",
     "(1,000,000 x batch 100 x 784 values x 4 bytes), above the limit of"),
    ("iwae", ["model.options={k=1000000}"], "model.options.k: 1,000,000 samples per example", "use fewer samples"),
    ("vae", ["data.batch_size=1000000000"], "data.batch_size: one training step would need about 28.6 TiB",
     "above the limit of 64 GiB; use a smaller batch"),
    ("vae", ["model.architecture='conv'", "data.dataset='images:photos'", "data.image_size=[100000,100000]"],
     "data.image_size: the model would have", "resize the images to a smaller size"),
    ("vqvae", ["model.architecture='conv'", "model.options={filters=1000000}"],
     "model.options.filters: the model would have", "above the limit of 2e9 parameters"),
    ("tdvae", ["model.options={num_layers=100000}"], "model.options.num_layers: 100,000 layers", "fewer layers"),
    ("seq2seq_ae", ["model.architecture='recurrent'", "data.dataset='sines'", "model.hidden_units=[10000000]"],
     "model.hidden_units: the model would have", "use smaller layers"),
]


IDS = ["latent_dim", "hidden_units", "hidden_layers", "conv_layers", "pad_to", "num_samples", "iwae_k", "batch_size",
       "image_size", "vqvae_filters", "tdvae_num_layers", "recurrent_units"]


@pytest.mark.parametrize("model, overrides, start, text", OVERSIZED, ids=IDS)
def test_an_oversized_config_is_refused_by_key(model, overrides, start, text):
    with pytest.raises(ConfigError) as refused:
        default_config(model, overrides)
    message = str(refused.value)
    assert message.startswith(start) and text in message and "\n" not in message, message


def test_a_prior_with_too_many_layers_or_parameters_is_refused():
    for options, start in [({"num_layers": 100_000}, "model.options.num_layers: 100,000 layers, above the limit"),
                           ({"filters": 1_000_000}, "model.options.filters: the model would have 2.9e14 parameters")]:
        with pytest.raises(ConfigError, match="^" + start.replace("(", r"\(")):
            ExperimentConfig.from_dict({"kind": "prior", "model": {"name": "pixelcnn", "options": options}})


# (model config, example shape): large models people train, which must pass
SENSIBLE = [
    (ModelConfig(architecture="conv"), (256, 256, 3)),
    (ModelConfig(architecture="conv", filters=[64, 128, 256, 512], hidden_units=[4096]), (256, 256, 3)),
    (ModelConfig(hidden_units=[4096, 4096]), (28, 28, 1)),
    (ModelConfig(hidden_units=[4096, 4096]), (256, 256, 3)),
    (ModelConfig(hidden_units=[4096] * 8, latent_dim=512), (32, 32, 3)),
    (ModelConfig(name="iwae", options={"k": 5000}), (28, 28, 1)),
    (ModelConfig(name="vqvae", architecture="conv", options={"filters": 256, "num_embeddings": 512}), (256, 256, 3)),
]


@pytest.mark.parametrize("model, shape", SENSIBLE, ids=["conv_256", "conv_256_wide", "mlp_4096", "mlp_4096_256",
                                                         "mlp_8x4096", "iwae_k5000", "vqvae_256"])
def test_sensible_large_models_pass(model, shape):
    check_model(model, shape)
    assert estimate(model, shape).parameters < MAX_PARAMETERS


def test_sensible_large_configs_and_every_shipped_config_pass():
    from tfvae.config import tomllib  # tomli on Python 3.10

    images = {"dataset": "images:photos", "image_size": [256, 256], "channels": 3, "batch_size": 64}
    check_config(ExperimentConfig(model=ModelConfig(architecture="conv"), data=DataConfig(**images)))
    check_config(ExperimentConfig(model=ModelConfig(hidden_units=[4096, 4096]), data=DataConfig(**images)))
    check_config(default_config("iwae", ["model.options={k=5000}"]))  # 5000 x 100 x 784 x 4 bytes: 1.5 GiB
    shipped = sorted(TRAINING.glob("*.toml"))
    assert len(shipped) > 10
    for path in shipped:  # the shipped configs as ExperimentConfig sees them (validate would read pad_to's dataset)
        data = apply_overrides(tomllib.loads(path.read_text(encoding="utf-8")), [])
        config = ExperimentConfig(name=path.stem, kind=data.get("kind", "model"), model=ModelConfig(**data["model"]),
                                  data=DataConfig(**data.get("data", {})))
        check_config(config)


def test_iwae_and_sample_requests_have_a_memory_limit():
    assert iwae_problem(5000, 20, (28, 28, 1)) is None  # tfvae evaluate --iwae-k 5000, the default batch
    assert iwae_problem(1000, 20, (64, 64, 3)) is None
    assert sample_problem(64, (28, 28, 1)) is None and sample_problem(10_000, (64, 64, 3)) is None
    too_many = iwae_problem(1_000_000, 20, (28, 28, 1))
    assert too_many.startswith("1,000,000 importance samples would hold about 58.4 GiB (1,000,000 x batch 20 x "
                               "784 values x 4 bytes), above the limit of"), too_many
    assert "use a smaller --iwae-k or --batch-size" in too_many
    assert "draw fewer at a time" in sample_problem(1_000_000, (256, 256, 3))


def test_build_model_refuses_a_model_config_that_never_went_through_validate():
    from tfvae.experiment.build import build_model, build_prior

    with pytest.raises(ConfigError, match=r"^model.latent_dim: the model would have 7.7e11 parameters"):
        build_model(ModelConfig(latent_dim=1_000_000_000), (28, 28, 1))
    with pytest.raises(ConfigError, match=r"^model.hidden_units: 1,001 layers, above the limit of 1,000"):
        build_model(ModelConfig(hidden_units=[8] * 1001), (28, 28, 1))
    with pytest.raises(ConfigError, match=r"^data: the model would have 1.2e12 parameters"):  # the real shape
        build_model(ModelConfig(), (20_000, 20_000, 3))
    with pytest.raises(ConfigError, match=r"^model.options.num_layers: 100,000 layers"):
        build_prior(ModelConfig(name="pixelcnn", options={"num_layers": 100_000}), model=None)


def _run(tmp_path: Path, shape: list[int]) -> Path:
    """A run directory the command line accepts before TensorFlow: config, record, a checkpoint list."""
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text(ExperimentConfig().to_json())
    (run / "run.json").write_text(json.dumps({"data": {"data_shape": shape}}))
    (run / "checkpoints" / "checkpoint").write_text('model_checkpoint_path: "ckpt-1"\n')
    return run


def test_the_command_line_refuses_oversized_requests_before_tensorflow_is_imported(tmp_path):
    run = _run(tmp_path, [28, 28, 1])
    code = ("import sys; from tfvae.cli import main; run = sys.argv[1]; statuses = ["
            "main(['train', 'vae', '--set', 'model.latent_dim=1000000000', '--out', run + '/new']), "
            "main(['evaluate', run, '--iwae-k', '1000000']), main(['sample', run, '--num', '9000000'])]; "
            "print(*statuses, 'tensorflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code, str(run)], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["2", "2", "2", "False"], done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("tfvae: error: ") for line in lines), done.stderr
    assert lines[0].startswith("tfvae: error: --set model.latent_dim: the model would have 7.7e11 parameters")
    assert lines[1].startswith("tfvae: error: --iwae-k 1000000: 1,000,000 importance samples would hold about")
    assert lines[2].startswith("tfvae: error: --num 9000000: 9,000,000 samples of 784 values would hold about")
    assert not (run / "new").exists() and not (run / "metrics.json").exists()
