"""Masked convolutions, gated blocks and causal attention: causality checked through exact zero gradients."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from harness import run_serialization_test

from tfvae.layers.masked_conv import (
    CausalSelfAttention2D,
    GatedPixelCNNBlock,
    MaskedConv2D,
    causal_mask,
)


def influence(fn, x: np.ndarray) -> np.ndarray:
    """``[H*W, H*W]`` matrix: ``sum |d <fn(x)[0, i, j, :], r> / d x[0, k, l, :]|`` at row ``i*W+j``, column ``k*W+l``.

    One backward pass: ``x`` is repeated once per output position along the
    batch (examples do not interact), and copy ``p`` only carries the gradient
    of output position ``p``, projected on a random vector ``r``.
    """
    _, height, width, _ = x.shape
    positions = height * width
    copies = tf.constant(np.repeat(x, positions, axis=0))
    with tf.GradientTape() as tape:
        tape.watch(copies)
        y = fn(copies)
        pick = np.eye(positions, dtype="float32").reshape(positions, height, width, 1)
        r = np.random.default_rng(7).uniform(0.5, 1.5, y.shape[-1]).astype("float32")
        total = tf.reduce_sum(tf.cast(y, tf.float32) * pick * r)
    return np.abs(tape.gradient(total, copies).numpy()).sum(axis=-1).reshape(positions, positions)


def strictly_before(height: int, width: int) -> np.ndarray:
    """``[H*W, H*W]`` booleans: input position (column) comes strictly before output position (row)."""
    return np.tril(np.ones((height * width, height * width), bool), k=-1)


def window_pattern(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """Which input positions one masked convolution connects to each output position."""
    kh, kw = mask.shape
    expected = np.zeros((height, width, height, width), bool)
    for i in range(height):
        for j in range(width):
            for r in range(kh):
                for s in range(kw):
                    k, l = i + r - kh // 2, j + s - kw // 2
                    if mask[r, s] and 0 <= k < height and 0 <= l < width:
                        expected[i, j, k, l] = True
    return expected.reshape(height * width, height * width)


def test_causal_mask_values():
    np.testing.assert_array_equal(causal_mask((3, 3), "A"), [[1, 1, 1], [1, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(causal_mask((3, 3), "B"), [[1, 1, 1], [1, 1, 0], [0, 0, 0]])
    np.testing.assert_array_equal(causal_mask((3, 3), "A", "vertical"), [[1, 1, 1], [0, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(causal_mask((3, 3), "B", "vertical"), [[1, 1, 1], [1, 1, 1], [0, 0, 0]])
    np.testing.assert_array_equal(causal_mask((1, 5), "A", "horizontal"), [[1, 1, 0, 0, 0]])
    np.testing.assert_array_equal(causal_mask((1, 5), "B", "horizontal"), [[1, 1, 1, 0, 0]])
    with pytest.raises(ValueError, match="odd"):
        causal_mask((2, 3))
    with pytest.raises(ValueError, match="mask_type"):
        causal_mask((3, 3), "C")
    with pytest.raises(ValueError, match="region"):
        causal_mask((3, 3), "A", "diagonal")
    with pytest.raises(ValueError, match="sees nothing"):
        causal_mask((1, 1), "A")


@pytest.mark.parametrize(
    "kernel_size, mask_type, region",
    [(3, "A", "raster"), (3, "B", "raster"), (5, "A", "raster"), (5, "B", "vertical"), ((1, 3), "A", "horizontal")],
)
def test_masked_conv_connects_exactly_the_masked_window(kernel_size, mask_type, region, rng):
    layer = MaskedConv2D(2, kernel_size, mask_type, region, bias_initializer="ones")
    x = rng.normal(size=(1, 5, 6, 3)).astype("float32")
    seen = influence(layer, x) > 0
    np.testing.assert_array_equal(seen, window_pattern(layer.mask, 5, 6))
    if region == "raster":  # never a later pixel; the centre only with "B"
        assert not (seen & ~np.tril(np.ones_like(seen), k=0)).any()
        assert (np.diag(seen) == (mask_type == "B")).all()
    # the cropped convolution equals a plain "same" convolution with the masked kernel
    kernel = np.asarray(layer.kernel) * layer.mask[:, :, None, None]
    expected = tf.nn.conv2d(x, kernel, 1, "SAME") + np.asarray(layer.bias)
    np.testing.assert_allclose(layer(x), expected, rtol=1e-5, atol=1e-5)


def test_stacked_raster_masks_are_causal_but_blind_where_gated_blocks_see(rng):
    """A, B, B raster layers: strictly causal, yet (i, j) misses (i-1, j+2), the blind spot the gated stacks fix."""
    layers = [MaskedConv2D(4, 3, "A"), MaskedConv2D(4, 3, "B"), MaskedConv2D(4, 3, "B")]
    x = rng.normal(size=(1, 4, 5, 2)).astype("float32")

    def stack(t):
        for layer in layers:
            t = layer(t)
        return t

    seen = influence(stack, x) > 0
    assert not (seen & ~strictly_before(4, 5)).any()
    assert not seen[2 * 5 + 1, 1 * 5 + 3]  # (2, 1) does not see (1, 3)

    blocks = [GatedPixelCNNBlock(4, 3, "A", name="g0")] + [GatedPixelCNNBlock(4, 3, "B") for _ in range(2)]

    def gated(t):
        v = h = t
        for block in blocks:
            v, h = block(v, h)
        return h

    gated_seen = influence(gated, np.concatenate([x, x], -1)) > 0
    assert gated_seen[2 * 5 + 1, 1 * 5 + 3]
    assert not (gated_seen & ~strictly_before(4, 5)).any()


def test_gated_stack_sees_exactly_the_earlier_positions(rng):
    """Four blocks of kernel 3 on 4x5 maps: every earlier position, nothing at or after, with conditioning."""
    blocks = [GatedPixelCNNBlock(6, 3, "A", label_dim=3, condition_channels=2)] + [
        GatedPixelCNNBlock(6, 3, "B", label_dim=3, condition_channels=2) for _ in range(4)
    ]
    label = tf.constant([[0.0, 1.0, 0.0]])
    condition = tf.constant(rng.normal(size=(1, 4, 5, 2)).astype("float32"))

    def stack(x):
        v = h = x
        for block in blocks:
            v, h = block(v, h, label=label, condition=condition)
        return h

    seen = influence(stack, rng.normal(size=(1, 4, 5, 6)).astype("float32")) > 0
    np.testing.assert_array_equal(seen, strictly_before(4, 5))


def test_gated_block_conditioning_changes_the_output_and_is_required(rng):
    block = GatedPixelCNNBlock(4, 3, "B", label_dim=2, condition_channels=3)
    x = rng.normal(size=(2, 4, 4, 4)).astype("float32")
    s = rng.normal(size=(2, 4, 4, 3)).astype("float32")
    y0, y1 = np.array([[1.0, 0.0]] * 2, "float32"), np.array([[0.0, 1.0]] * 2, "float32")
    _, h0 = block(x, x, label=y0, condition=s)
    _, h1 = block(x, x, label=y1, condition=s)
    _, h2 = block(x, x, label=y0, condition=s + 1.0)
    assert np.abs(np.asarray(h0 - h1)).min() > 0  # every position and channel moves with the label
    assert np.abs(np.asarray(h0 - h2)).max() > 1e-3
    with pytest.raises(ValueError, match="label features missing"):
        block(x, x, condition=s)
    with pytest.raises(ValueError, match="condition map not expected"):
        GatedPixelCNNBlock(4, 3, "B")(x, x, condition=s)
    with pytest.raises(ValueError, match="needs 4 input channels"):
        GatedPixelCNNBlock(4, 3, "B")(x[..., :3], x[..., :3])


def test_attention_is_causal_in_raster_order_including_itself(rng):
    layer = CausalSelfAttention2D(num_heads=2)
    x = rng.normal(size=(1, 3, 4, 8)).astype("float32")  # H != W: a transposed flattening would show
    seen = influence(layer, x) > 0
    np.testing.assert_array_equal(seen, np.tril(np.ones((12, 12), bool)))


@pytest.mark.parametrize(
    "make, inputs",
    [
        (lambda: MaskedConv2D(3, 5, "A", activation="relu", name="masked_a"), ("x",)),
        (lambda: MaskedConv2D(3, (1, 3), "B", "horizontal", name="masked_h"), ("x",)),
        (lambda: GatedPixelCNNBlock(4, 3, "B", label_dim=2, condition_channels=3, dropout=0.1, seed=3,
                                    name="gated"), ("x", "x", "y", "s")),
        (lambda: CausalSelfAttention2D(num_heads=2, key_dim=3, name="attention"), ("x",)),
    ],
)
def test_layers_round_trip(make, inputs, rng, tmp_path):
    arrays = {
        "x": rng.normal(size=(2, 4, 5, 4)).astype("float32"),
        "y": np.eye(2, dtype="float32"),
        "s": rng.normal(size=(2, 4, 5, 3)).astype("float32"),
    }
    args = [arrays[name] for name in inputs]
    layer = make()

    def output(layer):
        if len(args) == 1:
            return layer(args[0])
        v, h = layer(args[0], args[1], label=args[2], condition=args[3], training=False)
        return np.concatenate([v, h], -1)

    output(layer)
    run_serialization_test(layer, output, tmp_path)


def test_masked_conv_refuses_what_would_break_causality():
    with pytest.raises(ValueError, match="padding"):
        MaskedConv2D(2, 3, padding="valid")
    with pytest.raises(ValueError, match="strides"):
        MaskedConv2D(2, 3, strides=2)
    with pytest.raises(ValueError, match="odd"):
        MaskedConv2D(2, 4)
    with pytest.raises(ValueError, match="dropout"):
        GatedPixelCNNBlock(4, dropout=1.0)


def test_masked_conv_under_mixed_precision(rng):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    layer = MaskedConv2D(2, 3, "A")
    out = layer(rng.normal(size=(1, 4, 4, 3)).astype("float32"))
    assert out.dtype == tf.bfloat16 and layer.kernel.dtype == "float32"
