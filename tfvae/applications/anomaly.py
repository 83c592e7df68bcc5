"""Anomaly detection with any autoencoder: scores, a threshold at a false-positive rate, AUROC.

The anomaly score of an example is what the model finds hard to explain:
the negative ELBO (nats) for models that declare a likelihood bound
(``model.capabilities.likelihood_bound``: the VAE family), else the
distortion ``-log p(x | f(x))`` (reconstruction error): a model that can
sample its prior but has no bound is not scored by one. Fit a threshold
on normal data at a chosen false-positive rate; examples scoring above it
are flagged.

Scores of the VAE family are Monte-Carlo estimates. They are deterministic
for a given ``seed`` (row ``i`` draws from the stateless seed ``(seed, i)``;
the model's own seed generator is never touched), so a threshold fitted on
one call applies to the next. Their noise falls with ``num_samples`` (the
``-ELBO`` averaged over L draws: variance / L) or, with ``iwae_k``, the
importance-weighted ``-log p_k(x)`` (Burda et al. 2016), a tighter bound whose
noise also falls with ``k``.

Example::

    detector = AnomalyDetector.fit(model, normal_validation, false_positive_rate=0.05)
    flags = detector.predict(x)                        # bool [N]
    auroc(anomaly_scores(model, normal_test), anomaly_scores(model, odd_test))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from tfvae.functions import traced_method
from tfvae.metrics.likelihood import log_importance_weights
from tfvae.models.autoencoders.autoencoder import Autoencoder
from tfvae.models.catalogue import no_bound_reason
from tfvae.models.variational.iwae import iwae_bound
from tfvae.validation import check_int


def row_seeds(seed: int, start: int, count: int) -> np.ndarray:
    """The stateless seeds ``(seed, i)`` of rows ``start .. start + count - 1``, int64 ``[count, 2]``."""
    rows = np.arange(start, start + count, dtype=np.int64)
    return np.stack([np.full_like(rows, int(seed)), rows], axis=1)


def _row_scorer(model, num_samples: int | None, iwae_k: int | None):
    """``score(x, seeds) -> [B]``: each row scored alone from its own seed (traced once per model and setting)."""

    def score(m, x, seeds):
        def row(args):
            x, seed = args
            if iwae_k is not None:
                z = m.posterior.sample(m.encode(x[tf.newaxis]), iwae_k, seed)  # [k, 1, D]
                return -iwae_bound(log_importance_weights(m, x[tf.newaxis], z)[:, 0])
            if num_samples is None:  # the exported ``score`` signature's row, exactly
                return m.score_row(x, seed)["score"]
            return -m.elbo(x[tf.newaxis], num_samples=num_samples, seed=seed)["elbo"][0]

        return tf.map_fn(row, (x, seeds), fn_output_signature=tf.float32)

    return traced_method(model, ("anomaly_scores", num_samples, iwae_k), score, reduce_retracing=True)


def anomaly_scores(model: Autoencoder, x, batch_size: int = 256, *, seed: int = 0,
                   num_samples: int | None = None, iwae_k: int | None = None) -> np.ndarray:
    """Per-example anomaly scores: ``-elbo`` when the model declares a likelihood bound, else the distortion.

    Models with a likelihood bound (``model.capabilities.likelihood_bound``): row ``i`` of ``x``
    is scored alone with draws from the stateless seed ``(seed, i)``, so the
    same ``x`` and ``seed`` give the same scores at any ``batch_size``, and the
    model's seed generator does not move. With the defaults the score is the
    exported ``score`` signature's: feed it ``seed[i] = [seed, i]``.

    * default: ``-ELBO`` with the model's ``num_samples`` draws;
    * ``num_samples=L``: ``-ELBO`` averaged over ``L`` draws (its Monte-Carlo
      variance divided by ``L``, the same expectation);
    * ``iwae_k=k``: the IWAE estimate ``-log p_k(x) = -log mean_i w_i`` with
      ``k`` importance samples, ``w_i = p(x, z_i) / q(z_i | x)``: a bound
      between ``-ELBO`` (``k = 1``) and ``-log p(x)`` that tightens, and whose
      noise falls, as ``k`` grows.

    Other autoencoders (a model that samples its prior without a bound
    among them): their own ``distortion`` term, ``seed`` unused.

    Args:
      model: a trained, unconditional autoencoder.
      x: data ``[N, *data_shape]`` (array or tensor).
      batch_size: examples per forward pass.
      seed: the int the rows' seeds are made from.
      num_samples: Monte-Carlo draws of the ELBO per example (``None``: the model's).
      iwae_k: importance samples for the IWAE score instead of the ELBO.

    Raises:
      TypeError: ``model`` is not an autoencoder.
      ValueError: a conditional model (it needs labels), ``num_samples`` with
        ``iwae_k``, either for a model without a likelihood bound, or a value below 1.

    References:
      An, J. & Cho, S. (2015). Variational Autoencoder based Anomaly Detection
      using Reconstruction Probability. SNU Data Mining Center.
      Burda, Y., Grosse, R. & Salakhutdinov, R. (2016). Importance Weighted
      Autoencoders. ICLR.
    """
    capabilities = model.capabilities
    name = type(model).__name__
    if not capabilities.autoencoder:
        raise TypeError(f"anomaly_scores scores autoencoders; {name} is not one")
    if capabilities.conditional:
        raise ValueError(f"anomaly_scores scores unconditional models; {name} needs a label per example")
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    if num_samples is not None and iwae_k is not None:
        raise ValueError("give num_samples (an ELBO over L draws) or iwae_k (the IWAE bound), not both")
    num_samples = None if num_samples is None else check_int(num_samples, "num_samples", minimum=1)
    iwae_k = None if iwae_k is None else check_int(iwae_k, "iwae_k", minimum=1)
    if not capabilities.likelihood_bound and (num_samples is not None or iwae_k is not None):
        raise ValueError(f"{no_bound_reason(capabilities, name)}: its score is its distortion, "
                         "without num_samples or iwae_k")
    scorer = _row_scorer(model, num_samples, iwae_k) if capabilities.likelihood_bound else None
    scores = []
    for start in range(0, len(x), batch_size):
        batch = model.unpack_data(tf.convert_to_tensor(x[start : start + batch_size]))
        if scorer is None:
            scores.append(model.per_example_terms(batch, training=False)["distortion"].numpy())
        else:
            seeds = tf.constant(row_seeds(seed, start, int(batch.shape[0])))
            scores.append(scorer(batch, seeds).numpy())
    return np.concatenate(scores) if scores else np.zeros([0], np.float32)


def fit_threshold(normal_scores: np.ndarray, false_positive_rate: float = 0.05) -> float:
    """The score above which a fraction ``false_positive_rate`` of normal data lies.

    Args:
      normal_scores: scores of normal (non-anomalous) examples.
      false_positive_rate: in (0, 1).
    """
    if not 0 < false_positive_rate < 1:
        raise ValueError(f"false_positive_rate must be in (0, 1), got {false_positive_rate}")
    return float(np.quantile(np.asarray(normal_scores, np.float64), 1.0 - false_positive_rate))


def auroc(normal_scores: np.ndarray, anomalous_scores: np.ndarray) -> float:
    """Area under the ROC curve: ``P(score_anomalous > score_normal)`` (+ half the ties).

    Computed from average ranks (the Mann-Whitney U statistic), ``O(n log n)``.
    """
    normal = np.asarray(normal_scores, np.float64).ravel()
    anomalous = np.asarray(anomalous_scores, np.float64).ravel()
    if not len(normal) or not len(anomalous):
        raise ValueError("auroc needs at least one normal and one anomalous score")
    values = np.concatenate([normal, anomalous])
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    sorted_values = values[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_values, return_index=True, return_counts=True)
    average = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(average, counts)
    u = ranks[len(normal) :].sum() - len(anomalous) * (len(anomalous) + 1) / 2.0
    return float(u / (len(anomalous) * len(normal)))


@dataclass
class AnomalyDetector:
    """A trained model, its scoring settings and a score threshold.

    Attributes:
      model: the autoencoder that scores.
      threshold: examples scoring above it are anomalies.
      false_positive_rate: the rate on normal data the threshold was fitted at.
      seed, num_samples, iwae_k: how :func:`anomaly_scores` scores (the same
        for the threshold and for every prediction).
    """

    model: Autoencoder
    threshold: float
    false_positive_rate: float
    seed: int = 0
    num_samples: int | None = None
    iwae_k: int | None = None

    @classmethod
    def fit(cls, model: Autoencoder, normal_x, false_positive_rate: float = 0.05, *, seed: int = 0,
            num_samples: int | None = None, iwae_k: int | None = None) -> AnomalyDetector:
        """Fit the threshold on normal data (not the data the model was trained on, ideally).

        Args:
          model: a trained autoencoder.
          normal_x: normal examples.
          false_positive_rate: the fraction of normal data to flag, in (0, 1).
          seed, num_samples, iwae_k: the scoring settings, see :func:`anomaly_scores`.
        """
        scores = anomaly_scores(model, normal_x, seed=seed, num_samples=num_samples, iwae_k=iwae_k)
        return cls(model, fit_threshold(scores, false_positive_rate), false_positive_rate, seed, num_samples, iwae_k)

    def score(self, x) -> np.ndarray:
        """The anomaly scores of ``x`` with the detector's settings."""
        return anomaly_scores(self.model, x, seed=self.seed, num_samples=self.num_samples, iwae_k=self.iwae_k)

    def predict(self, x) -> np.ndarray:
        """``True`` for the examples whose score exceeds the threshold."""
        return self.score(x) > self.threshold
