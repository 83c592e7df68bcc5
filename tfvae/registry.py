"""Name -> class registries, so configs and the CLI never dispatch on strings.

The built-in entries are *declared* here by name and module, so their names
are known (to validate a config, to answer ``tfvae --help``) without
importing TensorFlow; :meth:`Registry.get` imports the declaring module on
first use, and that module files the entry with :meth:`Registry.register`.
Entries registered by user code (``@MODELS.register("my_model")``) join the
same table.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

from tfvae.errors import did_you_mean

T = TypeVar("T")


def serializable(cls: type) -> type:
    """Register a class with Keras' serialization under the ``tfvae`` package (``"tfvae>Name"``)."""
    import keras

    import tfvae._backend  # noqa: F401  (fails clearly if Keras runs another backend)

    return keras.saving.register_keras_serializable(package="tfvae")(cls)


class Registry(Generic[T]):
    """A named table of classes (or factories) of one kind.

    Args:
      kind: what the entries are, used in error messages ("likelihood", ...).
      builtins: ``name -> module`` for the entries tfvae ships: each module
        registers its names when imported; until then only the names are known.
    """

    def __init__(self, kind: str, builtins: Mapping[str, str] | None = None) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._builtins = dict(builtins or {})

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator that files an entry under ``name``."""

        def decorate(entry: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = entry
            return entry

        return decorate

    def get(self, name: str) -> T:
        """The entry called ``name`` (imports its module if it is a built-in); the error lists the known names."""
        if name not in self._entries and name in self._builtins:
            importlib.import_module(self._builtins[name])
        try:
            return self._entries[name]
        except KeyError:
            if name in self._builtins:
                raise RuntimeError(
                    f"{self._builtins[name]} was expected to register the {self.kind} {name!r} but did not"
                ) from None
            raise ValueError(
                f"unknown {self.kind} {name!r}{did_you_mean(str(name), self.names())}; "
                f"choose one of: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        """Every known name: the built-ins (imported or not) and those registered since."""
        return sorted(set(self._entries) | set(self._builtins))

    def builtin_modules(self) -> dict[str, str]:
        """``name -> module`` of the built-in entries."""
        return dict(self._builtins)

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._builtins


#: Hidden-layer activations of the networks (``model.activation`` in configs).
ACTIVATIONS = ("relu", "elu", "selu", "tanh", "gelu", "swish", "leaky_relu", "softplus", "sigmoid")

LIKELIHOODS: Registry[type] = Registry(
    "likelihood",
    builtins={name: "tfvae.distributions.likelihoods" for name in ("bernoulli", "continuous_bernoulli", "gaussian")},
)
MODELS: Registry[type] = Registry(
    "model",
    builtins={
        "autoencoder": "tfvae.models.autoencoders.autoencoder",
        "denoising_ae": "tfvae.models.autoencoders.denoising",
        "sparse_ae": "tfvae.models.autoencoders.sparse",
        "k_sparse_ae": "tfvae.models.autoencoders.sparse",
        "contractive_ae": "tfvae.models.autoencoders.contractive",
        "seq2seq_ae": "tfvae.models.autoencoders.seq2seq",
        "vae": "tfvae.models.variational.vae",
        "beta_vae": "tfvae.models.variational.vae",
        "iwae": "tfvae.models.variational.iwae",
        "factor_vae": "tfvae.models.variational.factor_vae",
        "cvae": "tfvae.models.variational.cvae",
        "vqvae": "tfvae.models.quantized.vq_vae",
        "vqvae2": "tfvae.models.quantized.vq_vae2",
        "pixelcnn": "tfvae.models.quantized.pixelcnn",
        "tdvae": "tfvae.models.sequential.td_vae",
        "ratings_ae": "tfvae.models.autoencoders.ratings_ae",
    },
)
#: Posterior heads ``q(z|x)`` a VAE takes by name (``model.options.posterior``): stochastic latent heads whose
#: class declares the ``model.options`` keys it takes (``config_options``; see :mod:`tfvae.distributions.base`).
POSTERIORS: Registry[type] = Registry(
    "posterior",
    builtins={"diagonal_gaussian": "tfvae.distributions.posteriors", "iaf": "tfvae.distributions.flows"},
)
#: Prior heads ``p(z)`` a VAE takes by name (``model.options.prior``), declared the same way.
PRIORS: Registry[type] = Registry(
    "prior",
    builtins={name: "tfvae.distributions.priors" for name in ("standard_normal", "mog", "vamp")},
)
#: Run kinds (the config's ``kind``): what ``tfvae train`` runs (see :mod:`tfvae.experiment.kinds`).
RUN_KINDS: Registry[type] = Registry(
    "run kind",
    builtins={name: "tfvae.experiment.kinds" for name in ("model", "prior")},
)
