r"""Disentanglement metrics: BetaVAE, FactorVAE, MIG and DCI.

Each metric measures how well a representation ``encode: images -> codes
[N, L]`` (e.g. ``model.embed``, the posterior mean) separates the known
factors of a *ground-truth sampler* (:class:`GroundTruthData`, e.g.
:class:`tfvae.data.shapes.ShapesDataset`). Two layers:

- ``beta_vae_score(encode, data)``, ``factor_vae_score``, ``mig_score``,
  ``dci_score``: sample factors with the metric's protocol, render and encode
  them, and score;
- ``beta_vae_score_from_features``, ``factor_vae_score_from_codes``,
  ``mig_from_codes``, ``dci_from_codes``: the scoring alone, from code and
  factor arrays (what tests on synthetic latents use).

Everything is numpy and deterministic for a seed (given a deterministic
``encode``). Protocols follow the papers and disentanglement_lib (Locatello
et al. 2019). One module per job, each with its protocol and references:

- :mod:`~tfvae.metrics.disentanglement.sampling`: the ground-truth protocol,
  seeds, argument checks, encoding factor draws;
- :mod:`~tfvae.metrics.disentanglement.logistic`: the numpy L2-regularised
  multinomial logistic regression (L-BFGS) that BetaVAE and DCI fit;
- :mod:`~tfvae.metrics.disentanglement.beta_vae`: BetaVAE score (Higgins et
  al. 2017);
- :mod:`~tfvae.metrics.disentanglement.factor_vae`: FactorVAE score (Kim &
  Mnih 2018);
- :mod:`~tfvae.metrics.disentanglement.mig`: Mutual Information Gap (Chen et
  al. 2018);
- :mod:`~tfvae.metrics.disentanglement.dci`: DCI disentanglement,
  completeness and informativeness (Eastwood & Williams 2018), and why our
  predictor is a linear model rather than gradient-boosted trees.

Defaults are smaller than disentanglement_lib's (BetaVAE / FactorVAE:
``num_train=10000``, ``num_eval=5000``) so that a score takes seconds on a CPU;
pass those values to compare with papers.

References:
  Locatello, F. et al. (2019). Challenging Common Assumptions in the
  Unsupervised Learning of Disentangled Representations. ICML
  (disentanglement_lib).
"""

# noqa F401: Encoder, Seed and the two constants are public here (outside __all__, as before the split).
from tfvae.metrics.disentanglement.beta_vae import (
    BetaVAEScore,
    beta_vae_features,
    beta_vae_score,
    beta_vae_score_from_features,
)
from tfvae.metrics.disentanglement.dci import (
    DCIScore,
    completeness_from_importance,
    dci_from_codes,
    dci_score,
    disentanglement_from_importance,
)
from tfvae.metrics.disentanglement.factor_vae import (
    FACTOR_VAE_PRUNE_THRESHOLD,  # noqa: F401
    FactorVAEScore,
    factor_vae_score,
    factor_vae_score_from_codes,
    factor_vae_votes,
)
from tfvae.metrics.disentanglement.logistic import (
    LogisticRegression,
    fit_logistic_regression,
)
from tfvae.metrics.disentanglement.mig import (
    MIG_NUM_BINS,  # noqa: F401
    MIGScore,
    discrete_entropy,
    discrete_mutual_information,
    discretize,
    mig_from_codes,
    mig_score,
)
from tfvae.metrics.disentanglement.sampling import (
    Encoder,  # noqa: F401
    GroundTruthData,
    Seed,  # noqa: F401
    encode_factors,
    sample_codes,
)

__all__ = [
    "BetaVAEScore",
    "DCIScore",
    "FactorVAEScore",
    "GroundTruthData",
    "LogisticRegression",
    "MIGScore",
    "beta_vae_features",
    "beta_vae_score",
    "beta_vae_score_from_features",
    "completeness_from_importance",
    "dci_from_codes",
    "dci_score",
    "discrete_entropy",
    "discrete_mutual_information",
    "discretize",
    "disentanglement_from_importance",
    "encode_factors",
    "factor_vae_score",
    "factor_vae_score_from_codes",
    "factor_vae_votes",
    "fit_logistic_regression",
    "mig_from_codes",
    "mig_score",
    "sample_codes",
]
