"""Models receive the training set size (for batch-level estimators): from arrays, from the run, or by hand."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfvae.loops import train_loop
from tfvae.models import VAE

SHAPE = (4, 4, 1)


class _SizeAware(VAE):
    """A VAE whose loss adds the dataset size (a stand-in for beta-TCVAE's minibatch-weighted sampling)."""

    needs_dataset_size = True

    def objective(self, terms):
        return super().objective(terms) + float(self.dataset_size)


def make():
    return _SizeAware.mlp(SHAPE, latent_dim=2, hidden_units=(4,), seed=0)


@pytest.fixture(scope="module")
def x():
    return (np.random.default_rng(0).random((12, *SHAPE)) < 0.5).astype("float32")


@pytest.mark.parametrize("driver", ["fit", "loop"])
def test_arrays_give_the_size_and_the_objective_reads_it(driver, x):
    model = make()
    model.compile(jit_compile=False, steps_per_execution=1)
    if driver == "fit":
        logs = model.fit(x, batch_size=4, epochs=1, verbose=0).history
    else:
        logs = train_loop(model, x, batch_size=4, epochs=1, verbose=0)
    assert model.dataset_size == 12
    np.testing.assert_allclose(logs["loss"][0] + logs["elbo"][0], 12.0, rtol=1e-5)  # loss = -elbo + N


def test_a_pipeline_without_a_size_is_refused_until_one_is_given(x):
    model = make()
    model.compile(jit_compile=False, steps_per_execution=1)
    data = tf.data.Dataset.from_tensor_slices(x).batch(4)
    with pytest.raises(ValueError, match=r"_SizeAware's objective needs the training set size: call "
                                         r"model.set_dataset_size\(n\)"):
        model.fit(data, epochs=1, verbose=0)
    model.set_dataset_size(1000)
    logs = model.fit(data, epochs=1, verbose=0).history
    np.testing.assert_allclose(logs["loss"][0] + logs["elbo"][0], 1000.0, rtol=1e-5)
    with pytest.raises(ValueError, match="the dataset size must be a positive integer, got 0"):
        model.set_dataset_size(0)
    plain = VAE.mlp(SHAPE, latent_dim=2, hidden_units=(4,), seed=0)  # needs none: a pipeline trains, none recorded
    plain.observe_training_data(data)
    assert plain.dataset_size is None
