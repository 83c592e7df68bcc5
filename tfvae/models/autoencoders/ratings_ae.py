"""The ratings autoencoder: a deep autoencoder over user rating vectors, trained on masked MSE.

Each user is a vector of ratings over all items, 0 where the user has not
rated the item. The autoencoder reconstructs the vector; the loss counts only
observed entries (:func:`masked_mse`), and its prediction for an unobserved
entry is the recommendation score (:mod:`tfvae.applications.recommender`
scores held-out ratings, :mod:`tfvae.data.ratings` makes the matrices).

    model = RatingsAE.mlp((num_items,), latent_dim=64, hidden_units=(256,), activation="selu")

References:
  Kuchaiev, O. & Ginsburg, B. (2017). Training Deep AutoEncoders for
  Collaborative Filtering. arXiv:1708.01715.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfvae.data.ratings import observed_entries
from tfvae.distribute import global_sum
from tfvae.models.autoencoders.autoencoder import Autoencoder
from tfvae.registry import MODELS, serializable

__all__ = ["OBSERVED_TERMS", "ObservedRootMean", "RatingsAE", "masked_mse", "observed_squared_error"]

#: Terms averaged per observed rating (pooled over the data), in training and in ``tfvae evaluate``.
OBSERVED_TERMS = ("masked_mse", "masked_rmse")


def masked_mse(y_true: tf.Tensor, y_pred: tf.Tensor, observed: tf.Tensor) -> tf.Tensor:
    """``sum(observed * (y_true - y_pred)^2) / max(sum(observed), 1)``: MSE over observed entries only.

    Values of ``y_true`` or ``y_pred`` where ``observed`` is 0 change nothing.
    Under ``tf.distribute`` both sums run over the GLOBAL batch
    (:func:`tfvae.distribute.global_sum`): every replica gets the one-device
    ratio, weighted by observed ratings rather than by examples.
    """
    observed = tf.cast(observed, tf.float32)
    squared = tf.where(observed > 0, tf.square(tf.cast(y_true, tf.float32) - tf.cast(y_pred, tf.float32)), 0.0)
    return global_sum(tf.reduce_sum(squared)) / tf.maximum(global_sum(tf.reduce_sum(observed)), 1.0)


def observed_squared_error(x: tf.Tensor, prediction: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    r"""Per example ``i``: ``s_i = sum_j o_ij (x_ij - y_ij)^2`` over its observed entries, and their count ``n_i``.

    ``o_ij`` is :func:`tfvae.data.ratings.observed_entries` (``x_ij != 0``).
    ``sum_i s_i / sum_i n_i`` over a data set is its masked MSE. The one home
    of the per-example rule: :meth:`RatingsAE.per_example_terms`, its serving
    ``score`` and the masked evaluation of :func:`tfvae.metrics.evaluate_model`
    call it.

    Args:
      x: ratings ``[B, ...]`` (0: not rated).
      prediction: the predicted ratings, the shape of ``x``.

    Returns:
      ``(squared_error, observed)``, each float32 ``[B]``.
    """
    batch = tf.shape(x)[0]
    observed = tf.reshape(tf.cast(observed_entries(x), tf.float32), [batch, -1])
    error = tf.reshape(tf.cast(x, tf.float32), [batch, -1]) - tf.reshape(tf.cast(prediction, tf.float32), [batch, -1])
    return tf.reduce_sum(observed * tf.square(error), -1), tf.reduce_sum(observed, -1)


class ObservedRootMean(keras.metrics.Mean):
    """``sqrt`` of a weighted mean: the RMSE when fed per-batch MSEs weighted by their observed counts."""

    def result(self):
        return tf.sqrt(super().result())


@MODELS.register("ratings_ae")
@serializable
class RatingsAE(Autoencoder):
    r"""Deep autoencoder for rating vectors trained on masked MSE (Kuchaiev & Ginsburg, 2017).

    ``loss = masked_mse(x, f(x))`` over the observed (non-zero) entries of the
    batch. With ``dense_refeeding=True`` the dense output ``y = f(x)`` (a
    constant) is fed back and ``mse(y, f(y))`` over all entries is added to
    the same update: the paper's re-feeding step, folded into one gradient
    step instead of a second optimizer update.

    Terms (training logs, ``summary.json``; ``tfvae evaluate`` reports the
    same ``masked_mse`` and ``masked_rmse`` in ``metrics.json``):

    - ``masked_mse``: the mean squared error per OBSERVED rating over the
      whole epoch / evaluation set, ``sum of squared errors / number of
      observed entries`` (each batch's MSE weighted by its observed count,
      not a mean of per-batch ratios); unobserved entries never count. The
      value does not depend on how the data is batched.
    - ``masked_rmse``: ``sqrt(masked_mse)`` of that same pooled mean.
    - ``loss``: the objective the optimizer minimised, per example (weighted
      by batch size, as every model's ``loss``); without re-feeding each
      batch's loss is its masked MSE.
    - ``refeed_mse`` (with ``dense_refeeding``): the re-feeding MSE over all
      entries, per example.
    - ``observed``: observed ratings per user (per example); times the batch
      size it is the count that weighs the batch's ``masked_mse``.

    Args:
      encoder, decoder, posterior, likelihood: as for :class:`Autoencoder`
        (the likelihood's mean is the predicted rating).
      dense_refeeding: add the re-feeding term.
      seed: seed of the model's random draws.
    """

    config_options = ("dense_refeeding",)

    @property
    def capabilities(self):
        """The autoencoder's; zeros are unobserved ratings, so metrics average over observed entries only."""
        return super().capabilities.but(masked_data=True)

    def __init__(self, encoder, decoder, posterior, likelihood, dense_refeeding: bool = False,
                 seed: int | None = None, **kwargs):
        self.dense_refeeding = bool(dense_refeeding)
        self.loss_term_names = (("loss", *OBSERVED_TERMS) + (("refeed_mse",) if self.dense_refeeding else ())
                                + ("observed",))
        super().__init__(encoder, decoder, posterior, likelihood, seed=seed, **kwargs)

    def make_term_tracker(self, name: str) -> keras.metrics.Metric:
        """``masked_rmse`` is the root of the pooled mean, not a mean of roots."""
        return ObservedRootMean(name=name) if name == "masked_rmse" else super().make_term_tracker(name)

    def predict_ratings(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
        """The dense reconstruction ``f(x)``, a predicted rating for every item: the mean reconstruction (``call``)."""
        return self.call(x, training)

    def per_example_terms(self, x, training=False, seed=None):
        """``distortion``: the squared error summed over each user's observed ratings; ``observed``: their count.

        ``seed`` is unused (the terms are deterministic), as for every autoencoder.

        The anomaly ``score`` of the export. ``sum(distortion) / sum(observed)``
        over a data set is its ``masked_mse``.
        """
        distortion, observed = observed_squared_error(x, self.predict_ratings(x, training))
        return {"distortion": distortion, "observed": observed}

    def score_terms(self, x, condition=None) -> dict[str, tf.Tensor]:
        """``score`` = ``distortion``: the squared error summed over each user's observed ratings (tensors only)."""
        distortion, _ = observed_squared_error(x, self.reconstruction(x, condition)["reconstruction"])
        return {"score": distortion, "distortion": distortion}

    def loss_terms(self, data, training=False):
        """The batch's terms; ``observed`` (ratings per user) times the batch size weighs its MSE."""
        x = self.unpack_data(data)
        y = self.predict_ratings(x, training)
        observed = observed_entries(x)
        mse = masked_mse(x, y, observed)
        per_user = tf.math.divide_no_nan(tf.reduce_sum(tf.cast(observed, tf.float32)),
                                         tf.cast(tf.shape(x)[0], tf.float32))
        terms = {"loss": mse, "masked_mse": mse, "masked_rmse": tf.sqrt(mse), "observed": per_user}
        if self.dense_refeeding:
            dense = tf.stop_gradient(y)
            refeed = tf.reduce_mean(tf.square(dense - self.predict_ratings(dense, training)))
            terms.update(loss=mse + refeed, refeed_mse=refeed)
        return terms

    def update_term_trackers(self, terms, batch_size):
        """As every model, but ``masked_mse`` / ``masked_rmse`` are weighted by the observed count.

        So their epoch values are ``sum of squared errors / number of observed
        entries`` over every batch seen, the figure ``tfvae evaluate`` reports.
        A batch the step did not record (weight 0) adds nothing; a NaN weight
        (a failed step, see :func:`tfvae.models.gradient_step`) stays NaN.
        """
        weight = tf.cast(batch_size, tf.float32)
        # the batch's observed count (an integer: rounded); a weight of 0 or NaN stays 0 or NaN
        observed = tf.where(weight > 0, tf.round(terms["observed"] * weight), weight)
        for tracker in self.term_trackers:
            pooled = tracker.name in OBSERVED_TERMS
            value = terms["masked_mse"] if pooled else terms[tracker.name]
            value = tf.where(weight > 0, value, tf.zeros_like(value))
            tracker.update_state(value, sample_weight=observed if pooled else weight)
        return {tracker.name: tracker.result() for tracker in self.term_trackers}

    def get_config(self) -> dict:
        return {**super().get_config(), "dense_refeeding": self.dense_refeeding}
