"""One traced function per model and purpose, made once and reused: the one home of that cache.

``tf.function`` objects are kept off the model (an attribute would be tracked
and exported with it) in a weak-key table: a deleted model frees its graphs.
The cached function must not hold the model strongly (it would keep its own
key alive): :func:`traced_method` passes the model to ``fn`` through a
``weakref``; callers of :func:`traced_for` that build something more
elaborate hold it the same way.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable

import tensorflow as tf

_FUNCTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def traced_for(model, key: Hashable, make: Callable[[], Callable]) -> Callable:
    """The function cached for ``(model, key)``, made by ``make()`` on first use.

    Args:
      model: the object the function belongs to (weakly referenced).
      key: what the function is for, with every setting that changes its graph.
      make: builds the function; it holds ``model`` through a ``weakref``.
    """
    functions = _FUNCTIONS.setdefault(model, {})
    if key not in functions:
        functions[key] = make()
    return functions[key]


def traced_method(model, key: Hashable, fn: Callable, **options) -> Callable:
    """``tf.function(lambda *args: fn(model, *args), **options)``, cached for ``(model, key)``.

    Repeated calls (batch after batch, sample after sample) reuse one trace, as
    Keras caches its ``train_function``; the function reaches ``model``
    through a ``weakref``.

    Args:
      model: the object the function belongs to, passed to ``fn`` first.
      key: what the function is for, with every setting that changes its graph.
      fn: ``fn(model, *args)``, the traced computation.
      **options: ``tf.function`` options (``reduce_retracing``, ``autograph``, ``jit_compile``).
    """

    def make():
        owner = weakref.ref(model)

        def run(*args):
            return fn(owner(), *args)

        run.__name__ = getattr(fn, "__name__", "run")
        return tf.function(run, **options)

    return traced_for(model, key, make)
