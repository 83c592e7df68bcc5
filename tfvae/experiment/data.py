"""The run's data, read back: what it trained on, prepared the same way every time.

:func:`run_data` is the one way the run's data is read back in a fixed order
(evaluation, pictures, plots, the codes a prior learns): the data the run
trained on, prepared the same way every time (a binarised run: one fixed
Bernoulli draw per example; a dequantised run: noise from ``seed``).
:func:`run_dataset_info` describes it, and says in one line when the data is
no longer on this machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tfvae.config import ConfigError, ExperimentConfig
from tfvae.experiment.run_dir import RunError

__all__ = ["RunData", "RunDataMissingError", "run_data", "run_dataset_info"]


class RunDataMissingError(RunError):
    """The run's data is needed (evaluation, pictures, a prior's codes) and is not on this machine."""


def run_dataset_info(config: ExperimentConfig):
    """``tfvae.data.dataset_info`` of the run's dataset.

    Raises:
      ConfigError: an unknown dataset name.
      RunDataMissingError: the dataset's files are not here (moved, deleted,
        not installed): the message names them and says what works without.
    """
    from tfvae.data import DatasetUnavailableError, dataset_info

    data = config.data
    try:
        return dataset_info(data.dataset, **data.source_options())
    except (FileNotFoundError, DatasetUnavailableError) as error:
        raise RunDataMissingError(
            f"this needs the data the run trained on ({data.dataset!r}), which is not available: "
            f"{' '.join(str(error).split())} -- put it back where it was (tfvae export and tfvae sample work "
            "without it)"
        ) from error
    except ValueError as error:
        raise ConfigError(f"data.dataset: {error}") from error


@dataclass
class RunData:
    """A split of the run's data in a fixed order (see :func:`run_data`).

    Attributes:
      dataset: batches of ``x``, or of ``(x, labels)`` when ``has_labels``.
      has_labels: whether the batches carry labels.
      num_examples: the split's size, when the dataset knows it.
      description: one line: dataset, split, preparation and seed.
    """

    dataset: Any
    has_labels: bool
    num_examples: int | None
    description: str

    def arrays(self, limit: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """The first ``limit`` examples (all by default) as ``(x, labels)``; ``labels`` is None without labels."""
        xs, ys, seen = [], [], 0
        for batch in self.dataset:
            x, y = batch if self.has_labels else (batch, None)
            xs.append(np.asarray(x))
            if y is not None:
                ys.append(np.asarray(y))
            seen += len(xs[-1])
            if limit is not None and seen >= limit:
                break
        if not xs:
            raise RunError(f"{self.description}: no examples")
        x = np.concatenate(xs)[:limit]
        return x, (np.concatenate(ys)[:limit] if self.has_labels else None)


def run_data(config: ExperimentConfig, split: str, batch_size: int = 500, *, seed: int = 0,
             with_labels: bool | None = None) -> RunData:
    """The run's data, split ``split``, in a fixed order, prepared as the run prepares it.

    The same examples every time: a binarised run (dynamic or static) gets a
    *static* binarisation (one fixed Bernoulli draw per example keyed on
    ``(seed, index)``); a dequantised run gets uniform noise from ``seed``;
    otherwise the values as loaded. Padding and limits are the run's
    (``data.source_options()``).

    Args:
      config: the run's experiment config.
      split: dataset split.
      batch_size: examples per batch.
      seed: seed of the static binarisation / dequantisation noise.
      with_labels: ``True``: batches of ``(x, labels)`` (a :class:`ConfigError`
        if the dataset has none); ``False``: batches of ``x``; ``None``: labels
        when the dataset has them.

    Raises:
      ConfigError: unknown dataset, or labels asked of a dataset without.
      RunError: the split cannot be loaded (the cause is chained).
    """
    from tfvae.data import load_dataset

    data = config.data
    info = run_dataset_info(config)
    if with_labels and not info.has_labels:
        raise ConfigError(f"data.dataset: {data.dataset!r} has no labels")
    labels = info.has_labels if with_labels is None else with_labels
    binarize = "static" if data.binarize else None
    try:
        dataset = load_dataset(data.dataset, split, batch_size, shuffle=False, seed=seed, binarize=binarize,
                               dequantize=data.dequantize, with_labels=labels, cache=False, **data.source_options())
    except ValueError as error:
        raise RunError(f"the {split!r} split of {data.dataset!r} cannot be loaded: {error}") from error
    how = "static binarization" if binarize else ("uniform dequantization" if data.dequantize else "values as loaded")
    return RunData(dataset, labels, info.num_examples.get(split), f"{data.dataset} {split}, {how} (seed {seed})")
