"""Heads: tensors in, ``tfd.Distribution`` out."""

from tfvae.distributions.base import DistributionHead, LatentHead
from tfvae.distributions.likelihoods import (
    BernoulliLikelihood,
    ContinuousBernoulliLikelihood,
    GaussianLikelihood,
    Likelihood,
)
from tfvae.distributions.posteriors import DiagonalGaussianPosterior, KSparsePosterior, PointMassPosterior
from tfvae.distributions.priors import (
    ConditionalGaussianPrior,
    MixtureOfGaussiansPrior,
    StandardNormalPrior,
    VampPrior,
)

__all__ = [
    "ConditionalGaussianPrior",
    "BernoulliLikelihood",
    "ContinuousBernoulliLikelihood",
    "DiagonalGaussianPosterior",
    "DistributionHead",
    "GaussianLikelihood",
    "KSparsePosterior",
    "LatentHead",
    "Likelihood",
    "MixtureOfGaussiansPrior",
    "PointMassPosterior",
    "StandardNormalPrior",
    "VampPrior",
]
