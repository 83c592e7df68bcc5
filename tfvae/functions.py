"""One traced function per model and purpose, made once and reused.

``tf.function`` objects are kept off the model (an attribute would be tracked
and exported with it) in a weak-key table: a deleted model frees its graphs.
Callers pass a ``make()`` that builds the function; it should hold the model
through a ``weakref`` so the cached function does not keep it alive.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable

_FUNCTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def traced_for(model, key: Hashable, make: Callable[[], Callable]) -> Callable:
    """The function cached for ``(model, key)``, made by ``make()`` on first use.

    Args:
      model: the object the function belongs to (weakly referenced).
      key: what the function is for, with every setting that changes its graph.
      make: builds the function.
    """
    functions = _FUNCTIONS.setdefault(model, {})
    if key not in functions:
        functions[key] = make()
    return functions[key]
