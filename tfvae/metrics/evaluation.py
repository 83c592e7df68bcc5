"""Evaluate a model over a whole data set: every metric of :mod:`tfvae.metrics` at once.

:func:`evaluate_model` walks the batches once and, per example, computes
what the model can give (each item it cannot is listed in ``skipped`` with
the reason):

* models with a likelihood bound (``model.capabilities.likelihood_bound``:
  the VAE family): ``elbo``, ``distortion``, ``rate`` (the model's own
  estimator), the IWAE ``iwae_nll`` with its Monte-Carlo standard error and
  effective sample size, the KL per latent dimension;
* models without one (the autoencoder family, and a model that samples its
  prior without a bound): their own per-example terms
  (``model.per_example_terms``: ``distortion`` and any penalty such as
  ``sparsity`` or ``contraction``), at evaluation (no corruption); ``skipped``
  says why the bound is not reported;
* every model: reconstruction ``mse``, ``bce`` (data in [0, 1] only) and
  ``reconstruction_nll`` (``-log p(x | z = E[q(z|x)])`` over every data
  dimension), and the active units;
* models of masked data (``model.capabilities.masked_data``: zeros are
  unobserved ratings) instead: ``masked_mse`` and ``masked_rmse`` over the
  OBSERVED entries only, the names and the average of the model's training
  terms. The average is per observed entry over the whole set,
  ``sum of squared errors / number of observed entries`` (not a mean of
  per-example or per-batch ratios), so it does not depend on the batching
  and equals the epoch value of training's ``masked_mse`` on the same data.
  Nothing is averaged over unobserved entries: ``mse``, ``bce``,
  ``reconstruction_nll`` and the model's own per-example terms are skipped;
  ``observed`` (observed entries per example) is reported as a mean.

Two standard errors, which answer different questions:

* ``sem``: the standard error of the mean over examples, ``sd / sqrt(N)``.
  It says how much the reported mean would move on another test set of the
  same size; use it to compare models on the same data loosely.
* ``masked_mse`` / ``masked_rmse`` (a ratio of two sums over examples):
  the delta-method standard error of the ratio, ``sqrt(sum_i (s_i - m n_i)^2
  / (N (N - 1))) / mean(n)`` with ``s_i`` example i's squared error over its
  ``n_i`` observed entries and ``m`` the masked MSE; ``/ (2 sqrt(m))`` for
  the RMSE.
* ``mc_stderr`` (IWAE only): the Monte-Carlo error of the estimate on *these*
  examples, ``sqrt(sum_i se_i^2) / N`` from the per-example jackknife
  errors (:func:`tfvae.metrics.iwae_from_log_weights`): the spread of the
  mean over seeds. It says whether ``k`` was large enough; it is usually far
  smaller than ``sem``.

Every random draw comes from the ``seed`` argument, never from the model's
seed generator (whose state evaluation leaves as it was): batch ``i`` has the
seed ``b_i = [seed, i]`` (for an int ``seed``); the IWAE codes come from
``b_i`` itself, the ELBO's (and any stochastic own terms') from
``fold_seed(b_i, 1)``. The same ``seed`` gives the same numbers.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from tfvae.data.pipeline import in_memory_batches
from tfvae.metrics.capabilities import ModelCapabilityError
from tfvae.metrics.latent import (
    ACTIVE_UNIT_THRESHOLD,
    ActiveUnits,
    active_units,
    kl_per_dimension,
    posterior_means,
)
from tfvae.metrics.likelihood import (
    bits_per_dim,
    elbo_terms,
    iwae_log_likelihood,
    reconstruction_errors,
)
from tfvae.models.autoencoders.ratings_ae import observed_squared_error
from tfvae.models.catalogue import BOUND_METRICS, RECONSTRUCTION_METRICS, catalogue_of
from tfvae.progress import Progbar
from tfvae.random import as_seed, fold_seed

__all__ = ["Evaluation", "evaluate_model"]

# Per-example quantities reported as mean and standard error, in table order.
_TERMS = {
    "elbo": "ELBO (nats)",
    "distortion": "distortion (nats)",
    "rate": "rate (nats)",
    "iwae_nll": "IWAE NLL (nats)",
    "mse": "reconstruction MSE (per dim)",
    "bce": "reconstruction BCE (nats)",
    "reconstruction_nll": "-log p(x | E[q(z|x)]) (nats)",
    "masked_mse": "masked MSE (per observed entry)",
    "masked_rmse": "masked RMSE (per observed entry)",
    "observed": "observed entries per example",
}
_IWAE_DETAILS = ("iwae_mc_stderr", "iwae_ess")
# Masked data: per example, the squared error summed over its observed entries and their number;
# reported pooled, as masked_mse / masked_rmse, not as per-example means (``observed`` is also
# reported per example, as the model's training term of that name).
_MASKED_PARTS = ("squared_error", "observed")
_MASKED_TERMS = ("masked_mse", "masked_rmse")
_MASKED_AVERAGE = "per observed entry: sum of squared errors / number of observed entries"


def _masked_errors(model, x) -> dict[str, tf.Tensor]:
    """Per example: the squared error of the mean reconstruction over the observed (non-zero) entries, their count."""
    squared_error, observed = observed_squared_error(x, model.reconstruct(x))
    return {"squared_error": squared_error, "observed": observed}


def _own_terms(model, data, seed: tf.Tensor) -> dict:
    """The model's own per-example terms at evaluation (``per_example_terms``), their draws from ``seed``.

    Every family's ``per_example_terms`` takes ``seed=``: those whose terms are
    random (the VAE family, TD-VAE) draw from it, the others ignore it.
    """
    return dict(model.per_example_terms(data, training=False, seed=seed))


def _batch_seed(seed, index: int) -> tf.Tensor:
    """Batch ``index``'s stateless seed: ``[seed, index]`` for an int ``seed``, else ``fold_seed(seed, index)``.

    Args:
      seed: an int, or a length-2 int seed (a ``None`` seed is resolved once,
        before the first batch, to a fresh pair).
      index: the batch's position.
    """
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)):
        return as_seed(seed, index=index)
    return fold_seed(as_seed(seed), index)


@dataclass
class Evaluation:
    """The per-example values and the summaries of one evaluation.

    Attributes:
      per_example: ``{name: [N] array}``: ``elbo``, ``distortion``, ``rate``,
        ``iwae_nll``, ``iwae_mc_stderr``, ``iwae_ess``, ``mse``, ``bce``,
        ``reconstruction_nll`` (those the model can give); for masked data
        ``squared_error`` and ``observed`` (summed over each example's
        observed entries), reported pooled as ``masked_mse`` / ``masked_rmse``.
      latent_means: ``[N, latent_dim]`` posterior means.
      active: the :class:`ActiveUnits`.
      kl_per_dim: mean KL per latent dimension, or ``None``.
      iwae_k, chunk_size: the IWAE settings (``iwae_k`` ``None`` when skipped).
      bits_per_dim: ``{"value", "convention", "from", "note"}`` or ``None``.
      skipped: ``{metric: why}`` for what this model cannot give.
      seconds: wall time.
    """

    per_example: dict[str, np.ndarray]
    latent_means: np.ndarray | None
    active: ActiveUnits | None
    kl_per_dim: np.ndarray | None
    iwae_k: int | None
    chunk_size: int
    bits_per_dim: dict | None
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def num_examples(self) -> int:
        return int(len(next(iter(self.per_example.values()))))

    @property
    def masked(self) -> bool:
        """Masked data: ``masked_mse`` / ``masked_rmse`` over observed entries replace the per-dimension errors."""
        return all(name in self.per_example for name in _MASKED_PARTS)

    def _masked(self) -> dict[str, tuple[float, float]]:
        """``{masked_mse, masked_rmse: (value, standard error)}``, pooled over every observed entry."""
        errors, counts = self.per_example["squared_error"], self.per_example["observed"]
        total = float(np.sum(counts))
        mse = float(np.sum(errors) / total) if total > 0 else float("nan")
        n = len(counts)
        if n > 1 and total > 0:
            se = float(np.sqrt(np.sum((errors - mse * counts) ** 2) / (n * (n - 1))) / np.mean(counts))
        else:
            se = float("nan")
        rmse = math.sqrt(mse) if mse == mse else float("nan")
        return {"masked_mse": (mse, se), "masked_rmse": (rmse, se / (2 * rmse) if rmse > 0 else float("nan"))}

    def mean(self, name: str) -> float:
        if name in _MASKED_TERMS and self.masked:
            return self._masked()[name][0]
        return float(np.mean(self.per_example[name]))

    def sem(self, name: str) -> float:
        if name in _MASKED_TERMS and self.masked:
            return self._masked()[name][1]
        values = self.per_example[name]
        return float(np.std(values, ddof=1) / math.sqrt(len(values))) if len(values) > 1 else float("nan")

    def term_names(self) -> list[str]:
        """The quantities reported with mean and standard error, in table order."""
        present = set(self.per_example) | (set(_MASKED_TERMS) if self.masked else set())
        hidden = set(_TERMS) | set(_IWAE_DETAILS) | ({"squared_error"} if self.masked else set())
        return [n for n in _TERMS if n in present] + sorted(present - hidden)

    def summary(self) -> dict:
        """A JSON-ready dict (the body of ``metrics.json``)."""
        out: dict = {"num_examples": self.num_examples}
        for name in self.term_names():
            out[name] = {"mean": self.mean(name), "sem": self.sem(name)}
        if "iwae_nll" in self.per_example:
            se = self.per_example["iwae_mc_stderr"]
            ess = self.per_example["iwae_ess"]
            out["iwae_nll"].update(
                k=self.iwae_k,
                chunk_size=self.chunk_size,
                mc_stderr=float(np.sqrt(np.sum(se**2)) / len(se)),
                ess_median=float(np.median(ess)),
                ess_min=float(np.min(ess)),
            )
        if self.masked:
            observed = int(round(float(np.sum(self.per_example["observed"]))))
            for name in _MASKED_TERMS:
                out[name].update(observed_entries=observed, average=_MASKED_AVERAGE)
        out["bits_per_dim"] = self.bits_per_dim
        out["active_units"] = None if self.active is None else {
            "count": self.active.count,
            "latent_dim": int(self.latent_means.shape[1]),
            "threshold": self.active.threshold,
            "variance": [round(float(v), 6) for v in self.active.variance],
        }
        out["kl_per_dim"] = None if self.kl_per_dim is None else [round(float(v), 6) for v in self.kl_per_dim]
        out["skipped"] = dict(self.skipped)
        out["seconds"] = round(self.seconds, 2)
        return out

    def table(self) -> str:
        """A plain-text table of the summary."""
        rows = [("metric", "mean", "± s.e.")]
        for name in self.term_names():
            label = f"IWAE NLL, k={self.iwae_k} (nats)" if name == "iwae_nll" else _TERMS.get(name, name)
            rows.append((label, f"{self.mean(name):.3f}", f"{self.sem(name):.3f}"))
        if "iwae_nll" in self.per_example:
            summary = self.summary()["iwae_nll"]
            rows.append(("IWAE Monte-Carlo s.e. (nats)", f"{summary['mc_stderr']:.4f}", ""))
            rows.append(("IWAE effective samples (median)", f"{summary['ess_median']:.1f}", ""))
        if self.bits_per_dim is not None:
            rows.append((f"bits/dim ({self.bits_per_dim['convention']})", f"{self.bits_per_dim['value']:.4f}", ""))
        if self.active is not None:
            rows.append(("active units", f"{self.active.count} / {self.latent_means.shape[1]}", ""))
        if self.kl_per_dim is not None:
            top = np.sort(self.kl_per_dim)[::-1][:4]
            rows.append(("largest KL per dim (nats)", ", ".join(f"{v:.2f}" for v in top), ""))
        width = max(len(r[0]) for r in rows)
        lines = [f"{a:<{width}}  {b:>12}  {c:>8}".rstrip() for a, b, c in rows]
        lines.insert(1, "-" * len(lines[0]))
        lines += [f"skipped {name}: {why}" for name, why in self.skipped.items()]
        return "\n".join(lines)


def _batches(data, batch_size: int):
    if isinstance(data, tf.data.Dataset):
        return data
    return in_memory_batches(data, batch_size)


def _images(batch):
    x, _, _ = keras.utils.unpack_x_y_sample_weight(batch)
    return x


def _labels(batch, model):
    """The labels of a batch for a conditional model, or a clear error when the data has none."""
    _, y, _ = keras.utils.unpack_x_y_sample_weight(batch)
    if y is None:
        raise ModelCapabilityError(f"{type(model).__name__} is conditional: evaluate it on (x, y) batches "
                                   "(load_dataset(..., with_labels=True))")
    return y


def evaluate_model(
    model,
    data,
    *,
    iwae_k: int | None = 5000,
    chunk_size: int = 500,
    elbo_samples: int | None = None,
    seed=0,
    batch_size: int = 100,
    max_examples: int | None = None,
    bits_per_dim_convention: str | None = None,
    bits_per_dim_note: str = "",
    num_levels: int = 256,
    active_threshold: float = ACTIVE_UNIT_THRESHOLD,
    total: int | None = None,
    verbose: int = 1,
) -> Evaluation:
    """Every metric the model can give, over a data set.

    Args:
      model: any model of the Autoencoder contract.
      data: a ``tf.data.Dataset`` of batches ``x`` or ``(x, y)`` (iterated
        once, in order), or an array split into ``batch_size`` batches.
      iwae_k: importance samples per example; ``None`` skips the IWAE estimate.
      chunk_size: IWAE samples decoded at a time.
      elbo_samples: Monte-Carlo samples of the ELBO's distortion (default: the model's).
      seed: seed of every draw: an int (batch ``i`` has ``b_i = [seed, i]``;
        the IWAE codes come from ``b_i``, the ELBO's from ``fold_seed(b_i, 1)``),
        a length-2 int seed (``b_i = fold_seed(seed, i)``), or ``None`` (a
        fresh seed). The model's seed generator is never used or moved.
      batch_size: batch size when ``data`` is an array.
      max_examples: stop after this many examples.
      bits_per_dim_convention: ``"discrete"``, ``"dequantized"`` or ``None``
        (no bits/dim); see :func:`tfvae.metrics.bits_per_dim_convention`.
      bits_per_dim_note: why that convention applies (stored with the value).
      num_levels: quantisation levels for the ``"dequantized"`` convention.
      active_threshold: the active-unit threshold.
      total: number of examples, for the progress bar (known to the caller).
      verbose: 0 silent, 1 a progress bar over examples.

    Returns:
      An :class:`Evaluation`.

    References:
      Burda, Y., Grosse, R. & Salakhutdinov, R. (2016). Importance Weighted
      Autoencoders. ICLR.

    What is computed is the model's catalogue (:func:`tfvae.models.catalogue.catalogue`,
    from ``model.capabilities``): the ELBO, the IWAE estimate and the KL per
    dimension only for a model that declares a likelihood bound
    (``capabilities.likelihood_bound``; one that only samples its prior is not
    scored by a bound it does not have: its own terms are reported, and
    ``skipped`` says why); a conditional model (CVAE) is evaluated on
    ``(x, y)`` batches through its own per-example terms (ELBO, distortion,
    rate) and its posterior means given the labels, without the IWAE estimate
    and the unconditional reconstruction metrics; a model without a
    per-example encoder and decoder (TD-VAE) reports its own per-example terms
    only.

    Raises:
      ModelCapabilityError: a conditional model given data without labels.
    """
    started = time.perf_counter()
    offer = catalogue_of(model)
    bound = all(name in offer.metrics for name in BOUND_METRICS)
    masked = "masked_mse" in offer.metrics
    own_terms_only = not any(name in offer.metrics for name in ("masked_mse", *RECONSTRUCTION_METRICS))
    conditional = bool(model.capabilities.conditional)  # how the batches are fed: with their labels
    skipped: dict[str, str] = dict(offer.skipped_metrics)
    if bound and iwae_k is None:
        skipped["iwae_nll"] = "not asked for (iwae_k=None)"
    if max_examples is not None:
        total = max_examples if total is None else min(total, max_examples)
    bar = Progbar(total, unit_name="example") if verbose else None  # capped at total
    seed = as_seed(None) if seed is None else seed  # fresh, moving no model's stream: one draw for the whole run
    columns: dict[str, list[np.ndarray]] = {}
    means, kl_dims = [], []
    seen = 0
    for index, batch in enumerate(_batches(data, batch_size)):
        x = _images(batch)
        if max_examples is not None:
            if seen >= max_examples:
                break
            x = x[: max_examples - seen]
        values: dict[str, tf.Tensor | np.ndarray] = {}
        batch_seed = _batch_seed(seed, index)
        draws = fold_seed(batch_seed, 1)  # the ELBO's and the own terms' draws; the IWAE's come from batch_seed
        if own_terms_only:
            if conditional:
                y = _labels(batch, model)[: len(x)]
                terms = _own_terms(model, (x, y), draws)
                means.append(model.embed(x, condition=y).numpy())
            else:
                terms = _own_terms(model, model.unpack_data(x), draws)
            for name, value in terms.items():
                if value.shape.rank == 1:  # per example (not per-dimension extras)
                    columns.setdefault(name, []).append(np.asarray(value, dtype=np.float64))
            seen += len(x)
            if bar is not None:
                bar.update(seen)
            continue
        if masked:
            values.update(_masked_errors(model, x))
        else:
            recon = reconstruction_errors(model, x)
            values.update(mse=recon["mse"], reconstruction_nll=recon["nll"])
        if "bce" not in skipped:
            if float(tf.reduce_min(x)) >= 0.0 and float(tf.reduce_max(x)) <= 1.0:
                values["bce"] = recon["bce"]
            else:
                skipped["bce"] = "the data is not in [0, 1]"
                columns.pop("bce", None)
        if bound:
            values.update(elbo_terms(model, x, elbo_samples, seed=draws))
            if iwae_k is not None:
                estimate = iwae_log_likelihood(model, x, iwae_k, chunk_size, seed=batch_seed)
                values.update(iwae_nll=estimate.nll, iwae_mc_stderr=estimate.mc_stderr,
                              iwae_ess=estimate.effective_sample_size)
            if "kl_per_dim" not in skipped:
                try:
                    kl_dims.append(kl_per_dimension(model, x).numpy())
                except ModelCapabilityError as error:
                    skipped["kl_per_dim"] = str(error)
        elif "own_terms" in offer.metrics:
            values.update(_own_terms(model, model.unpack_data(x), draws))
        for name, value in values.items():
            columns.setdefault(name, []).append(np.asarray(value, dtype=np.float64))
        means.append(posterior_means(model, x).numpy())
        seen += int(means[-1].shape[0])
        if bar is not None:
            bar.update(seen)
    if not seen:
        raise ValueError("the data yielded no examples")
    if bar is not None and (total is None or seen < total):  # not ended by reaching its total
        bar.finish(seen)
    per_example = {name: np.concatenate(parts) for name, parts in columns.items()}
    latent_means = np.concatenate(means) if means else None
    bpd = None
    if bits_per_dim_convention is not None and "iwae_nll" in per_example:
        num_dims = int(np.prod(model.data_shape))
        value = bits_per_dim(per_example["iwae_nll"].mean(), num_dims, bits_per_dim_convention, num_levels)
        bpd = {"value": float(value), "convention": bits_per_dim_convention, "from": "iwae_nll",
               "note": bits_per_dim_note}
    elif "iwae_nll" in per_example:
        skipped["bits_per_dim"] = bits_per_dim_note or "no bits/dim convention given"
    return Evaluation(
        per_example=per_example,
        latent_means=latent_means,
        active=None if latent_means is None else active_units(latent_means, active_threshold),
        kl_per_dim=np.concatenate(kl_dims).mean(axis=0) if kl_dims and "kl_per_dim" not in skipped else None,
        iwae_k=int(iwae_k) if bound and iwae_k is not None else None,
        chunk_size=int(chunk_size),
        bits_per_dim=bpd,
        skipped=skipped,
        seconds=time.perf_counter() - started,
    )
