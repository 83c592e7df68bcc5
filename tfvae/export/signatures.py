"""Serving signatures: the generic machinery that turns a model's declared signatures into ``tf.function`` s.

A model declares its signatures itself (:meth:`~tfvae.models.GenerativeModel.serving_signatures`,
records of :class:`~tfvae.models.contract.ServingSignature` over public model
methods; see :mod:`tfvae.models.contract`). This module only

1. adds the in-graph input checks each input's ``kind`` needs (shape and rank,
   rows per example, the request size, NaN, the values' domain, value ranges of
   labels and code maps, sequence lengths), because TF Serving feeds request
   tensors without checking them;
2. maps per-row functions over the batch (:func:`per_row`, vectorised), so a
   seeded row does not depend on the other rows of the request;
3. checks that the outputs are a dict of tensors.

Every check is an op that runs on the request: none is decided while tracing
(the placeholders' static shapes would make it a constant that passes every
request; see :func:`request_shape`).

A family adds or changes signatures by overriding ``serving_signatures`` in
its model class (``tfvae/models/``), starting from its parent's::

    class MyAE(Autoencoder):
        def serving_signatures(self, prior=None, options=None):
            signatures = super().serving_signatures(prior, options)
            signatures["embed"] = ServingSignature({"x": data_input(self.data_shape)}, self.embed_tensors)
            return signatures
"""

from __future__ import annotations

import contextlib
import inspect
import logging
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

#: The most rows (examples) one request may hold, unless the export sets another limit. Every signature's
#: memory grows linearly with the rows (e.g. ``score`` of an MNIST VAE: about 20 kB a row), so this bounds a
#: request to a few GB for 28x28 images; lower it for larger examples.
MAX_REQUEST_ROWS = 65_536


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


def traced(name: str, signature: Signature, max_rows: int = MAX_REQUEST_ROWS):
    """A ``tf.function`` for ``signature``: one named tensor argument per input, checked, then computed.

    The argument names become the signature's input names, and its
    ``input_signature`` fixes their dtypes and inner shapes.

    Args:
      name: the signature's name.
      signature: what it computes.
      max_rows: the most rows a request may hold (:data:`MAX_REQUEST_ROWS`).
    """
    names = list(signature.inputs)
    max_rows = check_max_rows(max_rows)

    def call(*args):
        inputs = checked_inputs(signature.inputs, dict(zip(names, args)), max_rows)
        if signature.row_outputs is None:
            outputs = signature.fn(**inputs)
        else:
            outputs = per_row(lambda *row: signature.fn(**dict(zip(names, row))),
                              tuple(inputs[n] for n in names), signature.row_outputs, signature.vectorized)
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


def check_max_rows(max_rows) -> int:
    """``max_rows`` as an int >= 1 (:class:`ExportError` otherwise)."""
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
        raise ExportError(f"max_request_rows must be an integer >= 1, got {max_rows!r}")
    return max_rows


def checked_inputs(specs: Mapping[str, ServingInput], inputs: dict[str, tf.Tensor],
                   max_rows: int = MAX_REQUEST_ROWS) -> dict[str, tf.Tensor]:
    """``inputs`` after the in-graph checks of their kinds, in an order that names the first problem.

    Shapes first (each input), then at most ``max_rows`` rows, one row per example of the first input,
    then sequence lengths, NaN or infinities in float inputs, values outside the input's bounds,
    and value ranges of labels and code maps.
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
    out[first] = at_most_rows(out[first], first, max_rows)
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
            if spec.bounds is not None:
                out[name] = within(out[name], name, spec.bounds, spec.domain)
        elif spec.kind == "codes":
            out[name] = check_indices(out[name], name, spec.depth, what="code indices")
    return out


# ------------------------------------------------------- input validation
def request_shape(x: tf.Tensor) -> tf.Tensor:
    """The shape of the tensor a request fed for ``x``, computed when the request runs.

    ``tf.shape(x)`` of a placeholder with a static rank has a static length,
    so ``tf.size(tf.shape(x))`` is folded to that rank while tracing (and
    grappler folds the raw op again when the graph is optimised): a rank
    check written that way passes every request, and TF Serving does not
    check fed tensors against the signature. A ``PlaceholderWithDefault`` of
    unknown shape returns ``x`` itself but hides its static shape from both.
    """
    return tf.shape(tf.raw_ops.PlaceholderWithDefault(input=x, shape=None), out_type=tf.int32)


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
    shape = request_shape(x)
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


def at_most_rows(x: tf.Tensor, name: str, max_rows: int) -> tf.Tensor:
    """``x`` after an in-graph check that the request holds at most ``max_rows`` rows."""
    rows = request_shape(x)[0]
    message = (f"{name} holds too many rows: a request takes at most {max_rows} (max_request_rows of the export); "
               "split it. Rows sent:")
    with tf.control_dependencies([tf.debugging.Assert(rows <= max_rows, [message, rows])]):
        return tf.identity(x)


def finite(x: tf.Tensor, name: str) -> tf.Tensor:
    """``x`` after an in-graph NaN / infinity check."""
    return tf.debugging.assert_all_finite(x, f"{name} contains NaN or infinite values")


def within(x: tf.Tensor, name: str, bounds: tuple[float, float], domain: str) -> tf.Tensor:
    """``x`` after an in-graph check that every value lies in the closed interval ``bounds``.

    A Bernoulli likelihood of pixels sent as 0..255 would otherwise score
    them (about 1e7 nats for MNIST), and ``x = -5`` a positive log-likelihood.
    """
    low, high = bounds
    inside = tf.reduce_all(tf.logical_and(x >= low, x <= high))  # an empty request is inside
    message = f"{name} must lie in [{low:g}, {high:g}] ({domain}); got values from"
    with tf.control_dependencies([tf.debugging.Assert(inside, [message, tf.reduce_min(x), "to", tf.reduce_max(x)])]):
        return tf.identity(x)


def per_row(fn: Callable[..., Outputs], elems: tuple[tf.Tensor, ...], output: Specs,
            vectorized: bool = True) -> Outputs:
    """``fn`` applied to each row of ``elems``, vectorised over the rows, results stacked.

    ``fn`` is written for one row, so a row's result does not depend on the
    other rows of the request (nor on TF Serving's batching) beyond float
    rounding of batched products. ``tf.vectorized_map`` turns it into batched
    ops; the stateless random draws, which have no batched kernel for one seed
    per row, stay a loop over the rows, so the cost is linear and close to a
    batched signature's (a ``tf.map_fn`` over whole rows took 89 s and 4.3 GB
    for 200,000 ``score`` rows).
    """
    signature = {name: tf.TensorSpec(spec.shape, spec.dtype) for name, spec in output.items()}
    if not vectorized:  # declared by the signature: one row after the other
        return tf.map_fn(lambda row: fn(*row), elems, fn_output_signature=signature)

    def batched():
        with _quiet_vectorizer():  # one "Using a while_loop for converting ..." line per random op otherwise
            outputs = tf.vectorized_map(lambda row: fn(*row), elems, fallback_to_while_loop=True)
        for key, spec in signature.items():
            if not isinstance(outputs, Mapping) or key not in outputs or outputs[key].dtype != spec.dtype:
                raise ExportError(f"the per-row function must return {key!r} as {spec.dtype.name}")
        return {key: tf.ensure_shape(outputs[key], [None, *spec.shape]) for key, spec in signature.items()}

    def empty():  # the loop left for the random ops cannot stack zero rows
        return {key: tf.zeros([0, *spec.shape], spec.dtype) for key, spec in signature.items()}

    return tf.cond(tf.shape(elems[0])[0] > 0, batched, empty)


@contextlib.contextmanager
def _quiet_vectorizer():
    """Silence ``tf.vectorized_map``'s per-op notes about the ops it leaves in a loop (TensorFlow's logger)."""
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(max(level, logging.ERROR))
    try:
        yield
    finally:
        logger.setLevel(level)


def checked_labels(labels: tf.Tensor, rows: tf.Tensor, depth: int, name: str = "condition") -> tf.Tensor:
    """Labels after one in-graph check: shape ``(batch,)``, one per row of ``rows``, each in ``[0, depth)``.

    Args:
      labels: the labels.
      rows: a tensor with one row per example.
      depth: the number of classes.
      name: the labels' input name, for the message.
    """
    shape = request_shape(labels)
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
    shape = request_shape(x)
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
