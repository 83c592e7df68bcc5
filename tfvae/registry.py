"""Name -> class registries, so configs and the CLI never dispatch on strings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

import keras

from tfvae.errors import did_you_mean

T = TypeVar("T")

#: Register a class with Keras' serialization under the ``tfvae`` package.
serializable = keras.saving.register_keras_serializable(package="tfvae")


class Registry(Generic[T]):
    """A named table of classes (or factories) of one kind.

    Args:
      kind: what the entries are, used in error messages ("likelihood", ...).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator that files an entry under ``name``."""

        def decorate(entry: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = entry
            return entry

        return decorate

    def get(self, name: str) -> T:
        """The entry called ``name``; the error lists the known names."""
        try:
            return self._entries[name]
        except KeyError:
            raise ValueError(
                f"unknown {self.kind} {name!r}{did_you_mean(str(name), self._entries)}; "
                f"choose one of: {', '.join(sorted(self._entries))}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries


LIKELIHOODS: Registry[type] = Registry("likelihood")
MODELS: Registry[type] = Registry("model")
