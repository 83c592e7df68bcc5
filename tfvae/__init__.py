"""tfvae: the autoencoder family for TensorFlow, Keras 3 and TensorFlow Probability."""

from tfvae import (
    _backend,  # noqa: F401  (selects the Keras TensorFlow backend)
    applications,
    distributions,
    kl,
    layers,
    networks,
    random,
)
from tfvae.kl import kl_divergence
from tfvae.models import (
    TDVAE,
    VAE,
    VQVAE,
    VQVAE2,
    Autoencoder,
    BetaVAE,
    ConditionalVAE,
    ContractiveAE,
    DenoisingAE,
    GenerativeModel,
    KSparseAE,
    PixelCNN,
    Seq2SeqAE,
    SparseAE,
)

__version__ = "0.1.0"

__all__ = [
    "TDVAE",
    "VAE",
    "VQVAE",
    "VQVAE2",
    "Autoencoder",
    "BetaVAE",
    "ConditionalVAE",
    "ContractiveAE",
    "DenoisingAE",
    "GenerativeModel",
    "KSparseAE",
    "PixelCNN",
    "Seq2SeqAE",
    "SparseAE",
    "applications",
    "distributions",
    "kl",
    "kl_divergence",
    "layers",
    "networks",
    "random",
]
