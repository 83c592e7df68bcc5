"""What the models' builders share: the likelihood head, the decoder that mirrors the encoder, layer configs.

Every builder class method (``VAE.mlp``, ``TDVAE.conv``, ``VQVAE.conv``,
``Seq2SeqAE.recurrent``, ...) makes its likelihood head with
:func:`likelihood_head`, and the MLP / convolutional ones their decoder with
:func:`mirrored_decoder` (the encoder's widths in reverse). A user's own
encoder or decoder replaces the builder's through :func:`own_network`.
Constructors take a sub-layer or its serialized config (a reloaded model)
through :func:`as_layer`.
"""

from __future__ import annotations

import collections
import contextlib
from collections.abc import Callable, Iterator, Sequence

import keras
from keras.src.backend.common import global_state

from tfvae.distributions import Likelihood
from tfvae.networks import MLP, ConvDecoder
from tfvae.registry import LIKELIHOODS

__all__ = ["NetworkFactory", "as_layer", "likelihood_head", "mirrored_decoder", "own_network"]


def as_layer(obj) -> keras.layers.Layer:
    """``obj`` if it is a layer, else the layer its Keras config describes (a model being reloaded)."""
    return obj if isinstance(obj, keras.layers.Layer) else keras.saving.deserialize_keras_object(obj)


#: a user's network: a Keras layer, or ``factory(input_shape=..., output_shape=...) -> keras.layers.Layer``
NetworkFactory = keras.layers.Layer | Callable[..., keras.layers.Layer]


@contextlib.contextmanager
def fresh_layer_names() -> Iterator[None]:
    """Keras' automatic layer names (``dense``, ``dense_1``, ...) counted from zero inside, as in a new process.

    A user's factory rarely names its layers; their variables' paths -- the
    keys of a run's checkpoints -- would then depend on how many layers the
    process made before (``dense_7`` when training, ``dense_1`` when the run
    is loaded). Keras keeps the counters in its global state
    (``keras.src.utils.naming.uniquify``; no public API): they are set aside
    for the call and restored after it.
    """
    saved = global_state.get_global_attribute("object_name_uids")
    global_state.set_global_attribute("object_name_uids", collections.defaultdict(int))
    try:
        yield
    finally:
        global_state.set_global_attribute("object_name_uids", saved)


def own_network(
    network: NetworkFactory | None,
    role: str,
    input_shape: Sequence[int],
    output_shape: Sequence[int],
    default: Callable[[], keras.layers.Layer],
) -> keras.layers.Layer:
    """The network for ``role`` (``"encoder"`` / ``"decoder"``): the user's, else ``default()``.

    Args:
      network: ``None`` (the builder's own), a Keras layer (used as it is), or
        a factory called as ``network(input_shape=..., output_shape=...)``
        that returns a layer mapping ``[B, *input_shape]`` to
        ``[B, *output_shape]``.
      role: what the network is, for the messages.
      input_shape: shape of one input (the example for an encoder, the code for a decoder).
      output_shape: shape of one output (the parameters the next head takes).
      default: makes the builder's own network.

    Raises:
      TypeError: the factory does not return a Keras layer.

    The output shape is checked where the model is built (the head names both
    shapes when they differ).
    """
    if network is None:
        return default()
    if isinstance(network, keras.layers.Layer):
        return network
    if not callable(network):
        raise TypeError(f"{role} must be a Keras layer or a function returning one, got {type(network).__name__}")
    with fresh_layer_names():  # the same variable paths in every process: checkpoints restore
        layer = network(input_shape=tuple(input_shape), output_shape=tuple(output_shape))
    if not isinstance(layer, keras.layers.Layer):
        name = getattr(network, "__qualname__", repr(network))
        raise TypeError(f"{role} factory {name} must return a Keras layer, got {type(layer).__name__}")
    return layer


def likelihood_head(data_shape: Sequence[int], likelihood: str, likelihood_kwargs: dict | None = None) -> Likelihood:
    """The registered likelihood ``likelihood`` over examples of ``data_shape``, named ``"likelihood"``.

    Args:
      data_shape: shape of one example (one frame for a sequence model).
      likelihood: registered likelihood name (``"bernoulli"``, ``"gaussian"``, ...).
      likelihood_kwargs: its extra arguments (e.g. ``{"scale": 0.1}``).
    """
    return LIKELIHOODS.get(likelihood)(data_shape, name="likelihood", **(likelihood_kwargs or {}))


def mirrored_decoder(
    head: Likelihood,
    hidden_units: Sequence[int],
    activation: str,
    filters: Sequence[int] | None = None,
) -> MLP | ConvDecoder:
    """The decoder ``z -> head.params_shape`` that mirrors an encoder, named ``"decoder"``.

    An :class:`~tfvae.networks.MLP` with the encoder's ``hidden_units`` in
    reverse or, given the encoder's ``filters``, a transposed-convolution
    :class:`~tfvae.networks.ConvDecoder` with its filters and dense widths in reverse.

    Args:
      head: the likelihood head the decoder feeds.
      hidden_units: the encoder's hidden (dense) widths.
      activation: hidden activation.
      filters: the encoder's channels per stride-2 stage; ``None`` for an MLP.
    """
    units = tuple(reversed(tuple(hidden_units)))
    if filters is None:
        return MLP(head.params_shape, units, activation, name="decoder")
    return ConvDecoder(head.params_shape, tuple(reversed(tuple(filters))), hidden_units=units, activation=activation,
                       name="decoder")
