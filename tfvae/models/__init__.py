"""Models: ``GenerativeModel`` and the autoencoder family."""

from tfvae.models.autoencoder import Autoencoder
from tfvae.models.base import GenerativeModel, gradient_step
from tfvae.models.vae import VAE, BetaVAE

__all__ = ["Autoencoder", "BetaVAE", "GenerativeModel", "VAE", "gradient_step"]
