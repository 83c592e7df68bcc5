"""One traced function per model and purpose (tfvae.functions): reused, and never keeping its model alive."""

import gc
import weakref

import numpy as np
import tensorflow as tf

from tfvae.functions import traced_for, traced_method


class Owner:
    def __init__(self, scale):
        self.scale = scale
        self.traces = 0

    def double(self, x):
        self.traces += 1  # Python side effect: runs once per trace
        return 2.0 * self.scale * x


def test_traced_method_is_made_once_per_owner_and_key():
    a, b = Owner(1.0), Owner(3.0)
    f = traced_method(a, "double", Owner.double, reduce_retracing=True)
    assert traced_method(a, "double", Owner.double, reduce_retracing=True) is f
    assert traced_method(b, "double", Owner.double) is not f
    assert traced_method(a, ("double", 2), Owner.double) is not f
    for _ in range(3):
        np.testing.assert_allclose(f(tf.constant([1.0, 2.0])).numpy(), [2.0, 4.0])
    assert a.traces == 1
    assert float(traced_method(b, "double", Owner.double)(tf.constant(1.0))) == 6.0


def test_a_cached_function_does_not_keep_its_owner_alive():
    owner = Owner(1.0)
    traced_method(owner, "double", Owner.double)(tf.constant(1.0))
    traced_for(owner, "other", lambda: (lambda: None))
    ref = weakref.ref(owner)
    del owner
    gc.collect()
    assert ref() is None
