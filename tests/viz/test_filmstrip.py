"""Film strips: context, separator, rollout (and truth) laid out pixel for pixel."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfvae.viz.filmstrip import SEPARATOR_COLOUR, film_strip, film_strip_size


def frames(batch, length, h=6, w=5, value=None, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (batch, length, h, w, 1)).astype("float32")
    return x if value is None else np.full_like(x, value)


def test_layout_sizes_and_png(tmp_path):
    context, rollout = frames(3, 4), frames(3, 2, seed=1)
    strip = film_strip(context, rollout, tmp_path / "strip.png", padding=1, separator=3, scale=2)
    # width: 1 + 4 * (5 + 1) context, 3 separator + 1, 2 * (5 + 1) rollout; height: 1 + 3 * (6 + 1)
    assert strip.shape == (22, 1 + 24 + 4 + 12, 3) and strip.dtype == np.uint8
    assert film_strip_size(3, 4, 2, (6, 5)) == strip.shape[:2]
    with Image.open(tmp_path / "strip.png") as png:
        assert png.size == (2 * strip.shape[1], 2 * strip.shape[0])
        np.testing.assert_array_equal(np.asarray(png.convert("RGB"))[::2, ::2], strip)
    # every frame sits where the layout says, grey in all three channels
    for i in range(3):
        top = 1 + i * 7
        for t in range(4):
            left = 1 + t * 6
            np.testing.assert_array_equal(strip[top: top + 6, left: left + 5, 0],
                                          np.round(context[i, t, ..., 0] * 255).astype(np.uint8))
        for t in range(2):
            left = 29 + t * 6
            np.testing.assert_array_equal(strip[top: top + 6, left: left + 5, 1],
                                          np.round(rollout[i, t, ..., 0] * 255).astype(np.uint8))
    # the separator: a coloured bar over the full height, between context and rollout
    np.testing.assert_array_equal(strip[:, 25:28], np.broadcast_to(SEPARATOR_COLOUR, (22, 3, 3)))
    assert np.all(strip[:, 24] == 255) and np.all(strip[:, 28] == 255)  # white padding around it
    # usable as a TensorBoard image
    assert tf.image.encode_png(strip).dtype == tf.string


def test_truth_rows_vectors_and_clipping():
    context, rollout, truth = frames(2, 2, value=0.0), frames(2, 3, value=2.0), frames(2, 3, value=0.5)
    strip = film_strip(context, rollout, truth=truth, padding=0, separator=1)
    assert strip.shape[:2] == film_strip_size(2, 2, 3, (6, 5), padding=0, separator=1, with_truth=True) == (24, 26)
    np.testing.assert_array_equal(strip[0:6, 0:10], 0)  # context of example 0
    np.testing.assert_array_equal(strip[6:12, 0:10], 255)  # blank under the context
    np.testing.assert_array_equal(strip[0:6, 11:], 255)  # rollout clipped to 1
    np.testing.assert_array_equal(strip[6:12, 11:], 128)  # truth row under it
    # vector frames (e.g. rendered 1-D oscillator frames) become columns
    vectors = film_strip(np.zeros((2, 4, 7)), np.ones((2, 5, 7)), padding=0, separator=2)
    assert vectors.shape == (14, 4 + 2 + 5, 3)
    np.testing.assert_array_equal(vectors[:, :4], 0)
    np.testing.assert_array_equal(vectors[:, 6:], 255)
    wide = film_strip(np.zeros((2, 4, 7)), np.ones((2, 5, 7)), padding=0, separator=2, column_width=3)
    assert wide.shape == (14, 12 + 2 + 15, 3)
    np.testing.assert_array_equal(wide[:, 14:], 255)
    rgb = film_strip(np.zeros((1, 1, 4, 4, 3)), np.ones((1, 1, 4, 4)), padding=1)
    assert rgb.shape[:2] == film_strip_size(1, 1, 1, (4, 4))


def test_bad_shapes_name_the_problem():
    with pytest.raises(ValueError, match="context and rollout must hold the same examples"):
        film_strip(frames(2, 3), frames(3, 2))
    with pytest.raises(ValueError, match=r"rollout must be frames \[batch, time, height, width"):
        film_strip(frames(2, 3), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="truth must have the shape of rollout"):
        film_strip(frames(2, 3), frames(2, 2), truth=frames(2, 3))
    with pytest.raises(ValueError, match="at least one frame"):
        film_strip(frames(2, 0), frames(2, 2))
    with pytest.raises(ValueError, match="column_width >= 1"):
        film_strip(frames(2, 1), frames(2, 1), column_width=0)
