"""The ``tf.data`` options of every input pipeline tfvae builds.

TensorFlow's ``tf.data`` autotuning (on by default) runs a model thread per
iterator that sleeps between optimisation rounds, its period doubling as the
iterator lives on. Destroying the iterator, which Keras ``fit`` and
:func:`tfvae.loops.train_loop` do at the end of every epoch, can wait out that
sleep: measured here with TensorFlow 2.21 on 2 CPU cores
(``python -m benchmarks.epoch_stall``), one epoch in two to six lost 0.1-0.6 s
after a 0.2-0.7 s epoch and 2-5 s after a 3-5 s one, with both cores idle,
whatever the pipeline (a plain ``from_tensor_slices(x).batch(b)`` included).
With autotuning off the stall is gone and the pipelines tfvae builds (in
memory, one light ``map``) keep up with training: a ``map`` or ``prefetch``
asked for ``tf.data.AUTOTUNE`` then gets a fixed default (parallelism = the
CPU cores, a small prefetch buffer).

Apply :func:`pipeline_options` to your own pipelines the same way::

    dataset = dataset.with_options(tfvae.data.pipeline_options())
"""

from __future__ import annotations

import tensorflow as tf


def pipeline_options() -> tf.data.Options:
    """``tf.data.Options`` with autotuning off (see the module docstring for why)."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return options


def in_memory_batches(data, batch_size: int) -> tf.data.Dataset:
    """Batches of in-memory ``data`` (an array, or a nest of arrays) in their order, with :func:`pipeline_options`."""
    return tf.data.Dataset.from_tensor_slices(data).batch(batch_size).with_options(pipeline_options())
