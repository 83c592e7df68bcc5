"""Applications of the autoencoder family: anomaly detection, collaborative filtering."""

from tfvae.applications.anomaly import (
    AnomalyDetector,
    anomaly_scores,
    auroc,
    fit_threshold,
)
from tfvae.applications.recommender import (
    RatingsAE,
    low_rank_ratings,
    masked_mse,
    movielens_ratings,
    rating_rmse,
    split_ratings,
)

__all__ = [
    "AnomalyDetector",
    "RatingsAE",
    "anomaly_scores",
    "auroc",
    "fit_threshold",
    "low_rank_ratings",
    "masked_mse",
    "movielens_ratings",
    "rating_rmse",
    "split_ratings",
]
