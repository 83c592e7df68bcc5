"""Networks: tensors in, tensors out (no distributions here)."""

from tfvae.networks.conv import ConvDecoder, ConvEncoder
from tfvae.networks.mlp import MLP

__all__ = ["ConvDecoder", "ConvEncoder", "MLP"]
