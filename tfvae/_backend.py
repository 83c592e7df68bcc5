"""Select the TensorFlow backend for Keras 3 before anything imports Keras."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402

if keras.backend.backend() != "tensorflow":
    raise ImportError(
        "tfvae needs the Keras 3 TensorFlow backend, but Keras was started with "
        f"backend={keras.backend.backend()!r}. Set KERAS_BACKEND=tensorflow before "
        "importing keras (or import tfvae first)."
    )
