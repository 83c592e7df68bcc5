"""A folder of image files: ``images:DIR``, PNG and JPEG read with PIL, held in memory as uint8 ``[H, W, C]``.

Layouts:

- ``DIR/*.png``: images without labels (``has_labels`` ``False``).
- ``DIR/<class>/*.png``: one level of class subfolders; their names, sorted,
  are the labels ``0..K-1``. Images directly in ``DIR`` next to class
  subfolders are an error.

Files ending ``.png``, ``.jpg`` or ``.jpeg`` (any case) are read, in sorted
order (class by class); other files and hidden entries (``.name``) are
skipped. Options:

``image_size=(H, W)`` (``data.image_size = [H, W]``)
    Resize every image to ``H x W`` (bilinear). Default: the size of the
    first image; an image of another size is then an error naming it.
``channels`` (``data.channels``, 1 or 3)
    Convert every image to grey (PIL mode ``"L"``) or RGB. Default: 1 when
    the first image is grey (modes ``1``, ``L``, ``LA``, ``I``, ``I;16``,
    ``F``), else 3; an alpha channel is dropped.

The folder is split into ``"train"`` and ``"test"`` by the seeded permutation
of :mod:`tfvae.data.sources.user` (``test_fraction``, ``split_seed``).
:meth:`ImageFolderSource.info` lists the folder and opens only the first
image; the images are read at the first :meth:`~ImageFolderSource.arrays`,
then cached per folder (a changed, added or removed file makes it read again).
"""

from __future__ import annotations

import functools
import numbers
import os
import types
from typing import Any

import numpy as np

from tfvae.data.sources.base import DatasetInfo, UserDataError, readonly
from tfvae.data.sources.user import (
    USER_SPLITS,
    UserArraySource,
    UserData,
    check_split_options,
    split_indices,
)

__all__ = ["GREY_MODES", "IMAGE_EXTENSIONS", "ImageFolderSource", "check_image_options"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
"""File endings read as images (compared in lower case)."""

GREY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"})
"""PIL modes whose images default to one channel."""


def check_image_options(image_size: Any, channels: Any, what: str) -> tuple[tuple[int, int] | None, int | None]:
    """``image_size`` as ``(H, W)`` and ``channels`` as an int, both ``None`` when not given.

    Raises:
      ValueError: ``image_size`` is not two positive integers, or ``channels``
        is not 1 or 3.
    """
    size = None
    if image_size is not None:
        sized = not isinstance(image_size, (str, bytes)) and hasattr(image_size, "__len__") and len(image_size) == 2
        if not sized or not all(isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 1
                                for n in image_size):
            raise UserDataError(f"{what}: image_size must be two positive integers [H, W], got {image_size!r}")
        size = (int(image_size[0]), int(image_size[1]))
    if channels is not None and (isinstance(channels, bool) or channels not in (1, 3)):
        raise UserDataError(f"{what}: channels must be 1 (grey) or 3 (RGB), got {channels!r}")
    return size, (int(channels) if channels is not None else None)


def _is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def _visible(directory: str) -> list[str]:
    return sorted(e for e in os.listdir(directory) if not e.startswith("."))


def _listing(directory: str, what: str) -> tuple[tuple[str, ...], tuple[int, ...] | None, tuple[str, ...]]:
    """``(files, labels or None, class names)`` of an image folder, in sorted order."""
    entries = _visible(directory)
    subdirs = [e for e in entries if os.path.isdir(os.path.join(directory, e))]
    files = [os.path.join(directory, e) for e in entries
             if _is_image(e) and os.path.isfile(os.path.join(directory, e))]
    if not subdirs:
        if not files:
            raise UserDataError(f"{what}: {directory} holds no PNG or JPEG files (nor class subfolders of them)")
        return tuple(files), None, ()
    if files:
        raise UserDataError(f"{what}: {directory} holds class subfolders ({', '.join(subdirs[:3])}"
                            f"{', ...' if len(subdirs) > 3 else ''}) and also images such as {files[0]}: put every "
                            "image in a class subfolder, or keep no subfolders (then there are no labels)")
    paths, labels = [], []
    for label, sub in enumerate(subdirs):
        folder = os.path.join(directory, sub)
        found = [os.path.join(folder, e) for e in _visible(folder)
                 if _is_image(e) and os.path.isfile(os.path.join(folder, e))]
        if not found:
            raise UserDataError(f"{what}: class folder {folder} holds no PNG or JPEG files")
        paths.extend(found)
        labels.extend([label] * len(found))
    return tuple(paths), tuple(labels), tuple(subdirs)


def _open(path: str, what: str):
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(path)
        image.load()
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise UserDataError(f"{what}: cannot read {path} as an image: {error}") from None
    return image


def _first_image(path: str, what: str) -> tuple[tuple[int, int], int]:
    """``((H, W), default channels)`` of the image at ``path``, from its header."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            width, height = image.size
            mode = image.mode
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise UserDataError(f"{what}: cannot read {path} as an image: {error}") from None
    return (height, width), (1 if mode in GREY_MODES else 3)


@functools.lru_cache(maxsize=4)
def _read_all(files: tuple[str, ...], image_size: tuple[int, int] | None, channels: int | None, what: str,
              stamp: tuple) -> np.ndarray:
    """Every image of ``files`` as one uint8 ``[N, H, W, C]`` array (``stamp`` only keys the cache)."""
    from PIL import Image

    del stamp
    first_size, first_channels = _first_image(files[0], what)
    height, width = image_size or first_size
    channels = channels or first_channels
    mode = "L" if channels == 1 else "RGB"
    out = np.empty((len(files), height, width, channels), np.uint8)
    for i, path in enumerate(files):
        image = _open(path, what)
        if image.mode != mode:
            image = image.convert(mode)
        if (image.height, image.width) != (height, width):
            if image_size is None:
                raise UserDataError(
                    f"{what}: {path} is {image.height}x{image.width} (HxW) but the first image, {files[0]}, is "
                    f"{height}x{width}: set image_size=(H, W) (data.image_size = [H, W]) to resize every image")
            image = image.resize((width, height), Image.Resampling.BILINEAR)
        out[i] = np.asarray(image, np.uint8).reshape(height, width, channels)
    return readonly(out)[0]


class ImageFolderSource(UserArraySource):
    """The PNG/JPEG files of a folder (layouts and options in the module docstring).

    Args:
      name: the dataset name (``"images:DIR"``).
      directory: the folder (``~`` expanded).
      image_size: ``(H, W)`` to resize every image to; ``None``: the first image's size.
      channels: 1 or 3; ``None``: from the first image.
      test_fraction: fraction of the images drawn into ``"test"`` (``None``: 0.1).
      split_seed: seed of that draw (``None``: 0).

    Raises:
      ValueError: a bad option value.
    """

    kind = "images"
    image_options = True  # uint8 images, always

    def __init__(self, name: str, directory: str, *, image_size: Any = None, channels: int | None = None,
                 test_fraction: float | None = None, split_seed: int | None = None):
        self.name = name
        self.directory = os.path.abspath(os.path.expanduser(directory))
        self.location = self.directory
        self.image_size, self.channels = check_image_options(image_size, channels, name)
        self.test_fraction, self.split_seed = check_split_options(test_fraction, split_seed, name)

    def _listing(self) -> tuple[tuple[str, ...], tuple[int, ...] | None, tuple[str, ...]]:
        if not os.path.isdir(self.directory):
            raise FileNotFoundError(f"{self.name}: no such directory ({self.directory} does not exist)")
        return _listing(self.directory, self.name)

    @property
    def classes(self) -> tuple[str, ...]:
        """The class subfolder names, sorted (label ``k`` is ``classes[k]``); empty without labels."""
        return self._listing()[2]

    def _shape(self, files: tuple[str, ...]) -> tuple[int, int, int]:
        if self.image_size is not None and self.channels is not None:
            return (*self.image_size, self.channels)
        size, channels = _first_image(files[0], self.name)
        return (*(self.image_size or size), self.channels or channels)

    def data(self) -> UserData:
        """Every image, read once per version of the folder, and the labels from the class subfolders.

        Raises:
          FileNotFoundError: the folder is gone.
          ValueError: no images, a file that is not an image, or images of
            different sizes without ``image_size`` (the message names the file).
        """
        files, labels, _ = self._listing()
        stamp = tuple((os.stat(p).st_mtime_ns, os.stat(p).st_size) for p in files)
        x = _read_all(files, self.image_size, self.channels, self.name, stamp)
        y = readonly(np.asarray(labels, np.int32))[0] if labels is not None else None
        return UserData(x, y)

    def info(self) -> DatasetInfo:
        """What the folder holds, from its listing and the first image's header (no other image is read)."""
        files, labels, classes = self._listing()
        shape = self._shape(files)
        counts = {split: len(i) for split, i in split_indices(len(files), self.test_fraction,
                                                              self.split_seed).items()}
        return DatasetInfo(
            name=self.name,
            source=self.kind,
            image_shape=shape,
            num_classes=len(classes) if labels is not None else None,
            has_labels=labels is not None,
            splits=USER_SPLITS,
            num_examples=types.MappingProxyType(counts),
            location=self.directory,
            test_fraction=self.test_fraction,
            options=types.MappingProxyType({"image_size": shape[:2], "channels": shape[2],
                                            "test_fraction": self.test_fraction, "split_seed": self.split_seed}),
        )
