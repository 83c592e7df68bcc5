"""The tfvae worker of ``python -m benchmarks.peers``: the data, and one tfvae row, in a fresh process.

``python -m benchmarks._peer_tfvae '{spec}'`` prints ``ROW {json}`` as its
last stdout line. Modes:

- ``prepare``: materialise the shared data once, as ``.npy`` files both
  workers read: ``train.npy``, ``examples`` float32 images ``(N, 28, 28, 1)``
  in [0, 1] (grey levels; each worker binarises them per batch), the first
  images of the training split of ``data`` (default Fashion-MNIST from its
  IDX files through :func:`tfvae.data.load_arrays`; tiled with
  ``np.resize`` when the split holds fewer), and ``test.npy``, the first
  ``test_examples`` test images binarised once with a fixed seed (the NLL
  of both peers is of these same binary images).
- ``speed``: the model of :func:`benchmarks.run.build_tfvae` (``VAE.mlp``,
  784-512-256, 16-d Gaussian posterior, Bernoulli likelihood), compiled with
  tfvae's defaults and ``keras.optimizers.Adam(1e-3)`` (row ``tfvae``), or
  the same under ``keras.mixed_precision.set_global_policy("mixed_bfloat16")``
  set before building (row ``tfvae-bf16``); ``fit`` on :func:`pipeline`, one
  warm-up epoch, then ``epochs`` timed ones. ``"architecture": "conv"``:
  ``VAE.conv`` (two stride-2 convolutions of 32 and 64 channels, dense 256).
- ``quality``: the same, ``epochs`` epochs, then the test NLL by
  :func:`tfvae.metrics.likelihood.iwae_log_likelihood` with ``k`` samples.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

ROW_PREFIX = "ROW "


def prepare(spec: dict) -> dict:
    from tfvae.data import load_arrays

    x, _ = load_arrays(spec["data"], "train")
    x = np.resize(np.asarray(x[: spec["examples"]]), (spec["examples"], *x.shape[1:])).astype(np.float32) / 255.0
    test, _ = load_arrays(spec["data"], "test", limit=spec["test_examples"])
    test = np.asarray(test, np.float32) / 255.0
    test = (np.random.default_rng(spec["seed"] + 1).random(test.shape) < test).astype(np.float32)
    os.makedirs(spec["dir"], exist_ok=True)
    np.save(os.path.join(spec["dir"], "train.npy"), x)
    np.save(os.path.join(spec["dir"], "test.npy"), test)
    return {"train_shape": list(x.shape), "test_shape": list(test.shape), "data": spec["data"]}


def pipeline(x: np.ndarray, batch_size: int, seed: int):
    """In-memory images, reshuffled each epoch, batched, each batch binarised afresh: tfvae's dynamic binarisation.

    The same steps as :func:`tfvae.data.load_dataset` with ``binarize="dynamic"``
    (one random int64 per batch from ``Dataset.random``, new every pass,
    into :func:`tfvae.data.bernoulli_binarize`), with
    :func:`tfvae.data.pipeline_options`, on the float images of ``train.npy``
    instead of uint8 ones.
    """
    import tensorflow as tf

    from tfvae.data import bernoulli_binarize, pipeline_options

    seed_tensor = tf.constant(seed, tf.int64)
    batches = (
        tf.data.Dataset.from_tensor_slices(x)
        .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
    )
    randoms = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    return (
        tf.data.Dataset.zip(batches, randoms)
        .map(lambda images, r: bernoulli_binarize(images, tf.stack([r, seed_tensor])),
             num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .prefetch(tf.data.AUTOTUNE)
        .with_options(pipeline_options())
    )


def measure(spec: dict) -> dict:
    import keras
    import tensorflow as tf

    from benchmarks.run import EpochTimer, build_tfvae

    if spec["row"].endswith("-bf16"):
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    keras.utils.set_random_seed(spec["seed"])
    x = np.load(spec["train"])
    data = pipeline(x, spec["batch_size"], spec["seed"])
    model = build_tfvae(spec.get("architecture", "mlp"))
    # "-xla": what jit_compile="auto" trains a run of >= 2,000 steps with when its trial picks XLA
    # (it does for this model at batch 128 on the 2-core CPU: python -m benchmarks.jit_trial)
    jit = {"jit_compile": True} if "-xla" in spec["row"] else {}
    model.compile(optimizer=keras.optimizers.Adam(spec["learning_rate"]), **jit)
    timer = EpochTimer()
    epochs = spec["epochs"]
    result = {"row": spec["row"], "architecture": spec.get("architecture", "mlp"), "tensorflow": tf.__version__, "keras": keras.__version__,
              "policy": keras.mixed_precision.global_policy().name, "examples": int(len(x)),
              "steps_per_execution": int(model.steps_per_execution), "jit_compile": bool(model.jit_compile)}
    if spec["mode"] == "speed":
        model.fit(data, epochs=1 + epochs, verbose=0, callbacks=[timer])
        timed = timer.seconds[1:]
        result.update(epoch_seconds=timed, examples_per_s=len(x) / statistics.median(timed),
                      final_loss=float(timer.logs[-1]["loss"]))
    else:
        from tfvae.metrics.likelihood import iwae_log_likelihood

        start = time.perf_counter()
        model.fit(data, epochs=epochs, verbose=0, callbacks=[timer])
        result.update(train_seconds=time.perf_counter() - start, final_loss=float(timer.logs[-1]["loss"]))
        test = np.load(spec["test"])
        start = time.perf_counter()
        nll = np.concatenate([
            iwae_log_likelihood(model, test[i : i + 100], k=spec["k"], chunk_size=500, seed=spec["seed"] + i).nll
            for i in range(0, len(test), 100)
        ])
        result.update(nll_nats=float(np.mean(nll)), nll_seconds=time.perf_counter() - start,
                      k=spec["k"], test_examples=int(len(test)))
    result["self_peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def main(argv: list[str] | None = None) -> int:
    spec = json.loads((argv if argv is not None else sys.argv[1:])[0])
    result = prepare(spec) if spec["mode"] == "prepare" else measure(spec)
    print(ROW_PREFIX + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
