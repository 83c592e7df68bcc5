"""Anomaly detection with any autoencoder: scores, a threshold at a false-positive rate, AUROC.

The anomaly score of an example is what the model finds hard to explain:
the negative ELBO (nats) for models with an ELBO (the VAE family), else
the distortion ``-log p(x | f(x))`` (reconstruction error). Fit a threshold
on normal data at a chosen false-positive rate; examples scoring above it
are flagged.

Example::

    detector = AnomalyDetector.fit(model, normal_validation, false_positive_rate=0.05)
    flags = detector.predict(x)                        # bool [N]
    auroc(anomaly_scores(model, normal_test), anomaly_scores(model, odd_test))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from tfvae.models.autoencoder import Autoencoder


def anomaly_scores(model: Autoencoder, x, batch_size: int = 256) -> np.ndarray:
    """Per-example anomaly scores: ``-elbo`` when the model has an ELBO, else the distortion.

    Args:
      model: a trained autoencoder.
      x: data ``[N, *data_shape]`` (array or tensor).
      batch_size: examples per forward pass.
    """
    scores = []
    for start in range(0, len(x), batch_size):
        batch = model.unpack_data(tf.convert_to_tensor(x[start : start + batch_size]))
        terms = model.per_example_terms(batch, training=False)
        scores.append((-terms["elbo"] if "elbo" in terms else terms["distortion"]).numpy())
    return np.concatenate(scores)


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
    """A trained model and a score threshold.

    Attributes:
      model: the autoencoder that scores.
      threshold: examples scoring above it are anomalies.
      false_positive_rate: the rate on normal data the threshold was fitted at.
    """

    model: Autoencoder
    threshold: float
    false_positive_rate: float

    @classmethod
    def fit(cls, model: Autoencoder, normal_x, false_positive_rate: float = 0.05) -> AnomalyDetector:
        """Fit the threshold on normal data (not the data the model was trained on, ideally)."""
        scores = anomaly_scores(model, normal_x)
        return cls(model, fit_threshold(scores, false_positive_rate), false_positive_rate)

    def score(self, x) -> np.ndarray:
        return anomaly_scores(self.model, x)

    def predict(self, x) -> np.ndarray:
        """``True`` for the examples whose score exceeds the threshold."""
        return self.score(x) > self.threshold
