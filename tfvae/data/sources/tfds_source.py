"""tensorflow-datasets: any tfds name, prepared in ``data_dir``, built from ``manual_dir`` or downloaded.

(Named ``tfds_source`` so that no module of tfvae is called ``tfds``, the
name everyone gives ``tensorflow_datasets``.)

``mnist``, ``fashion_mnist``, ``binarized_mnist``, ``cifar10``, ``dsprites``,
``celeb_a``, ... (``tfds.list_builders()``), including datasets prepared in
``data_dir`` whose builder code is not installed. The data is loaded from
``data_dir`` when it is already prepared there; otherwise it is built from
``manual_dir`` when one is given, otherwise downloaded when ``download=True``
and the download server answers. A quick connection check
(:func:`network_error`) runs first, so an offline machine gets a
:class:`~tfvae.data.DatasetUnavailableError` at once instead of minutes of
retries.

The ``image`` feature becomes the image and ``label`` the label. Datasets
without a ``label`` feature (``dsprites``, ``celeb_a``, ``binarized_mnist``)
get label 0 for every example and ``DatasetInfo.has_labels == False``.
``binarized_mnist`` and ``dsprites`` store pixels as 0/1; they are mapped to
0/255 so that every source scales the same way.
"""

from __future__ import annotations

import os
import re
import socket
import types

import numpy as np
import tensorflow as tf

from tfvae.data.sources.base import DatasetInfo, DatasetUnavailableError
from tfvae.data.sources.idx import FASHION_MNIST_IDX_DIR

__all__ = ["NETWORK_PROBE_ADDRESS", "NETWORK_PROBE_TIMEOUT_S", "TfdsSource", "network_error",
           "unknown_name_message"]

# Host and port probed before a tfds download (where tfds keeps prepared
# datasets and most download URLs), and how long to wait for it.
NETWORK_PROBE_ADDRESS = ("storage.googleapis.com", 443)
NETWORK_PROBE_TIMEOUT_S = 3.0

# tfds datasets whose images hold 0/1 instead of 0..255.
_TFDS_BINARY_IMAGES = frozenset({"binarized_mnist", "dsprites"})
_TFDS_EXAMPLES = ("mnist", "fashion_mnist", "binarized_mnist", "cifar10", "dsprites", "celeb_a")


def unknown_name_message(name: str, data_dir: str | None) -> str:
    """The error text for a name no source knows: it lists the valid choices."""
    where = f" (nor a dataset prepared in data_dir={data_dir!r})" if data_dir else ""
    return (
        f"Unknown dataset {name!r}{where}. Valid choices: 'digits' (embedded, offline default), "
        f"'fashion_mnist_idx' ({FASHION_MNIST_IDX_DIR}), 'idx:<directory>' (MNIST-format IDX files), "
        f"or a tensorflow-datasets name such as {', '.join(repr(n) for n in _TFDS_EXAMPLES)} "
        "(see tensorflow_datasets.list_builders())."
    )


def network_error() -> str | None:
    """Try to open a TCP connection to the download server; the error text, or None if it works."""
    try:
        with socket.create_connection(NETWORK_PROBE_ADDRESS, timeout=NETWORK_PROBE_TIMEOUT_S):
            return None
    except OSError as e:
        host, port = NETWORK_PROBE_ADDRESS
        return f"the download server {host}:{port} cannot be reached ({e})"


class TfdsSource:
    """A tensorflow-datasets dataset with an ``image`` feature (and optionally a ``label``), read from files.

    Args:
      name: a tfds name, optionally with config and version (``"mnist:3.*.*"``).
      data_dir: tfds data directory (tfds' default when None).
      download: allow a download when the data is not prepared.
      manual_dir: directory holding already downloaded files to prepare from.

    Raises:
      ValueError: tfds knows no such dataset (the message lists the choices),
        or the name does not parse.
    """

    in_memory = False
    image_options = True

    def __init__(
        self,
        name: str,
        data_dir: str | None,
        *,
        download: bool,
        manual_dir: str | None,
    ):
        import tensorflow_datasets as tfds

        self.name = name
        self.download = download
        self.manual_dir = manual_dir
        try:
            self.builder = tfds.builder(name, data_dir=data_dir)
        except tfds.core.registered.DatasetNotFoundError as e:
            raise ValueError(unknown_name_message(name, data_dir)) from e
        except (ValueError, AssertionError) as e:  # bad config or version, unparsable name
            detail = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ValueError(f"{unknown_name_message(name, data_dir)} tensorflow-datasets says: {detail}") from e
        self.base_name = self.builder.name
        self.location = os.fspath(self.builder.data_dir_root)
        self._prepared_checked = False
        # Why the data could not be prepared, for the error raised when loading fails.
        self._skip_reason = "it could not be prepared"

    # -- metadata ------------------------------------------------------------

    def _features(self):
        features = self.builder.info.features
        if "image" not in features:
            raise ValueError(
                f"tfds dataset {self.name!r} has no 'image' feature (features: {', '.join(features)}); "
                "tfvae image datasets need one"
            )
        return features

    def info(self) -> DatasetInfo:
        import tensorflow_datasets as tfds

        features = self._features()
        shape = tuple(features["image"].shape)
        if len(shape) == 2:
            shape = shape + (1,)
        if len(shape) != 3 or any(d is None for d in shape):
            raise ValueError(
                f"tfds dataset {self.name!r} has images of shape {shape}; tfvae needs a fixed [H, W, C] shape"
            )
        label = features["label"] if "label" in features else None
        has_labels = isinstance(label, tfds.features.ClassLabel)
        splits = dict(self.builder.info.splits.items()) if self.builder.info.splits else {}
        return DatasetInfo(
            name=self.name,
            source="tfds",
            image_shape=shape,
            num_classes=label.num_classes if has_labels else None,
            has_labels=has_labels,
            splits=tuple(splits),
            num_examples=types.MappingProxyType({k: int(v.num_examples) for k, v in splits.items()}),
            location=self.location,
        )

    # -- data ----------------------------------------------------------------

    def _unavailable(self, reason: str) -> DatasetUnavailableError:
        return DatasetUnavailableError(
            f"Could not load tensorflow-datasets dataset {self.name!r}: it is not prepared in "
            f"data_dir={self.location!r} (searched {os.fspath(self.builder.data_dir)}) "
            f"and {reason}. Use --dataset digits (load_dataset('digits', ...)), the embedded offline "
            "default of 5,000 real MNIST digits, or an IDX directory (--dataset idx:/path/to/dir, or "
            "fashion_mnist_idx after `apt-get install dataset-fashion-mnist`); or prepare the dataset on "
            f"a machine with network (`tfds build {self.name} --data_dir DIR`) and pass data_dir=DIR, "
            "or pass manual_dir= with the downloaded files."
        )

    def _ensure_prepared(self) -> None:
        """Prepare the data if needed and possible; errors are reported by :meth:`as_dataset`."""
        if self._prepared_checked or self.builder.is_prepared():
            self._prepared_checked = True
            return
        import tensorflow_datasets as tfds

        self._prepared_checked = True
        if self.manual_dir is not None:
            config = tfds.download.DownloadConfig(manual_dir=os.path.expanduser(self.manual_dir))
            try:
                self.builder.download_and_prepare(download_config=config)
            except Exception as e:  # noqa: BLE001 - tfds raises many types; keep the cause
                raise self._unavailable(f"preparing it from manual_dir={self.manual_dir!r} failed: {e}") from e
            return
        if not self.download:
            self._skip_reason = "downloading is disabled (download=False)"
            return
        reason = network_error()
        if reason is not None:
            self._skip_reason = reason
            return
        try:
            self.builder.download_and_prepare()
        except Exception as e:  # noqa: BLE001
            raise self._unavailable(f"the download failed: {e}") from e

    def as_dataset(self, split: str, *, shuffle_files: bool, seed: int) -> tf.data.Dataset:
        """The raw tfds examples (every feature) of ``split``, preparing the data first if it may.

        Raises:
          ValueError: unknown split (the message lists the valid ones).
          DatasetUnavailableError: the data is not prepared and cannot be.
        """
        import tensorflow_datasets as tfds

        self._ensure_prepared()
        splits = self.builder.info.splits
        base = re.match(r"^[\w-]+", split)
        if splits and (base is None or base.group(0) not in splits):
            raise ValueError(f"Unknown split {split!r} for dataset {self.name!r}; valid splits: {', '.join(splits)}")
        try:
            return self.builder.as_dataset(
                split=split,
                shuffle_files=shuffle_files,
                read_config=tfds.ReadConfig(shuffle_seed=seed),
            )
        except AssertionError as e:  # tfds' "could not find data in ..." when nothing is prepared
            raise self._unavailable(self._skip_reason) from e

    def examples(self, split: str, *, shuffle_files: bool, seed: int) -> tuple[tf.data.Dataset, int | None]:
        features = self._features()
        has_labels = "label" in features
        binary = self.base_name in _TFDS_BINARY_IMAGES

        def convert(example):
            image = example["image"]
            if image.dtype != tf.uint8:
                raise TypeError(f"tfds dataset {self.name!r}: expected uint8 images, got {image.dtype.name}")
            if image.shape.rank == 2:
                image = image[..., None]
            if binary:
                image = tf.cast(image > 0, tf.uint8) * 255
            label = tf.cast(example["label"], tf.int32) if has_labels else tf.constant(0, tf.int32)
            return image, label

        ds = self.as_dataset(split, shuffle_files=shuffle_files, seed=seed)
        ds = ds.map(convert, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        cardinality = int(ds.cardinality())
        return ds, (cardinality if cardinality >= 0 else None)

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        ds, _ = self.examples(split, shuffle_files=False, seed=0)
        xs, ys = [], []
        for x, y in ds.batch(1024).as_numpy_iterator():
            xs.append(x)
            ys.append(y)
        if not xs:
            shape = self.info().image_shape
            return np.zeros((0, *shape), np.uint8), np.zeros((0,), np.int32)
        return np.concatenate(xs), np.concatenate(ys)
