"""tfvae: the autoencoder family for TensorFlow, Keras 3 and TensorFlow Probability.

``import tfvae`` is cheap: it does not import TensorFlow. The names below
load on first use (PEP 562): ``tfvae.VAE`` or ``from tfvae import VAE``
imports :mod:`tfvae.models`, which registers every model class with Keras'
serialization. So ``keras.saving.load_model`` finds tfvae's classes once
any model class has been touched (``from tfvae import VAE``, ``import
tfvae.models``) or through :func:`tfvae.export.load_keras`. The command
line relies on this to answer ``--help`` and configuration errors before
TensorFlow starts.
"""

from __future__ import annotations

import importlib
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # before anything imports Keras

__version__ = "0.1.0"

_SUBMODULES = ("applications", "distributions", "experiment", "kl", "layers", "models", "networks", "random")
_MODEL_CLASSES = (
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
    "PixelCNN",
    "RatingsAE",
    "Seq2SeqAE",
    "SparseAE",
)

__all__ = sorted([*_MODEL_CLASSES, "applications", "distributions", "experiment", "kl", "kl_divergence", "layers",
                  "networks", "random"])


def __getattr__(name: str):
    """Import a public submodule or class on first use (PEP 562)."""
    if name in _SUBMODULES:
        importlib.import_module("tfvae._backend")
        return importlib.import_module(f"tfvae.{name}")
    if name in _MODEL_CLASSES:
        importlib.import_module("tfvae._backend")
        return getattr(importlib.import_module("tfvae.models"), name)
    if name == "kl_divergence":
        importlib.import_module("tfvae._backend")
        return importlib.import_module("tfvae.kl").kl_divergence
    raise AttributeError(f"module 'tfvae' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
