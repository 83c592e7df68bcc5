"""Networks: shapes, mixed precision dtypes, argument errors, round trips."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from harness import run_serialization_test

from tfvae.networks import MLP, ConvDecoder, ConvEncoder


@pytest.mark.parametrize(
    "network, x, out_shape",
    [
        (lambda: MLP((10,), (16, 8)), np.zeros((3, 28, 28, 1)), (3, 10)),
        (lambda: MLP((28, 28, 1), (8, 16), activation="elu"), np.zeros((3, 5)), (3, 28, 28, 1)),
        (lambda: MLP((4,), (), activation="tanh"), np.zeros((2, 7)), (2, 4)),
        (lambda: ConvEncoder((12,), (8, 16)), np.zeros((3, 28, 28, 1)), (3, 12)),
        (lambda: ConvEncoder((6,), (4,), hidden_units=()), np.zeros((2, 32, 32, 3)), (2, 6)),
        (lambda: ConvDecoder((28, 28, 1), (16, 8)), np.zeros((3, 5)), (3, 28, 28, 1)),
        (lambda: ConvDecoder((32, 32, 3), (8, 8, 4)), np.zeros((2, 5)), (2, 32, 32, 3)),
    ],
)
def test_output_shapes(network, x, out_shape):
    layer = network()
    y = layer(x.astype("float32"))
    assert tuple(y.shape) == out_shape
    assert tuple(layer.compute_output_shape(x.shape)) == out_shape


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_hidden_layers_use_the_policy_and_the_output_is_float32(policy):
    keras.mixed_precision.set_global_policy(policy)
    low = keras.mixed_precision.Policy(policy).compute_dtype
    for layer, x in [
        (MLP((4,), (8,)), np.zeros((2, 6), "float32")),
        (ConvEncoder((4,), (4,)), np.zeros((2, 8, 8, 1), "float32")),
        (ConvDecoder((8, 8, 1), (4,)), np.zeros((2, 3), "float32")),
    ]:
        assert layer(x).dtype == tf.float32
        first = layer.hidden[0] if layer.hidden else layer.convs[0]
        assert first.compute_dtype == low
        assert first.kernel.dtype == "float32"  # variables stay float32


def test_argument_errors_name_the_problem():
    with pytest.raises(ValueError, match="activation must be one of"):
        MLP((4,), activation="sigmoidal")
    with pytest.raises(ValueError, match="height, width, channels"):
        ConvDecoder((784,))
    with pytest.raises(ValueError, match="expects images"):
        ConvEncoder((4,))(np.zeros((2, 784), "float32"))


@pytest.mark.parametrize("size", [(28, 28), (30, 17), (5, 9)])
def test_conv_decoder_makes_any_size_and_crops_the_centre(size):
    """Sizes not divisible by 2**stages are upsampled to the next multiple and the centre kept."""
    height, width = size
    decoder = ConvDecoder((height, width, 3), (8, 8, 8), hidden_units=(4,))
    out = decoder(np.ones((2, 6), "float32"))
    assert tuple(out.shape) == (2, height, width, 3)
    assert decoder.base_shape[:2] == (-(-height // 8), -(-width // 8))
    (top, bottom), (left, right) = decoder.crop
    assert bottom - top == height and right - left == width
    assert top == (decoder.base_shape[0] * 8 - height) // 2 and left == (decoder.base_shape[1] * 8 - width) // 2
    # the cropped output is the middle of the uncropped map
    decoder.crop = ((0, decoder.base_shape[0] * 8), (0, decoder.base_shape[1] * 8))
    full = decoder(np.ones((2, 6), "float32")).numpy()
    np.testing.assert_array_equal(out.numpy(), full[:, top:bottom, left:right])


@pytest.mark.parametrize(
    "make, x",
    [
        (lambda: MLP((6,), (8, 4), activation="elu", name="mlp"), np.ones((2, 5), "float32")),
        (lambda: ConvEncoder((6,), (4, 8), kernel_size=5, hidden_units=(7,), name="cenc"), np.ones((2, 12, 12, 1), "float32")),
        (lambda: ConvDecoder((12, 12, 2), (8, 4), hidden_units=(5,), activation="tanh", name="cdec"), np.ones((2, 3), "float32")),
    ],
)
def test_round_trips(make, x, tmp_path):
    layer = make()
    layer(x)
    run_serialization_test(layer, lambda net: net(x), tmp_path)
