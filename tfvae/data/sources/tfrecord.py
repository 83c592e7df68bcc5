"""TFRecord files of ``tf.train.Example`` records: ``tfrecord:PATTERN``, streamed, with a declared feature spec.

``PATTERN`` is a glob (``tfrecord:/data/part-*.tfrecord``); the matching
files are read in sorted order, or in a shuffled order (new every epoch,
from ``seed``) when the pipeline shuffles. Nothing is loaded into memory
(``in_memory`` is ``False``; :func:`tfvae.data.load_dataset` caches the
parsed examples after the first epoch unless ``cache=False``).

Feature spec
------------

Option ``features`` (``data.features``) maps the name of a feature in the
records to a spec: ONE example feature and optionally ONE label feature,
e.g. ``{"x": "float32[8]", "y": "int64"}`` or ``{"image": "png", "label": "int64:10"}``.
The grammar::

    spec    := encoded | fixed | label
    encoded := "png" | "jpeg"            a bytes feature holding one encoded image
    fixed   := dtype "[" dims "]"        a fixed-length feature of prod(dims) values
    dtype   := "float32" | "int64"       -> float32 examples of shape dims
             | "uint8"                   -> a bytes feature of H*W*C raw pixels,
                                            dims = H,W or H,W,C (uint8 image)
    dims    := int ("," int)*            each >= 1
    label   := "int64" [":" K]           a scalar int64 class label; K: the number of
                                            classes (DatasetInfo.num_classes), else None

The label is the entry whose spec is ``label``; the other is the example.
Encoded images (``png`` and ``jpeg`` both decode either format) are uint8
``[H, W, C]``: ``image_size=(H, W)`` (``data.image_size``) resizes every image
to it (bilinear), ``channels`` (``data.channels``, 1 or 3) converts them.
Without them, the first record gives the size and the channels (1 for grey,
3 otherwise); an image of another size is then an error when it is read.
``uint8`` and encoded images are scaled to ``[0, 1]`` by the pipeline;
``float32``/``int64`` examples pass as float32 (a NaN or an infinity is an
error when it is read).

Splits
------

Records are not counted (that would read every file): ``DatasetInfo.num_examples``
is empty. ``"train"`` and ``"test"`` are drawn while streaming: record ``i``
(counted from 0 in its file) of the ``f``-th matching file (sorted order) is
in ``"test"`` when ``tf.random.stateless_uniform([], seed=fold_in([split_seed,
f], i), alg="philox") < test_fraction``, else in ``"train"``
(:func:`in_test_split`). The split does not depend on the file order read nor
on the epoch, so it is the same every time, and the test split holds about
``test_fraction`` of the records.
"""

from __future__ import annotations

import dataclasses
import functools
import glob
import math
import os
import re
import types
from collections.abc import Mapping
from typing import Any

import numpy as np
import tensorflow as tf

from tfvae.data.sources.base import DatasetInfo, UserDataError, check_split
from tfvae.data.sources.images import check_image_options
from tfvae.data.sources.user import USER_SPLITS, check_split_options

__all__ = ["FeatureSpec", "TFRecordSource", "in_test_split", "parse_features"]

_FIXED = re.compile(r"^(float32|int64|uint8)\s*\[\s*(\d+(?:\s*,\s*\d+)*)\s*\]$")
_LABEL = re.compile(r"^int64(?:\s*:\s*(\d+))?$")
_GRAMMAR = "png, jpeg, float32[dims], int64[dims], uint8[H,W,C] for the example; int64 or int64:K for the label"


@dataclasses.dataclass(frozen=True)
class FeatureSpec:
    """One parsed entry of the ``features`` option.

    Attributes:
      key: the feature's name in the records.
      spec: the spec as written.
      kind: ``"encoded"`` (png/jpeg), ``"fixed"`` (float32/int64 values),
        ``"raw"`` (uint8 bytes) or ``"label"``.
      shape: the example shape (``(H, W, C)`` for ``raw``; ``()`` for labels
        and encoded images, whose shape comes from the options or the first record).
      num_classes: ``K`` of ``int64:K``, else ``None``.
    """

    key: str
    spec: str
    kind: str
    shape: tuple[int, ...] = ()
    dtype: str = ""
    num_classes: int | None = None


def _parse_one(key: str, spec: Any, what: str) -> FeatureSpec:
    if not isinstance(key, str) or not key:
        raise UserDataError(f"{what}: features: a feature name must be a non-empty string, got {key!r}")
    if not isinstance(spec, str):
        raise UserDataError(f"{what}: features[{key!r}]: the spec must be a string ({_GRAMMAR}), got {spec!r}")
    text = spec.strip().lower()
    if text in ("png", "jpeg", "jpg"):
        return FeatureSpec(key, spec, "encoded", dtype="uint8")
    label = _LABEL.match(text)
    if label:
        classes = int(label.group(1)) if label.group(1) is not None else None
        if classes is not None and classes < 1:
            raise UserDataError(f"{what}: features[{key!r}]: {spec!r} declares {classes} classes: K must be >= 1")
        return FeatureSpec(key, spec, "label", dtype="int64", num_classes=classes)
    fixed = _FIXED.match(text)
    if not fixed:
        raise UserDataError(f"{what}: features[{key!r}]: cannot parse {spec!r}; expected {_GRAMMAR}")
    dtype = fixed.group(1)
    dims = tuple(int(d) for d in fixed.group(2).split(","))
    if any(d < 1 for d in dims):
        raise UserDataError(f"{what}: features[{key!r}]: {spec!r} has a dimension < 1")
    if dtype == "uint8":
        if len(dims) not in (2, 3):
            raise UserDataError(f"{what}: features[{key!r}]: uint8 examples are raw images uint8[H,W] or uint8[H,W,C], "
                                f"got {spec!r}")
        return FeatureSpec(key, spec, "raw", dims if len(dims) == 3 else (*dims, 1), "uint8")
    return FeatureSpec(key, spec, "fixed", dims, dtype)


def parse_features(features: Any, what: str) -> tuple[FeatureSpec, FeatureSpec | None]:
    """``(example spec, label spec or None)`` of a ``features`` option (grammar in the module docstring).

    Args:
      features: a mapping feature name -> spec, one example entry and at most one label entry.
      what: the dataset, for the messages.

    Raises:
      ValueError: not a mapping of one or two entries, a spec that does not
        parse, no example entry, or two label entries.
    """
    example = '{"x": "float32[8]", "y": "int64"}'
    if not features:
        raise UserDataError(f"{what}: the TFRecord features must be declared: features={example} "
                            '(data.features = {x = "float32[8]", y = "int64"}); grammar: ' + _GRAMMAR)
    if not isinstance(features, Mapping):
        raise UserDataError(f"{what}: features must be a mapping of feature name -> spec, e.g. {example}; "
                            f"got {features!r}")
    if len(features) > 2:
        raise UserDataError(f"{what}: features declares {len(features)} features ({', '.join(map(str, features))}); "
                            "give one example feature and at most one label feature")
    specs = [_parse_one(k, v, what) for k, v in features.items()]
    labels = [s for s in specs if s.kind == "label"]
    examples = [s for s in specs if s.kind != "label"]
    if not examples:
        if len(labels) == 2:
            raise UserDataError(f"{what}: features {dict(features)!r}: both entries are scalar int64 labels; the "
                                "example feature needs dimensions, e.g. int64[1] or float32[8]")
        raise UserDataError(f"{what}: features {dict(features)!r} has no example feature ({_GRAMMAR})")
    if len(examples) == 2:
        raise UserDataError(f"{what}: features {dict(features)!r}: two example features; the second one must be the "
                            "label, a scalar int64 or int64:K")
    return examples[0], (labels[0] if labels else None)


def in_test_split(file_index: tf.Tensor, record_index: tf.Tensor, test_fraction: float, split_seed: int) -> tf.Tensor:
    """Whether record ``record_index`` of the ``file_index``-th file is in ``"test"`` (rule in the module docstring).

    Args:
      file_index: int64 position of the file among the sorted matches.
      record_index: int64 position of the record in its file.
      test_fraction: fraction in ``(0, 1)``.
      split_seed: seed of the draw.

    Returns:
      A scalar bool tensor.
    """
    seed = tf.stack([tf.constant(split_seed, tf.int64), tf.cast(file_index, tf.int64)])
    key = tf.random.experimental.stateless_fold_in(seed, tf.cast(record_index, tf.int64), alg="philox")
    return tf.random.stateless_uniform([], seed=key, alg="philox") < test_fraction


def _tf_message(error: tf.errors.OpError) -> str:
    """The first line of a TensorFlow error, without its ``{{function_node ...}}`` prefix."""
    return re.sub(r"\{\{[^}]*\}\}\s*", "", error.message.splitlines()[0] if error.message else "").strip()


@functools.lru_cache(maxsize=8)
def _first_image_shape(files: tuple[str, ...], key: str, what: str, stamp: tuple) -> tuple[int, int, int]:
    """``(H, W, default channels)`` of the first encoded image found in ``files`` (``stamp`` only keys the cache)."""
    del stamp
    spec = {key: tf.io.FixedLenFeature([], tf.string)}
    for path in files:
        try:
            for record in tf.data.TFRecordDataset(path).take(1):
                encoded = tf.io.parse_single_example(record, spec)[key]
                image = tf.io.decode_image(encoded, expand_animations=False)
                height, width, channels = (int(d) for d in image.shape)
                return height, width, (1 if channels in (1, 2) else 3)
        except (tf.errors.InvalidArgumentError, tf.errors.DataLossError) as error:
            raise UserDataError(f"{what}: cannot read an encoded image {key!r} from the first record of {path}: "
                                f"{_tf_message(error)}") from None
    raise UserDataError(f"{what}: the files hold no record ({', '.join(files[:3])}{', ...' if len(files) > 3 else ''})")


class TFRecordSource:
    """``tf.train.Example`` records in TFRecord files, streamed (spec, splits and options in the module docstring).

    Args:
      name: the dataset name (``"tfrecord:PATTERN"``).
      pattern: a glob of files (``~`` expanded).
      features: the feature spec, e.g. ``{"x": "float32[8]", "y": "int64"}``.
      image_size: ``(H, W)`` of encoded images (resized to it); ``None``: from the first record.
      channels: 1 or 3 for encoded images; ``None``: from the first record.
      test_fraction: fraction of the records drawn into ``"test"`` (``None``: 0.1).
      split_seed: seed of that draw (``None``: 0).

    Raises:
      ValueError: a bad spec or option, or ``image_size`` / ``channels`` with
        a spec that is not an encoded image.
    """

    in_memory = False

    def __init__(self, name: str, pattern: str, *, features: Mapping[str, str] | None = None,
                 image_size: Any = None, channels: int | None = None, test_fraction: float | None = None,
                 split_seed: int | None = None):
        self.name = name
        self.pattern = os.path.abspath(os.path.expanduser(pattern))
        self.location = self.pattern
        self.example_spec, self.label_spec = parse_features(features, name)
        self.features = types.MappingProxyType({str(k): str(v) for k, v in features.items()})
        self.image_size, self.channels = check_image_options(image_size, channels, name)
        if self.example_spec.kind != "encoded" and (self.image_size or self.channels):
            option = "image_size" if self.image_size else "channels"
            raise UserDataError(f"{name}: {option} applies to encoded images (png/jpeg) only; the example feature "
                                f"{self.example_spec.key!r} is {self.example_spec.spec!r}")
        self.test_fraction, self.split_seed = check_split_options(test_fraction, split_seed, name)

    @property
    def image_options(self) -> bool:
        """``binarize``, ``dequantize`` and ``with_labels`` apply: the examples are uint8 images."""
        return self.example_spec.kind in ("encoded", "raw")

    def files(self) -> tuple[str, ...]:
        """The files that match the pattern, sorted.

        Raises:
          FileNotFoundError: none matches.
        """
        files = tuple(sorted(p for p in glob.glob(self.pattern) if os.path.isfile(p)))
        if not files:
            raise FileNotFoundError(f"{self.name}: no file matches {self.pattern}")
        return files

    def example_shape(self) -> tuple[int, ...]:
        """The shape of one example; reads the first record for an encoded image without ``image_size``/``channels``."""
        spec = self.example_spec
        if spec.kind != "encoded":
            return spec.shape
        if self.image_size is not None and self.channels is not None:
            return (*self.image_size, self.channels)
        files = self.files()
        stamp = tuple((os.stat(p).st_mtime_ns, os.stat(p).st_size) for p in files[:1])
        height, width, channels = _first_image_shape(files, spec.key, self.name, stamp)
        return (*(self.image_size or (height, width)), self.channels or channels)

    def info(self) -> DatasetInfo:
        """What the records hold, from the spec (and the first record for encoded images); records are not counted."""
        self.files()
        shape = self.example_shape()
        options = {"features": self.features, "test_fraction": self.test_fraction, "split_seed": self.split_seed}
        if self.example_spec.kind == "encoded":
            options.update(image_size=shape[:2], channels=shape[2])
        return DatasetInfo(
            name=self.name,
            source="tfrecord",
            image_shape=tuple(shape),
            num_classes=self.label_spec.num_classes if self.label_spec else None,
            has_labels=self.label_spec is not None,
            splits=USER_SPLITS,
            num_examples=types.MappingProxyType({}),
            location=self.pattern,
            test_fraction=self.test_fraction,
            options=types.MappingProxyType(options),
        )

    def _parser(self):
        spec, label = self.example_spec, self.label_spec
        shape = self.example_shape()
        what = f"{self.name}: feature {spec.key!r} ({spec.spec})"
        if spec.kind == "fixed":
            parse = {spec.key: tf.io.FixedLenFeature(spec.shape, tf.float32 if spec.dtype == "float32" else tf.int64)}
        else:
            parse = {spec.key: tf.io.FixedLenFeature([], tf.string)}
        if label is not None:
            parse[label.key] = tf.io.FixedLenFeature([], tf.int64)
        size = math.prod(shape)

        def parse_record(record):
            example = tf.io.parse_single_example(record, parse)
            value = example[spec.key]
            if spec.kind == "fixed":
                x = tf.debugging.check_numerics(tf.cast(value, tf.float32), f"{what} holds a NaN or an infinity")
            elif spec.kind == "raw":
                raw = tf.io.decode_raw(value, tf.uint8)
                with tf.control_dependencies([tf.debugging.assert_equal(
                        tf.size(raw), size, message=f"{what}: a record does not hold {size} bytes")]):
                    x = tf.reshape(raw, shape)
            else:
                image = tf.io.decode_image(value, channels=shape[2], expand_animations=False)
                if self.image_size is not None:
                    image = tf.image.resize(image, self.image_size, antialias=True)
                    image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
                else:
                    with tf.control_dependencies([tf.debugging.assert_equal(
                            tf.shape(image)[:2], tf.constant(shape[:2], tf.int32),
                            message=f"{what}: an image is not {shape[0]}x{shape[1]} (HxW) like the first record; "
                                    "set image_size=(H, W) (data.image_size = [H, W]) to resize every image")]):
                        image = tf.identity(image)
                x = tf.ensure_shape(image, shape)
            y = tf.cast(example[label.key], tf.int32) if label is not None else tf.constant(0, tf.int32)
            return x, y

        return parse_record

    def examples(self, split: str, *, shuffle_files: bool, seed: int) -> tuple[tf.data.Dataset, int | None]:
        """The records of ``split``, parsed, streamed from the files; their number is unknown (``None``).

        Raises:
          ValueError: an unknown split.
          FileNotFoundError: no file matches the pattern.
        """
        check_split(split, USER_SPLITS, self.name)
        files = self.files()
        test = split == "test"
        fraction, split_seed = self.test_fraction, self.split_seed

        def records_of(file_index, path):
            def keep(record_index, _record):
                return tf.equal(in_test_split(file_index, record_index, fraction, split_seed), test)

            return tf.data.TFRecordDataset(path).enumerate().filter(keep).map(lambda _i, record: record)

        ds = tf.data.Dataset.from_tensor_slices((tf.range(len(files), dtype=tf.int64), tf.constant(files)))
        if shuffle_files and len(files) > 1:
            ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
        ds = ds.flat_map(records_of)
        return ds.map(self._parser(), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True), None

    def arrays(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """The whole split read into memory: ``(examples, int32 labels)`` (zeros without labels).

        Raises:
          ValueError: a record that does not match the spec (the message names the source).
        """
        ds, _ = self.examples(split, shuffle_files=False, seed=0)
        xs, ys = [], []
        try:
            for x, y in ds.batch(1024).as_numpy_iterator():
                xs.append(x)
                ys.append(y)
        except (tf.errors.InvalidArgumentError, tf.errors.DataLossError) as error:
            raise UserDataError(f"{self.name}: cannot read the {split!r} records: {_tf_message(error)}") from None
        if not xs:
            dtype = np.uint8 if self.image_options else np.float32
            return np.zeros((0, *self.example_shape()), dtype), np.zeros((0,), np.int32)
        return np.concatenate(xs), np.concatenate(ys)
