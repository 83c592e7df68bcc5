"""TF Serving warmup: ``assets.extra/tf_serving_warmup_requests``.

At load, TF Serving replays the ``PredictionLog`` records of this TFRecord
file against the new version before it serves traffic, so the first real
request does not pay for graph initialisation. One ``PredictRequest`` per
signature is written, from :meth:`Signature.example_inputs`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import tensorflow as tf

from tfvae.export.signatures import Signature

WARMUP_DIR = "assets.extra"
WARMUP_FILE = "tf_serving_warmup_requests"


def warmup_records(signatures: Mapping[str, Signature], model_name: str, batch_size: int = 1) -> list:
    """One ``PredictionLog`` (``predict_log.request``) per signature.

    Args:
      signatures: the exported signatures.
      model_name: ``model_spec.name`` of the requests (the served model's name).
      batch_size: examples per request.
    """
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    records = []
    for name, signature in signatures.items():
        request = predict_pb2.PredictRequest()
        request.model_spec.name = model_name
        request.model_spec.signature_name = name
        for key, value in signature.example_inputs(batch_size).items():
            request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
        records.append(prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request)))
    return records


def write_warmup_file(export_dir: str | Path, signatures: Mapping[str, Signature], model_name: str) -> Path:
    """Write the warmup requests into ``export_dir/assets.extra/``; returns the file."""
    path = Path(export_dir) / WARMUP_DIR / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in warmup_records(signatures, model_name):
            writer.write(record.SerializeToString())
    return path


def read_warmup_file(path: str | Path) -> list:
    """The ``PredictionLog`` records of a warmup file (or of an export folder)."""
    from tensorflow_serving.apis import prediction_log_pb2

    path = Path(path)
    if path.is_dir():
        path = path / WARMUP_DIR / WARMUP_FILE
    return [
        prediction_log_pb2.PredictionLog.FromString(raw.numpy())
        for raw in tf.data.TFRecordDataset(str(path))
    ]
