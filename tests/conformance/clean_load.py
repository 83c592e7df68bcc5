"""Load exported SavedModels the way a server does, in a process without tfvae or TFP.

Run as ``python clean_load.py JOBS.json``; JOBS.json lists
``{"export_dir", "inputs" (an .npz of "<signature>/<input>" arrays), "outputs" (an .npz to write),
"refused" (an .npz of "<case>//<input>" arrays: requests to refuse), "cases" ({case: signature})}``
and names the report to write (``"report"``). For each export this script

* calls every signature of ``tf.saved_model.load`` on the given inputs (twice
  for the seeded ones, to show they are deterministic) and saves the outputs;
* records each signature's input/output names, dtypes and shapes;
* captures ``saved_model_cli show --all`` (the CLI's own function);
* parses the TF Serving warmup file and replays each request through the
  TF1 session loader (``SavedModelBundle`` + ``Session::Run``, as TF Serving does);
* feeds inputs with a wrong inner shape through that session and records the error;
* sends each request of ``refused`` (tests/conformance/refusals.py: a wrong rank, NaN, values
  outside the input's domain, codes and labels out of range, too many rows) through that session
  and records the error (``None``: it was answered);

then records which forbidden modules got imported. It must never import tfvae
or tensorflow_probability: the parent test asserts that on the report.
"""

import contextlib
import io
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import config_pb2
from tensorflow.python.tools import saved_model_cli
from tensorflow_serving.apis import prediction_log_pb2

SEEDED = ("sample", "score", "rollout")


def spec_of(spec):
    return {"dtype": spec.dtype.name, "shape": [-1 if d is None else d for d in spec.shape]}


def call_signatures(loaded, inputs):
    outputs, specs = {}, {}
    for name, function in loaded.signatures.items():
        specs[name] = {
            "inputs": {k: spec_of(s) for k, s in function.structured_input_signature[1].items()},
            "outputs": {k: spec_of(s) for k, s in function.structured_outputs.items()},
        }
        feed = {key.split("/", 1)[1]: tf.constant(inputs[key]) for key in inputs if key.startswith(name + "/")}
        if not feed:
            continue
        result = function(**feed)
        for key, value in result.items():
            outputs[f"{name}/{key}"] = value.numpy()
        if name in SEEDED:
            again = function(**feed)
            for key, value in again.items():
                outputs[f"{name}/{key}@again"] = value.numpy()
    return outputs, specs


def show_all(export_dir):
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        saved_model_cli._show_all(export_dir)
    return buffer.getvalue()


def wrong_shape(spec_shape, dtype):
    if len(spec_shape) == 1:  # one value per row (labels): a wrong rank instead
        return np.zeros([2, 2], dtype)
    shape = [2] + [1 if d == -1 else d for d in spec_shape[1:]]
    shape[-1] += 1  # a wrong inner size, same rank
    return np.zeros(shape, dtype)


def session_call(session, signature, values, callables=None):
    """Run ``signature`` on ``values`` (name -> array) without Python's feed checks; the error message or None.

    ``callables`` caches one callable per signature (making one prunes and optimises the graph).
    """
    names = sorted(signature.inputs)
    feeds = [signature.inputs[k].name for k in names]
    fetch = [next(iter(signature.outputs.values())).name]
    key = (tuple(feeds), tuple(fetch))
    if callables is None or key not in callables:
        callable_ = session._make_callable_from_options(config_pb2.CallableOptions(feed=feeds, fetch=fetch))
        if callables is not None:
            callables[key] = callable_
    callable_ = callables[key] if callables is not None else callable_
    try:
        callable_(*[values[k] for k in names])
    except tf.errors.InvalidArgumentError as error:
        return error.message
    return None


def session_checks(export_dir, records, refused, cases):
    """Replay the warmup requests, wrong-shape requests and the ``refused`` cases through a TF1 session."""
    replayed, wrong, refusals, callables = {}, {}, {}, {}
    graph = tf.Graph()
    with tf.compat.v1.Session(graph=graph) as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], export_dir)
        for record in records:
            request = record.predict_log.request
            signature = meta_graph.signature_def[request.model_spec.signature_name]
            feeds = {signature.inputs[k].name: tf.make_ndarray(v) for k, v in request.inputs.items()}
            fetches = {k: v.name for k, v in signature.outputs.items()}
            result = session.run(fetches, feeds)
            replayed[request.model_spec.signature_name] = {
                "inputs": sorted(request.inputs),
                "model_name": request.model_spec.name,
                "output_shapes": {k: list(v.shape) for k, v in result.items()},
                "finite": bool(all(np.all(np.isfinite(v)) for v in result.values())),
            }
        # feed a wrong inner shape, bypassing Python's feed checks (as TF Serving's C++ does)
        for name, signature in meta_graph.signature_def.items():
            if name.startswith("__"):
                continue
            for key, info in signature.inputs.items():
                shape = [d.size for d in info.tensor_shape.dim]
                values = {}
                for k, other in signature.inputs.items():
                    other_shape = [2] + [1 if d.size == -1 else d.size for d in other.tensor_shape.dim[1:]]
                    dtype = tf.dtypes.as_dtype(other.dtype).as_numpy_dtype
                    values[k] = wrong_shape(shape, dtype) if k == key else np.full(other_shape, 0.5).astype(dtype)
                wrong[f"{name}/{key}"] = session_call(session, signature, values, callables)
        for case, signature_name in cases.items():
            values = {key.split("//", 1)[1]: refused[key] for key in refused if key.startswith(case + "//")}
            refusals[case] = session_call(session, meta_graph.signature_def[signature_name], values, callables)
    return replayed, wrong, refusals


def main(jobs_file):
    with open(jobs_file) as handle:
        jobs = json.load(handle)
    report = {"exports": {}}
    for job in jobs["exports"]:
        export_dir = job["export_dir"]
        inputs = dict(np.load(job["inputs"]))
        loaded = tf.saved_model.load(export_dir)
        outputs, specs = call_signatures(loaded, inputs)
        np.savez(job["outputs"], **outputs)
        warmup = os.path.join(export_dir, "assets.extra", "tf_serving_warmup_requests")
        records = [prediction_log_pb2.PredictionLog.FromString(r.numpy()) for r in tf.data.TFRecordDataset(warmup)]
        refused = dict(np.load(job["refused"])) if job.get("refused") else {}
        replayed, wrong, refusals = session_checks(export_dir, records, refused, job.get("cases", {}))
        report["exports"][export_dir] = {
            "signatures": specs,
            "saved_model_cli": show_all(export_dir),
            "warmup_records": len(records),
            "warmup": replayed,
            "wrong_shape": wrong,
            "refused": refusals,
        }
    report["forbidden_modules"] = sorted(
        m for m in sys.modules if m.split(".")[0] in ("tfvae", "tensorflow_probability")
    )
    with open(jobs["report"], "w") as handle:
        json.dump(report, handle)


if __name__ == "__main__":
    main(sys.argv[1])
