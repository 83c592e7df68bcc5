"""Ratings matrices for collaborative filtering: generated low-rank ratings, MovieLens, train/held-out splits.

A ratings matrix is float32 ``[users, items]``: a 1-5 rating where the user
rated the item, 0 where not. :class:`tfvae.models.autoencoders.ratings_ae.RatingsAE`
reconstructs its rows; :mod:`tfvae.applications.recommender` scores the
held-out ratings. The generated dataset ``"lowrank_ratings"``
(:mod:`tfvae.data.generated`) is :func:`low_rank_ratings` of 1,200 users.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfvae.data.sources.base import DatasetUnavailableError

__all__ = ["low_rank_ratings", "movielens_ratings", "observed_entries", "split_ratings"]


def observed_entries(ratings):
    """Which entries of ratings are observed: the non-zero ones (0 means "not rated").

    The one home of the rule: the split, the :class:`~tfvae.models.autoencoders.ratings_ae.RatingsAE`
    terms, the masked evaluation and the held-out RMSE all call it.

    Args:
      ratings: a numpy array or a ``tf.Tensor`` of ratings (any shape).

    Returns:
      A boolean mask of the same shape and kind (numpy in, numpy out; tensor in, tensor out).
    """
    if isinstance(ratings, np.ndarray):
        return ratings != 0
    ratings = tf.convert_to_tensor(ratings)
    return tf.not_equal(ratings, tf.zeros([], ratings.dtype))


def low_rank_ratings(num_users: int = 600, num_items: int = 300, rank: int = 5, density: float = 0.2,
                     noise: float = 0.25, seed: int = 0) -> np.ndarray:
    """A generated ratings matrix: low-rank preferences on a 1-5 scale, most entries missing.

    ``r_ui = clip(3 + 1.2 * u_u . v_i / sqrt(rank) + noise * eps, 1, 5)`` on a
    random ``density`` fraction of the entries, 0 elsewhere.

    Returns:
      float32 ``[num_users, num_items]``.
    """
    rng = np.random.default_rng(seed)
    users = rng.normal(size=(num_users, rank))
    items = rng.normal(size=(num_items, rank))
    ratings = np.clip(3 + 1.2 * users @ items.T / np.sqrt(rank) + noise * rng.normal(size=(num_users, num_items)), 1, 5)
    observed = rng.uniform(size=ratings.shape) < density
    return np.where(observed, ratings, 0.0).astype(np.float32)


def split_ratings(ratings: np.ndarray, test_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split the observed entries into disjoint train and held-out matrices."""
    rng = np.random.default_rng(seed)
    observed = observed_entries(np.asarray(ratings))
    to_test = observed & (rng.uniform(size=ratings.shape) < test_fraction)
    return np.where(to_test, 0.0, ratings).astype(np.float32), np.where(to_test, ratings, 0.0).astype(np.float32)


def movielens_ratings(name: str = "movielens/100k-ratings", data_dir: str | None = None, download: bool = False) -> np.ndarray:
    """The MovieLens ratings as a ``[users, movies]`` matrix (0 = unrated), from tensorflow-datasets.

    Args:
      name: a tfds MovieLens ratings config, e.g. ``"movielens/100k-ratings"``.
      data_dir: tfds data directory.
      download: allow tfds to download it (needs network).
    """
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=data_dir)
    if not builder.is_prepared():
        if not download:
            raise DatasetUnavailableError(
                f"{name} is not prepared in {builder.data_dir}; pass download=True on a machine with network, "
                "or prepare it elsewhere (`tfds build movielens/100k-ratings`) and pass data_dir"
            )
        builder.download_and_prepare()
    users, movies, values = [], [], []
    columns = builder.as_dataset(split="train").map(lambda r: (r["user_id"], r["movie_id"], r["user_rating"]))
    for user, movie, rating in columns.batch(4096).as_numpy_iterator():
        users.extend(user)
        movies.extend(movie)
        values.extend(rating)
    user_index = {u: i for i, u in enumerate(sorted(set(users)))}
    movie_index = {m: i for i, m in enumerate(sorted(set(movies)))}
    matrix = np.zeros((len(user_index), len(movie_index)), np.float32)
    for u, m, r in zip(users, movies, values):
        matrix[user_index[u], movie_index[m]] = r
    return matrix
