"""Models: ``GenerativeModel`` and the autoencoder family."""

from tfvae.models.autoencoder import Autoencoder
from tfvae.models.base import GenerativeModel, gradient_step
from tfvae.models.contractive import ContractiveAE
from tfvae.models.cvae import ConditionalVAE
from tfvae.models.denoising import DenoisingAE
from tfvae.models.seq2seq import Seq2SeqAE
from tfvae.models.sparse import KSparseAE, KSparsityScheduler, SparseAE
from tfvae.models.vae import VAE, BetaVAE

__all__ = [
    "Autoencoder",
    "BetaVAE",
    "ConditionalVAE",
    "ContractiveAE",
    "DenoisingAE",
    "GenerativeModel",
    "KSparseAE",
    "KSparsityScheduler",
    "Seq2SeqAE",
    "SparseAE",
    "VAE",
    "gradient_step",
]
