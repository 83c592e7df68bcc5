"""Data-parallel training with ``tf.distribute``: one machine with several devices, or several machines.

Three strategies, by name (``train.strategy`` in a config, ``--strategy`` on
the command line):

``"none"``
    TensorFlow's default strategy: one device, no replicas (the default).
``"mirrored"``
    ``tf.distribute.MirroredStrategy`` over every GPU of this machine (over the
    logical CPU devices when there is no GPU, see
    :func:`make_strategy`): each step splits the global batch between the
    replicas and all-reduces the gradients. Keras ``fit`` and the custom loop
    (:func:`tfvae.loops.train_loop`) both work and take the steps of a
    one-device run (``GenerativeModel`` skips the batch Keras would pull from
    a fresh iterator to build an already built model: it fails on batches
    that do not split evenly, and it would shift a reshuffling dataset's
    order by one pass).
``"multi_worker"``
    ``tf.distribute.MultiWorkerMirroredStrategy``: one process per machine,
    each told by the ``TF_CONFIG`` environment variable who the workers are
    and which one it is. Only the custom loop works (``--driver loop``):
    Keras 3 ``fit`` fails under this strategy upstream (keras-team/keras#20585,
    tensorflow/tensorflow#72388: it reduces the scalar step outputs with
    ``strategy.reduce("MEAN", value, axis=0)``), so :meth:`GenerativeModel.fit`
    raises :class:`UnsupportedStrategyError` there instead.

How a model is trained under a strategy::

    strategy = make_strategy("mirrored")
    with strategy.scope():                    # variables become mirrored
        model = tfvae.VAE.mlp(seed=0)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
    train_loop(model, dataset, epochs=5)      # or model.fit(dataset, ...) when mirrored

The dataset is the GLOBAL batch: ``train_loop`` hands it to
:func:`distribute_dataset` (Keras ``fit`` distributes it itself), which splits
every batch between the replicas and, across machines, gives each worker its
share (every worker builds the same pipeline from the same seed). Each replica's loss is its per-example
sum divided by the global batch size (:func:`global_batch_mean`), so the
all-reduced gradient is the gradient of the mean over the global batch,
whatever the number of replicas and however a last, smaller batch is split;
the per-epoch terms reported stay per-example means over the whole epoch.
A penalty that depends on the whole batch (the sparse AE's mean activation,
free bits, the beta-VAE's capacity gap, the ratings AE's mean squared error
per observed rating) is computed from cross-replica sums (:func:`global_mean`,
:func:`global_sum`), so it is the one-device penalty on every replica and the
step is the one-device step.
Random draws differ per replica: the model's seed generator folds the
replica's id into every stateless seed it hands out (:func:`replica_seed`).

Only the chief (worker 0, or the task of type ``chief``) writes files in a run
directory (:func:`is_chief`); the other workers still take part in every
checkpoint save (saving may read distributed variables collectively) but
write to a temporary directory that they delete right away, as TensorFlow
recommends.

``jit_compile`` (XLA) is not supported under a strategy: the step's
cross-replica all-reduce did not compile, with either driver, on CPU.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from tfvae.config import STRATEGIES
from tfvae.errors import TfvaeError


class UnsupportedStrategyError(TfvaeError, RuntimeError):
    """A driver or option does not work under the chosen ``tf.distribute`` strategy."""


_STRATEGIES: dict[str, tf.distribute.Strategy] = {}


def _mirrored_devices() -> list[str] | None:
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        return None  # MirroredStrategy's own default: every GPU
    cpus = tf.config.list_logical_devices("CPU")
    return [device.name for device in cpus]


def _check_tf_config() -> None:
    raw = os.environ.get("TF_CONFIG")
    if raw is None:
        return  # one worker: MultiWorkerMirroredStrategy runs locally
    try:
        spec = json.loads(raw)
        workers = spec["cluster"].get("worker", [])
        task = spec["task"]
        task["type"], int(task["index"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        raise TfvaeError(
            "TF_CONFIG must be JSON like "
            '{"cluster": {"worker": ["host0:port", "host1:port"]}, "task": {"type": "worker", "index": 0}}, '
            f"got {raw!r}"
        ) from None
    if not workers and "chief" not in spec["cluster"]:
        raise TfvaeError(f"TF_CONFIG names no workers: {raw!r}")


def make_strategy(name: str = "none") -> tf.distribute.Strategy:
    """The ``tf.distribute`` strategy called ``name`` (created once per process).

    Args:
      name: ``"none"`` (TensorFlow's default strategy, one device),
        ``"mirrored"`` (every GPU of this machine; with no GPU, every logical
        CPU device, e.g. two after
        ``tf.config.set_logical_device_configuration(cpu, [LogicalDeviceConfiguration()] * 2)``
        done before TensorFlow initialises its devices) or ``"multi_worker"``
        (the workers ``TF_CONFIG`` lists; without ``TF_CONFIG``, one worker).

    Returns:
      The strategy. Build and compile the model inside ``strategy.scope()``.

    Raises:
      TfvaeError: unknown name, malformed ``TF_CONFIG``, or a
        ``"multi_worker"`` strategy asked for after TensorFlow already ran an
        op in this process (collective ops are configured at start-up: create
        it first).
    """
    if name not in STRATEGIES:
        raise TfvaeError(f"unknown strategy {name!r}: choose one of {', '.join(STRATEGIES)}")
    if name == "none":
        return tf.distribute.get_strategy()
    if name not in _STRATEGIES:
        if name == "mirrored":
            _STRATEGIES[name] = tf.distribute.MirroredStrategy(_mirrored_devices())
        else:
            _check_tf_config()
            try:
                _STRATEGIES[name] = tf.distribute.MultiWorkerMirroredStrategy()
            except RuntimeError as error:
                raise TfvaeError(
                    f"cannot start the multi_worker strategy ({error}): create it before TensorFlow runs "
                    "any op in the process, e.g. call tfvae.distribute.make_strategy('multi_worker') first"
                ) from None
    return _STRATEGIES[name]


def is_distributed(strategy: tf.distribute.Strategy) -> bool:
    """Whether ``strategy`` is a real ``tf.distribute`` strategy, not TensorFlow's default one."""
    with strategy.scope():
        return tf.distribute.has_strategy()


def is_multi_worker(strategy: tf.distribute.Strategy | None) -> bool:
    """Whether ``strategy`` is a ``MultiWorkerMirroredStrategy`` (one or several workers)."""
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def worker_index(strategy: tf.distribute.Strategy | None) -> tuple[str | None, int]:
    """``(task type, task index)`` of this process; ``(None, 0)`` outside multi-worker training."""
    resolver = getattr(strategy, "cluster_resolver", None) if is_multi_worker(strategy) else None
    if resolver is None or resolver.task_type is None:
        return None, 0
    return resolver.task_type, int(resolver.task_id or 0)


def is_chief(strategy: tf.distribute.Strategy | None) -> bool:
    """Whether this process writes the run's files: the ``chief`` task, else worker 0.

    Always true for ``"none"`` and ``"mirrored"`` (one process).
    """
    task_type, task_id = worker_index(strategy)
    if task_type is None or task_type == "chief":
        return True
    cluster = strategy.cluster_resolver.cluster_spec().as_dict()
    return task_type == "worker" and task_id == 0 and "chief" not in cluster


def distribute_dataset(strategy: tf.distribute.Strategy, dataset):
    """Split a batched ``tf.data.Dataset`` of GLOBAL batches between the replicas.

    Every batch is divided between the replicas in sync (a last, smaller
    batch too: some replicas may then get fewer examples, or none). Across
    machines each worker builds the same pipeline (same files, same seed) and
    keeps its share of every batch (``AutoShardPolicy.DATA``), so the
    examples and their order are those of a one-device run.

    A dataset that is already distributed is returned as it is.
    """
    if isinstance(dataset, tf.distribute.DistributedDataset):
        return dataset
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return strategy.experimental_distribute_dataset(dataset.with_options(options))


def _replicas() -> tuple[tf.distribute.ReplicaContext | None, int]:
    context = tf.distribute.get_replica_context()
    if context is None:  # cross-replica context (inside a scope, outside strategy.run)
        return None, tf.distribute.get_strategy().num_replicas_in_sync
    return context, context.num_replicas_in_sync


def global_batch_mean(mean: tf.Tensor, batch_size) -> tf.Tensor:
    """Turn this replica's batch-mean loss into its share of the GLOBAL batch mean.

    Returns ``mean * local_batch / global_batch`` where ``global_batch`` is the
    sum of the replicas' batch sizes (an all-reduce, so a last, smaller batch
    split unevenly is still averaged exactly), as
    ``tf.nn.compute_average_loss`` does with the per-example losses summed over
    the replica: the optimizer SUMS the replicas' gradients, so their sum is
    the gradient of the mean over the global batch. A replica that got no
    examples contributes 0. Outside a replica context with several replicas
    this is the identity.
    """
    context, replicas = _replicas()
    if context is None or replicas == 1:
        return mean
    local = tf.cast(batch_size, mean.dtype)
    total = context.all_reduce(tf.distribute.ReduceOp.SUM, local)
    share = tf.where(local > 0, mean, tf.zeros_like(mean)) * local
    return tf.math.divide_no_nan(share, total)


def global_sum(value: tf.Tensor) -> tf.Tensor:
    """Sum ``value`` over the replicas in sync (identity with one replica).

    Differentiable: the gradient of a cross-replica sum is the cross-replica
    sum of the replicas' upstream gradients, so a loss built from
    :func:`global_sum` gives every replica the gradient of the one-device loss
    with respect to its own examples. Every replica must call it (it is a
    collective), also one that got no examples.
    """
    context, replicas = _replicas()
    if context is None or replicas == 1:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.SUM, value)


def global_mean(values: tf.Tensor) -> tf.Tensor:
    r"""The mean of ``values`` ``[B, ...]`` over the GLOBAL batch (axis 0), on every replica.

    A batch-level statistic (the mean activation of a sparse code, the batch
    KL per dimension of free bits, the capacity gap of a beta-VAE) must be
    computed over the whole batch a one-device step sees, not over a
    replica's share of it:

    .. math:: \bar v = \frac{\sum_r \sum_{i \in r} v_i}{\sum_r B_r}

    with cross-replica sums (:func:`global_sum`); a replica with no examples
    adds 0 to both. With one replica (or outside a replica context) this is
    ``tf.reduce_mean(values, axis=0)``, bit for bit.
    """
    context, replicas = _replicas()
    if context is None or replicas == 1:
        return tf.reduce_mean(values, axis=0)
    total = global_sum(tf.reduce_sum(values, axis=0))
    count = global_sum(tf.cast(tf.shape(values)[0], values.dtype))
    return tf.math.divide_no_nan(total, count)


def replica_seed(seed: tf.Tensor) -> tf.Tensor:
    """Fold the replica's id into a stateless seed (identity with one replica).

    Every replica of a step reads the same seed-generator state; folding in
    ``replica_id_in_sync_group`` (unique across workers too) gives each one its
    own random stream, so two replicas never draw the same noise. With one
    replica the seed is returned unchanged, so single-device runs are not
    affected.
    """
    context, replicas = _replicas()
    if context is None or replicas == 1:
        return seed
    folded = tf.random.experimental.stateless_fold_in(
        tf.cast(seed, tf.int64), tf.cast(context.replica_id_in_sync_group, tf.int64)
    )
    return tf.cast(folded, seed.dtype)


__all__ = [
    "STRATEGIES",
    "UnsupportedStrategyError",
    "distribute_dataset",
    "global_batch_mean",
    "global_mean",
    "global_sum",
    "is_chief",
    "is_distributed",
    "is_multi_worker",
    "make_strategy",
    "replica_seed",
    "worker_index",
]
