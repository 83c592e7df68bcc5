"""Size bounds of a model and of a request, checked before TensorFlow allocates anything.

A ``latent_dim`` or ``hidden_units`` of 1e9, a ``data.pad_to`` of 1e6 or a
million samples per example used to end in an out-of-memory traceback, and
100,000 hidden layers in a build that seemed to hang. This module estimates,
from a config alone (no TensorFlow, no numpy: the command line calls it before
TensorFlow's import), what a model and a request would hold, and refuses what
is above a limit in one line that names the key, the number and the limit::

    model.latent_dim: the model would have 7.7e11 parameters (2.8 TiB of float32 weights), above the limit of
    2e9 parameters; use a smaller latent_dim

The limits (generous: a conv VAE on 256x256x3 images, hidden layers of 4096
and an IWAE estimate with ``k = 5000`` on MNIST all pass):

=========================== ====================================================================
:data:`MAX_LAYERS`          1,000 entries in ``model.hidden_units`` or ``model.filters``, and
                            for ``model.options.num_layers`` (and the other layer counts)
:data:`MAX_PARAMETERS`      2e9 parameters (8 GB of float32 weights)
:data:`MAX_STEP_BYTES`      64 GiB of activations in one training step
:func:`request_limit`       16 GiB, or half of this machine's memory when that is less: a
                            request's samples (``model.num_samples`` or an IWAE's
                            ``model.options.k`` in training, ``tfvae evaluate --iwae-k``,
                            ``tfvae sample --num``)
=========================== ====================================================================

The estimates (within a factor of about 2 of what Keras builds; ``D`` is the
number of values of one example, ``L`` the latent size, ``h_i`` the hidden
widths, ``c_i`` the filters, ``a -> b`` a dense layer of ``(a + 1) b``
parameters):

- ``mlp``: encoder ``D -> h_1 -> ... -> h_n -> 2L``, decoder ``L -> h_n -> ...
  -> h_1 -> D``. Activations per example: the widths of every layer, the
  decoder's counted once per Monte-Carlo sample.
- ``conv``: stride-2 3x3 convolutions ``c_{i-1} -> c_i`` on maps of
  ``ceil(H / 2^i) x ceil(W / 2^i)`` (``(9 c_{i-1} + 1) c_i`` parameters,
  ``h_i w_i c_i`` activations each), the dense layers above from the last map
  (``F = h_n w_n c_n`` values) to ``2L`` and back, mirrored transposed
  convolutions and a 3x3 projection to the image's channels.
- ``recurrent``: a GRU (LSTM: 4 gates instead of 3) of ``3 (in + u + 1) u``
  parameters per layer each way, ``T`` steps of ``3 u`` activations.
- ``tdvae``: the frame network as above on one frame, its activations times
  the ``T`` frames, plus the LSTM belief and the ``block_units`` networks.
- ``vqvae`` / ``vqvae2``: ``2 ((downsamples + 1) 9 filters^2 + blocks x 10
  filters residual_filters)`` convolution parameters plus the codebook,
  activations ``filters x H W / 4^i`` per stage each way.
- ``pixelcnn`` (a prior): ``num_layers x 4 k^2 filters^2`` parameters.

One training step keeps ``batch x (encoder + samples x decoder activations)``
values and their gradients: ``x 4 bytes x 2``. A request of ``S`` samples per
example holds ``S x batch x D x 4`` bytes (an IWAE estimate: ``k x batch x D x
4``); ``tfvae sample --num N``: ``N x D x 4 x 4`` (the decoder's output, the
draw, the array and the image grid).

The data's shape comes from the config where it can be known without reading
the data: the built-in datasets (:data:`KNOWN_SHAPES`), ``data.pad_to`` and an
``images:`` folder's ``data.image_size`` give it (or a lower bound: a
lower bound never refuses a model that fits); the rest is checked again by
:func:`tfvae.experiment.build_model`, which has the data's real shape.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Sequence
from typing import Any

from tfvae.config import ConfigError, DataConfig, ExperimentConfig, ModelConfig
from tfvae.data.names import EMBEDDED_SHAPES, GENERATED_SHAPES

__all__ = [
    "KNOWN_SHAPES",
    "MAX_LAYERS",
    "MAX_PARAMETERS",
    "MAX_STEP_BYTES",
    "REQUEST_BYTES_CAP",
    "Sizes",
    "check_config",
    "check_model",
    "config_data_shape",
    "estimate",
    "iwae_problem",
    "request_limit",
    "sample_problem",
]

GiB = 2**30
FLOAT_BYTES = 4
#: Dense layers (``hidden_units``), stride-2 stages (``filters``) and the layer-count options of a model.
MAX_LAYERS = 1_000
#: Parameters of one model (8 GB of float32 weights; Adam keeps three times as much besides).
MAX_PARAMETERS = 2_000_000_000
#: Activations and their gradients in one training step.
MAX_STEP_BYTES = 64 * GiB
#: What one request's samples may hold, at most (:func:`request_limit`: less on a smaller machine).
REQUEST_BYTES_CAP = 16 * GiB
#: The options that count layers (``pixelcnn``, ``tdvae``, ``vqvae``).
LAYER_OPTIONS = ("num_layers", "num_residual_blocks", "num_downsamples", "condition_layers")

_MNIST = (28, 28, 1)
#: The example shape of the datasets whose shape a name alone tells (with no ``data.data_dir``, which can point
#: any name at a folder of IDX files): the embedded digits, the generated sets and a few tfds image sets.
KNOWN_SHAPES: dict[str, tuple[int, ...]] = {
    "mnist": _MNIST, "fashion_mnist": _MNIST, "binarized_mnist": _MNIST, "kmnist": _MNIST,
    "fashion_mnist_idx": _MNIST, "cifar10": (32, 32, 3), "cifar100": (32, 32, 3), "svhn_cropped": (32, 32, 3),
    "dsprites": (64, 64, 1), **EMBEDDED_SHAPES, **GENERATED_SHAPES,
}
#: Names resolved before ``data_dir`` is looked at (:func:`tfvae.data.datasets.resolve_source`).
_IGNORE_DATA_DIR = (*EMBEDDED_SHAPES, *GENERATED_SHAPES)

_ADVICE = {
    "model.latent_dim": "use a smaller latent_dim",
    "model.hidden_units": "use smaller layers",
    "model.filters": "use fewer channels",
    "model.num_samples": "use fewer samples",
    "data.batch_size": "use a smaller batch",
    "data.pad_to": "pad to a smaller size",
    "data.image_size": "resize the images to a smaller size",
    "data": "use smaller examples (a smaller data.image_size or data.pad_to) or a smaller model",
}


@dataclasses.dataclass(frozen=True)
class Sizes:
    """What a model would hold.

    Attributes:
      parameters: trainable and non-trainable weights.
      encoder: values one example's pass through the encoder keeps.
      decoder: values one sample's pass through the decoder keeps (with the likelihood's parameters).
      samples: decoder passes per example in training (``model.num_samples``, an IWAE's ``k``).
    """

    parameters: int
    encoder: int
    decoder: int
    samples: int = 1

    def step_values(self, batch_size: int) -> int:
        """Values one training step keeps for a batch of ``batch_size`` (the gradients not counted)."""
        return batch_size * (self.encoder + self.samples * self.decoder)


def _int(value: Any, default: int) -> int:
    """``value`` if it is a positive integer (an integral float too), else ``default`` (the builder checks it)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 1:
        return default
    return int(value)


def _widths(values: Any, default: Sequence[int]) -> list[int]:
    """A list of positive widths, or ``default`` for anything else (the builder names what is wrong)."""
    if isinstance(values, (list, tuple)) and len(values) <= MAX_LAYERS:
        return [_int(v, 1) for v in values]
    return list(default)


def _dense(widths: Sequence[int]) -> int:
    """Parameters of the dense layers ``widths[0] -> widths[1] -> ...``."""
    return sum((a + 1) * b for a, b in zip(widths, widths[1:]))


def _product(shape: Sequence[int]) -> int:
    return math.prod(_int(n, 1) for n in shape) if shape else 1


def _frame(shape: Sequence[int], rank: int) -> tuple[int, ...]:
    """``shape`` as ``rank`` dimensions: leading ones merged, or 1s added."""
    shape = tuple(_int(n, 1) for n in shape) or (1,)
    if len(shape) > rank:
        return (_product(shape[:len(shape) - rank + 1]), *shape[len(shape) - rank + 1:])
    return (*(1,) * (rank - len(shape)), *shape)


def _mlp(model: ModelConfig, shape: Sequence[int], latent: int) -> Sizes:
    units = _widths(model.hidden_units, (512, 256))
    size = _product(shape)
    encoder, decoder = [size, *units, 2 * latent], [latent, *reversed(units), size]
    return Sizes(_dense(encoder) + _dense(decoder), sum(encoder), sum(decoder) + size)


def _conv(model: ModelConfig, shape: Sequence[int], latent: int) -> Sizes:
    height, width, channels = _frame(shape, 3)
    filters = _widths(model.filters, (32, 64))
    units = _widths(model.hidden_units, (512, 256))
    maps = [(height, width, channels)]
    for count in filters:
        h, w, _ = maps[-1]
        maps.append((-(-h // 2), -(-w // 2), count))
    convolutions = sum((9 * a[2] + 1) * b[2] for a, b in zip(maps, maps[1:]))
    values = sum(h * w * c for h, w, c in maps[1:])
    flat = _product(maps[-1])
    encoder, decoder = [flat, *units, 2 * latent], [latent, *reversed(units), flat]
    projection = (9 * maps[1][2] + 1) * channels if filters else 0
    parameters = 2 * convolutions + _dense(encoder) + _dense(decoder) + projection
    size = height * width * channels
    return Sizes(parameters, size + values + sum(encoder), values + sum(decoder) + 2 * size)


def _recurrent(model: ModelConfig, shape: Sequence[int], latent: int) -> Sizes:
    steps, features = _frame(shape, 2)
    units = _widths(model.hidden_units, (64,))
    gates = 4 if model.options.get("cell") == "lstm" else 3
    encoder = sum(gates * (a + b + 1) * b for a, b in zip([features, *units], units))
    decoder = sum(gates * (a + b + 1) * b for a, b in zip([features + latent, *units], units))
    last = units[-1] if units else features
    parameters = encoder + decoder + (last + 1) * 2 * latent + (last + 1) * 2 * features
    return Sizes(parameters, steps * (features + gates * sum(units)), steps * (gates * sum(units) + 3 * features))


def _tdvae(model: ModelConfig, shape: Sequence[int], latent: int) -> Sizes:
    shape = tuple(shape) or (1,)
    steps, frame = shape[0], shape[1:] or (1,)
    layers = _int(model.options.get("num_layers"), 1)
    belief = _int(model.options.get("belief_units"), 64)
    block = _int(model.options.get("block_units"), 64)
    embedding = _int(model.options.get("embedding_dim"), 32)
    network = (_conv if model.architecture == "conv" else _mlp)(model, frame, layers * latent)
    lstm = 4 * (embedding + belief + 1) * belief
    blocks = 6 * layers * (_dense([belief + 2 * latent, block, block, 2 * latent]))
    return Sizes(network.parameters + lstm + blocks, steps * (network.encoder + 4 * belief),
                 network.decoder + 6 * layers * (2 * block + 2 * latent))


def _vqvae(model: ModelConfig, shape: Sequence[int]) -> Sizes:
    height, width, channels = _frame(shape, 3)
    options = model.options
    filters = _int(options.get("filters"), 64)
    residual = _int(options.get("residual_filters"), 32)
    blocks = _int(options.get("num_residual_blocks"), 2)
    stages = 3 if model.name == "vqvae2" else _int(options.get("num_downsamples"), 2)
    codebook = _int(options.get("num_embeddings"), 128) * _int(options.get("embedding_dim"), 16)
    parameters = 2 * ((stages + 1) * 9 * filters * filters + blocks * 10 * filters * residual) + codebook
    maps = sum(-(-height // 2**i) * -(-width // 2**i) for i in range(1, stages + 1))
    lowest = -(-height // 2**stages) * -(-width // 2**stages)
    values = filters * maps + blocks * lowest * (filters + residual)
    size = height * width * channels
    return Sizes(parameters + 9 * filters * channels, size + values, values + 2 * size)


def _pixelcnn(model: ModelConfig, shape: Sequence[int]) -> Sizes:
    options = model.options
    filters, kernel = _int(options.get("filters"), 64), _int(options.get("kernel_size"), 3)
    layers = _int(options.get("num_layers"), 8)
    positions = _product(shape)
    return Sizes(layers * 4 * kernel * kernel * filters * filters, positions * layers * 4 * filters, 0)


def _samples(model: ModelConfig) -> int:
    """Decoder passes per example in training: ``model.num_samples``, or an IWAE's ``model.options.k``."""
    if model.name == "iwae":
        return _int(model.options.get("k"), 1)
    return _int(model.num_samples, 1)


def _floor_shape(model: ModelConfig) -> tuple[int, ...]:
    """The smallest data of a model's kind: a lower bound where the data's shape is not known."""
    rank = {"conv": 3, "recurrent": 2}.get(model.architecture, 1)
    if model.name in ("vqvae", "vqvae2"):
        rank = 3
    return (1,) * (rank + (model.name == "tdvae"))


def estimate(model: ModelConfig, data_shape: Sequence[int] | None = None) -> Sizes:
    """What the model that ``model`` describes would hold, for examples of ``data_shape``.

    Args:
      model: the ``[model]`` table (its values range-checked).
      data_shape: one example's shape; ``None``: unknown (the estimate is then
        a lower bound, for the smallest data of the model's kind).

    Returns:
      The :class:`Sizes` (formulas in the module docstring).
    """
    shape = tuple(data_shape) if data_shape is not None else _floor_shape(model)
    latent = _int(model.latent_dim, 16)
    if model.name == "pixelcnn":
        sizes = _pixelcnn(model, shape)
    elif model.name in ("vqvae", "vqvae2"):
        sizes = _vqvae(model, shape)
    elif model.name == "tdvae":
        sizes = _tdvae(model, shape, latent)
    elif model.architecture == "recurrent":
        sizes = _recurrent(model, shape, latent)
    elif model.architecture == "conv":
        sizes = _conv(model, shape, latent)
    else:
        sizes = _mlp(model, shape, latent)
    pseudo = _int(model.options.get("num_pseudo_inputs"), 0) * _product(shape)  # a VampPrior's inputs
    mixture = _int(model.options.get("num_components"), 0) * 2 * latent
    return dataclasses.replace(sizes, parameters=sizes.parameters + pseudo + mixture, samples=_samples(model))


def _sci(number: float) -> str:
    """``7.9e11``, ``2e9``: a number in scientific notation without ``+`` and trailing zeros."""
    mantissa, exponent = f"{number:.1e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def _bytes(count: float) -> str:
    """``3.2 TiB``: a size in bytes, in binary units."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if count < 1024 or unit == "PiB":
            return f"{count:.0f} {unit}" if unit == "B" or count == int(count) else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} PiB"  # not reached


def _count(number: int) -> str:
    """``100,000`` below 1e7, ``_sci`` above."""
    return f"{number:,}" if number < 10**7 else _sci(number)


def request_limit() -> int:
    """What one request's samples may hold: :data:`REQUEST_BYTES_CAP`, or half of this machine's memory if less."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):  # not POSIX
        return REQUEST_BYTES_CAP
    return min(REQUEST_BYTES_CAP, memory // 2) if memory > 0 else REQUEST_BYTES_CAP


def _limit_text(limit: int) -> str:
    return _bytes(limit) + ("" if limit == REQUEST_BYTES_CAP else " (half of this machine's memory)")


#: One way the config could differ: (its key, the model, the data's shape, the batch size).
_Variant = tuple[str, ModelConfig, "tuple[int, ...] | None", int]


def _culprit(variants: list[_Variant], measure: Callable[[ModelConfig, tuple[int, ...] | None, int], float],
             fallback: str) -> str:
    """The key whose value, put back to its default, lowers ``measure`` the most (``fallback`` if none does)."""
    base = measure(*variants[0][1:])
    best, lowest = fallback, base
    for key, model, shape, batch in variants[1:]:
        value = measure(model, shape, batch)
        if value < lowest:
            best, lowest = key, value
    return best


def _model_variants(model: ModelConfig) -> list[tuple[str, ModelConfig]]:
    """``model`` with one key put back to its default, for each key that can make a model large."""
    defaults = ModelConfig()
    variants = []
    for key in ("latent_dim", "hidden_units", "filters", "num_samples"):
        if getattr(model, key) != getattr(defaults, key):
            variants.append((f"model.{key}", dataclasses.replace(model, **{key: getattr(defaults, key)})))
    for option, value in model.options.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            rest = {k: v for k, v in model.options.items() if k != option}
            variants.append((f"model.options.{option}", dataclasses.replace(model, options=rest)))
    return variants


def _advice(key: str) -> str:
    return _ADVICE.get(key, "use a smaller value")


def _check_layers(model: ModelConfig) -> None:
    """Refuse more than :data:`MAX_LAYERS` layers (a Keras build of 100,000 layers seems to hang)."""
    for key in ("hidden_units", "filters"):
        value = getattr(model, key)
        if isinstance(value, (list, tuple)) and len(value) > MAX_LAYERS:
            raise ConfigError(f"model.{key}: {len(value):,} layers, above the limit of {MAX_LAYERS:,}; "
                              "use fewer layers")
    for option in LAYER_OPTIONS:
        value = model.options.get(option)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > MAX_LAYERS:
            raise ConfigError(f"model.options.{option}: {_count(int(value))} layers, above the limit of "
                              f"{MAX_LAYERS:,}; use fewer layers")


def _check(variants: list[_Variant], fallback: str) -> None:
    """Refuse the first variant (the config itself) when above a limit, naming the key most to blame.

    Args:
      variants: the config, then the config with one key at its default, each
        as ``(key, model, data shape, batch size)``.
      fallback: the key named when no single key explains the size.

    Raises:
      ConfigError: above :data:`MAX_PARAMETERS`, the samples of a request
        above :func:`request_limit` or one step above :data:`MAX_STEP_BYTES`.
    """
    _, model, shape, batch = variants[0]
    sizes = estimate(model, shape)
    if sizes.parameters > MAX_PARAMETERS:
        key = _culprit(variants, lambda m, s, b: estimate(m, s).parameters, fallback)
        raise ConfigError(f"{key}: the model would have {_sci(sizes.parameters)} parameters "
                          f"({_bytes(sizes.parameters * FLOAT_BYTES)} of float32 weights), above the limit of "
                          f"{_sci(MAX_PARAMETERS)} parameters; {_advice(key)}")
    size = _product(shape if shape is not None else _floor_shape(model))
    limit = request_limit()
    if sizes.samples > 1 and sizes.samples * batch * size * FLOAT_BYTES > limit:
        key = "model.options.k" if model.name == "iwae" else "model.num_samples"
        need = sizes.samples * batch * size * FLOAT_BYTES
        raise ConfigError(f"{key}: {_count(sizes.samples)} samples per example would hold about {_bytes(need)} "
                          f"({_count(sizes.samples)} x batch {_count(batch)} x {_count(size)} values x 4 bytes), "
                          f"above the limit of {_limit_text(limit)}; use fewer samples or a smaller batch")
    step = sizes.step_values(batch) * FLOAT_BYTES * 2
    if step > MAX_STEP_BYTES:
        key = _culprit(variants, lambda m, s, b: estimate(m, s).step_values(b), fallback)
        raise ConfigError(f"{key}: one training step would need about {_bytes(step)} of activations and gradients "
                          f"(batch {_count(batch)} x {_sci(sizes.step_values(1))} values x 4 bytes x 2), above "
                          f"the limit of {_bytes(MAX_STEP_BYTES)}; {_advice(key)}")


def config_data_shape(data: DataConfig) -> tuple[tuple[int, ...] | None, bool]:
    """The shape of one example as far as the ``[data]`` table tells it without reading the data.

    Args:
      data: the ``[data]`` table.

    Returns:
      ``(shape, exact)``: the shape of a dataset of :data:`KNOWN_SHAPES`
      (padded to ``data.pad_to``), else a lower bound (``data.pad_to`` x
      ``data.pad_to`` x 1, or an ``images:`` folder's ``data.image_size`` x
      ``data.channels``) with ``exact`` false; ``(None, False)`` when nothing
      is known.
    """
    name = data.dataset
    known = KNOWN_SHAPES.get(name) if data.data_dir is None or name in _IGNORE_DATA_DIR else None
    if known is not None and data.pad_to is not None and len(known) == 3:
        return (data.pad_to, data.pad_to, known[2]), True
    if known is not None:
        return known, True
    if data.pad_to is not None:
        return (data.pad_to, data.pad_to, data.channels or 1), False
    if isinstance(name, str) and name.startswith("images:") and data.image_size:
        return (*data.image_size, data.channels or 1), False
    return None, False


def check_config(config: ExperimentConfig) -> None:
    """Refuse a config whose model or training step would be too large (range-checked values; no TensorFlow).

    The data's shape is what :func:`config_data_shape` tells (a lower bound
    when it is not known): :func:`check_model` checks again with the real one.

    Args:
      config: the experiment, its values range-checked (:meth:`~tfvae.config.ExperimentConfig.validate`).

    Raises:
      ConfigError: above a limit (module docstring), naming the key most to blame.
    """
    model, data = config.model, config.data
    _check_layers(model)
    if config.kind != "model":  # a prior: its data are a run's codes, known when it is built
        _check([("model", model, (1,), 1), *((key, variant, (1,), 1) for key, variant in _model_variants(model))],
               "model")
        return
    shape, _ = config_data_shape(data)
    variants: list[_Variant] = [("model", model, shape, data.batch_size)]
    variants += [(key, variant, shape, data.batch_size) for key, variant in _model_variants(model)]
    for key in ("pad_to", "image_size"):
        if getattr(data, key) is not None:
            other, _ = config_data_shape(dataclasses.replace(data, **{key: None}))
            variants.append((f"data.{key}", model, other, data.batch_size))
    if data.batch_size != DataConfig().batch_size:
        variants.append(("data.batch_size", model, shape, DataConfig().batch_size))
    _check(variants, "data" if shape is not None else "model")


def check_model(model: ModelConfig, data_shape: Sequence[int] | None) -> None:
    """Refuse a model that would be too large for examples of ``data_shape`` (one example per step).

    What :func:`tfvae.experiment.build_model` checks before it builds
    anything, with the data's real shape: the layers, the parameters, and
    the activations of a training step on a single example.

    Args:
      model: the ``[model]`` table.
      data_shape: one example's shape; ``None`` when unknown (a prior, whose codes the source run gives).

    Raises:
      ConfigError: above a limit, naming the key most to blame (``data``: the examples themselves).
    """
    _check_layers(model)
    shape = tuple(data_shape) if data_shape is not None else None
    variants: list[_Variant] = [("model", model, shape, 1)]
    variants += [(key, variant, shape, 1) for key, variant in _model_variants(model)]
    _check(variants, "data")


def iwae_problem(k: int, batch_size: int, data_shape: Sequence[int]) -> str | None:
    """What is wrong with an IWAE estimate of ``k`` samples on batches of ``batch_size``, if anything.

    ``k x batch x D x 4`` bytes must stay below :func:`request_limit`
    (``k = 5000`` on MNIST with a batch of 20: 314 MB).

    Args:
      k: importance samples per example.
      batch_size: examples per batch.
      data_shape: one example's shape (the run's ``run.json``).

    Returns:
      The message (without the flag), or ``None`` when it fits.
    """
    size = _product(data_shape)
    need = k * batch_size * size * FLOAT_BYTES
    limit = request_limit()
    if need <= limit:
        return None
    return (f"{_count(k)} importance samples would hold about {_bytes(need)} ({_count(k)} x batch "
            f"{_count(batch_size)} x {_count(size)} values x 4 bytes), above the limit of {_limit_text(limit)}; "
            "use a smaller --iwae-k or --batch-size")


def sample_problem(num: int, data_shape: Sequence[int]) -> str | None:
    """What is wrong with drawing ``num`` samples of ``data_shape`` at once, if anything.

    ``num x D x 4 x 4`` bytes must stay below :func:`request_limit`.

    Args:
      num: ``tfvae sample --num``.
      data_shape: one example's shape (the run's ``run.json``).

    Returns:
      The message (without the flag), or ``None`` when it fits.
    """
    size = _product(data_shape)
    need = num * size * FLOAT_BYTES * 4
    limit = request_limit()
    if need <= limit:
        return None
    return (f"{_count(num)} samples of {_count(size)} values would hold about {_bytes(need)} ({_count(num)} x "
            f"{_count(size)} x 4 bytes x 4), above the limit of {_limit_text(limit)}; draw fewer at a time "
            "(several calls with different --seed)")
