"""tensorflow-datasets sources through the real tfds code, with no network.

Four routes are exercised:
- ``tfds.testing.mock_data`` around ``load_dataset("mnist", ...)`` (tfds' own
  test double for the registered MNIST builder);
- a dataset prepared in a temporary ``data_dir`` by a builder that is NOT
  registered in this process, loaded by name from the prepared files;
- the registered ``dsprites`` builder reading data prepared in ``data_dir``
  (no ``label`` feature, 0/1 pixels);
- a registered builder with manual download instructions, prepared from
  ``manual_dir``.
and the fast, clear error when nothing is prepared and nothing can be fetched.
"""

import time

import numpy as np
import pytest
import tensorflow_datasets as tfds

from tfvae.data import DatasetUnavailableError, dataset_info, load_arrays, load_dataset
from tfvae.data.sources.tfds_source import network_error

NUM_CLASSES = 3


def _glyph(i: int) -> np.ndarray:
    """A distinct 6x4 image per example (H != W catches transposes)."""
    image = np.zeros((6, 4, 1), np.uint8)
    image[i % 6, :, 0] = 60 + 10 * (i % 19)
    image[:, i % 4, 0] = 255
    image[0, 0, 0] = i  # unique per example (i < 255)
    return image


class _GlyphsBase(tfds.core.GeneratorBasedBuilder):
    VERSION = tfds.core.Version("1.0.0")
    SIZES = {"train": 14, "test": 5}

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Image(shape=(6, 4, 1)),
                    "label": tfds.features.ClassLabel(num_classes=NUM_CLASSES),
                }
            ),
        )

    def _split_generators(self, dl_manager):
        return {split: self._generate_examples(split, n) for split, n in self.SIZES.items()}

    def _generate_examples(self, split, n):
        offset = 0 if split == "train" else 100
        for i in range(n):
            yield i, {"image": _glyph(i + offset), "label": i % NUM_CLASSES}


# Look the real builder up BEFORE skip_registration: the lookup imports tfds'
# built-in builders, which would not be registered if imported inside it.
_DspritesBuilder = tfds.builder_cls("dsprites")

with tfds.core.registered.skip_registration():

    class TfvaeUnregisteredGlyphs(_GlyphsBase):
        """Known to tfds only through the files it prepares."""

    class FakeDsprites(_DspritesBuilder):
        """The real dsprites builder (same name, version, features), fed 4 synthetic sprites."""

        name = "dsprites"

        def _split_generators(self, dl_manager):
            return {"train": self._fake_examples()}

        def _fake_examples(self):
            for i in range(4):
                image = np.zeros((64, 64, 1), np.uint8)
                image[10 * i : 10 * i + 8, 5:20] = 1  # dSprites pixels are 0/1
                yield i, {
                    "image": image,
                    "label_shape": i % 3,
                    "label_scale": 0,
                    "label_orientation": 0,
                    "label_x_position": 2 * i,
                    "label_y_position": 0,
                    "value_shape": 1.0,
                    "value_scale": 0.5,
                    "value_orientation": 0.0,
                    "value_x_position": 0.1,
                    "value_y_position": 0.2,
                    **({"id": f"{i:06d}"} if self.version > "2.0.0" else {}),
                }


class TfvaeManualGlyphs(tfds.core.GeneratorBasedBuilder):
    """Registered; reads its examples from an IDX file the user put in manual_dir."""

    VERSION = tfds.core.Version("1.0.0")
    MANUAL_DOWNLOAD_INSTRUCTIONS = "Put glyphs-images-idx3-ubyte in the manual dir."

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict({"image": tfds.features.Image(shape=(6, 4, 1))}),
        )

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(dl_manager.manual_dir / "glyphs-images-idx3-ubyte")}

    def _generate_examples(self, path):
        from tfvae.data import read_idx

        for i, image in enumerate(read_idx(path)):
            yield i, {"image": image[..., None]}


@pytest.fixture(scope="module")
def glyphs_dir(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("tfds_data")
    TfvaeUnregisteredGlyphs(data_dir=str(data_dir)).download_and_prepare()
    return str(data_dir)


def test_mock_data_mnist_through_the_pipeline():
    with tfds.testing.mock_data(num_examples=10):
        ds = load_dataset("mnist", "train", batch_size=4, with_labels=True, download=False)
        batches = list(ds.as_numpy_iterator())
    assert [len(x) for x, _ in batches] == [4, 4, 2]
    x = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches])
    assert x.shape == (10, 28, 28, 1) and x.dtype == np.float32
    assert y.dtype == np.int32 and y.min() >= 0 and y.max() < 10
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert len(np.unique(x)) > 2  # grey levels, not binarised


def test_mock_data_mnist_dynamic_binarization():
    with tfds.testing.mock_data(num_examples=8):
        ds = load_dataset("mnist", "test", batch_size=8, binarize="dynamic", download=False)
        e1, e2 = next(iter(ds)).numpy(), next(iter(ds)).numpy()
    assert set(np.unique(e1)) <= {0.0, 1.0} and e1.shape == (8, 28, 28, 1)
    assert not np.array_equal(e1, e2)


def test_prepared_data_dir_of_an_unregistered_builder(glyphs_dir):
    assert "tfvae_unregistered_glyphs" not in tfds.list_builders()
    ds = load_dataset("tfvae_unregistered_glyphs", "train", 5, data_dir=glyphs_dir, shuffle=False, with_labels=True)
    batches = list(ds.as_numpy_iterator())
    assert batches[0][0].shape == (5, 6, 4, 1)
    x = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches])
    # tfds stores the examples in its own order; match them by content.
    expected = {_glyph(i).tobytes(): i % NUM_CLASSES for i in range(14)}
    got = {np.rint(img * 255).astype(np.uint8).tobytes(): int(label) for img, label in zip(x, y)}
    assert got == expected


def test_prepared_data_dir_arrays_and_info(glyphs_dir):
    x, y = load_arrays("tfvae_unregistered_glyphs", "test", data_dir=glyphs_dir)
    assert x.shape == (5, 6, 4, 1) and x.dtype == np.uint8 and y.dtype == np.int32
    assert sorted(r.tobytes() for r in x) == sorted(_glyph(i + 100).tobytes() for i in range(5))
    info = dataset_info("tfvae_unregistered_glyphs", data_dir=glyphs_dir)
    assert info.source == "tfds"
    assert info.image_shape == (6, 4, 1)
    assert info.num_classes == NUM_CLASSES and info.has_labels
    assert dict(info.num_examples) == {"train": 14, "test": 5}


def test_tfds_split_slicing_and_unknown_split(glyphs_dir):
    x, _ = load_arrays("tfvae_unregistered_glyphs", "train[:4]", data_dir=glyphs_dir)
    assert len(x) == 4
    with pytest.raises(ValueError, match="valid splits: .*train"):
        load_dataset("tfvae_unregistered_glyphs", "validation", data_dir=glyphs_dir)


def test_dsprites_without_labels_and_binary_pixels(tmp_path):
    FakeDsprites(data_dir=str(tmp_path)).download_and_prepare()
    info = dataset_info("dsprites", data_dir=str(tmp_path))
    assert info.image_shape == (64, 64, 1) and not info.has_labels and info.num_classes is None
    ds = load_dataset("dsprites", "train", 4, data_dir=str(tmp_path), with_labels=True, shuffle=False)
    x, y = next(iter(ds))
    np.testing.assert_array_equal(y.numpy(), np.zeros(4, np.int32))
    # 0/1 pixels come out as exactly 0.0 / 1.0, not 0 / (1/255).
    assert set(np.unique(x.numpy())) == {0.0, 1.0}
    assert x.numpy().sum() == 4 * 8 * 15


def test_manual_dir(tmp_path):
    from tfvae.data import write_idx

    manual = tmp_path / "manual"
    manual.mkdir()
    images = np.stack([_glyph(i)[..., 0] for i in range(7)])
    write_idx(manual / "glyphs-images-idx3-ubyte", images)
    data_dir = str(tmp_path / "data")
    with pytest.raises(DatasetUnavailableError, match="download=False"):
        load_dataset("tfvae_manual_glyphs", "train", data_dir=data_dir, download=False)
    x, y = load_arrays("tfvae_manual_glyphs", "train", data_dir=data_dir, manual_dir=str(manual))
    assert sorted(r.tobytes() for r in x) == sorted(_glyph(i).tobytes() for i in range(7))
    np.testing.assert_array_equal(y, np.zeros(7, np.int32))
    # Prepared now: loads from data_dir with no manual_dir and downloads off.
    ds = load_dataset("tfvae_manual_glyphs", "train", 7, data_dir=data_dir, download=False)
    assert next(iter(ds)).shape == (7, 6, 4, 1)


@pytest.mark.parametrize("download", [True, False])
def test_unavailable_download_fails_fast_with_a_clear_error(tmp_path, download):
    if download and network_error() is None:
        pytest.skip("the download server is reachable here: this checks the offline path")
    start = time.monotonic()
    with pytest.raises(DatasetUnavailableError) as err:
        load_dataset("mnist", "train", data_dir=str(tmp_path), download=download)
    assert time.monotonic() - start < 30  # tfds' own retries would take minutes
    message = str(err.value)
    assert str(tmp_path) in message
    assert "digits" in message and "idx:" in message
    if not download:
        assert "download=False" in message


def test_unknown_name_lists_the_choices():
    with pytest.raises(ValueError) as err:
        load_dataset("no_such_dataset_xyz", "train")
    message = str(err.value)
    for choice in ("digits", "fashion_mnist_idx", "idx:<directory>", "mnist", "cifar10"):
        assert choice in message
    with pytest.raises(ValueError, match="digits"):
        dataset_info("mnist/no_such_config")
