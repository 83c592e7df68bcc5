"""Config -> model: what the registered model class declares, and nothing else.

A reader follows the route in one hop: ``MODELS.get(config.model.name)`` is the
class, ``cls.architectures[config.model.architecture]`` names the generic
``[model]`` fields its builder ``cls.<architecture>`` takes and
``cls.config_options`` the ``model.options`` keys (see
:mod:`tfvae.models.contract`). A prior run builds its prior the same way: the
prior's class (``model.name``, e.g. ``"pixelcnn"``) declares its options and
the source run's model makes the prior over its codes (``make_prior``).
"""

from __future__ import annotations

from typing import Any

from tfvae.config import ConfigError, ModelConfig, TrainConfig
from tfvae.models.base import GenerativeModel
from tfvae.registry import MODELS
from tfvae.sizes import check_model

#: the generic ``[model]`` fields a builder takes when its family lists them in ``architectures``
GENERIC_FIELDS = ("latent_dim", "hidden_units", "activation", "filters", "encoder", "decoder")
#: the fields that name a user's network (``"package.module:callable"``), imported when a config names one
NETWORK_FIELDS = ("encoder", "decoder")


def import_network(spec: str, key: str):
    """The callable that ``spec`` (``"package.module:callable"``) names, imported now (the user's code runs).

    Args:
      spec: ``"package.module:callable"``; the module is found on ``sys.path``
        (the current directory included when tfvae runs as a command).
      key: the config key, for the messages (``"model.encoder"``).

    Raises:
      ConfigError: the module cannot be imported (its own error is named), or
        it has no such attribute, or the attribute is not callable.
    """
    import importlib
    import os
    import sys

    module_name, _, attribute = spec.partition(":")
    if "" not in sys.path and os.getcwd() not in sys.path:  # `tfvae` (a console script) does not put . on the path
        sys.path.append(os.getcwd())
    try:
        target = importlib.import_module(module_name)
    except Exception as error:  # noqa: BLE001  (the user's module: any error it raises is reported as the key's)
        raise ConfigError(f"{key}: cannot import {module_name!r} ({type(error).__name__}: {error})") from error
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ConfigError(f"{key}: module {module_name!r} has no {attribute!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ConfigError(f"{key}: {spec} is not callable (it must return a Keras layer)")
    return target
#: top-level ``[model]`` options a family takes when it lists them in ``config_options``
MODEL_OPTIONS = ("beta", "kl", "num_samples")


def build_model(config: ModelConfig, data_shape: tuple[int, ...], seed: int | None = None,
                num_classes: int | None = None) -> GenerativeModel:
    """Instantiate the registered model that ``config`` names, for data of ``data_shape``.

    The route is what the model class declares (:mod:`tfvae.models.contract`):
    ``cls.architectures[config.architecture]`` names the generic fields its
    builder ``cls.<architecture>`` takes, ``cls.config_options`` the
    ``model.options`` keys (and ``beta`` / ``kl`` / ``num_samples``); anything
    else that differs from its default is refused by name.

    Args:
      config: the ``[model]`` table.
      data_shape: shape of one example, e.g. ``(28, 28, 1)``.
      seed: the model's seed.
      num_classes: the dataset's number of classes, for conditional models
        (unless ``model.options.num_classes`` sets it).

    Raises:
      ConfigError: a field the model does not take, or a model above
        :mod:`tfvae.sizes`' limits (layers, parameters, one example's step),
        refused before anything is allocated.
    """
    check_model(config, data_shape)  # 1e9 units or 100,000 layers: one line, not an out-of-memory traceback
    cls = MODELS.get(config.name)
    fields = cls.architectures.get(config.architecture)
    if fields is None:
        available = ", ".join(sorted(cls.architectures)) or "none (it is not built from a config)"
        raise ConfigError(f"model.architecture: {config.architecture!r} is not available for model {config.name!r}; "
                          f"choose one of: {available}")
    kwargs: dict[str, Any] = {
        "data_shape": tuple(data_shape),
        "likelihood": config.likelihood,
        "likelihood_kwargs": dict(config.likelihood_kwargs),
        "seed": seed,
    }
    defaults = ModelConfig()
    for field in GENERIC_FIELDS:
        value = getattr(config, field)
        if field in fields:
            if field in NETWORK_FIELDS:
                if value is not None:
                    kwargs[field] = import_network(value, f"model.{field}")
                continue
            kwargs[field] = tuple(value) if isinstance(value, list) else value
        elif value != getattr(defaults, field):
            raise ConfigError(
                f"model.{field} does not apply to model {config.name!r} with architecture {config.architecture!r}"
                + ("; set it in model.options" if field in cls.config_options else "")
            )
    for option in MODEL_OPTIONS:
        value = getattr(config, option)
        if value is None:
            continue
        if option not in cls.config_options:
            raise ConfigError(f"model.{option} does not apply to model {config.name!r}")
        kwargs[option] = value
    options = dict(config.options)
    wanted = options.pop("conditional", False)
    if not isinstance(wanted, bool):
        raise ConfigError(f"model.options.conditional: expected true or false, got {wanted!r}")
    if cls.conditioning == "always" or wanted:
        if cls.conditioning == "none":
            raise ConfigError(f"model.options.conditional: model {config.name!r} takes no class conditioning")
        if num_classes is None and "num_classes" not in options:
            raise ConfigError(f"model {config.name!r} is conditional: the dataset has no labels to condition on")
        own = [f"model.{field}" for field in NETWORK_FIELDS if getattr(config, field) is not None]
        if own:
            raise ConfigError(f"{own[0]}: a conditional model's networks see the data with the label features "
                              "joined, so a network of your own is not offered")
        kwargs["num_classes"] = options.pop("num_classes", num_classes)
    for option, value in options.items():
        if option not in cls.config_options:
            raise ConfigError(
                f"model.options.{option}: not an option of model {config.name!r}; "
                f"it takes: {', '.join(sorted(cls.config_options)) or 'none'}"
            )
        kwargs[option] = value
    try:
        return getattr(cls, config.architecture)(**kwargs)
    except (ValueError, TypeError) as error:
        own = [f"model.{f} = {getattr(config, f)!r}" for f in NETWORK_FIELDS if getattr(config, f) is not None]
        where = f" (with {', '.join(own)})" if own else ""
        raise ConfigError(f"model{where}: {error}") from error


def build_prior(config: ModelConfig, model: GenerativeModel, seed: int | None = None):
    """The untrained prior that ``config`` describes over the codes of ``model`` (a VQ-VAE or VQ-VAE-2).

    ``config.name`` names the prior's class, whose ``config_options`` are the
    ``model.options`` it takes (for a PixelCNN: ``filters``, ``num_layers``,
    ``attention_every``, ``num_classes``, ...); ``model.make_prior`` builds it
    (one PixelCNN, or ``{"top", "bottom"}`` for a VQ-VAE-2).

    Raises:
      ConfigError: an option the prior does not take, or arguments its
        constructor refuses (the constructor's error is chained).
    """
    check_model(config, None)  # the PixelCNN's layers and parameters (its codes' shape is the model's)
    cls = MODELS.get(config.name)
    for option in config.options:
        if option not in cls.config_options:
            raise ConfigError(
                f"model.options.{option}: not an option of the {config.name} prior; "
                f"it takes: {', '.join(sorted(cls.config_options)) or 'none'}"
            )
    try:
        return model.make_prior(**{"seed": seed, **config.options})
    except (ValueError, TypeError) as error:
        raise ConfigError(f"model: {error}") from error


def run_learning_rates(model: GenerativeModel, train: TrainConfig) -> dict[str, float]:
    """Update name -> step size for a run of ``model``: ``train.learning_rate`` for its first update,
    ``train.learning_rates`` for any (the updates it does not name keep their declared defaults).

    ``model.compile(optimizer={}, learning_rates=...)`` makes each optimizer from its update's
    declaration (:class:`tfvae.models.contract.Update`) at that rate.

    Raises:
      ConfigError: ``train.learning_rates`` names an update the model does not have.
    """
    names = [update.name for update in model.updates]
    unknown = sorted(set(train.learning_rates) - set(names))
    if unknown:
        raise ConfigError(f"train.learning_rates: {type(model).__name__} has no update {unknown[0]!r} "
                          f"(its updates: {', '.join(names)})")
    return {names[0]: train.learning_rate, **train.learning_rates}
