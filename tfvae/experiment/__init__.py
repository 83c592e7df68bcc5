"""The experiment layer: config -> model, the run directory, checkpoints, training, run kinds.

=================  ===========================================================
``build``          config -> model (:func:`build_model`), and a prior's
                   (:func:`build_prior`), through what the model classes declare
``run_dir``        :class:`RunDirectory` (config, run record, history, summary)
``data``           :func:`run_data` (the run's data in a fixed order), :func:`run_dataset_info`
``load``           :func:`load_run`: a trained run's model, restored from its checkpoint
``checkpoint``     :class:`Checkpointer`, :func:`check_finite_weights`
``training``       :func:`train` a model run (resume, pictures, summary)
``save``           :func:`save_run`: a model trained in Python -> a run directory
``kinds``          the run kinds ``tfvae train`` runs (``RUN_KINDS``: ``model``, ``prior``)
``prior``          the prior run of a VQ-VAE (:func:`train_prior`, :func:`load_prior`; the
                   bound it reports is the metric :func:`tfvae.metrics.vq_bound`)
=================  ===========================================================

``import tfvae.experiment`` is cheap: the names below load their module on
first use (PEP 562), so ``from tfvae.experiment import train`` imports
TensorFlow but :mod:`tfvae.experiment.kinds` does not.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "build": ("build_model", "build_prior", "GENERIC_FIELDS", "MODEL_OPTIONS"),
    "run_dir": ("CONFIG_FILE", "HISTORY_FILE", "RECORD_FILE", "SUMMARY_FILE", "RunDirectory", "RunError"),
    "data": ("RunData", "RunDataMissingError", "run_data", "run_dataset_info"),
    "load": ("LoadedRun", "load_run", "run_shape"),
    "checkpoint": ("Checkpointer", "check_finite_weights"),
    "save": ("save_run",),
    "training": ("RunLogger", "RunResult", "train"),
    "kinds": ("ModelRun", "PriorRun", "RunKind", "run_kind"),
    "prior": ("PRIOR_DIR", "load_prior", "prior_directory", "prior_files", "save_prior", "train_prior"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [name for names in _EXPORTS.values() for name in names]


def __getattr__(name: str):
    """Import the submodule that defines ``name`` on first use (PEP 562)."""
    if name in _WHERE:
        return getattr(importlib.import_module(f"tfvae.experiment.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'tfvae.experiment' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
