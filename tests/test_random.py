"""Seeds (one parser, folding) and device-portable noise: finite at the extreme bits, standard normal, same under XLA."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from tfvae import random


def test_the_extreme_bit_patterns_give_finite_draws():
    u = random.bits_to_uniform(tf.constant([2**24 - 1, 0, 2**23], tf.uint32)).numpy()
    assert u[0] < 1.0 and u[1] > 0.0 and u[2] == 0.5 + 2.0**-25
    assert np.isfinite(tf.math.ndtri(u).numpy()).all()


def test_normal_draws_are_standard_normal_and_identical_under_xla():
    seed = tf.constant([3, 4])
    z = random.normal([200_000], seed).numpy()
    assert stats.kstest(z, "norm").pvalue > 0.01
    xla = tf.function(lambda s: random.normal([1000], s), jit_compile=True)(seed).numpy()
    np.testing.assert_allclose(xla, random.normal([1000], seed).numpy(), rtol=1e-5, atol=1e-6)


def test_as_seed_is_the_one_seed_parser():
    assert random.as_seed(7).numpy().tolist() == [7, 0]
    assert random.as_seed(7, index=3).numpy().tolist() == [7, 3]
    assert random.as_seed(np.int64(2**40)).numpy().tolist() == [2**40, 0]
    assert random.as_seed([1, 2], index=5).numpy().tolist() == [1, 2]  # a pair is kept as it is
    assert random.as_seed(tf.constant([1, 2], tf.int32)).dtype == tf.int64
    generator = keras.random.SeedGenerator(0)
    state = generator.state.numpy().copy()
    assert random.as_seed(None, generator).shape == (2,)
    assert not np.array_equal(generator.state.numpy(), state)  # the generator moved on
    fresh = random.as_seed(None, index=4).numpy()  # no generator: a fresh seed that moves no stream
    assert fresh[1] == 4 and 0 <= fresh[0] < 2**31
    with pytest.raises(TypeError):
        random.as_seed(True)
    with pytest.raises(TypeError):
        random.as_seed(1.5)
    with pytest.raises(ValueError, match="shape"):
        random.as_seed([1, 2, 3])


def test_fold_seed_gives_distinct_nonnegative_seeds_the_same_under_xla():
    seed = tf.constant([5, 6], tf.int64)
    folded = [random.fold_seed(seed, i).numpy() for i in range(4)]
    assert len({tuple(f) for f in folded}) == 4 and all((f >= 0).all() for f in folded)
    xla = tf.function(lambda s: random.fold_seed(s, 2), jit_compile=True)(seed).numpy()
    np.testing.assert_array_equal(xla, folded[2])
