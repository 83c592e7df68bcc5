"""Every pipeline tfvae builds has tf.data autotuning off (tfvae.data.pipeline: it stalls at epoch ends)."""

import numpy as np
import pytest

from tfvae.data import in_memory_batches, load_dataset, pipeline_options
from tfvae.loops import _as_dataset
from tfvae.metrics.evaluation import _batches


def test_pipeline_options_turn_autotuning_off():
    assert pipeline_options().autotune.enabled is False


@pytest.mark.parametrize(
    "make",
    [
        lambda: load_dataset("digits", "train", batch_size=64, binarize="dynamic"),
        lambda: load_dataset("digits", "test", batch_size=64, with_labels=True),
        lambda: load_dataset("digits", "train", batch_size=64, binarize="static"),
        lambda: load_dataset("oscillator", "train", batch_size=8),
    ],
    ids=["dynamic", "labels", "static", "generated"],
)
def test_loaded_pipelines_have_autotuning_off_and_still_yield_every_example(make):
    dataset = make()
    assert dataset.options().autotune.enabled is False
    first = next(iter(dataset))
    assert np.all(np.isfinite(np.asarray(first[0] if isinstance(first, tuple) else first)))


def test_arrays_given_to_the_loops_and_evaluation_get_the_same_options():
    x = np.arange(10 * 4, dtype=np.float32).reshape(10, 4)
    for dataset in (_as_dataset(x, 4), _batches(x, 4), in_memory_batches(x, 4)):
        assert dataset.options().autotune.enabled is False
        np.testing.assert_array_equal(np.concatenate(list(dataset.as_numpy_iterator())), x)  # same order, all rows
