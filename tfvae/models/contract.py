"""The model contract: what a model can do, which options it takes, what it serves.

Everything outside :mod:`tfvae.models` (runs, commands, metrics, pictures,
export) asks a model through this contract and never probes it with
``hasattr`` or branches on its class:

- :attr:`~tfvae.models.GenerativeModel.capabilities` -- a :class:`Capabilities`
  record (has a prior, has a likelihood bound, is conditional, models sequences, has discrete codes,
  needs a separately trained prior to sample, ...);
- :attr:`~tfvae.models.GenerativeModel.config_options` and
  :attr:`~tfvae.models.GenerativeModel.architectures` -- the ``model.options``
  keys a family takes and the generic ``[model]`` fields each of its builders
  takes, declared, so ``config -> model`` needs no reflection;
- :attr:`~tfvae.models.GenerativeModel.updates` -- the updates one training
  step makes (:class:`Update`: a loss term, the variables it moves, its
  optimizer's settings and schedule); one update by default, two for a
  family that trains a second network by its own loss (FactorVAE's
  discriminator);
- :meth:`~tfvae.models.GenerativeModel.serving_signatures` -- the family's
  serving signatures as :class:`ServingSignature` records over public,
  traceable model methods. :mod:`tfvae.export` only checks the inputs, maps
  per-row functions over the batch and writes the SavedModel.

Adding a model: subclass a family, set ``capabilities`` (or let it inherit),
list its ``config_options``, and override ``serving_signatures`` only when it
serves something new.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import keras
import numpy as np
import tensorflow as tf

from tfvae.errors import TfvaeError

#: What a signature input is, which decides the checks the export adds:
#: ``data`` (finite floats of the model's example shape), ``latent`` (float
#: codes), ``sequence`` (``[time, *frame]`` with at least ``min_length`` steps,
#: finite), ``seed`` (int64 ``[2]`` stateless seeds), ``label`` (int32 class
#: labels in ``[0, depth)``), ``codes`` (int32 code maps in ``[0, depth)``).
INPUT_KINDS = ("data", "latent", "sequence", "seed", "label", "codes")

#: The largest magnitude a served data value may have when the likelihood puts no bound on it: beyond it
#: float32 arithmetic overflows (a Gaussian's squared error of 1e20 is infinite) and every output is NaN.
DATA_MAGNITUDE_LIMIT = 1e12
#: The largest magnitude a served latent value may have: a million prior standard deviations. Larger codes
#: come from no encoder and only push the decoder's activations towards overflow.
LATENT_MAGNITUDE_LIMIT = 1e6


class ServingError(TfvaeError, ValueError):
    """A model cannot serve what was asked (a prior or options it does not take, invalid export settings)."""


@dataclass(frozen=True)
class Capabilities:
    """What a model can do. Callers read it; they never probe the model.

    Args:
      autoencoder: one code per example: ``encode(x)`` gives ``q(z|x)`` and
        ``decode(z)`` gives ``p(x|z)`` (the Autoencoder contract).
      has_prior: a prior ``p(z)`` the model samples from itself (``model.sample``). It says
        nothing about a bound: a model can sample its prior without one (a WAE).
      likelihood_bound: ``model.elbo(x)`` is a lower bound on ``log p(x)`` (its negative the
        ``score``), and the importance weights ``p(x|z) p(z) / q(z|x)`` of the IWAE estimate are
        defined: the VAE family (VAE, beta-VAE, IWAE; CVAE's bound is on ``log p(x|y)``).
        Metrics and anomaly scores use the ELBO and IWAE only for such a model. Not declared by
        a VQ-VAE, whose point-mass code bounds ``-log p(x)`` only through a prior over its codes
        (``vq_bound``: the uniform prior, or the one trained with ``needs_trained_prior``), nor by
        TD-VAE, whose loss bounds the jumpy ``log p(x_t2 | x_<=t1)`` through its belief, not
        ``log p(x)``.
      needs_trained_prior: samples come from a separately trained prior over
        discrete codes (``model.make_prior()``; ``tfvae train vq_prior``).
      conditional: every example comes with a class label (``condition=``).
      sequences: examples are sequences ``[time, *features]``.
      rollout: the model predicts the future of a sequence
        (``model.rollout``); its pictures are film strips.
      image_data: examples are images ``(H, W, C)`` (grids of decoded data).
      discrete_codes: the latent is a map of code indices
        (``encode_indices`` / ``decode_indices``).
      continuous_latent: the latent is a vector whose dimensions can be
        traversed one at a time (pictures such as latent traversals).
      stochastic_encoder: ``q(z|x)`` has a spread (not a point mass).
      masked_data: zeros in the data are unobserved entries (ratings);
        metrics average over observed entries only.
      code_prior: the model is itself a prior over another model's code maps
        (a PixelCNN, trained by ``tfvae train vq_prior``).
    """

    autoencoder: bool = False
    has_prior: bool = False
    likelihood_bound: bool = False
    needs_trained_prior: bool = False
    conditional: bool = False
    sequences: bool = False
    rollout: bool = False
    image_data: bool = False
    discrete_codes: bool = False
    continuous_latent: bool = True
    stochastic_encoder: bool = False
    masked_data: bool = False
    code_prior: bool = False

    def but(self, **changes) -> Capabilities:
        """A copy with ``changes`` (subclasses declare what differs from their parent)."""
        return replace(self, **changes)

    @property
    def can_sample(self) -> bool:
        """Samples can be drawn (directly, or through a trained prior)."""
        return self.has_prior or self.needs_trained_prior


@dataclass(frozen=True)
class Update:
    r"""One update of a training step: one loss term minimised over some variables by its own optimizer.

    A step computes the model's loss terms once (one forward pass) and then
    applies every update due at that step: update ``u`` moves its variables
    ``V_u`` by its optimizer along

    .. math:: g_u = \nabla_{V_u} \, \mathrm{mean}_{\text{batch}}\, \text{terms}[u.\text{loss}],

    all gradients taken on the same forward pass, so no update sees another's
    move within the step. The updates' variables must not overlap; the first
    update (``variables=None``) takes every trainable variable no other
    update names. ``Keras fit`` and :func:`tfvae.loops.train_loop` run the
    same :func:`tfvae.models.steps.gradient_step`, which applies all of them
    or none (the non-finite guard decides for the whole step).

    Args:
      name: names the update: the key of its optimizer in ``compile(optimizer={name: ...})``, of its
        learning rate in ``train.learning_rates`` and of its optimizer state in checkpoints
        (``optimizer_<name>``). The first update's optimizer is ``model.optimizer``.
      loss: the loss term (a name in ``loss_term_names``) the update minimises.
      variables: ``variables(model) -> list`` of the variables it moves; ``None``: every trainable
        variable that no other update names (only the first update may leave it out).
      learning_rate: its default step size (``None``: the run's ``train.learning_rate``).
      optimizer: the Keras optimizer's name (``keras.optimizers.get``), when the caller gives none.
      optimizer_settings: keyword arguments of that optimizer beside the learning rate
        (e.g. ``{"beta_1": 0.5, "beta_2": 0.9}``).
      every: the update is applied at the steps ``t`` with ``t % every == 0`` (``t`` counts from 0;
        ``1``: every step).
    """

    name: str
    loss: str = "loss"
    variables: Callable[..., list] | None = field(default=None, compare=False)
    learning_rate: float | None = None
    optimizer: str = "adam"
    optimizer_settings: Mapping[str, float] = field(default_factory=dict)
    every: int = 1

    def __post_init__(self):
        if not self.name.isidentifier():
            raise ValueError(f"an update's name must be an identifier (it keys configs and checkpoints), "
                             f"got {self.name!r}")
        if int(self.every) < 1:
            raise ValueError(f"update {self.name!r}: every must be >= 1, got {self.every}")

    def make_optimizer(self, learning_rate: float | None = None):
        """A fresh Keras optimizer for this update: ``learning_rate``, else its own, else Keras' default."""
        rate = learning_rate if learning_rate is not None else self.learning_rate
        settings = dict(self.optimizer_settings, **({} if rate is None else {"learning_rate": float(rate)}))
        default = keras.optimizers.get(self.optimizer)
        return type(default).from_config({**default.get_config(), **settings})


@dataclass(frozen=True)
class ServingInput:
    """One input of a serving signature; the export adds the checks its ``kind`` needs.

    Args:
      kind: one of :data:`INPUT_KINDS`.
      shape: the shape of ONE example (``None`` for a free dimension).
      dtype: ``"float32"``, ``"int32"`` or ``"int64"``.
      depth: ``label`` / ``codes``: the values lie in ``[0, depth)``.
      min_length: ``sequence``: the fewest time steps accepted.
      bounds: ``data`` / ``sequence`` / ``latent``: the closed interval every value must lie in
        (``None``: finite values of any size).
      domain: what sets ``bounds``, for the message (``"the BernoulliLikelihood of VAE"``).
    """

    kind: str
    shape: tuple[int | None, ...]
    dtype: str = "float32"
    depth: int | None = None
    min_length: int = 1
    bounds: tuple[float, float] | None = None
    domain: str = ""

    def __post_init__(self):
        if self.kind not in INPUT_KINDS:
            raise ValueError(f"ServingInput kind must be one of {INPUT_KINDS}, got {self.kind!r}")

    def spec(self) -> tf.TensorSpec:
        """The batch-first ``tf.TensorSpec`` of the input."""
        return tf.TensorSpec([None, *self.shape], tf.as_dtype(self.dtype))

    def example(self, batch_size: int) -> np.ndarray:
        """A valid input of ``batch_size`` rows: 0.5 for floats, zeros for integers (free dimensions: ``min_length``)."""
        shape = [batch_size, *(self.min_length if d is None else d for d in self.shape)]
        value = 0.5 if tf.as_dtype(self.dtype).is_floating else 0
        return np.full(shape, value, dtype=tf.as_dtype(self.dtype).as_numpy_dtype)


def data_input(shape, support: tuple[float, float] | None = None, domain: str = "",
               kind: str = "data", min_length: int = 1) -> ServingInput:
    """``x``: finite float32 examples of ``shape`` within ``support``.

    Args:
      shape: one example's shape (``None`` for a free dimension, e.g. a sequence's time).
      support: the interval the likelihood models (:meth:`~tfvae.models.GenerativeModel.data_support`);
        ``None``: any value up to :data:`DATA_MAGNITUDE_LIMIT` in magnitude.
      domain: what sets ``support`` (:meth:`~tfvae.models.GenerativeModel.likelihood_description`).
      kind: ``"data"`` or ``"sequence"``.
      min_length: ``sequence``: the fewest time steps accepted.
    """
    if support is None:
        support, domain = (-DATA_MAGNITUDE_LIMIT, DATA_MAGNITUDE_LIMIT), "float32 arithmetic"
    return ServingInput(kind, tuple(None if d is None else int(d) for d in shape), min_length=min_length,
                        bounds=(float(support[0]), float(support[1])), domain=domain)


def latent_input(latent_dim: int) -> ServingInput:
    """``z``: finite float32 codes of ``latent_dim`` values, each at most :data:`LATENT_MAGNITUDE_LIMIT` in size."""
    return ServingInput("latent", (int(latent_dim),), bounds=(-LATENT_MAGNITUDE_LIMIT, LATENT_MAGNITUDE_LIMIT),
                        domain="a latent code")


def seed_input() -> ServingInput:
    """``seed``: int64 ``[2]`` per row, one stateless seed per example."""
    return ServingInput("seed", (2,), "int64")


def label_input(num_classes: int) -> ServingInput:
    """``condition`` / ``label``: int32 class labels in ``[0, num_classes)``, one per row."""
    return ServingInput("label", (), "int32", depth=int(num_classes))


@dataclass(frozen=True)
class ServingSignature:
    """One serving signature of a model: named inputs, a public model method, outputs.

    Args:
      inputs: input name -> :class:`ServingInput`, in argument order.
      fn: ``fn(**inputs) -> {name: tensor}``. Without ``row_outputs`` it takes
        the whole (checked) batch; with ``row_outputs`` it takes ONE row (no
        batch dimension) and the export maps it over the batch, so a row's
        result does not depend on the other rows (seeded signatures).
      description: one line for ``tfvae export`` and the docs.
      row_outputs: output name -> ``tf.TensorSpec`` of one row, for per-row ``fn``.
      seeded: the outputs depend on a ``seed`` input (Monte-Carlo draws); such
        signatures use stateless random ops, which portable runtimes (ONNX,
        TFLite) do not all have.
      vectorized: per-row ``fn`` is turned into batched ops over the rows
        (``tf.vectorized_map``); ``False``: one row after the other (``tf.map_fn``),
        for computations the vectoriser gets wrong (TD-VAE's belief loop over a
        one-row request).
    """

    inputs: Mapping[str, ServingInput]
    fn: Callable[..., dict[str, tf.Tensor]]
    description: str = ""
    row_outputs: Mapping[str, tf.TensorSpec] | None = None
    seeded: bool = False
    vectorized: bool = True
    example: Callable[[int], dict[str, np.ndarray]] | None = field(default=None, compare=False)

    def example_inputs(self, batch_size: int = 1) -> dict[str, np.ndarray]:
        """Valid inputs of ``batch_size`` rows (warmup requests, smoke tests)."""
        if self.example is not None:
            return self.example(batch_size)
        return {name: spec.example(batch_size) for name, spec in self.inputs.items()}

    @property
    def specs(self) -> dict[str, tf.TensorSpec]:
        """Input name -> batch-first ``tf.TensorSpec``."""
        return {name: spec.spec() for name, spec in self.inputs.items()}
