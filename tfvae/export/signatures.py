"""Serving signatures: the generic machinery that turns a model's declared signatures into ``tf.function`` s.

A model declares its signatures itself (:meth:`~tfvae.models.GenerativeModel.serving_signatures`,
records of :class:`~tfvae.models.contract.ServingSignature` over public model
methods; see :mod:`tfvae.models.contract`). This module only

1. adds the in-graph input checks each input's ``kind`` needs (shape, rows
   per example, NaN, value ranges of labels and code maps, sequence lengths),
   because TF Serving feeds request tensors without checking them;
2. maps per-row functions over the batch (:func:`per_row`), so a seeded row
   does not depend on the other rows of the request;
3. checks that the outputs are a dict of tensors.

A family adds or changes signatures by overriding ``serving_signatures`` in
its model class (``tfvae/models/``), starting from its parent's::

    class MyAE(Autoencoder):
        def serving_signatures(self, prior=None, options=None):
            signatures = super().serving_signatures(prior, options)
            signatures["embed"] = ServingSignature({"x": data_input(self.data_shape)}, self.embed_tensors)
            return signatures
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence

import keras
import tensorflow as tf

from tfvae.export.errors import ExportError
from tfvae.models.base import GenerativeModel
from tfvae.models.contract import ServingError, ServingInput, ServingSignature
from tfvae.validation import check_indices, describe_shape

#: The declared signature (kept under its export name).
Signature = ServingSignature
#: Inputs of a signature: name -> spec, batch dimension first.
Specs = Mapping[str, tf.TensorSpec]
#: Outputs of a signature: name -> batch-first tensor.
Outputs = dict[str, tf.Tensor]


def serving_signatures(model: keras.Model, prior=None, options: Mapping | None = None) -> dict[str, Signature]:
    """The signatures ``model`` declares (``model.serving_signatures``), ``serving_default`` among them.

    Args:
      model: a tfvae model.
      prior: a separately trained prior over the model's codes (a VQ-VAE's
        :class:`~tfvae.models.PixelCNN`, or the ``{"top", "bottom"}`` dict of a VQ-VAE-2).
      options: settings fixed at export time (e.g. a TD-VAE's ``{"horizon": 8, "jump": 2}``).

    Raises:
      ExportError: the model serves nothing, takes no such prior or options,
        or declared no ``serving_default``.
    """
    if not isinstance(model, GenerativeModel):
        raise ExportError(f"{type(model).__name__} is not a tfvae model: it declares no serving signatures")
    try:
        signatures = dict(model.serving_signatures(prior=prior, options=dict(options or {})))
    except ServingError as error:
        raise ExportError(str(error)) from error
    if "serving_default" not in signatures:
        raise ExportError(f"the signatures of {type(model).__name__} lack 'serving_default'")
    return signatures


def traced(name: str, signature: Signature):
    """A ``tf.function`` for ``signature``: one named tensor argument per input, checked, then computed.

    The argument names become the signature's input names, and its
    ``input_signature`` fixes their dtypes and inner shapes.
    """
    names = list(signature.inputs)

    def call(*args):
        inputs = checked_inputs(signature.inputs, dict(zip(names, args)))
        if signature.row_outputs is None:
            outputs = signature.fn(**inputs)
        else:
            outputs = per_row(lambda *row: signature.fn(**dict(zip(names, row))),
                              tuple(inputs[n] for n in names), signature.row_outputs)
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
    specs = [tf.TensorSpec(spec.spec().shape, spec.spec().dtype, name=n) for n, spec in signature.inputs.items()]
    return tf.function(call, input_signature=specs, autograph=False)


def checked_inputs(specs: Mapping[str, ServingInput], inputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """``inputs`` after the in-graph checks of their kinds, in an order that names the first problem.

    Shapes first (each input), then one row per example of the first input,
    then sequence lengths, NaN or infinities in float inputs, and value ranges of labels and code maps.
    """
    names = list(specs)
    out = {}
    for name in names:
        spec = specs[name]
        if spec.kind == "sequence":
            out[name] = checked_sequence_shape(inputs[name], name, spec.shape[1:])
        elif spec.kind == "label":
            out[name] = inputs[name]  # its own check names shape, rows and range at once (checked_labels)
        else:
            out[name] = checked(inputs[name], name, spec.shape)
    first = names[0]
    for name in names[1:]:
        if specs[name].kind == "label":
            out[name] = checked_labels(out[name], out[first], specs[name].depth, name)
        else:
            out[name] = same_batch(out[first], out[name], f"{name} needs one row per example of {first}; got rows")
    if specs[first].kind == "label":
        out[first] = checked_labels(out[first], out[first], specs[first].depth, first)
    after = tuple(out[name] for name in names)
    for name in names:
        spec = specs[name]
        if spec.kind == "sequence":
            out[name] = checked_length(out[name], name, spec.min_length, after)
        if spec.kind in ("data", "sequence", "latent"):
            out[name] = finite(out[name], name)
        elif spec.kind == "codes":
            out[name] = check_indices(out[name], name, spec.depth, what="code indices")
    return out


# ------------------------------------------------------- input validation
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


def checked_labels(labels: tf.Tensor, rows: tf.Tensor, depth: int, name: str = "condition") -> tf.Tensor:
    """Labels after one in-graph check: shape ``(batch,)``, one per row of ``rows``, each in ``[0, depth)``.

    Args:
      labels: the labels.
      rows: a tensor with one row per example.
      depth: the number of classes.
      name: the labels' input name, for the message.
    """
    shape = tf.shape(labels)
    flat = tf.reshape(labels, [-1])
    valid = tf.logical_and(
        tf.logical_and(tf.equal(tf.size(shape), 1), tf.equal(tf.size(flat), tf.shape(rows)[0])),
        tf.reduce_all((flat >= 0) & (flat < depth)),
    )
    message = (f"{name} must have shape (batch,) with one label per row of the batch, "
               f"each in [0, {depth}); got shape")
    with tf.control_dependencies([tf.debugging.Assert(valid, [message, shape, "and labels", flat], summarize=16)]):
        return tf.identity(labels)


def checked_sequence_shape(x: tf.Tensor, name: str, frame_shape: Sequence[int]) -> tf.Tensor:
    """Sequences ``x`` after an in-graph check that their shape is ``(batch, time, *frame_shape)``."""
    frame_shape = [int(d) for d in frame_shape]
    rank = len(frame_shape) + 1
    shape = tf.shape(x, out_type=tf.int32)
    padded = tf.concat([shape[2:], tf.fill([rank - 1], -1)], axis=0)[:rank - 1]
    same = tf.logical_and(
        tf.equal(tf.size(shape), rank + 1),
        tf.reduce_all(tf.equal(padded, tf.constant(frame_shape, tf.int32))),
    )
    expected = "(batch, time" + "".join(f", {d}" for d in frame_shape) + ")"
    with tf.control_dependencies([tf.debugging.Assert(same, [f"{name} must have shape {expected}; got", shape],
                                                      summarize=16)]):
        return tf.identity(x)


def checked_length(x: tf.Tensor, name: str, min_length: int, after: tuple[tf.Tensor, ...] = ()) -> tf.Tensor:
    """Sequences ``x`` after an in-graph check of at least ``min_length`` time steps.

    It runs after the ``after`` tensors (the other inputs' shape checks), so a
    request with a wrong shape fails on its shape, not on a length computed from it.
    """
    with tf.control_dependencies([x, *after]):
        length = tf.shape(x)[1]
        message = (f"{name} needs sequences of at least {min_length} time step{'s' if min_length > 1 else ''}"
                   + (" (max_jump + 1: the score draws pairs up to max_jump steps apart)" if min_length > 1 else "")
                   + "; got")
        enough = tf.debugging.Assert(length >= min_length, [message, length])
    with tf.control_dependencies([enough]):
        return tf.identity(x)
