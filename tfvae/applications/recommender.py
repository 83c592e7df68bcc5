"""Collaborative filtering with a deep autoencoder over user rating vectors.

Each user is a vector of ratings over all items, 0 where the user has not
rated the item. The autoencoder reconstructs the vector; the loss counts only
observed entries (masked MSE), and its prediction for an unobserved entry is
the recommendation score. The model is :class:`tfvae.models.autoencoders.ratings_ae.RatingsAE`
and the ratings matrices come from :mod:`tfvae.data.ratings`; both are
re-exported here, beside the application's own :func:`rating_rmse`.

    train_ratings, test_ratings = split_ratings(low_rank_ratings(600, 300), test_fraction=0.2)
    model = RatingsAE.mlp((num_items,), latent_dim=64, hidden_units=(256,), activation="selu")
    model.compile(optimizer="adam")
    model.fit(train_ratings, batch_size=64, epochs=50)
    rating_rmse(model, train_ratings, test_ratings)      # RMSE on held-out ratings

References:
  Kuchaiev, O. & Ginsburg, B. (2017). Training Deep AutoEncoders for
  Collaborative Filtering. arXiv:1708.01715.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfvae.data.ratings import low_rank_ratings, movielens_ratings, observed_entries, split_ratings
from tfvae.models.autoencoders.ratings_ae import OBSERVED_TERMS, RatingsAE, masked_mse

__all__ = [
    "OBSERVED_TERMS",
    "RatingsAE",
    "low_rank_ratings",
    "masked_mse",
    "movielens_ratings",
    "rating_rmse",
    "split_ratings",
]


def rating_rmse(model: RatingsAE, inputs, held_out, batch_size: int = 512) -> float:
    """RMSE of the model's predictions on held-out ratings.

    Args:
      model: a trained :class:`RatingsAE`.
      inputs: ``[users, items]`` the ratings the model sees (0 = unknown).
      held_out: ``[users, items]`` the ratings to predict (0 = not held out).
      batch_size: users per forward pass.
    """
    inputs, held_out = np.asarray(inputs, np.float32), np.asarray(held_out, np.float32)
    squared, count = 0.0, 0
    for start in range(0, len(inputs), batch_size):
        predicted = model.predict_ratings(tf.constant(inputs[start : start + batch_size])).numpy()
        target = held_out[start : start + batch_size]
        mask = observed_entries(target)
        squared += float(np.sum((predicted[mask] - target[mask]) ** 2))
        count += int(mask.sum())
    if count == 0:
        raise ValueError("held_out has no ratings")
    return float(np.sqrt(squared / count))
