"""What a model can do, asked through the model contract only.

Metrics and pictures read ``model.capabilities`` (:mod:`tfvae.models.contract`)
and use the ``Autoencoder`` methods (``encode``, ``decode``,
``posterior.sample``, for models with a prior ``prior_distribution``, and for
models with a likelihood bound ``elbo``), never model classes or ``hasattr``,
so a family works as soon as it declares what it can do. Having a prior (it
can sample) and having a likelihood bound (ELBO and IWAE are defined) are
separate: a model may sample its prior and have no bound (a WAE). What a model cannot do raises
:class:`ModelCapabilityError` with a message that says why, and callers that
compute many things (``tfvae evaluate``, ``tfvae plot``) skip that item and
print the message.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

from tfvae.errors import TfvaeError
from tfvae.models.catalogue import no_bound_reason

tfd = tfp.distributions

__all__ = [
    "ModelCapabilityError",
    "has_likelihood_bound",
    "has_prior",
    "is_conditional",
    "is_stochastic",
    "prior_distribution",
    "require_elbo",
    "require_latent_dim",
    "require_unconditional",
]


class ModelCapabilityError(TfvaeError, ValueError):
    """The model cannot provide this metric or picture (no prior, point-mass code, ...)."""


def _name(model) -> str:
    return type(model).__name__


def is_conditional(model) -> bool:
    """Whether the model needs a condition (e.g. a label) with every example."""
    return model.capabilities.conditional


def require_unconditional(model) -> None:
    """Raise for conditional models (e.g. ``ConditionalVAE``), which metrics and pictures do not yet feed a condition."""
    if is_conditional(model):
        raise ModelCapabilityError(
            f"{_name(model)} is conditional (it needs a label with every example); "
            "tfvae.metrics and tfvae.viz support unconditional models only"
        )


def has_prior(model) -> bool:
    """Whether ``model`` has a prior ``p(z)`` it samples from itself (the VAE family)."""
    return model.capabilities.has_prior


def prior_distribution(model) -> tfd.Distribution:
    """The model's prior ``p(z)`` as a distribution with event shape ``[latent_dim]``.

    Raises:
      ModelCapabilityError: the model has no prior (e.g. a deterministic autoencoder).
    """
    require_unconditional(model)
    if not has_prior(model):
        raise ModelCapabilityError(f"{_name(model)} has no prior p(z) (only the VAE family has one)")
    return model.prior_distribution()


def has_likelihood_bound(model) -> bool:
    """Whether ``model`` declares a likelihood bound: its ELBO and the IWAE estimate are defined (the VAE family)."""
    return model.capabilities.likelihood_bound


def require_elbo(model) -> None:
    """Raise unless the model declares a likelihood bound (``capabilities.likelihood_bound``) and is unconditional.

    Raises:
      ModelCapabilityError: a conditional model, or one without a likelihood bound; the message says why.
    """
    require_unconditional(model)
    if not has_likelihood_bound(model):
        raise ModelCapabilityError(no_bound_reason(model.capabilities, _name(model)))


def is_stochastic(q: tfd.Distribution) -> bool:
    """Whether a posterior has spread (a point mass ``q(z|x)`` does not)."""
    try:
        spread = q.stddev()
    except NotImplementedError:
        return True
    return bool(tf.reduce_any(spread > 0))


def require_latent_dim(model, dim: int, what: str) -> None:
    """Raise unless ``model.latent_dim == dim``."""
    if int(model.latent_dim) != dim:
        raise ModelCapabilityError(f"{what} needs latent_dim == {dim}; this model has latent_dim {model.latent_dim}")
