"""SavedModel export: a ``tf.Module`` of signatures, written in TF Serving layout.

The SavedModel holds the variables the signatures read and one concrete
function per signature; no Keras or TFP object is saved, so it loads with
``tf.saved_model.load`` (or TF Serving) in a process that imports neither
tfvae nor TensorFlow Probability.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import keras
import tensorflow as tf

from tfvae.export.errors import ExportError
from tfvae.export.layout import check_target, write_version
from tfvae.export.signatures import MAX_REQUEST_ROWS, Signature, serving_signatures, traced
from tfvae.export.warmup import write_warmup_file


class ServingModule(tf.Module):
    """The object saved: the variables the signatures use, nothing else.

    Args:
      model: the model to serve.
      signatures: name -> :class:`Signature`; default :func:`serving_signatures`.
      prior: a trained prior over the model's codes, for the VQ-VAE families'
        ``sample`` signature (a :class:`~tfvae.models.PixelCNN`, or the
        ``{"top", "bottom"}`` dict of a VQ-VAE-2); its variables are saved with
        the model's.
      options: family options fixed at export time, e.g. ``{"horizon": 8,
        "jump": 2}`` for a :class:`~tfvae.models.TDVAE`'s ``rollout`` (see
        :func:`serving_signatures`).
      max_request_rows: the most rows one request may hold (each signature refuses more in one line).

    Raises:
      ExportError: ``signatures`` was given with a ``prior`` or ``options``, or
        the family takes no prior / no (or other) options (see :func:`serving_signatures`).
    """

    def __init__(self, model: keras.Model, signatures: Mapping[str, Signature] | None = None, prior=None,
                 options: Mapping | None = None, max_request_rows: int = MAX_REQUEST_ROWS):
        super().__init__(name="tfvae_serving")
        if signatures is not None and (prior is not None or options):
            raise ExportError("give ServingModule either signatures or a prior / options to build them with, not both")
        if signatures is None:
            signatures = serving_signatures(model, prior=prior, options=options)
        self.signature_specs = dict(signatures)
        self.concrete_functions = {
            name: traced(name, signature, max_request_rows).get_concrete_function()
            for name, signature in self.signature_specs.items()
        }
        # Track the tf.Variables the functions capture, not the Keras variable
        # wrappers (model.variables): with the wrappers, TF2 loading works but the
        # TF1 / C++ loader that TF Serving uses finds the variables uninitialised.
        used = {}
        for function in self.concrete_functions.values():
            for variable in function.variables:
                used.setdefault(id(variable), variable)
        self.serving_variables = list(used.values())


def _module(model: keras.Model, module: ServingModule | None, prior, options=None,
            max_request_rows: int = MAX_REQUEST_ROWS) -> ServingModule:
    if module is None:
        return ServingModule(model, prior=prior, options=options, max_request_rows=max_request_rows)
    if prior is not None or options or max_request_rows != MAX_REQUEST_ROWS:
        raise ExportError("give either module or prior / options / max_request_rows: build the module with "
                          "ServingModule(model, prior=prior, options=options, max_request_rows=...)")
    return module


def signature_table(module: ServingModule) -> list[tuple[str, str, str]]:
    """``(signature, inputs, outputs)`` rows such as ``("encode", "x float32
    (-1, 28, 28, 1)", "mean float32 (-1, 3), stddev float32 (-1, 3)")``."""

    def describe(specs: Mapping[str, tf.TensorSpec]) -> str:
        parts = []
        for key in sorted(specs):
            shape = "(" + ", ".join("-1" if d is None else str(d) for d in specs[key].shape) + ")"
            if specs[key].shape.rank == 1:
                shape = shape[:-1] + ",)"
            parts.append(f"{key} {specs[key].dtype.name} {shape}")
        return ", ".join(parts)

    rows = []
    for name in sorted(module.concrete_functions):
        function = module.concrete_functions[name]
        inputs = function.structured_input_signature[1] or dict(
            zip(module.signature_specs[name].specs, function.structured_input_signature[0])
        )
        rows.append((name, describe(inputs), describe(function.structured_outputs)))
    return rows


def write_saved_model(
    model: keras.Model,
    directory: str | Path,
    *,
    warmup: bool = True,
    model_name: str = "model",
    module: ServingModule | None = None,
    prior=None,
    options: Mapping | None = None,
) -> Path:
    """Write the SavedModel of ``model`` into ``directory`` (not atomic).

    Args:
      model: the model.
      directory: an empty or missing folder.
      warmup: also write ``assets.extra/tf_serving_warmup_requests``.
      model_name: ``model_spec.name`` in the warmup requests.
      module: a :class:`ServingModule` already traced for ``model``.
      prior: a trained prior for the ``sample`` signature of VQ models (see
        :class:`ServingModule`); not with ``module``.
      options: family options fixed at export time (see :class:`ServingModule`);
        not with ``module``.
    """
    module = _module(model, module, prior, options)
    directory = Path(directory)
    tf.saved_model.save(module, str(directory), signatures=module.concrete_functions)
    if warmup:
        write_warmup_file(directory, module.signature_specs, model_name)
    return directory


def export_saved_model(
    model: keras.Model,
    path: str | Path,
    version: int | None = None,
    *,
    warmup: bool = True,
    model_name: str | None = None,
    module: ServingModule | None = None,
    prior=None,
    options: Mapping | None = None,
    max_request_rows: int = MAX_REQUEST_ROWS,
) -> Path:
    """Export ``model`` for TF Serving as ``path/<version>/``, atomically.

    The signatures are traced first (a model that cannot be exported leaves
    nothing behind), the SavedModel and its warmup requests are written into a
    hidden staging folder beside the versions, which is then renamed.

    Args:
      model: a tfvae model (any family with registered signatures).
      path: the model's base folder, e.g. ``saved_models/vae``.
      version: the version number; by default one more than the largest there.
      warmup: write TF Serving warmup requests.
      model_name: ``model_spec.name`` of the warmup requests; defaults to the
        base folder's name.
      module: a :class:`ServingModule` already traced for ``model``.
      prior: a trained prior over the codes of a ``VQVAE`` (a ``PixelCNN``) or
        ``VQVAE2`` (``{"top": PixelCNN, "bottom": PixelCNN}``): adds the
        ``sample`` signature, which runs the prior's sampling loop. Not with
        ``module`` (build that with ``ServingModule(model, prior=prior)``).
      options: settings a family fixes at export time, e.g. ``{"horizon": 8,
        "jump": 2}`` for the ``rollout`` signature of a
        :class:`~tfvae.models.TDVAE` (see
        :meth:`~tfvae.models.TDVAE.serving_signatures`). Not with ``module``.
      max_request_rows: the most rows (examples) one request may hold: every
        signature refuses a larger request in one line naming the limit
        (default :data:`~tfvae.export.signatures.MAX_REQUEST_ROWS`, 65,536). Not with ``module``.

    Returns:
      The version folder, e.g. ``saved_models/vae/3``.

    Raises:
      ExportError: the version exists, the path is not a folder, the model
        has no signatures, or the prior or options do not fit the model.
      DiskWriteError: the SavedModel could not be written (a full disk): one
        line naming the version folder, the space its variables need at least
        and the space free; nothing is left behind (no version, no staging folder).
    """
    path = check_target(path, version)  # fail fast, before tracing
    module = _module(model, module, prior, options, max_request_rows)
    name = model_name or path.resolve().name

    def write(staging: Path) -> None:
        write_saved_model(model, staging, warmup=warmup, model_name=name, module=module)

    return write_version(path, write, version, errors=(OSError, tf.errors.OpError),
                         needed=lambda: variable_bytes(module))


def variable_bytes(module: ServingModule) -> int:
    """The bytes of the variables ``module`` saves: a lower bound of its SavedModel's size (the graph adds more)."""
    return sum(variable.shape.num_elements() * variable.dtype.size for variable in module.serving_variables)
