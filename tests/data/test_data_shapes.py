"""The dSprites-like shapes generator, the "shapes" generated dataset and the tfds dSprites loader."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from tfvae.data import (
    DatasetUnavailableError,
    dataset_info,
    generated,
    load_arrays,
    load_dataset,
    shapes,
)
from tfvae.data.shapes import (
    FACTOR_NAMES,
    FACTOR_SIZES,
    DSpritesDataset,
    ShapesDataset,
    render,
)

SHAPE, SCALE, ORIENTATION, POS_X, POS_Y = range(5)


def _base(shape=0, scale=5, orientation=0, x=15, y=15):
    return np.array([[shape, scale, orientation, x, y]])


def _area(images):
    return (images > 0).sum(axis=(1, 2, 3))


def _centroid(images):
    on = (images[..., 0] > 0).astype(np.float64)
    pixel = np.arange(shapes.IMAGE_SIZE) + 0.5
    area = on.sum(axis=(1, 2))
    return (on.sum(axis=1) @ pixel) / area, (on.sum(axis=2) @ pixel) / area  # (x, y)


def test_factor_grid_is_the_dsprites_grid():
    assert FACTOR_NAMES == ("shape", "scale", "orientation", "position_x", "position_y")
    assert FACTOR_SIZES == (3, 6, 40, 32, 32)
    assert shapes.SHAPE_NAMES == ("square", "ellipse", "heart")
    np.testing.assert_allclose(shapes.SCALES, [0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    assert len(shapes.ORIENTATIONS) == 40 and shapes.ORIENTATIONS[0] == 0
    np.testing.assert_allclose(np.diff(shapes.ORIENTATIONS), 2 * np.pi / 40)
    assert shapes.ORIENTATIONS[-1] < 2 * np.pi
    np.testing.assert_allclose(shapes.POSITIONS, np.arange(32) / 31)
    factors = shapes.sample_factors(20_000, seed=0)
    assert factors.shape == (20_000, 5) and factors.dtype == np.int32
    for k, size in enumerate(FACTOR_SIZES):  # every value of every factor is drawn, nothing else
        np.testing.assert_array_equal(np.unique(factors[:, k]), np.arange(size))
    values = shapes.factor_values(factors[:3])
    np.testing.assert_allclose(values[:, 1], shapes.SCALES[factors[:3, 1]])
    np.testing.assert_allclose(values[:, 3], factors[:3, 3] / 31)


def test_render_is_binary_64x64_and_independent_of_batching():
    factors = shapes.sample_factors(1100, seed=1)  # crosses the 1024-image chunk boundary
    images = render(factors)
    assert images.shape == (1100, 64, 64, 1) and images.dtype == np.uint8
    assert set(np.unique(images)) == {0, 255}
    assert (_area(images) > 50).all()
    for i in (0, 1023, 1024, 1099):
        np.testing.assert_array_equal(render(factors[i : i + 1])[0], images[i])


def test_deterministic_for_a_seed():
    x1, f1 = shapes.sample(300, seed=3)
    x2, f2 = shapes.sample(300, seed=np.random.default_rng(3))
    np.testing.assert_array_equal(f1, f2)
    np.testing.assert_array_equal(x1, x2)
    x3, f3 = shapes.sample(300, seed=4)
    assert not np.array_equal(f1, f3) and not np.array_equal(x1, x3)
    np.testing.assert_array_equal(ShapesDataset().sample(300, seed=3)[0], x1)


@pytest.mark.parametrize("factor", range(5))
def test_every_single_factor_step_changes_the_image(factor):
    factors = shapes.sample_factors(1000, seed=10 + factor)
    stepped = factors.copy()
    stepped[:, factor] = (stepped[:, factor] + 1) % FACTOR_SIZES[factor]
    changed = (render(stepped) != render(factors)).any(axis=(1, 2, 3))
    assert changed.all(), factors[~changed][:5]


def test_area_grows_with_scale_as_its_square():
    base = shapes.sample_factors(300, seed=5)
    grid = np.repeat(base, 6, axis=0)
    grid[:, SCALE] = np.tile(np.arange(6), len(base))
    area = _area(render(grid)).reshape(len(base), 6)
    assert (np.diff(area, axis=1) > 0).all()
    np.testing.assert_allclose(area[:, -1] / area[:, 0], 4.0, rtol=0.2)  # scale 1 vs 0.5


@pytest.mark.parametrize(
    "shape, expected_area",
    [(0, 20.0**2), (1, np.pi * 12.5 * 6.5), (2, 366.2)],  # heart: 3.662 unit^2, numerically
    ids=["square", "ellipse", "heart"],
)
def test_shape_areas_at_scale_1_match_the_geometry(shape, expected_area):
    factors = np.repeat(_base(shape=shape), 40, axis=0)
    factors[:, ORIENTATION] = np.arange(40)
    np.testing.assert_allclose(_area(render(factors)), expected_area, rtol=0.06)


def test_position_moves_the_centroid():
    factors = shapes.sample_factors(2000, seed=6)
    cx, cy = _centroid(render(factors))
    # The centroid of every shape is its centre, 14.5 + 35 * position px (pixelisation: < 0.5 px).
    np.testing.assert_allclose(cx, 14.5 + 35 * factors[:, POS_X] / 31, atol=0.5)
    np.testing.assert_allclose(cy, 14.5 + 35 * factors[:, POS_Y] / 31, atol=0.5)
    right = factors.copy()
    right[:, POS_X] = np.minimum(right[:, POS_X] + 5, 31)
    moved = right[:, POS_X] != factors[:, POS_X]
    rx, ry = _centroid(render(right))
    assert moved.mean() > 0.8
    shift = 35 * (right[:, POS_X] - factors[:, POS_X]) / 31
    np.testing.assert_allclose(rx - cx, shift, atol=1.0)
    assert (rx[moved] > cx[moved]).all()
    np.testing.assert_allclose(ry, cy, atol=1.0)


def test_orientation_symmetries_and_the_heart():
    square, square_90, ellipse, ellipse_90, ellipse_180, heart = render(
        np.concatenate([_base(0), _base(0, orientation=10), _base(1), _base(1, orientation=10),
                        _base(1, orientation=20), _base(2)])
    )[..., 0] > 0
    np.testing.assert_array_equal(square, square_90)  # 4-fold symmetric
    np.testing.assert_array_equal(ellipse, ellipse_180)  # 2-fold symmetric
    assert not np.array_equal(ellipse, ellipse_90)
    # x and y centres are equal here: a quarter turn of the ellipse is its transpose.
    assert (ellipse_90 != ellipse.T).sum() <= 4
    rows, cols = np.nonzero(ellipse)
    assert np.ptp(cols) > 1.8 * np.ptp(rows)  # wide at orientation 0
    # A heart: mirror-symmetric about its vertical axis, two lobes with a notch
    # between them at the top, a tip at the bottom.
    centre_x = 14.5 + 35 * 15 / 31
    for row in np.flatnonzero(heart.any(axis=1)):
        on = np.flatnonzero(heart[row]) + 0.5
        assert abs((centre_x - on.min()) - (on.max() - centre_x)) <= 1.0
    rows, cols = np.nonzero(heart)
    top, bottom = rows.min(), rows.max()
    centre = round(cols.mean())
    assert heart[top, centre] == 0 and heart[top, :centre].any() and heart[top, centre:].any()
    assert heart[bottom].sum() <= 3 and heart[bottom - 3].sum() < heart[top + 5].sum() / 2


def test_sample_with_fixed_factor():
    images, factors = shapes.sample_with_fixed_factor(64, "scale", seed=7)
    assert len(np.unique(factors[:, SCALE])) == 1
    assert all(len(np.unique(factors[:, k])) > 1 for k in (SHAPE, ORIENTATION, POS_X, POS_Y))
    np.testing.assert_array_equal(images, render(factors))
    _, fixed = shapes.sample_with_fixed_factor(32, 3, seed=7, value=30)
    assert (fixed[:, POS_X] == 30).all()
    data_images, data_factors = ShapesDataset().sample_with_fixed_factor(64, "scale", seed=7)
    np.testing.assert_array_equal(data_factors, factors)
    np.testing.assert_array_equal(data_images, images)
    with pytest.raises(ValueError, match="unknown factor"):
        shapes.sample_with_fixed_factor(4, "colour")
    with pytest.raises(ValueError, match="outside"):
        shapes.sample_with_fixed_factor(4, "shape", value=3)


def test_observations_are_float_images_of_the_factors():
    data = ShapesDataset()
    assert data.factor_sizes == FACTOR_SIZES and data.factor_names == FACTOR_NAMES
    factors = data.sample_factors(10, np.random.default_rng(0))
    x = data.observations(factors)
    assert x.dtype == np.float32 and set(np.unique(x)) == {0.0, 1.0}
    np.testing.assert_array_equal(x * 255, render(factors))


@pytest.mark.parametrize(
    "factors, match",
    [
        (np.array([[3, 0, 0, 0, 0]]), "outside"),
        (np.array([[0, 0, 40, 0, 0]]), "outside"),
        (np.array([[0, 0, 0, 0, -1]]), "outside"),
        (np.zeros((2, 4), int), "shape"),
        (np.zeros((2, 5)), "integer"),
    ],
)
def test_invalid_factors(factors, match):
    with pytest.raises(ValueError, match=match):
        render(factors)


def test_generated_shapes_dataset():
    assert dict(generated.GENERATED["shapes"].splits) == {"train": 20_000, "test": 2_000}
    info = dataset_info("shapes")
    assert info.image_shape == (64, 64, 1) and info.source == "generated"
    batches = list(load_dataset("shapes", "test", batch_size=512).as_numpy_iterator())
    x = np.concatenate(batches)
    assert x.shape == (2000, 64, 64, 1) and x.dtype == np.float32
    assert set(np.unique(x)) == {0.0, 1.0}
    expected, _ = shapes.sample(2000, seed=generated.SHAPES_SPLITS["test"][1])
    np.testing.assert_array_equal(x, expected / 255.0)  # test split: not shuffled


def test_dsprites_dataset_packs_and_looks_up_images():
    images, factors = shapes.sample(300, seed=8)
    data = DSpritesDataset(images, factors)
    assert len(data) == 300
    np.testing.assert_array_equal(data.images(), images)
    order = np.random.default_rng(0).permutation(300)[:50]
    np.testing.assert_array_equal(data.observations(factors[order]) * 255, images[order])
    drawn = data.sample_factors(1000, np.random.default_rng(1))
    assert {tuple(r) for r in drawn} <= {tuple(r) for r in factors}  # draws are examples
    missing = factors[:1].copy()
    missing[0, POS_X] = (missing[0, POS_X] + 1) % 32
    if tuple(missing[0]) not in {tuple(r) for r in factors}:
        with pytest.raises(KeyError, match="not in this dSprites data"):
            data.observations(missing)


def test_load_dsprites_with_mock_data():
    with tfds.testing.mock_data(num_examples=24):
        data = shapes.load_dsprites("train", download=False)
        x, _ = load_arrays("dsprites", "train", download=False)
    assert len(data) == 24 and data.factors.shape == (24, 5)
    assert (data.factors >= 0).all() and (data.factors < np.array(FACTOR_SIZES)).all()
    assert data.factors.std(axis=0).min() > 0  # real labels, not load_arrays' zeros
    images = data.images()
    assert images.shape == (24, 64, 64, 1) and set(np.unique(images)) <= {0, 255}
    np.testing.assert_array_equal(images, x)  # same examples, same order as load_arrays
    np.testing.assert_array_equal(data.observations(data.factors[:5]) * 255, images[:5])
    im1, f1 = data.sample(10, seed=0)
    im2, f2 = data.sample(10, seed=0)
    np.testing.assert_array_equal(f1, f2)
    np.testing.assert_array_equal(im1, im2)


def test_load_dsprites_unavailable(tmp_path):
    with pytest.raises(DatasetUnavailableError, match="dsprites"):
        shapes.load_dsprites(data_dir=str(tmp_path), download=False)


def test_the_generated_catalogue_is_one_table_and_its_shapes_are_the_generators():
    """tfvae.data.names.GENERATED_SHAPES names every generated set once: the generators and the size checks read it."""
    from tfvae import sizes
    from tfvae.data.names import GENERATED_SHAPES

    assert set(generated.GENERATED) == set(GENERATED_SHAPES)
    assert all(sizes.KNOWN_SHAPES[name] == shape for name, shape in GENERATED_SHAPES.items())
    for name in ("sines", "lowrank_ratings", "oscillator"):  # the quick ones: made here, compared with the table
        examples = generated.GENERATED[name].make("test")
        assert examples.shape == (generated.GENERATED[name].splits["test"], *GENERATED_SHAPES[name]), name
