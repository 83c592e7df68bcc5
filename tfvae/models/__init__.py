"""Models: the machinery every family shares, and the families, one file each.

The machinery sits here: ``base.py`` (``GenerativeModel``, the model contract Keras drives),
``steps.py`` (the one training step both drivers run, the non-finite guard), ``contract.py``
(``Capabilities``, ``Update``, ``ServingSignature``: what a model declares), ``builders.py``
(the networks and heads the builders make), ``catalogue.py`` (what a family gets: pictures,
metrics, samples). The families are grouped as the docs group them: ``autoencoders/``,
``variational/``, ``quantized/``, ``sequential/``; the registry (:data:`tfvae.registry.MODELS`)
names the file of each.
"""

from tfvae.models.autoencoders.autoencoder import Autoencoder
from tfvae.models.autoencoders.contractive import ContractiveAE
from tfvae.models.autoencoders.denoising import DenoisingAE
from tfvae.models.autoencoders.ratings_ae import RatingsAE
from tfvae.models.autoencoders.seq2seq import Seq2SeqAE
from tfvae.models.autoencoders.sparse import KSparseAE, KSparsityScheduler, SparseAE
from tfvae.models.base import GenerativeModel, gradient_step
from tfvae.models.quantized.pixelcnn import PixelCNN
from tfvae.models.quantized.vq_vae import VQVAE
from tfvae.models.quantized.vq_vae2 import VQVAE2
from tfvae.models.sequential.td_vae import TDVAE
from tfvae.models.variational.cvae import ConditionalVAE
from tfvae.models.variational.factor_vae import FactorVAE
from tfvae.models.variational.iwae import IWAE
from tfvae.models.variational.vae import VAE, BetaVAE

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
