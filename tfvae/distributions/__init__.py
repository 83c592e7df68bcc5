"""Heads: tensors in, ``tfd.Distribution`` out."""

from tfvae.distributions.base import DistributionHead, LatentHead
from tfvae.distributions.flows import AutoregressiveNetwork, IAFPosterior
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
    "AutoregressiveNetwork",
    "ConditionalGaussianPrior",
    "BernoulliLikelihood",
    "ContinuousBernoulliLikelihood",
    "DiagonalGaussianPosterior",
    "DistributionHead",
    "GaussianLikelihood",
    "IAFPosterior",
    "KSparsePosterior",
    "LatentHead",
    "Likelihood",
    "MixtureOfGaussiansPrior",
    "PointMassPosterior",
    "StandardNormalPrior",
    "VampPrior",
]
