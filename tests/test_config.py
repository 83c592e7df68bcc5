"""Experiment configs: TOML files, overrides and errors that name the key."""

from pathlib import Path

import pytest

from tfvae.commands.train import TRAINING_DIRS
from tfvae.config import (
    ConfigError,
    ExperimentConfig,
    apply_overrides,
    default_config,
    load_config,
)
from tfvae.data import FASHION_MNIST_IDX_DIR, dataset_info
from tfvae.experiment import build_model


def test_every_shipped_config_loads_and_builds_its_model():
    paths = sorted(TRAINING_DIRS[1].glob("*.toml"))
    assert {p.stem for p in paths} >= {"vae", "conv_vae", "beta_vae", "autoencoder", "seq2seq_ae"}
    for path in paths:
        if "fashion" in path.stem and not Path(FASHION_MNIST_IDX_DIR).is_dir():
            continue
        config = load_config(path)
        assert config.name == path.stem
        if config.kind == "prior":  # a prior over a VQ-VAE run's codes: tests/test_vq_cli.py
            continue
        info = dataset_info(config.data.dataset, **config.data.source_options())
        model = build_model(config.model, info.data_shape, seed=0, num_classes=info.num_classes)
        if not model.capabilities.needs_trained_prior:  # VQ-VAEs: latent size = code map size
            assert model.latent_dim == config.model.latent_dim
        if config.model.beta is not None:
            assert model.beta == config.model.beta


def test_overrides_are_typed_like_toml(tmp_path):
    path = tmp_path / "exp.toml"
    path.write_text('[model]\nname = "vae"\n[train]\nepochs = 3\n')
    config = load_config(
        path,
        ["train.epochs=7", "model.hidden_units=[64, 32]", "train.learning_rate=2e-4", "data.binarize=static",
         "train.jit_compile=true", "model.likelihood_kwargs={learn_scale = \"global\"}", "model.likelihood=gaussian"],
    )
    assert config.name == "exp"
    assert config.train.epochs == 7 and config.model.hidden_units == [64, 32]
    assert config.train.learning_rate == 2e-4 and config.data.binarize == "static"
    assert config.train.jit_compile is True
    model = build_model(config.model, (28, 28, 1))
    assert model.likelihood.learn_scale == "global"


def test_integers_are_accepted_where_floats_are_expected():
    assert default_config("vae", ["train.learning_rate=1"]).train.learning_rate == 1.0


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.epoch=5", "train.epoch: unknown key; did you mean 'epochs'"),
        ("bogus.key=1", "bogus: unknown key"),
        ("train.epochs=five", "train.epochs: expected int, got 'five'"),
        ("train.epochs=2.5", "train.epochs: expected int"),
        ("train.jit_compile=1", "train.jit_compile: expected bool or str"),
        ("model.hidden_units=[1.5]", r"model.hidden_units\[0\]: expected int"),
        ("model.hidden_units=64", "model.hidden_units: expected a list"),
        ("train.driver=fits", "train.driver: must be one of"),
        ("train.precision=float16", "train.precision: must be one of"),
        ("model.name=gan", "model.name: must be one of"),
        ("model.architecture=resnet", "model.architecture: must be one of"),
        ("train.epochs=0", "train.epochs: must be >= 1"),
        ("data.binarize=sometimes", "data.binarize: must be"),
        ("train=3", "train: expected a table"),
        ("noequals", "expected table.key=value"),
    ],
)
def test_bad_values_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message):
        default_config("vae", [override])


def test_options_a_model_does_not_take_are_refused():
    config = default_config("autoencoder", ["model.beta=2.0"])
    with pytest.raises(ConfigError, match="model.beta does not apply to model 'autoencoder'"):
        build_model(config.model, (28, 28, 1))


def test_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="config file not found"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\nepochs = 3")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    typo = tmp_path / "typo.toml"
    typo.write_text("[train]\nepohcs = 3\n")
    with pytest.raises(ConfigError, match=r"typo.toml: train.epohcs: unknown key; did you mean 'epochs'"):
        load_config(typo)


def test_json_round_trip():
    config = default_config("beta_vae", ["model.beta=3.0", "data.dataset=idx:/tmp/x"])
    again = ExperimentConfig.from_dict(apply_overrides(config.to_dict(), []))
    assert again == config


def test_model_options_are_checked_against_the_model():
    config = default_config("denoising_ae", ["model.options={corruption = \"gaussian\", noise_level = 0.2}"])
    model = build_model(config.model, (28, 28, 1))
    assert model.corruption == "gaussian" and model.noise_level == 0.2
    config = default_config("k_sparse_ae", ["model.options.k=7", "model.options.alpha=3.0"])
    posterior = build_model(config.model, (28, 28, 1)).posterior
    assert int(posterior.k) == 7 and posterior.alpha == 3.0
    with pytest.raises(ConfigError, match="model.options.noise: not an option of model 'denoising_ae'.*noise_level"):
        build_model(default_config("denoising_ae", ["model.options.noise=0.3"]).model, (28, 28, 1))
    with pytest.raises(ConfigError, match="model: corruption must be one of"):
        build_model(default_config("denoising_ae", ["model.options.corruption=blur"]).model, (28, 28, 1))
    with pytest.raises(ConfigError, match="model: k must be in"):
        build_model(default_config("k_sparse_ae", ["model.options.k=999"]).model, (28, 28, 1))


def test_speed_settings_default_to_auto_and_resolve_per_device():
    """train.jit_compile / steps_per_execution default to "auto": XLA only on a GPU/TPU, 32 steps per call everywhere."""
    from tfvae.performance import (
        has_accelerator,
        resolve_jit_compile,
        resolve_steps_per_execution,
    )

    config = default_config("vae")
    assert config.train.jit_compile == "auto" and config.train.steps_per_execution == "auto"
    accelerator = has_accelerator()
    assert resolve_jit_compile("auto") is accelerator
    assert resolve_jit_compile("auto", distributed=True) is False
    assert resolve_steps_per_execution("auto") == 32
    assert resolve_steps_per_execution("auto", distributed_fit=True) == 1  # Keras' multi-step fit fails there
    assert resolve_steps_per_execution(1, distributed_fit=True) == 1
    with pytest.raises(ValueError, match="steps_per_execution=8 is not supported for Keras fit"):
        resolve_steps_per_execution(8, distributed_fit=True)
    assert resolve_jit_compile(True) is True and resolve_steps_per_execution(4) == 4
    import numpy as np

    assert resolve_steps_per_execution(np.int64(4)) == 4  # e.g. read from a numpy array
    for bad in (0, -1, 2.5, True, "often"):
        with pytest.raises(ValueError, match="steps_per_execution"):
            resolve_steps_per_execution(bad)
    with pytest.raises(ValueError, match="jit_compile"):
        resolve_jit_compile("fast")
    explicit = default_config("vae", ["train.jit_compile=true", "train.steps_per_execution=8"])
    assert explicit.train.jit_compile is True and explicit.train.steps_per_execution == 8


def _cpu_has_bfloat16_flags() -> bool:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    flags = {f for line in text.splitlines() if line.split(":")[0].strip() == "flags" for f in line.split(":", 1)[1].split()}
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def test_precision_auto_is_accepted_and_resolves_per_device():
    """train.precision = "auto": mixed_bfloat16 where the device computes bfloat16 natively, else float32."""
    import tensorflow as tf

    from tfvae.performance import resolve_precision

    assert default_config("vae", ['train.precision="auto"']).train.precision == "auto"
    with pytest.raises(ConfigError, match=r"train.precision: must be one of \[.*'auto'\], got 'bf16'"):
        default_config("vae", ['train.precision="bf16"'])
    if not tf.config.list_physical_devices("GPU"):  # a CPU decides: this machine's has AVX512_BF16
        assert resolve_precision("auto") == ("mixed_bfloat16" if _cpu_has_bfloat16_flags() else "float32")
    for explicit in ("float32", "mixed_float16", "mixed_bfloat16"):
        assert resolve_precision(explicit) == explicit
    with pytest.raises(ValueError, match="precision must be one of.*'auto'.*got 'float16'"):
        resolve_precision("float16")


CPUINFO = "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu sse2 avx2 avx512f {extra}\n\n"


@pytest.mark.parametrize(
    "cpuinfo, expected",
    [
        (CPUINFO.format(extra="avx512_bf16"), "mixed_bfloat16"),
        (CPUINFO.format(extra="amx_tile amx_bf16"), "mixed_bfloat16"),
        (CPUINFO.format(extra="avx512_vnni"), "float32"),  # no bfloat16 arithmetic
        (None, "float32"),  # not Linux, or unreadable: unknown
    ],
)
def test_precision_auto_on_a_cpu_reads_its_flags(cpuinfo, expected, monkeypatch):
    import tensorflow as tf

    import tfvae.performance as performance

    monkeypatch.setattr(performance, "_read_cpuinfo", lambda: cpuinfo)
    real = tf.config.list_physical_devices
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [] if kind == "GPU" else real(kind))
    assert performance.resolve_precision("auto") == expected


@pytest.mark.parametrize(
    "capabilities, expected",
    [([(8, 0)], "mixed_bfloat16"), ([(9, 0), (8, 6)], "mixed_bfloat16"), ([(7, 5)], "float32"),
     ([(9, 0), (7, 0)], "float32"), ([None], "float32")],
)
def test_precision_auto_on_gpus_needs_compute_capability_8(capabilities, expected, monkeypatch):
    """Every GPU must be Ampere or newer; the CPU's flags do not matter then."""
    import tensorflow as tf

    import tfvae.performance as performance

    gpus = [tf.config.PhysicalDevice(f"/physical_device:GPU:{i}", "GPU") for i in range(len(capabilities))]
    details = {gpu.name: {} if c is None else {"compute_capability": c} for gpu, c in zip(gpus, capabilities)}
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: gpus if kind == "GPU" else [])
    monkeypatch.setattr(tf.config.experimental, "get_device_details", lambda gpu: details[gpu.name])
    monkeypatch.setattr(performance, "_read_cpuinfo", lambda: CPUINFO.format(extra="avx512_bf16"))
    assert performance.resolve_precision("auto") == expected
