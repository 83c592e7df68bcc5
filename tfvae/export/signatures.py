"""Serving signatures: plain tensors in and out, one builder per model family.

A *signature* is a named function of batch-first tensors (float32, int32 or
int64) that returns a dict of batch-first tensors, never a TFP distribution.
:func:`serving_signatures` finds the signatures of a model:

1. a ``serving_signatures()`` method on the model, when a family defines one;
2. otherwise the builder registered with :func:`register_signatures` for the
   nearest class in the model's MRO (``VAE`` before ``Autoencoder``).

A family adds or overrides signatures by registering a builder that starts
from its parent's::

    @register_signatures(MyAE)
    def my_ae_signatures(model):
        signatures = autoencoder_signatures(model)
        signatures["embed"] = ...  # a Signature
        return signatures

A builder that also takes ``prior=`` receives a separately trained prior
(``export_saved_model(model, path, prior=...)``): the VQ-VAE families use
it for their ``sample`` signature. A builder that takes ``options=`` receives
the family's export-time settings (``export_saved_model(model, path,
options={...})``): the TD-VAE family's ``rollout`` horizon and jump.

Conditional families add a ``condition`` input to the specs and pass it on
to ``encode`` / ``decode`` (see :func:`data_inputs`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from tfvae.export.errors import ExportError

#: Inputs of a signature: name -> spec, batch dimension first.
Specs = Mapping[str, tf.TensorSpec]
#: Outputs of a signature: name -> batch-first tensor.
Outputs = dict[str, tf.Tensor]


@dataclass(frozen=True)
class Signature:
    """One SavedModel signature.

    Args:
      inputs: input name -> ``tf.TensorSpec`` (batch dimension first; the
        name of the spec is ignored, the key is the input name).
      fn: ``fn(**inputs) -> dict`` of batch-first output tensors.
      description: one line for ``tfvae export`` and the docs.
      example: ``example(batch_size) -> {name: np.ndarray}``, valid inputs used
        for the TF Serving warmup requests; defaults to :func:`default_example`.
    """

    inputs: Specs
    fn: Callable[..., Outputs]
    description: str = ""
    example: Callable[[int], dict[str, np.ndarray]] | None = None

    def example_inputs(self, batch_size: int = 1) -> dict[str, np.ndarray]:
        """Valid inputs with ``batch_size`` examples (warmup requests, smoke tests)."""
        if self.example is not None:
            return self.example(batch_size)
        return {name: default_example(spec, batch_size) for name, spec in self.inputs.items()}

    def tf_function(self, name: str):
        """A ``tf.function`` with one named tensor argument per input.

        The argument names become the signature's input names, and its
        ``input_signature`` fixes their dtypes and inner shapes.
        """
        names = list(self.inputs)
        fn = self.fn

        def call(*args):
            outputs = fn(**dict(zip(names, args)))
            if not isinstance(outputs, Mapping) or not outputs:
                raise ExportError(f"signature {name!r} must return a non-empty dict of tensors")
            for key, value in outputs.items():
                if not tf.is_tensor(value):
                    raise ExportError(f"signature {name!r} output {key!r} is {type(value).__name__}, not a tensor")
            return dict(outputs)

        call.__name__ = name
        call.__signature__ = inspect.Signature(
            [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names]
        )
        specs = [tf.TensorSpec(spec.shape, spec.dtype, name=n) for n, spec in self.inputs.items()]
        return tf.function(call, input_signature=specs, autograph=False)


def default_example(spec: tf.TensorSpec, batch_size: int) -> np.ndarray:
    """An input of ``spec``'s dtype and shape: 0.5 for floats (valid data for
    every likelihood), zeros for integers; free inner dimensions become 1."""
    shape = [batch_size, *(1 if d is None else d for d in spec.shape[1:])]
    value = 0.5 if spec.dtype.is_floating else 0
    return np.full(shape, value, dtype=spec.dtype.as_numpy_dtype)


# ---------------------------------------------------------------- registry
SignatureBuilder = Callable[[keras.Model], dict[str, Signature]]
_BUILDERS: dict[type, SignatureBuilder] = {}


def register_signatures(cls: type) -> Callable[[SignatureBuilder], SignatureBuilder]:
    """Decorator: ``builder(model) -> {name: Signature}`` serves ``cls`` and its subclasses.

    Args:
      cls: the model class; a subclass with its own builder takes precedence.
    """

    def decorate(builder: SignatureBuilder) -> SignatureBuilder:
        _BUILDERS[cls] = builder
        return builder

    return decorate


def _takes(fn: Callable, name: str) -> bool:
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in parameters or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def serving_signatures(model: keras.Model, prior=None, options: Mapping | None = None) -> dict[str, Signature]:
    """The signatures exported for ``model``, ``serving_default`` among them.

    Args:
      model: a tfvae model.
      prior: a separately trained prior over the model's codes (a VQ-VAE's
        :class:`~tfvae.models.PixelCNN`, or the ``{"top", "bottom"}`` dict of a
        VQ-VAE-2), handed to the builder as ``builder(model, prior=prior)``;
        ``None`` (the default) calls ``builder(model)``.
      options: family options fixed at export time (e.g. a TD-VAE's
        ``{"horizon": 8, "jump": 2}`` for its ``rollout`` signature), handed to
        the builder as ``builder(model, options=options)``; ``None`` or ``{}``
        (the default) leaves the builder's defaults.

    Raises:
      ExportError: no builder serves the model's class, it returned no
        ``serving_default``, or a prior (options) was given to a family that
        takes none.
    """
    hook = getattr(model, "serving_signatures", None)
    if callable(hook):
        builder, args = hook, ()
    else:
        builder = next((_BUILDERS[k] for k in type(model).__mro__ if k in _BUILDERS), None)
        if builder is None:
            raise ExportError(
                f"no serving signatures for {type(model).__name__}: register a builder with "
                "tfvae.export.register_signatures or give the model a serving_signatures() method"
            )
        args = (model,)
    kwargs = {}
    if prior is not None:
        if not _takes(builder, "prior"):
            raise ExportError(
                f"{type(model).__name__} is exported without a prior: its signatures take none "
                "(a prior is exported with VQVAE / VQVAE2, whose sample signature runs it)"
            )
        kwargs["prior"] = prior
    if options:
        if not _takes(builder, "options"):
            raise ExportError(
                f"the signatures of {type(model).__name__} take no export options, got {sorted(options)} "
                "(options are fixed at export time by families that have some, e.g. TDVAE's rollout horizon)"
            )
        kwargs["options"] = dict(options)
    signatures = dict(builder(*args, **kwargs))
    if "serving_default" not in signatures:
        raise ExportError(f"the signatures of {type(model).__name__} lack 'serving_default'")
    return signatures


# ------------------------------------------------------- input validation
def describe_shape(shape: Sequence[int | None]) -> str:
    """``(batch, 28, 28, 1)`` for ``(None, 28, 28, 1)``."""
    return "(" + ", ".join("batch" if d is None else str(d) for d in shape) + ")"


def checked(x: tf.Tensor, name: str, inner_shape: Sequence[int]) -> tf.Tensor:
    """``x`` after an in-graph check that its shape is ``(batch, *inner_shape)``.

    TF Serving feeds request tensors into the graph without checking them
    against the signature's shapes, so the check is an op: a wrong shape
    fails with ``InvalidArgumentError: ... x must have shape (batch, 28, 28,
    1); got [2 784]`` before any layer sees it.

    Args:
      x: the input tensor.
      name: its name in the signature.
      inner_shape: the expected shape of one example.
    """
    inner_shape = [int(d) for d in inner_shape]
    rank = len(inner_shape)
    shape = tf.shape(x, out_type=tf.int32)
    padded = tf.concat([shape[1:], tf.fill([rank], -1)], axis=0)[:rank]
    same = tf.logical_and(
        tf.equal(tf.size(shape), rank + 1),
        tf.reduce_all(tf.equal(padded, tf.constant(inner_shape, tf.int32))),
    )
    message = f"{name} must have shape {describe_shape([None, *inner_shape])}; got"
    with tf.control_dependencies([tf.debugging.Assert(same, [message, shape], summarize=16)]):
        return tf.identity(x)


def in_range(x: tf.Tensor, name: str, depth: int, what: str = "code indices") -> tf.Tensor:
    """Integer ``x`` after an in-graph check that every value lies in ``[0, depth)``.

    A code index out of range would otherwise reach ``tf.gather`` (which
    fails on CPU with an opaque message and returns zeros on GPU); the check
    fails with ``InvalidArgumentError: ... indices must hold code indices in
    [0, 16); got values from -1 to 3``.

    Args:
      x: an integer tensor.
      name: its name in the signature.
      depth: the number of valid values.
      what: what the values are, for the message.
    """
    flat = tf.reshape(x, [-1])
    valid = tf.reduce_all(tf.logical_and(flat >= 0, flat < tf.cast(depth, flat.dtype)))
    low, high = tf.reduce_min(flat), tf.reduce_max(flat)  # only shown when some value is out of range
    message = f"{name} must hold {what} in [0, {depth}); got values from"
    with tf.control_dependencies([tf.debugging.Assert(valid, [message, low, "to", high])]):
        return tf.identity(x)


def same_batch(a: tf.Tensor, b: tf.Tensor, message: str) -> tf.Tensor:
    """``b`` after checking that it has as many rows as ``a``."""
    same = tf.equal(tf.shape(a)[0], tf.shape(b)[0])
    with tf.control_dependencies([tf.debugging.Assert(same, [message, tf.shape(a)[0], tf.shape(b)[0]])]):
        return tf.identity(b)


def finite(x: tf.Tensor, name: str) -> tf.Tensor:
    """``x`` after an in-graph NaN / infinity check."""
    return tf.debugging.assert_all_finite(x, f"{name} contains NaN or infinite values")


def per_row(fn: Callable[..., Outputs], elems: tuple[tf.Tensor, ...], output: Specs) -> Outputs:
    """``fn`` applied to each row of ``elems`` (a ``tf.map_fn``), results stacked.

    Each row is computed alone, so its result does not depend on the other
    rows of the request (nor on TF Serving's batching).
    """
    signature = {name: tf.TensorSpec(spec.shape, spec.dtype) for name, spec in output.items()}
    return tf.map_fn(lambda row: fn(*row), elems, fn_output_signature=signature)
