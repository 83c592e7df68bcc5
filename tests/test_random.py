"""Device-portable noise: finite at the extreme bits, standard normal, same under XLA."""

import numpy as np
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
