"""Image grids (reconstructions, samples) as uint8 arrays and PNG files."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from tfvae.fileio import atomic_write_bytes


def image_grid(images, columns: int = 8, padding: int = 1) -> np.ndarray:
    """Tile ``[N, H, W, C]`` images in [0, 1] into one ``uint8`` picture.

    Args:
      images: array-like of shape ``(N, H, W, C)`` with ``C`` in {1, 3}, values in [0, 1].
      columns: images per row.
      padding: pixels of white between images.

    Returns:
      ``(rows * (H + p) + p, columns * (W + p) + p, C)`` uint8 array.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"images must have shape (N, H, W, 1 or 3), got {images.shape}")
    n, h, w, c = images.shape
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    grid = np.ones((rows * (h + padding) + padding, columns * (w + padding) + padding, c), np.float32)
    for i, image in enumerate(images):
        r, k = divmod(i, columns)
        top, left = padding + r * (h + padding), padding + k * (w + padding)
        grid[top : top + h, left : left + w] = image
    return (np.clip(grid, 0, 1) * 255).round().astype(np.uint8)


def save_png(path: str | Path, grid: np.ndarray, scale: int = 2) -> Path:
    """Write a uint8 ``(H, W, C)`` picture, enlarged ``scale`` times, as PNG (JPEG for a ``.jpg``/``.jpeg`` name).

    Written atomically and never through a symlink planted at ``path``
    (:func:`tfvae.fileio.atomic_write_bytes`).
    """
    path = Path(path)
    array = grid[..., 0] if grid.shape[-1] == 1 else grid
    image = Image.fromarray(array)
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    encoded = io.BytesIO()
    image.save(encoded, format="JPEG" if path.suffix.lower() in (".jpg", ".jpeg") else "PNG")
    return atomic_write_bytes(path, encoded.getvalue())
