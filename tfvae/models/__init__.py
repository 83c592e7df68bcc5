"""Models: ``GenerativeModel`` and the autoencoder family."""

from tfvae.models.autoencoder import Autoencoder
from tfvae.models.base import GenerativeModel, gradient_step
from tfvae.models.contractive import ContractiveAE
from tfvae.models.cvae import ConditionalVAE
from tfvae.models.denoising import DenoisingAE
from tfvae.models.factor_vae import FactorVAE
from tfvae.models.iwae import IWAE
from tfvae.models.pixelcnn import PixelCNN
from tfvae.models.ratings_ae import RatingsAE
from tfvae.models.seq2seq import Seq2SeqAE
from tfvae.models.sparse import KSparseAE, KSparsityScheduler, SparseAE
from tfvae.models.td_vae import TDVAE
from tfvae.models.vae import VAE, BetaVAE
from tfvae.models.vq_vae import VQVAE
from tfvae.models.vq_vae2 import VQVAE2

__all__ = [
    "IWAE",
    "TDVAE",
    "VAE",
    "VQVAE",
    "VQVAE2",
    "Autoencoder",
    "BetaVAE",
    "ConditionalVAE",
    "ContractiveAE",
    "DenoisingAE",
    "FactorVAE",
    "GenerativeModel",
    "KSparseAE",
    "KSparsityScheduler",
    "PixelCNN",
    "RatingsAE",
    "Seq2SeqAE",
    "SparseAE",
    "gradient_step",
]
