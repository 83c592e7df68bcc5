"""Layers with state or structure of their own: vector quantizers, masked (causal) convolutions, gated TD-VAE blocks."""

from tfvae.layers.gated import (
    GatedGaussianBlock,
    GatedTransition,
    LatentPath,
    layered_gaussian,
)
from tfvae.layers.masked_conv import (
    CausalSelfAttention2D,
    GatedPixelCNNBlock,
    MaskedConv2D,
    causal_mask,
)
from tfvae.layers.vector_quantizer import VectorQuantizer, VectorQuantizerEMA

__all__ = [
    "CausalSelfAttention2D",
    "GatedGaussianBlock",
    "GatedPixelCNNBlock",
    "GatedTransition",
    "LatentPath",
    "MaskedConv2D",
    "VectorQuantizer",
    "VectorQuantizerEMA",
    "causal_mask",
    "layered_gaussian",
]
