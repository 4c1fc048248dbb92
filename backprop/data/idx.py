"""read_idx: the IDX format of MNIST and Fashion-MNIST (plain or gzipped) as a NumPy array.

An IDX file is a magic number (two zero bytes, a type code, the number of dimensions), one
big-endian uint32 per dimension, then the values in row-major order.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

IDX_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | Path) -> np.ndarray:
    """The array stored in the IDX file at `path` (gunzipped first when it ends in `.gz`)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as file:
        content = file.read()
    if len(content) < 4 or content[:2] != b"\x00\x00" or content[2] not in IDX_TYPES:
        raise ValueError(f"read_idx: {path} is not an IDX file (bad magic number)")
    dtype, ndim = IDX_TYPES[content[2]], content[3]
    header = 4 + 4 * ndim
    if len(content) < header:
        raise ValueError(f"read_idx: {path} is truncated inside its header")
    shape = struct.unpack(f">{ndim}I", content[4:header])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(content) - header != expected:
        raise ValueError(
            f"read_idx: {path} holds {len(content) - header} bytes of data, but its header "
            f"says {shape} values of {dtype.itemsize} bytes ({expected} bytes)"
        )
    return (
        np.frombuffer(content, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))
    )
