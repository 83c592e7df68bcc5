"""Run kinds: what ``tfvae train`` can run, by the config's ``kind``.

``RUN_KINDS`` (:data:`tfvae.registry.RUN_KINDS`) maps a kind's name to a
:class:`RunKind`; ``tfvae train`` asks :func:`run_kind` for the config's
kind, lets it check the command line (:meth:`RunKind.check`) and runs it
(:meth:`RunKind.train`). Two kinds ship:

- ``"model"`` (the default): train a registered model into ``runs/<name>``
  (:func:`tfvae.experiment.training.train`);
- ``"prior"``: train the prior over the codes of a VQ-VAE run into
  ``RUN/prior`` (:func:`tfvae.experiment.prior.train_prior`;
  ``tfvae train vq_prior --from RUN``, ``training/vq_prior.toml``).

Both write a :class:`~tfvae.experiment.run_dir.RunDirectory`. This module
does not import TensorFlow, so the command line answers a wrong flag at once;
each kind imports its trainer when it runs.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from tfvae.config import ConfigError, ExperimentConfig
from tfvae.registry import RUN_KINDS


class RunKind:
    """One kind of run: the checks of its command line and the function that trains it.

    Attributes:
      name: the config's ``kind``.
      models: the ``model.name`` values this kind trains (empty: any
        registered model that is built from a config).
    """

    name: str = ""
    models: tuple[str, ...] = ()

    def check(self, config: ExperimentConfig, from_run: str | Path | None = None, resume: bool = False) -> None:
        """Raise :class:`~tfvae.config.ConfigError` for a command line this kind cannot run."""

    def train(self, config: ExperimentConfig, out: str | Path | None = None, resume: bool = False,
              from_run: str | Path | None = None, verbose: int = 1, changed=None) -> Any:
        """Train ``config``; returns what the kind's trainer returns.

        ``changed``: the dotted keys the command line set (``--set``, flags), for a resume.
        """
        raise NotImplementedError


@RUN_KINDS.register("model")
class ModelRun(RunKind):
    """A registered model trained on a dataset (:func:`tfvae.experiment.training.train`)."""

    name = "model"

    def check(self, config, from_run=None, resume=False):
        if from_run:
            raise ConfigError(f"--from applies to priors (vq_prior), not to model {config.model.name!r}")

    def train(self, config, out=None, resume=False, from_run=None, verbose=1, changed=None):
        from tfvae.experiment.training import train

        return train(config, out=out, resume=resume, verbose=verbose, changed=changed)


@RUN_KINDS.register("prior")
class PriorRun(RunKind):
    """The prior over the codes of a VQ-VAE run (:func:`tfvae.experiment.prior.train_prior`)."""

    name = "prior"
    models = ("pixelcnn",)

    def check(self, config, from_run=None, resume=False):
        if config.model.name not in self.models:
            raise ConfigError(f"model.name: a prior run trains one of {', '.join(self.models)}, "
                              f"not {config.model.name!r}")
        if not from_run:
            raise ConfigError("a PixelCNN prior trains on the codes of a VQ-VAE run: pass --from RUN")
        if resume:
            raise ConfigError("--resume does not apply to vq_prior (train it again into another --out)")
        if config.train.strategy != "none":
            raise ConfigError("--strategy does not apply to vq_prior: its prior trains on one device")

    def train(self, config, out=None, resume=False, from_run=None, verbose=1, changed=None):
        from tfvae.experiment.prior import train_prior

        return train_prior(config, from_run, out=out, verbose=verbose)


def run_kind(config: ExperimentConfig) -> RunKind:
    """The :class:`RunKind` that trains ``config`` (``config.kind``).

    A config that names a prior's model (``model.name = "pixelcnn"``) without
    ``kind = "prior"`` (how prior configs were written before run kinds) is
    still run as a prior, with a ``FutureWarning``.
    """
    kind = RUN_KINDS.get(config.kind)()
    if config.kind == "model":
        for name in RUN_KINDS.names():
            other = RUN_KINDS.get(name)()
            if config.model.name in other.models:
                warnings.warn(
                    f"model.name = {config.model.name!r} without kind = {other.name!r} is deprecated: add "
                    f"kind = {other.name!r} at the top of the config (as training/vq_prior.toml does)",
                    FutureWarning,
                    stacklevel=2,
                )
                config.kind = other.name
                return other
    return kind
