"""Metrics of trained models: likelihoods, bits/dim, latent activity.

::

    from tfvae import metrics

    metrics.elbo_terms(model, x)                   # {"elbo", "distortion", "rate"}: [B] nats
    est = metrics.iwae_log_likelihood(model, x, k=5000, seed=0)
    est.nll, est.mc_stderr, est.effective_sample_size      # [B] each
    metrics.bits_per_dim(est.nll.mean(), 784, "discrete")
    metrics.reconstruction_errors(model, x)        # {"mse", "bce", "nll"}: [B]
    metrics.active_units(metrics.posterior_means(model, x)).count
    metrics.kl_per_dimension(model, x)             # [B, latent_dim] nats
    metrics.evaluate_model(model, test_dataset)    # all of it over a data set

Disentanglement scores (BetaVAE, FactorVAE, MIG, DCI) are in
:mod:`tfvae.metrics.disentanglement`.

References:
  Burda, Y., Grosse, R. & Salakhutdinov, R. (2016). Importance Weighted
  Autoencoders. ICLR.
"""

from tfvae.metrics.capabilities import ModelCapabilityError, has_likelihood_bound, has_prior, prior_distribution
from tfvae.metrics.codebook import code_nll, prior_is_conditional, uniform_code_nll, vq_bound
from tfvae.metrics.disentanglement import (
    BetaVAEScore,
    DCIScore,
    FactorVAEScore,
    GroundTruthData,
    MIGScore,
    beta_vae_score,
    beta_vae_score_from_features,
    dci_from_codes,
    dci_score,
    factor_vae_score,
    factor_vae_score_from_codes,
    mig_from_codes,
    mig_score,
)
from tfvae.metrics.evaluation import Evaluation, evaluate_model
from tfvae.metrics.latent import (
    ACTIVE_UNIT_THRESHOLD,
    ActiveUnits,
    active_units,
    kl_per_dimension,
    posterior_means,
)
from tfvae.metrics.likelihood import (
    BITS_PER_DIM_CONVENTIONS,
    IWAEEstimate,
    bits_per_dim,
    bits_per_dim_convention,
    elbo_terms,
    iwae_from_log_weights,
    iwae_log_likelihood,
    log_importance_weights,
    reconstruction_errors,
)

__all__ = [
    "ACTIVE_UNIT_THRESHOLD",
    "ActiveUnits",
    "BITS_PER_DIM_CONVENTIONS",
    "BetaVAEScore",
    "DCIScore",
    "Evaluation",
    "FactorVAEScore",
    "GroundTruthData",
    "IWAEEstimate",
    "MIGScore",
    "ModelCapabilityError",
    "active_units",
    "beta_vae_score",
    "beta_vae_score_from_features",
    "bits_per_dim",
    "bits_per_dim_convention",
    "code_nll",
    "dci_from_codes",
    "dci_score",
    "elbo_terms",
    "evaluate_model",
    "factor_vae_score",
    "factor_vae_score_from_codes",
    "has_likelihood_bound",
    "has_prior",
    "iwae_from_log_weights",
    "iwae_log_likelihood",
    "kl_per_dimension",
    "log_importance_weights",
    "mig_from_codes",
    "mig_score",
    "posterior_means",
    "prior_distribution",
    "prior_is_conditional",
    "reconstruction_errors",
    "uniform_code_nll",
    "vq_bound",
]
