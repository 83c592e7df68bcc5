r"""dSprites-like images with known generative factors, and the real dSprites.

Generated shapes (offline, deterministic for a seed)
    A white shape on a black 64x64 canvas, drawn from five independent factors
    on the same grid as dSprites (Matthey et al. 2017):

    =============== ====== ===================================================
    factor          values grid
    =============== ====== ===================================================
    ``shape``       3      square, ellipse, heart
    ``scale``       6      ``linspace(0.5, 1, 6)``
    ``orientation`` 40     ``2 pi k / 40``, ``k = 0..39`` (radians, counter-clockwise)
    ``position_x``  32     ``linspace(0, 1, 32)``, left to right
    ``position_y``  32     ``linspace(0, 1, 32)``, top to bottom
    =============== ====== ===================================================

    A factor combination is a row of 5 integer *indices* into these grids
    (``[N, 5]``, columns in :data:`FACTOR_NAMES` order). Rendering is exact
    point-in-shape tests at the pixel centres (no anti-aliasing): pixel
    ``(i, j)`` has centre ``(j + 0.5, i + 0.5)``; it is moved to the shape's
    frame, ``(u, v) = R(-orientation) (p - centre) / (scale * 10 px)`` with ``v``
    pointing up, and is on (255) when ``(u, v)`` lies in the unit shape:

    - square: ``max(|u|, |v|) <= 1`` (20 px wide at scale 1);
    - ellipse: ``(u / 1.25)^2 + (v / 0.65)^2 <= 1``;
    - heart: ``(x^2 + y^2 - 1)^3 <= x^2 y^3`` with ``x = u``, ``y = v + 0.2935``
      (the classic implicit heart, lobes up, centred on its centroid).

    The centre (the shape's centroid) is ``14.5 + 35 * position`` px on each
    axis (``y`` downwards), so every shape at every orientation and scale stays
    inside the canvas and one position step moves it by 1.13 px. Like dSprites, the square looks the same every 90
    degrees and the ellipse every 180 degrees: their orientation is only
    identifiable modulo that symmetry.

The real dSprites (tensorflow-datasets ``dsprites``)
    :func:`load_dsprites` reads it with its factor labels when it is prepared
    (or can be downloaded) and raises
    :class:`~tfvae.data.DatasetUnavailableError` otherwise. The 737,280 images
    are held bit-packed (360 MiB instead of 2.8 GiB).

Both :class:`ShapesDataset` and :class:`DSpritesDataset` are *ground-truth
samplers* (``factor_sizes``, ``sample_factors``, ``observations``), what the
disentanglement metrics in :mod:`tfvae.metrics.disentanglement` take::

    from tfvae.data.shapes import ShapesDataset
    data = ShapesDataset()
    images, factors = data.sample(10_000, seed=0)        # uint8 [N, 64, 64, 1], int32 [N, 5]
    images, factors = data.sample_with_fixed_factor(64, "scale", seed=1)

References:
  Matthey, L., Higgins, I., Hassabis, D. & Lerchner, A. (2017). dSprites:
  Disentanglement testing Sprites dataset. https://github.com/deepmind/dsprites-dataset
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "FACTOR_NAMES",
    "FACTOR_SIZES",
    "IMAGE_SIZE",
    "ORIENTATIONS",
    "POSITIONS",
    "SCALES",
    "SHAPE_NAMES",
    "DSpritesDataset",
    "ShapesDataset",
    "factor_index",
    "factor_values",
    "load_dsprites",
    "render",
    "sample",
    "sample_factors",
    "sample_with_fixed_factor",
]

FACTOR_NAMES: tuple[str, ...] = ("shape", "scale", "orientation", "position_x", "position_y")
"""The factors, in the column order of every ``[N, 5]`` factor array."""

FACTOR_SIZES: tuple[int, ...] = (3, 6, 40, 32, 32)
"""Number of values of each factor (the dSprites grid: 737,280 combinations)."""

SHAPE_NAMES: tuple[str, ...] = ("square", "ellipse", "heart")
"""The values of the ``shape`` factor (dSprites' order)."""

IMAGE_SIZE = 64
"""Height and width of the canvas, in pixels."""

SCALES = np.linspace(0.5, 1.0, FACTOR_SIZES[1])
"""Values of the ``scale`` factor."""

ORIENTATIONS = 2 * np.pi * np.arange(FACTOR_SIZES[2]) / FACTOR_SIZES[2]
"""Values of the ``orientation`` factor, radians in ``[0, 2 pi)``."""

POSITIONS = np.linspace(0.0, 1.0, FACTOR_SIZES[3])
"""Values of the ``position_x`` and ``position_y`` factors."""

_UNIT_PX = 10.0  # half-width of the square at scale 1, in pixels
_MARGIN_PX = 14.5  # centre of a shape at position 0; at position 1: IMAGE_SIZE - _MARGIN_PX
_ELLIPSE_AXES = (1.25, 0.65)
_HEART_SHIFT = 0.2935  # centres the implicit heart (y in [-1, 1.235]) on its centroid
_CHUNK = 1024  # images rendered at once (a few [chunk, 32, 32] float32 temporaries)
_EDGE_TOLERANCE = 1e-4  # relative; makes edge pixels robustly inside
_WINDOW = 32  # side of the square of pixels tested around each shape's centre
_DSPRITES_LABELS = ("label_shape", "label_scale", "label_orientation", "label_x_position", "label_y_position")

Seed = int | np.random.Generator | None


def _rng(seed: Seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def factor_index(factor: int | str) -> int:
    """The column of a factor given by name (``"scale"``) or index (``1``)."""
    if isinstance(factor, str):
        if factor not in FACTOR_NAMES:
            raise ValueError(f"unknown factor {factor!r}; choose one of {', '.join(FACTOR_NAMES)}")
        return FACTOR_NAMES.index(factor)
    if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or not 0 <= factor < len(FACTOR_NAMES):
        raise ValueError(
            f"factor must be a name in {FACTOR_NAMES} or an index in [0, {len(FACTOR_NAMES)}), got {factor!r}"
        )
    return int(factor)


def _check_factors(factors, sizes: tuple[int, ...] = FACTOR_SIZES) -> np.ndarray:
    factors = np.asarray(factors)
    if factors.ndim != 2 or factors.shape[1] != len(sizes):
        raise ValueError(f"factors must be integer indices of shape [N, {len(sizes)}], got shape {factors.shape}")
    if factors.size and not np.issubdtype(factors.dtype, np.integer):
        raise ValueError(f"factors must be integer indices, got dtype {factors.dtype}")
    factors = factors.astype(np.int64)
    bad = (factors < 0) | (factors >= np.asarray(sizes))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(
            f"factor {col} of row {row} is {factors[row, col]}, outside [0, {sizes[col]}); sizes are {sizes}"
        )
    return factors


def factor_values(factors: np.ndarray) -> np.ndarray:
    """The values the factor indices stand for.

    Args:
      factors: int ``[N, 5]`` indices.

    Returns:
      float64 ``[N, 5]``: shape index, scale, orientation (radians), position x
      and y (in ``[0, 1]``).
    """
    f = _check_factors(factors)
    return np.stack(
        [f[:, 0].astype(np.float64), SCALES[f[:, 1]], ORIENTATIONS[f[:, 2]], POSITIONS[f[:, 3]], POSITIONS[f[:, 4]]],
        axis=1,
    )


def _inside(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Point-in-unit-shape test in the shape's frame (``v`` up)."""
    if shape == 0:
        return np.maximum(np.abs(u), np.abs(v)) <= 1.0
    if shape == 1:
        a, b = _ELLIPSE_AXES
        return (u / a) ** 2 + (v / b) ** 2 <= 1.0
    y = v + _HEART_SHIFT
    u2 = u * u
    return (u2 + y * y - 1.0) ** 3 <= u2 * y**3


def _render_chunk(factors: np.ndarray, out: np.ndarray) -> None:
    """Draw ``factors`` into the zeroed ``out`` ``[n, 64, 64, 1]``, testing only a 32x32 window per shape."""
    values = factor_values(factors)
    centre = _MARGIN_PX + (IMAGE_SIZE - 2 * _MARGIN_PX) * values[:, 3:5]  # [n, 2] (x, y) in px
    # Every shape lies within 14.15 px of its centre: a 32 px window starting
    # 16 px before it (kept on the canvas) holds every pixel centre it covers.
    start = np.clip(np.floor(centre).astype(np.int64) - _WINDOW // 2, 0, IMAGE_SIZE - _WINDOW)  # [n, 2]
    offset = np.arange(_WINDOW)
    pixel_x = (start[:, 0, None] + offset + 0.5 - centre[:, 0, None]).astype(np.float32)  # [n, W]
    pixel_y = (centre[:, 1, None] - start[:, 1, None] - offset - 0.5).astype(np.float32)  # [n, W], up is +
    dx, dy = pixel_x[:, None, :], pixel_y[:, :, None]  # [n, 1, W], [n, W, 1]
    # Pixel centres exactly on an edge (common: half-widths and centres are
    # multiples of 0.5 px) count as inside, whatever the float rounding.
    size = (_UNIT_PX * (1 + _EDGE_TOLERANCE) * values[:, 1]).astype(np.float32)[:, None, None]
    cos = np.cos(values[:, 2]).astype(np.float32)[:, None, None] / size
    sin = np.sin(values[:, 2]).astype(np.float32)[:, None, None] / size
    window = np.empty((len(factors), _WINDOW, _WINDOW), np.bool_)
    for shape in range(FACTOR_SIZES[0]):
        rows = np.flatnonzero(factors[:, 0] == shape)
        if len(rows):
            c, s, x, y = cos[rows], sin[rows], dx[rows], dy[rows]
            window[rows] = _inside(shape, c * x + s * y, c * y - s * x)  # rotate by -orientation, unscale
    n = np.arange(len(factors))[:, None, None]
    i = start[:, 1, None, None] + offset[None, :, None]
    j = start[:, 0, None, None] + offset[None, None, :]
    out[n, i, j, 0] = window.astype(np.uint8) * np.uint8(255)


def render(factors: np.ndarray) -> np.ndarray:
    """Draw the shapes given by factor indices.

    Vectorised over images (chunks of 1024, a 32x32 window around each
    shape); about 10,000 images a second on one CPU core.

    Args:
      factors: int ``[N, 5]`` indices into the grids of :data:`FACTOR_NAMES`.

    Returns:
      uint8 ``[N, 64, 64, 1]``, 0 (background) or 255 (shape).

    Raises:
      ValueError: wrong shape, non-integer or out-of-range indices.
    """
    factors = _check_factors(factors)
    images = np.zeros((len(factors), IMAGE_SIZE, IMAGE_SIZE, 1), np.uint8)
    for start in range(0, len(factors), _CHUNK):
        _render_chunk(factors[start : start + _CHUNK], images[start : start + _CHUNK])
    return images


def sample_factors(n: int, seed: Seed = None, sizes: tuple[int, ...] = FACTOR_SIZES) -> np.ndarray:
    """``n`` factor combinations drawn uniformly and independently.

    Args:
      n: number of draws.
      seed: an int seed or a ``np.random.Generator`` (advanced in place).
      sizes: number of values of each factor.

    Returns:
      int32 ``[n, len(sizes)]``.
    """
    rng = _rng(seed)
    return np.stack([rng.integers(0, k, size=int(n)) for k in sizes], axis=1).astype(np.int32)


def sample(n: int, seed: Seed = None) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random images and their factors.

    Args:
      n: number of images.
      seed: an int seed or a ``np.random.Generator``; the same seed gives the
        same images.

    Returns:
      ``(images, factors)``: uint8 ``[n, 64, 64, 1]`` (0/255), int32 ``[n, 5]``.
    """
    factors = sample_factors(n, seed)
    return render(factors), factors


def _fix(factors: np.ndarray, column: int, value: int | None, rng: np.random.Generator, sizes) -> np.ndarray:
    if value is None:
        value = int(rng.integers(0, sizes[column]))
    if not 0 <= value < sizes[column]:
        raise ValueError(f"value {value} of factor {column} is outside [0, {sizes[column]})")
    factors[:, column] = value
    return factors


def sample_with_fixed_factor(
    n: int, factor: int | str, seed: Seed = None, value: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random images that share the value of one factor.

    The other factors are drawn uniformly; this is the batch of the FactorVAE
    metric and one half of a BetaVAE-metric pair.

    Args:
      n: number of images.
      factor: the fixed factor, a name of :data:`FACTOR_NAMES` or its index.
      seed: an int seed or a ``np.random.Generator``.
      value: the fixed value's index; drawn uniformly when None.

    Returns:
      ``(images, factors)`` as :func:`sample`, with ``factors[:, factor]`` constant.
    """
    rng = _rng(seed)
    factors = _fix(sample_factors(n, rng), factor_index(factor), value, rng, FACTOR_SIZES)
    return render(factors), factors


class ShapesDataset:
    """The generated dSprites-like shapes as a ground-truth sampler.

    Implements what :mod:`tfvae.metrics.disentanglement` needs:
    ``factor_names``, ``factor_sizes``, ``sample_factors(n, rng)`` and
    ``observations(factors)`` (float32 images in {0, 1}, ready for an encoder
    trained on ``load_dataset("shapes", ...)``).
    """

    factor_names: tuple[str, ...] = FACTOR_NAMES
    factor_sizes: tuple[int, ...] = FACTOR_SIZES

    def sample_factors(self, n: int, rng: Seed = None) -> np.ndarray:
        """Uniform factor indices, int32 ``[n, 5]`` (see :func:`sample_factors`)."""
        return sample_factors(n, rng)

    def images(self, factors: np.ndarray) -> np.ndarray:
        """uint8 0/255 images ``[N, 64, 64, 1]`` of the factors (see :func:`render`)."""
        return render(factors)

    def observations(self, factors: np.ndarray) -> np.ndarray:
        """float32 images ``[N, 64, 64, 1]`` in {0, 1} of the factors."""
        return (render(factors) > 0).astype(np.float32)

    def sample(self, n: int, seed: Seed = None) -> tuple[np.ndarray, np.ndarray]:
        """``(uint8 images, int32 factors)`` of ``n`` random draws (see :func:`sample`)."""
        return sample(n, seed)

    def sample_with_fixed_factor(
        self, n: int, factor: int | str, seed: Seed = None, value: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``n`` draws sharing one factor's value (see :func:`sample_with_fixed_factor`)."""
        return sample_with_fixed_factor(n, factor, seed, value)


class DSpritesDataset:
    """Labelled dSprites images in memory, bit-packed, as a ground-truth sampler.

    Factor draws (``sample_factors``) pick examples uniformly, so on the
    complete dSprites (every combination exactly once) they are uniform over
    the grid, as in disentanglement_lib. ``observations`` looks each factor
    combination up; a combination missing from the data (a slice such as
    ``"train[:10%]"``) raises ``KeyError``.

    Args:
      images: ``[N, 64, 64, 1]`` (or ``[N, 64, 64]``) images, any pixel > 0 is on.
      factors: int ``[N, 5]`` factor indices (dSprites' ``label_*`` features).
    """

    factor_names: tuple[str, ...] = FACTOR_NAMES
    factor_sizes: tuple[int, ...] = FACTOR_SIZES

    def __init__(self, images: np.ndarray, factors: np.ndarray):
        images = np.asarray(images)
        if images.ndim == 4 and images.shape[-1] == 1:
            images = images[..., 0]
        if images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
            raise ValueError(f"images must be [N, 64, 64(, 1)], got shape {np.shape(images)}")
        factors = _check_factors(factors)
        if len(factors) != len(images):
            raise ValueError(f"{len(images)} images but {len(factors)} factor rows")
        self._packed = np.packbits(images.reshape(len(images), -1) > 0, axis=1)
        self._init_factors(factors)

    @classmethod
    def _from_packed(cls, packed: np.ndarray, factors: np.ndarray) -> DSpritesDataset:
        self = cls.__new__(cls)
        self._packed = packed
        self._init_factors(_check_factors(factors))
        return self

    def _init_factors(self, factors: np.ndarray) -> None:
        self.factors = factors.astype(np.int32)
        self.factors.setflags(write=False)
        flat = np.ravel_multi_index(tuple(factors.T), FACTOR_SIZES)
        self._row_of = np.full(int(np.prod(FACTOR_SIZES)), -1, np.int64)
        self._row_of[flat] = np.arange(len(factors))  # duplicates: the last row wins

    def __len__(self) -> int:
        return len(self.factors)

    def images(self, rows: np.ndarray | None = None) -> np.ndarray:
        """uint8 0/255 images ``[n, 64, 64, 1]`` of the given example rows (all when None)."""
        packed = self._packed if rows is None else self._packed[np.asarray(rows)]
        bits = np.unpackbits(packed, axis=1, count=IMAGE_SIZE * IMAGE_SIZE)
        return (bits * np.uint8(255)).reshape(-1, IMAGE_SIZE, IMAGE_SIZE, 1)

    def rows(self, factors: np.ndarray) -> np.ndarray:
        """The example row of each factor combination, int64 ``[N]``.

        Raises:
          KeyError: a combination that is not in the data.
        """
        factors = _check_factors(factors)
        rows = self._row_of[np.ravel_multi_index(tuple(factors.T), FACTOR_SIZES)]
        if (rows < 0).any():
            missing = factors[np.argmax(rows < 0)].tolist()
            raise KeyError(
                f"{int((rows < 0).sum())} factor combinations are not in this dSprites data "
                f"(first: {missing}); load the whole 'train' split for the metrics"
            )
        return rows

    def sample_factors(self, n: int, rng: Seed = None) -> np.ndarray:
        """The factors of ``n`` examples drawn uniformly (with replacement), int32 ``[n, 5]``."""
        return self.factors[_rng(rng).integers(0, len(self), size=int(n))].copy()

    def observations(self, factors: np.ndarray) -> np.ndarray:
        """float32 images ``[N, 64, 64, 1]`` in {0, 1} of the factor combinations."""
        return (self.images(self.rows(factors)) > 0).astype(np.float32)

    def sample(self, n: int, seed: Seed = None) -> tuple[np.ndarray, np.ndarray]:
        """``(uint8 images, int32 factors)`` of ``n`` examples drawn uniformly."""
        rows = _rng(seed).integers(0, len(self), size=int(n))
        return self.images(rows), self.factors[rows].copy()


def load_dsprites(
    split: str = "train",
    data_dir: str | None = None,
    *,
    download: bool = True,
    manual_dir: str | None = None,
) -> DSpritesDataset:
    """The tensorflow-datasets ``dsprites`` images with their five factor labels.

    Uses the same tfds source as :func:`tfvae.data.load_arrays` (prepared data
    in ``data_dir``, else ``manual_dir``, else a download when the server
    answers), keeping the ``label_shape``, ``label_scale``,
    ``label_orientation``, ``label_x_position`` and ``label_y_position``
    features that ``load_arrays`` drops.

    Args:
      split: a tfds split of ``dsprites`` (only ``"train"``, 737,280 images, or
        a slice such as ``"train[:1%]"``).
      data_dir: tfds data directory (tfds' default when None).
      download: allow a download when the data is not prepared.
      manual_dir: directory holding the already downloaded hdf5 file.

    Returns:
      A :class:`DSpritesDataset` (images bit-packed: ~360 MiB for the whole set).

    Raises:
      DatasetUnavailableError: dSprites is not prepared here and cannot be fetched.
    """
    import tensorflow as tf

    from tfvae.data.sources.tfds_source import TfdsSource

    source = TfdsSource("dsprites", data_dir, download=download, manual_dir=manual_dir)
    ds = source.as_dataset(split, shuffle_files=False, seed=0)

    def convert(example):
        image = tf.reshape(tf.cast(example["image"] > 0, tf.uint8), [IMAGE_SIZE * IMAGE_SIZE])
        return image, tf.stack([tf.cast(example[k], tf.int32) for k in _DSPRITES_LABELS])

    packed, factors = [], []
    for bits, labels in ds.map(convert, num_parallel_calls=tf.data.AUTOTUNE).batch(8192).as_numpy_iterator():
        packed.append(np.packbits(bits, axis=1))
        factors.append(labels)
    if not packed:
        empty = np.zeros((0, IMAGE_SIZE * IMAGE_SIZE // 8), np.uint8)
        return DSpritesDataset._from_packed(empty, np.zeros((0, len(FACTOR_SIZES)), np.int32))
    return DSpritesDataset._from_packed(np.concatenate(packed), np.concatenate(factors))
