"""Networks: tensors in, tensors out (no distributions here)."""

from tfvae.networks.conv import ConvDecoder, ConvEncoder
from tfvae.networks.mlp import MLP
from tfvae.networks.recurrent import RecurrentDecoder, RecurrentEncoder, sequence_mask

__all__ = ["ConvDecoder", "ConvEncoder", "MLP", "RecurrentDecoder", "RecurrentEncoder", "sequence_mask"]
