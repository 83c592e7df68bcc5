"""Codebook statistics over data sets of code indices."""

import numpy as np
import pytest
import tensorflow as tf

from tfvae.layers.vector_quantizer import VectorQuantizer
from tfvae.metrics.codebook import (
    CodebookStatistics,
    code_histogram,
    codebook_statistics,
    perplexity,
    usage,
)


def test_histogram_counts_every_index(rng):
    indices = rng.integers(0, 7, size=(5, 4, 3))
    expected = np.array([np.sum(indices == i) for i in range(9)])
    np.testing.assert_array_equal(code_histogram(indices, 9), expected)
    np.testing.assert_array_equal(code_histogram(tf.constant(indices, tf.int32), 9), expected)
    assert code_histogram(indices, 9).dtype == np.int64


def test_batches_of_a_data_set_add_up(rng):
    batches = [rng.integers(0, 5, size=(n, 2, 2)) for n in (3, 1, 4)]  # ragged: different batch sizes
    whole = code_histogram(np.concatenate(batches), 5)
    np.testing.assert_array_equal(code_histogram(batches, 5), whole)
    np.testing.assert_array_equal(code_histogram(iter(batches), 5), whole)
    dataset = tf.data.Dataset.from_tensor_slices(np.concatenate(batches)).batch(3)
    np.testing.assert_array_equal(code_histogram(dataset, 5), whole)
    np.testing.assert_array_equal(code_histogram([0, 0, 4], 5), [2, 0, 0, 0, 1])


def test_uniform_use_has_perplexity_k_and_full_usage():
    indices = np.tile(np.arange(8), 5)
    np.testing.assert_allclose(perplexity(indices, 8), 8.0, rtol=1e-12)
    assert usage(indices, 8) == 1.0


def test_one_code_has_perplexity_one():
    indices = np.full((10, 3), 2)
    np.testing.assert_allclose(perplexity(indices, 8), 1.0)
    assert usage(indices, 8) == 1 / 8


def test_statistics_of_a_skewed_use():
    stats = codebook_statistics([0, 0, 0, 1], 4)  # p = (3/4, 1/4, 0, 0)
    assert isinstance(stats, CodebookStatistics)
    np.testing.assert_allclose(stats.perplexity, np.exp(-(0.75 * np.log(0.75) + 0.25 * np.log(0.25))))
    assert stats.usage == 0.5
    np.testing.assert_array_equal(stats.dead_codes, [2, 3])
    np.testing.assert_allclose(stats.probabilities, [0.75, 0.25, 0, 0])
    assert stats.total == 4 and stats.num_embeddings == 4


def test_matches_the_quantizer_on_one_batch(rng):
    layer = VectorQuantizer(num_embeddings=16, embedding_dim=3)
    out = layer(rng.normal(size=(4, 5, 5, 3)).astype("float32"))
    indices = out["encoding_indices"]
    np.testing.assert_allclose(perplexity(indices, 16), out["perplexity"].numpy(), rtol=1e-5)
    np.testing.assert_allclose(usage(indices, 16), out["usage"].numpy())


def test_invalid_indices():
    with pytest.raises(TypeError, match="integers"):
        code_histogram(np.array([0.0, 1.0]), 4)
    with pytest.raises(ValueError, match=r"\[0, 4\).*\[0, 4\]"):
        code_histogram(np.array([0, 4]), 4)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        code_histogram([[-1, 1]], 4)
    with pytest.raises(ValueError, match="no code indices"):
        perplexity(np.zeros((0,), np.int64), 4)
    with pytest.raises(ValueError, match="num_embeddings"):
        code_histogram([0], 0)
