"""tfvae: the autoencoder family for TensorFlow, Keras 3 and TensorFlow Probability."""

from tfvae import _backend  # noqa: F401  (selects the Keras TensorFlow backend)
from tfvae import applications, distributions, kl, networks, random
from tfvae.kl import kl_divergence
from tfvae.models import (
    VAE,
    Autoencoder,
    BetaVAE,
    ConditionalVAE,
    ContractiveAE,
    DenoisingAE,
    GenerativeModel,
    KSparseAE,
    Seq2SeqAE,
    SparseAE,
)

__version__ = "0.1.0"

__all__ = [
    "applications",
    "VAE",
    "Autoencoder",
    "BetaVAE",
    "ConditionalVAE",
    "ContractiveAE",
    "DenoisingAE",
    "GenerativeModel",
    "KSparseAE",
    "Seq2SeqAE",
    "SparseAE",
    "distributions",
    "kl",
    "kl_divergence",
    "networks",
    "random",
]
