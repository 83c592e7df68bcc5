"""Typed, validated experiment configs (TOML files in ``training/``).

A config has four tables, each a dataclass::

    name = "vae"                    # default run directory: runs/<name>
    kind = "model"                  # a run kind (tfvae.registry.RUN_KINDS): model | prior

    [model]                         # ModelConfig
    name = "vae"                    # a registered model (tfvae.registry.MODELS)
    architecture = "mlp"            # mlp | conv
    latent_dim = 16

    [data]                          # DataConfig
    dataset = "digits"              # the embedded default (offline)

    [train]                         # TrainConfig
    epochs = 20

Unknown keys and values of the wrong type are errors that name the key
(``train.epoch: unknown key; did you mean 'epochs'?``). Any value can be
overridden from the command line with ``--set table.key=value``, where the
value is written as in TOML (``--set model.hidden_units=[256,128]``).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser from PyPI (a dependency there, see pyproject.toml)
    import tomli as tomllib

from tfvae.errors import TfvaeError


class ConfigError(TfvaeError, ValueError):
    """A config key is unknown, or its value has the wrong type or range.

    Messages start with the dotted key they concern (``train.epochs: ...``).
    """

    @property
    def key(self) -> str | None:
        """The dotted key the message starts with, if any."""
        match = re.match(r"([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?:\[\d+\])?: ", str(self))
        return match.group(1) if match else None


def _blame(error: ConfigError, source: str | None, overrides: list[str], labels: dict[str, str] | None) -> ConfigError:
    """``error`` attributed to the override that set its key (``--set train.epoch: ...``), else to ``source``."""
    key = error.key
    if key is not None:
        for text in reversed(overrides):
            name = text.split("=", 1)[0].strip()
            if (key == name or key.startswith(name + ".")) and name in (labels or {}):
                return ConfigError(f"{labels[name]}{str(error)[len(name):]}")
    return ConfigError(f"{source}: {error}") if source else error


PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16", "auto")  # "auto": tfvae.performance.resolve_precision
NONFINITE_MODES = ("stop", "skip")
DRIVERS = ("fit", "loop")
STRATEGIES = ("none", "mirrored", "multi_worker")
ARCHITECTURES = ("mlp", "conv", "recurrent")


@dataclass
class ModelConfig:
    """Which model and which networks.

    Attributes:
      name: registered model name (``tfvae.registry.MODELS``).
      architecture: ``"mlp"``, ``"conv"`` or ``"recurrent"`` (sequence models) networks.
      latent_dim: size of z.
      hidden_units: dense widths of the encoder (the decoder mirrors them).
      filters: convolution channels per stride-2 stage (``conv`` only).
      activation: hidden activation.
      likelihood: registered likelihood (``bernoulli``, ``gaussian``, ``continuous_bernoulli``).
      likelihood_kwargs: extra likelihood arguments, e.g. ``{learn_scale = "global"}``.
      beta: weight of the rate term (VAE family).
      kl: ``"analytic"`` or ``"mc"`` (VAE family).
      num_samples: Monte-Carlo samples per example (VAE family).
      options: the model's own arguments, e.g. ``{corruption = "masking",
        noise_level = 0.3}`` for ``denoising_ae`` or ``{k = 25}`` for
        ``k_sparse_ae``; checked against what the model accepts.
      encoder: your own encoder network, ``"package.module:callable"``: the
        callable is called as ``callable(input_shape=..., output_shape=...)``
        and returns a Keras layer mapping ``[B, *input_shape]`` to
        ``[B, *output_shape]`` (``output_shape``: what the posterior head
        takes). It replaces the architecture's encoder; its module is imported
        (your code runs) only when a config names it. ``None``: the
        architecture's network.
      decoder: the same for the decoder (``input_shape = (latent_dim,)``,
        ``output_shape``: what the likelihood head takes).
    """

    name: str = "vae"
    architecture: str = "mlp"
    latent_dim: int = 16
    hidden_units: list[int] = field(default_factory=lambda: [512, 256])
    filters: list[int] = field(default_factory=lambda: [32, 64])
    activation: str = "relu"
    likelihood: str = "bernoulli"
    likelihood_kwargs: dict[str, Any] = field(default_factory=dict)
    beta: float | None = None
    kl: str | None = None
    num_samples: int | None = None
    options: dict[str, Any] = field(default_factory=dict)
    encoder: str | None = None
    decoder: str | None = None


#: ``package.module:callable`` (``model.encoder`` / ``model.decoder``)
NETWORK_SPEC = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


@dataclass
class DataConfig:
    """Where the data comes from and how it is prepared.

    Attributes:
      dataset: ``digits`` (embedded, offline), a tfds name, or ``idx:<dir>``.
      batch_size: examples per batch.
      binarize: ``None``, ``"dynamic"`` (fresh draw each epoch) or ``"static"``.
      dequantize: add uniform noise to 8-bit data.
      data_dir: tfds data directory (or manual directory).
      pad_to: zero-pad every image to ``pad_to x pad_to``, centred, with the
        background value 0 (``pad_to = 32`` turns the 28x28 digits into 32x32
        with 2 pixels on each side, for models whose image size must divide
        by 8 such as the VQ-VAE-2); the model is built for the padded shape.
        Image datasets only, at least the image size. ``None``: no padding.
      limit: use only the first ``limit`` examples of each split (train and
        test), e.g. ``--set data.limit=64`` for a smoke run. ``None``: all.
      image_size: ``[H, W]``: resize every image of an ``images:`` folder or
        of ``tfrecord:`` encoded images to it. ``None``: the first image's size.
      channels: 1 (grey) or 3 (RGB) for ``images:`` and ``tfrecord:`` encoded
        images. ``None``: from the first image.
      label_column: the column of integer class labels of a ``csv:`` table
        (left out of the features). ``None``: no labels.
      features: the feature spec of ``tfrecord:`` records, e.g.
        ``{x = "float32[8]", y = "int64"}`` or ``{x = "png", y = "int64:10"}``
        (grammar: :mod:`tfvae.data.sources.tfrecord`).
      test_fraction: the fraction of the examples drawn into ``test`` by a
        user source without a test split (``npy:``, ``npz:``, ``images:``,
        ``csv:``, ``tfrecord:``), in ``(0, 1)``.
      split_seed: the seed of that draw.
      standardize: subtract each feature's mean and divide by its standard
        deviation, both over the train split, in every split: real-valued
        data (a ``csv:`` table) for a Gaussian likelihood. ``tfvae train``
        records the statistics in the run's ``run.json``. It turns
        ``binarize`` / ``dequantize`` off (with a warning).

    The source options (``image_size`` to ``split_seed``) apply to the
    user's sources only; setting one that the dataset does not take is an
    error when the data is described or loaded.
    """

    dataset: str = "digits"
    batch_size: int = 100
    binarize: str | None = None
    dequantize: bool = False
    data_dir: str | None = None
    pad_to: int | None = None
    limit: int | None = None
    image_size: list[int] | None = None
    channels: int | None = None
    label_column: str | None = None
    features: dict[str, str] = field(default_factory=dict)
    test_fraction: float = 0.1
    split_seed: int = 0
    standardize: bool = False

    def __post_init__(self) -> None:
        """Check the source options' values (types are checked when a config is read).

        Raises:
          ConfigError: a value out of range, naming its key (``data.test_fraction: ...``).
        """
        size = self.image_size
        if size is not None and (not isinstance(size, (list, tuple)) or len(size) != 2
                                 or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in size)):
            raise ConfigError(f"data.image_size: must be [H, W], two sizes >= 1, or absent, got {size!r}")
        if self.channels is not None and (isinstance(self.channels, bool) or self.channels not in (1, 3)):
            raise ConfigError(f"data.channels: must be 1 (grey), 3 (RGB) or absent, got {self.channels!r}")
        if self.label_column is not None and (not isinstance(self.label_column, str) or not self.label_column.strip()):
            raise ConfigError(f"data.label_column: must be a column name or absent, got {self.label_column!r}")
        if not isinstance(self.features, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in self.features.items()):
            raise ConfigError(f'data.features: must be a table of feature name = "spec" strings, e.g. '
                              f'{{x = "float32[8]", y = "int64"}}, got {self.features!r}')
        fraction = self.test_fraction
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
            raise ConfigError(f"data.test_fraction: must be in (0, 1), got {fraction!r}")
        if isinstance(self.split_seed, bool) or not isinstance(self.split_seed, int) or self.split_seed < 0:
            raise ConfigError(f"data.split_seed: must be an integer >= 0, got {self.split_seed!r}")

    def source_options(self) -> dict[str, Any]:
        """The options that say which examples the dataset holds, for ``tfvae.data``.

        ``dataset_info(data.dataset, **data.source_options())`` describes the
        data as ``load_dataset(data.dataset, split, ..., **data.source_options())``
        yields it (padded shape, limited sizes). Always ``data_dir``,
        ``pad_to`` and ``limit``; the source options (``image_size``,
        ``channels``, ``label_column``, ``features``, ``test_fraction``,
        ``split_seed``) only when set to other than their defaults, so that a
        dataset that takes none of them is given none.
        """
        options: dict[str, Any] = {"data_dir": self.data_dir, "pad_to": self.pad_to, "limit": self.limit}
        defaults = {"image_size": None, "channels": None, "label_column": None, "features": {},
                    "test_fraction": 0.1, "split_seed": 0}
        for key, default in defaults.items():
            value = getattr(self, key)
            if value != default:
                options[key] = list(value) if key == "image_size" else dict(value) if key == "features" else value
        if self.standardize:
            options["standardize"] = True
        return options


@dataclass
class TrainConfig:
    """How training runs.

    Attributes:
      epochs: passes over the training split.
      learning_rate: Adam step size (of the model's first update: all its weights, for most families).
      learning_rates: update name -> step size, for models that train several parts by their own
        losses (:attr:`tfvae.models.GenerativeModel.updates`; FactorVAE: ``{discriminator = 1e-4}``).
        An update not named uses its declared default; a name the model has no update for is refused.
      driver: ``"fit"`` (Keras) or ``"loop"`` (the custom ``tf.function`` loop).
      strategy: ``"none"`` (one device), ``"mirrored"`` (every GPU of this
        machine) or ``"multi_worker"`` (several machines, from ``TF_CONFIG``;
        needs ``driver = "loop"``). See :mod:`tfvae.distribute`.
      precision: the Keras mixed-precision policy: ``float32``,
        ``mixed_float16``, ``mixed_bfloat16`` or ``"auto"``
        (``mixed_bfloat16`` on a GPU with compute capability >= 8.0 or a CPU
        with AVX512_BF16 / AMX, else ``float32``; see
        :func:`tfvae.performance.resolve_precision`). The run's
        ``summary.json`` records the policy it trained in.
      jit_compile: compile the step with XLA: ``true``, ``false`` or
        ``"auto"`` (on with a GPU/TPU, off on a CPU; see :mod:`tfvae.performance`).
      steps_per_execution: steps per ``tf.function`` call, or ``"auto"``
        (32 on every device).
      seed: seed of the model's initialisation and random draws, and of shuffling.
      checkpoint_every: save a checkpoint every this many epochs.
      keep_checkpoints: how many checkpoints to keep.
      on_nonfinite: what a step whose loss terms or gradients hold a NaN or
        an infinity does: ``"stop"`` (raise :class:`tfvae.models.base.NonFiniteError`
        naming the step and the term; the update is not applied and the last
        good checkpoint stays the newest) or ``"skip"`` (leave the weights and
        the optimizer as they were and go on; the epoch warns how many steps
        it skipped).
      pictures: draw the run's pictures: every epoch's in TensorBoard
        (``logs/images``) and the end ones (``reconstructions.png``,
        ``samples.png``, ...). ``false`` skips them (a second or more per
        epoch on a CPU); ``tfvae plot RUN`` draws them later from the checkpoint.
    """

    epochs: int = 20
    learning_rate: float = 1e-3
    learning_rates: dict[str, float] = field(default_factory=dict)
    driver: str = "fit"
    strategy: str = "none"
    precision: str = "float32"
    jit_compile: bool | str = "auto"
    steps_per_execution: int | str = "auto"
    seed: int = 0
    checkpoint_every: int = 1
    keep_checkpoints: int = 3
    on_nonfinite: str = "stop"
    pictures: bool = True


@dataclass
class ExperimentConfig:
    """One experiment: a name, its run kind and the model, data and train tables.

    ``kind`` is what runs (:mod:`tfvae.experiment.kinds`): ``"model"`` trains
    a model on a dataset, ``"prior"`` the prior over the codes of a VQ-VAE run
    (``tfvae train vq_prior --from RUN``).
    """

    name: str = "vae"
    kind: str = "model"
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExperimentConfig:
        config = _build(cls, data, "")
        config.validate()
        return config

    def validate(self) -> None:
        """Range and choice checks that types alone do not catch."""
        from tfvae.registry import ACTIVATIONS, LIKELIHOODS, MODELS, RUN_KINDS

        if (self.name.strip() != self.name or self.name in ("", ".", "..") or any(c in self.name for c in "/\\")
                or any(ord(c) < 32 or ord(c) == 127 for c in self.name)):
            raise ConfigError(f"name: must be a plain name (it names the run directory runs/<name>), got {self.name!r}")
        if self.kind not in RUN_KINDS:
            raise ConfigError(f"kind: must be one of {RUN_KINDS.names()}, got {self.kind!r}")
        checks = [
            ("model.name", self.model.name in MODELS, f"one of {MODELS.names()}"),
            ("model.architecture", self.model.architecture in ARCHITECTURES, f"one of {list(ARCHITECTURES)}"),
            ("model.likelihood", self.model.likelihood in LIKELIHOODS, f"one of {LIKELIHOODS.names()}"),
            ("model.latent_dim", self.model.latent_dim >= 1, ">= 1"),
            ("model.hidden_units", all(u >= 1 for u in self.model.hidden_units), "a list of widths >= 1"),
            ("model.filters", all(f >= 1 for f in self.model.filters), "a list of channel counts >= 1"),
            ("model.activation", self.model.activation in ACTIVATIONS, f"one of {list(ACTIVATIONS)}"),
            ("model.kl", self.model.kl in (None, "analytic", "mc"), "'analytic' or 'mc'"),
            ("model.num_samples", self.model.num_samples is None or self.model.num_samples >= 1, ">= 1"),
            ("model.beta", self.model.beta is None or self.model.beta >= 0, ">= 0"),
            ("model.encoder", self.model.encoder is None or NETWORK_SPEC.fullmatch(self.model.encoder),
             "'package.module:callable' (a function returning a Keras layer)"),
            ("model.decoder", self.model.decoder is None or NETWORK_SPEC.fullmatch(self.model.decoder),
             "'package.module:callable' (a function returning a Keras layer)"),
            ("data.batch_size", self.data.batch_size >= 1, ">= 1"),
            ("data.binarize", self.data.binarize in (None, "dynamic", "static"), "'dynamic', 'static' or absent"),
            ("data.pad_to", self.data.pad_to is None or self.data.pad_to >= 1, "an image size >= 1 or absent"),
            ("data.limit", self.data.limit is None or self.data.limit >= 1, "a number of examples >= 1 or absent"),
            ("train.epochs", self.train.epochs >= 1, ">= 1"),
            ("train.learning_rate", self.train.learning_rate > 0, "> 0"),
            ("train.learning_rates", all(isinstance(rate, (int, float)) and not isinstance(rate, bool)
                                         and math.isfinite(rate) and rate > 0
                                         for rate in self.train.learning_rates.values()),
             "a table of update names -> step sizes > 0 (e.g. {discriminator = 1e-4})"),
            ("train.driver", self.train.driver in DRIVERS, f"one of {list(DRIVERS)}"),
            ("train.strategy", self.train.strategy in STRATEGIES, f"one of {list(STRATEGIES)}"),
            ("train.precision", self.train.precision in PRECISIONS, f"one of {list(PRECISIONS)}"),
            ("train.jit_compile", isinstance(self.train.jit_compile, bool) or self.train.jit_compile == "auto",
             "true, false or 'auto'"),
            ("train.steps_per_execution", self.train.steps_per_execution == "auto"
             or not isinstance(self.train.steps_per_execution, str) and self.train.steps_per_execution >= 1,
             "'auto' or an integer >= 1"),
            ("train.checkpoint_every", self.train.checkpoint_every >= 1, ">= 1"),
            ("train.keep_checkpoints", self.train.keep_checkpoints >= 1, ">= 1"),
            ("train.seed", 0 <= self.train.seed < 2**32, "in [0, 2**32 - 1]"),
            ("train.on_nonfinite", self.train.on_nonfinite in NONFINITE_MODES, f"one of {list(NONFINITE_MODES)}"),
        ]
        for key, ok, expected in checks:
            if not ok:
                section, name = key.split(".")
                value = getattr(getattr(self, section), name)
                raise ConfigError(f"{key}: must be {expected}, got {value!r}")
        if self.data.dequantize and self.data.binarize is not None:
            raise ConfigError(
                f"data.dequantize: cannot be combined with data.binarize = {self.data.binarize!r} "
                "(dequantisation is for 8-bit grey levels; binarised pixels are 0/1): set one of them"
            )
        from tfvae.sizes import check_config  # no TensorFlow: sizes of 1e9 are answered before its import

        check_config(self)  # layers, parameters, samples and one step's memory within tfvae.sizes' limits
        if self.data.pad_to is not None:
            self._check_pad_to()
        if self.train.strategy == "multi_worker" and self.train.driver == "fit":
            raise ConfigError(
                "train.strategy: 'multi_worker' needs the custom loop, train.driver = 'loop' (--driver loop): "
                "Keras 3 fit does not work under MultiWorkerMirroredStrategy (keras-team/keras#20585)"
            )
        spe = self.train.steps_per_execution
        if self.train.strategy == "mirrored" and self.train.driver == "fit" and spe != "auto" and spe > 1:
            raise ConfigError(
                f"train.steps_per_execution: {spe} is not supported with train.strategy = 'mirrored' and "
                "train.driver = 'fit' (Keras' multi-step fit fails under a strategy): set it to 1 or 'auto', "
                "or use the custom loop, which runs several steps per call (--driver loop)"
            )
        if self.train.strategy != "none" and self.train.jit_compile is True:
            raise ConfigError(
                f"train.jit_compile: not supported with train.strategy = {self.train.strategy!r} "
                "(the cross-replica all-reduce cannot be compiled with XLA); set it to false (--no-jit)"
            )

    def _check_pad_to(self) -> None:
        """``data.pad_to`` must fit the dataset's images (checked when the dataset can be described here)."""
        from tfvae.data import dataset_info, image_padding

        try:
            info = dataset_info(self.data.dataset, **{**self.data.source_options(), "pad_to": None, "limit": None})
        except Exception:  # noqa: BLE001  (unknown or unavailable dataset: the loader says what is wrong)
            return
        try:
            image_padding(info.image_shape, self.data.pad_to, self.data.dataset)
        except ValueError as error:
            raise ConfigError(f"data.pad_to: {error}") from None


def _type_name(tp) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp``; ints are accepted as floats."""
    origin = typing.get_origin(tp)
    if isinstance(value, float) and not math.isfinite(value) and tp is not Any and origin is not dict:
        raise ConfigError(f"{key}: expected a finite number, got {value!r}")
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, key)
            except ConfigError:
                pass
        raise ConfigError(f"{key}: expected {' or '.join(_type_name(o) for o in options)}, got {value!r}")
    if origin is list:
        (item,) = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list of {_type_name(item)}, got {value!r}")
        return [_coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a table, got {value!r}")
        return dict(value)
    if tp is Any:
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is int and isinstance(value, bool) or not isinstance(value, tp):
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r} ({type(value).__name__})")
    return value


def _build(cls, data: Any, prefix: str):
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a table, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for key in data:
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(names)}"
            raise ConfigError(f"{prefix}{key}: unknown key{hint}")
    kwargs = {}
    for name in names:
        if name not in data:
            continue
        tp = hints[name]
        if dataclasses.is_dataclass(tp):
            kwargs[name] = _build(tp, data[name], f"{prefix}{name}.")
        else:
            kwargs[name] = _coerce(data[name], tp, f"{prefix}{name}")
    return cls(**kwargs)


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse ``table.key=value`` (value in TOML syntax; bare words are strings)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r}: expected table.key=value")
    key, raw = text.split("=", 1)
    path = key.strip().split(".")
    if not all(path):
        raise ConfigError(f"override {text!r}: bad key {key!r}")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    except RecursionError:
        raise ConfigError(f"override {text!r}: the value is nested too deeply") from None
    return path, value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with ``table.key=value`` overrides applied."""
    data = json.loads(json.dumps(data))
    for text in overrides:
        path, value = parse_override(text)
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {text!r}: {part} is not a table")
        node[path[-1]] = value
    return data


def load_config(
    path: str | Path, overrides: list[str] | None = None, labels: dict[str, str] | None = None
) -> ExperimentConfig:
    """Read a TOML config, apply overrides, validate.

    Args:
      path: the ``.toml`` file.
      overrides: ``table.key=value`` strings.
      labels: how the user wrote each overridden key (``{"train.epoch": "--set train.epoch"}``);
        an error about that key names it so instead of naming ``path``.
    """
    path = Path(path)
    if path.exists() and not path.is_file():
        raise ConfigError(f"{path}: not a config file (a TOML file is expected)")
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not a usable config: its tables or arrays are nested too deeply") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not valid TOML: the file is not UTF-8 text") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the config file: {error.strerror or error}") from None
    data.setdefault("name", path.stem)
    try:
        return ExperimentConfig.from_dict(apply_overrides(data, overrides or []))
    except ConfigError as error:
        raise _blame(error, str(path), overrides or [], labels) from None


def default_config(
    model_name: str, overrides: list[str] | None = None, labels: dict[str, str] | None = None
) -> ExperimentConfig:
    """The built-in config for a registered model name, with overrides (``labels`` as in :func:`load_config`)."""
    data = {"name": model_name, "model": {"name": model_name}}
    try:
        return ExperimentConfig.from_dict(apply_overrides(data, overrides or []))
    except ConfigError as error:
        raise _blame(error, None, overrides or [], labels) from None
