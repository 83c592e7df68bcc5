"""Every picture: its pixels, its PNG file and its TensorBoard image; the decodes behind them."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import tfvae
from tfvae.metrics import ModelCapabilityError
from tfvae.viz import (
    PICTURES,
    Examples,
    draw_pictures,
    latent,
    log_pictures,
    plot_latent_traversals,
    plot_reconstructions,
    write_pictures,
)

# (width, height) of each picture at its default size (traversals: 720 x (100 + 64 * rows))
SIZES = {
    "reconstructions": (800, 420),
    "stochastic_reconstructions": (800, 580),
    "prior_samples": (640, 680),
    "latent_manifold": (640, 660),
    "latent_pca": (720, 640),
    "interpolations": (800, 480),
    "latent_traversals": (720, 100 + 64 * 2),
}


def test_the_size_table_covers_every_picture():
    assert set(SIZES) == set(PICTURES)


@pytest.mark.parametrize("name", list(PICTURES))
def test_picture_png_and_tensorboard_image(name, vae_2d, examples, tmp_path, tensorboard_images):
    pictures = draw_pictures(vae_2d, examples, [name])
    assert pictures.skipped == {}
    image = pictures.images[name]
    width, height = SIZES[name]
    assert image.dtype == np.uint8 and image.shape == (height, width, 3)
    assert image.std() > 10  # not a blank canvas

    (path,) = write_pictures(tmp_path / "plots", pictures)
    assert path.name == f"{name}.png" and path.stat().st_size > 5000
    with Image.open(path) as png:
        assert png.size == (width, height)
        np.testing.assert_array_equal(np.asarray(png.convert("RGB")), image)

    writer = tf.summary.create_file_writer(str(tmp_path / "logs"))
    log_pictures(writer, pictures, step=3)
    logged = tensorboard_images(tmp_path / "logs")
    assert list(logged) == [name] and list(logged[name]) == [3]
    np.testing.assert_array_equal(logged[name][3][..., :3], image)


def test_explicit_sizes_are_honoured(vae_2d, examples):
    assert plot_reconstructions(vae_2d, examples.x, size=(333, 222)).shape == (222, 333, 3)
    assert plot_latent_traversals(vae_2d, examples.x, size=(300, 150)).shape == (150, 300, 3)
    with pytest.raises(ValueError, match="at least"):
        plot_reconstructions(vae_2d, examples.x, size=(20, 20))


def test_an_autoencoder_gets_what_it_can_and_reasons_for_the_rest(digits, tmp_path):
    ae = tfvae.Autoencoder.mlp(latent_dim=2, hidden_units=(16,), seed=0)
    pictures = draw_pictures(ae, Examples(digits[0][:50], digits[1][:50]))
    assert set(pictures.skipped) == {"stochastic_reconstructions", "prior_samples", "latent_manifold"}
    assert "point-mass" in pictures.skipped["stochastic_reconstructions"]
    assert "no prior" in pictures.skipped["prior_samples"]
    assert set(pictures.images) == {"reconstructions", "latent_pca", "interpolations", "latent_traversals"}


def test_the_manifold_needs_two_latent_dimensions_and_pictures_need_images():
    vae = tfvae.VAE.mlp(latent_dim=3, hidden_units=(16,), seed=0)
    with pytest.raises(ModelCapabilityError, match="latent_dim == 2"):
        latent.latent_manifold(vae)
    vectors = tfvae.VAE.mlp(data_shape=(6,), latent_dim=2, hidden_units=(8,), likelihood="gaussian", seed=0)
    pictures = draw_pictures(vectors, Examples(np.random.default_rng(0).normal(size=(40, 6)).astype("float32")))
    assert set(pictures.images) == {"latent_pca"}  # the scatter needs no images
    assert all("need images" in why for why in pictures.skipped.values())


def test_unknown_picture_names_are_refused(vae_2d, examples):
    with pytest.raises(ValueError, match="unknown picture"):
        draw_pictures(vae_2d, examples, ["reconstruction"])


def test_stochastic_reconstructions_differ(vae_2d, examples):
    x = examples.x[:3]
    a = latent.stochastic_reconstructions(vae_2d, x, num_samples=4, seed=1)
    assert a.shape == (4, 3, 28, 28, 1)
    # the four reconstructions of each input differ from each other ...
    for i in range(3):
        assert min(np.abs(a[s, i] - a[t, i]).max() for s in range(4) for t in range(s)) > 1e-3
    # ... and from call to call, unless the seed is fixed
    np.testing.assert_array_equal(a, latent.stochastic_reconstructions(vae_2d, x, num_samples=4, seed=1))
    fresh = [latent.stochastic_reconstructions(vae_2d, x, num_samples=4) for _ in range(2)]
    assert np.abs(fresh[0] - fresh[1]).max() > 1e-3


def test_the_manifold_decodes_the_grid_it_claims(vae_2d):
    images, grid = latent.latent_manifold(vae_2d, steps=5, limit=2.0)
    np.testing.assert_allclose(grid, [-2, -1, 0, 1, 2])
    assert images.shape == (5, 5, 28, 28, 1)
    corners = vae_2d.decode(np.array([[-2.0, 2.0], [2.0, -2.0], [0.0, 0.0]], np.float32)).mean().numpy()
    np.testing.assert_allclose(images[0, 0], corners[0], atol=1e-6)  # top left: z1 = -2, z2 = +2
    np.testing.assert_allclose(images[4, 4], corners[1], atol=1e-6)  # bottom right: z1 = +2, z2 = -2
    np.testing.assert_allclose(images[2, 2], corners[2], atol=1e-6)


def test_interpolation_ends_at_the_two_reconstructions(vae_2d, examples):
    a, b = examples.x[:3], examples.x[3:6]
    path = latent.interpolate(vae_2d, a, b, steps=6)
    assert path.shape == (3, 6, 28, 28, 1)
    np.testing.assert_allclose(path[:, 0], latent.reconstructions(vae_2d, a), atol=1e-5)
    np.testing.assert_allclose(path[:, -1], latent.reconstructions(vae_2d, b), atol=1e-5)


def test_a_traversal_changes_only_what_its_dimension_controls(digits):
    model = tfvae.VAE.mlp(latent_dim=3, hidden_units=(16,), seed=0)
    kernel, bias = model.decoder.hidden[0].get_weights()
    kernel[1] = 0.0  # the decoder ignores z2
    model.decoder.hidden[0].set_weights([kernel, bias])
    images, dims, values = latent.latent_traversals(model, digits[0][:100], dims=[0, 1, 2], steps=5)
    assert images.shape == (3, 5, 28, 28, 1) and values.shape == (3, 5)
    assert np.all(np.diff(values, axis=1) > 0)
    spread = images.reshape(3, 5, -1).std(axis=1).max(axis=1)
    assert spread[1] < 1e-6 and spread[0] > 1e-3 and spread[2] > 1e-3
    default_dims = latent.latent_traversals(model, digits[0][:100])[1]
    assert sorted(default_dims) == [0, 1, 2]


def test_pca_finds_the_main_direction():
    rng = np.random.default_rng(0)
    direction = np.array([3.0, 4.0, 0.0]) / 5.0
    means = rng.normal(size=(500, 1)) * 5.0 * direction + rng.normal(size=(500, 3)) * 0.1 + 7.0
    pca = latent.latent_pca(means)
    np.testing.assert_allclose(np.abs(pca.components[0]), direction, atol=0.01)
    assert pca.explained[0] > 0.99 and pca.explained.sum() <= 1.0 + 1e-9
    np.testing.assert_allclose(pca.points.mean(axis=0), 0.0, atol=1e-9)
    assert latent.latent_pca(means[:, :1]).points.shape == (500, 2)  # a 1-D code still plots


def test_grey_pictures_are_written_as_one_channel_png(vae_2d, examples, tmp_path):
    pictures = draw_pictures(vae_2d, examples, ["prior_samples", "latent_pca"])
    paths = {p.stem: p for p in write_pictures(tmp_path, pictures)}
    with Image.open(paths["prior_samples"]) as grey, Image.open(paths["latent_pca"]) as colour:
        assert grey.mode == "L" and colour.mode == "RGB"


def test_conditional_models_draw_label_pictures_and_skip_the_others_with_the_reason(digits):
    from tfvae.models import ConditionalVAE
    from tfvae.viz.plots import CONDITIONAL_PICTURES

    cvae = ConditionalVAE.mlp(latent_dim=2, hidden_units=(16,), num_classes=10, seed=0)
    x, labels = digits[0][:40], digits[1][:40]
    pictures = draw_pictures(cvae, Examples(x, labels))
    assert set(pictures.images) == set(CONDITIONAL_PICTURES) == {"reconstructions", "class_samples"}
    assert pictures.images["reconstructions"].shape[-1] == 3
    # the labels reach the decoder: other labels give other reconstructions
    shifted = draw_pictures(cvae, Examples(x, (labels + 1) % 10), ["reconstructions"]).images["reconstructions"]
    assert not np.array_equal(shifted, pictures.images["reconstructions"])
    unlabelled = draw_pictures(cvae, Examples(x, None))
    assert "need labelled examples" in unlabelled.skipped["reconstructions"]
    others = draw_pictures(cvae, Examples(x, labels), ["latent_traversals", "prior_samples"])
    assert others.images == {} and all("is conditional" in why for why in others.skipped.values())


def test_class_samples_are_new_draws_without_a_seed_and_reproducible_with_one():
    from tfvae.models import ConditionalVAE
    from tfvae.viz.plots import plot_class_samples

    cvae = ConditionalVAE.mlp(latent_dim=2, hidden_units=(16,), num_classes=3, seed=0)
    assert np.array_equal(plot_class_samples(cvae, per_class=2, seed=5), plot_class_samples(cvae, per_class=2, seed=5))
    assert not np.array_equal(plot_class_samples(cvae, per_class=2), plot_class_samples(cvae, per_class=2))


def test_each_picture_set_of_the_catalogue_is_drawn_by_its_table_and_a_wrong_kind_says_which(digits):
    from tfvae.models.catalogue import PICTURE_SETS
    from tfvae.viz.plots import PICTURE_TABLES

    assert {name: tuple(table) for name, table in PICTURE_TABLES.items()} == dict(PICTURE_SETS)
    vae = tfvae.VAE.mlp(latent_dim=2, hidden_units=(8,), seed=0)
    asked = draw_pictures(vae, Examples(digits[0][:20]), ["rollout", "class_samples"])
    assert asked.images == {}
    assert asked.skipped == {"rollout": "VAE is not a sequence model (it has no rollout)",
                             "class_samples": "VAE is not conditional: class_samples gives its decoder labels"}
