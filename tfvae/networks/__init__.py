"""Networks: tensors in, tensors out (no distributions here)."""

from tfvae.networks.conv import ConvDecoder, ConvEncoder
from tfvae.networks.mlp import MLP
from tfvae.networks.recurrent import RecurrentDecoder, RecurrentEncoder, sequence_mask
from tfvae.networks.resnet import ResidualStack, ResNetDecoder, ResNetEncoder

__all__ = [
           "MLP",
           "ConvDecoder",
           "ConvEncoder",
           "RecurrentDecoder",
           "RecurrentEncoder",
           "ResNetDecoder",
           "ResNetEncoder",
           "ResidualStack",
           "sequence_mask",
]
