"""Reader and writer for IDX files, the format of MNIST and Fashion-MNIST.

An IDX file is a header followed by raw array data, all big-endian:

```
bytes 0-1   0x00 0x00                      (the magic number starts with two zeros)
byte  2     dtype code                     0x08 uint8, 0x09 int8, 0x0B int16,
                                           0x0C int32, 0x0D float32, 0x0E float64
byte  3     ndim                           number of dimensions (1 to 255)
then        ndim x uint32                  the size of each dimension
then        prod(dims) x itemsize bytes    the values, C order
```

MNIST ships ``train-images-idx3-ubyte`` (uint8, 3-D: N, 28, 28) and
``train-labels-idx1-ubyte`` (uint8, 1-D: N), usually gzip-compressed
(``.gz``). :func:`read_idx` reads both plain and gzip files (it looks at the
first bytes, not the file name) and checks the header against the data;
:func:`write_idx` writes the same format (gzip when the name ends in ``.gz``).
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from typing import BinaryIO

import numpy as np

from tfvae.errors import TfvaeError

__all__ = ["IdxFormatError", "read_idx", "read_idx_header", "write_idx"]

# dtype code -> big-endian numpy dtype.
_CODE_TO_DTYPE: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_KIND_SIZE_TO_CODE: dict[tuple[str, int], int] = {
    (dtype.kind, dtype.itemsize): code for code, dtype in _CODE_TO_DTYPE.items()
}
_GZIP_MAGIC = b"\x1f\x8b"


class IdxFormatError(TfvaeError, ValueError):
    """The file is not a well-formed IDX file (bad magic, unknown dtype, truncated...); the message names it."""


def _open(path: str | os.PathLike) -> BinaryIO:
    """Open ``path`` for binary reading, decompressing gzip transparently."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"IDX file not found: {path}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"Expected an IDX file but {path} is a directory")
    with open(path, "rb") as f:
        is_gzip = f.read(2) == _GZIP_MAGIC
    return gzip.open(path, "rb") if is_gzip else open(path, "rb")


_CHUNK = 1 << 24  # read data in 16 MiB pieces


def _read_exact(f: BinaryIO, n: int, path: str, what: str) -> bytes:
    # Read in pieces: a corrupt header may declare terabytes, and f.read(n)
    # would try to allocate them all before finding the file short.
    chunks, remaining = [], n
    try:
        while remaining > 0:
            chunk = f.read(min(remaining, _CHUNK))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    except (EOFError, OSError, zlib.error) as e:  # truncated or corrupt gzip stream
        raise IdxFormatError(f"{path}: cannot read {what}: corrupt or truncated gzip data ({e})") from e
    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    if len(data) != n:
        raise IdxFormatError(f"{path}: truncated {what}: expected {n} bytes, found {len(data)}")
    return data


def _parse_header(f: BinaryIO, path: str) -> tuple[np.dtype, tuple[int, ...]]:
    magic = _read_exact(f, 4, path, "header (magic number)")
    if magic[0] != 0 or magic[1] != 0:
        raise IdxFormatError(
            f"{path}: bad magic number 0x{magic.hex()}: an IDX file starts with two zero bytes, "
            "a dtype code and the number of dimensions (e.g. 0x00000803 for MNIST images)"
        )
    code, ndim = magic[2], magic[3]
    if code not in _CODE_TO_DTYPE:
        known = ", ".join(f"0x{c:02X} ({d.name})" for c, d in _CODE_TO_DTYPE.items())
        raise IdxFormatError(f"{path}: unknown IDX dtype code 0x{code:02X}; known codes: {known}")
    if ndim == 0:
        raise IdxFormatError(f"{path}: IDX header declares 0 dimensions")
    dims = struct.unpack(f">{ndim}I", _read_exact(f, 4 * ndim, path, "header (dimensions)"))
    return _CODE_TO_DTYPE[code], tuple(int(d) for d in dims)


def read_idx_header(path: str | os.PathLike) -> tuple[np.dtype, tuple[int, ...]]:
    """Read only the header of an IDX file (cheap, even for large gzip files).

    Args:
      path: a plain or gzip-compressed IDX file.

    Returns:
      ``(dtype, shape)``, with ``dtype`` in native byte order.

    Raises:
      FileNotFoundError: ``path`` does not exist.
      IdxFormatError: the header is malformed.
    """
    path = os.fspath(path)
    with _open(path) as f:
        dtype, shape = _parse_header(f, path)
    return dtype.newbyteorder("="), shape


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file into a numpy array.

    Args:
      path: a plain or gzip-compressed IDX file (compression is detected from
        the content, so the name need not end in ``.gz``).

    Returns:
      A C-contiguous array in native byte order with the dtype and shape the
      header declares (e.g. ``uint8 [60000, 28, 28]`` for MNIST train images).

    Raises:
      FileNotFoundError: ``path`` does not exist.
      IdxFormatError: bad magic number, unknown dtype code, truncated header
        or data, corrupt gzip stream, or bytes left over after the data.
    """
    path = os.fspath(path)
    with _open(path) as f:
        dtype, shape = _parse_header(f, path)
        count = int(np.prod(shape, dtype=np.int64))
        nbytes = count * dtype.itemsize
        data = _read_exact(f, nbytes, path, f"data for shape {shape} ({dtype.name})")
        try:
            extra = f.read(1)
        except (EOFError, OSError, zlib.error) as e:
            raise IdxFormatError(f"{path}: corrupt or truncated gzip data after the array ({e})") from e
    if extra:
        raise IdxFormatError(
            f"{path}: file is longer than its header declares (shape {shape}, {dtype.name}, "
            f"{nbytes} data bytes); is the header wrong?"
        )
    array = np.frombuffer(data, dtype=dtype, count=count).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write an array as an IDX file.

    Args:
      path: destination; gzip-compressed when the name ends in ``.gz``
        (written with ``mtime=0`` so the bytes depend only on the array).
      array: an array of dtype uint8, int8, int16, int32, float32 or float64
        with 1 to 255 dimensions (a 0-d array is not representable). Other
        integer dtypes (e.g. int64 labels) must be cast first.

    Raises:
      ValueError: unsupported dtype, rank or a dimension too large for uint32.
    """
    array = np.asarray(array)
    code = _KIND_SIZE_TO_CODE.get((array.dtype.kind, array.dtype.itemsize))
    if code is None:
        supported = ", ".join(d.newbyteorder("=").name for d in _CODE_TO_DTYPE.values())
        raise ValueError(f"IDX cannot store dtype {array.dtype}; supported: {supported} (cast first)")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"IDX stores arrays with 1 to 255 dimensions, got ndim={array.ndim}")
    if any(d > 0xFFFFFFFF for d in array.shape):
        raise ValueError(f"IDX dimensions must fit in uint32, got shape {array.shape}")
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    body = np.ascontiguousarray(array, dtype=_CODE_TO_DTYPE[code]).tobytes()
    path = os.fspath(path)
    if path.endswith(".gz"):
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
            f.write(header)
            f.write(body)
    else:
        with open(path, "wb") as f:
            f.write(header)
            f.write(body)
