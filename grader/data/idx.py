"""The IDX format of the MNIST files, read strictly.

Layout: two zero bytes, a type byte (0x08 = unsigned byte), the number of dimensions,
each dimension as a big-endian uint32, then the values in C order.
"""
import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

UBYTE = 0x08


class IDXError(ValueError):
    """A file that is not a well-formed IDX file."""


def read_idx(path) -> np.ndarray:
    """The array stored in an IDX file (gzipped when the name ends in .gz)."""
    path = Path(path)
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise IDXError(f"{path} is corrupt or truncated ({e}); delete it and fetch it again") from e
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != UBYTE:
        raise IDXError(f"{path} is not an unsigned-byte IDX file (its magic number is "
                       f"{raw[:4].hex() or 'missing'}, expected 000008xx)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IDXError(f"{path} is truncated inside its header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise IDXError(f"{path} holds {len(raw):,} bytes but its header {shape} needs "
                       f"{expected:,}: the file is truncated or corrupt")
    # A bytearray gives a writable array, so students can modify what they load.
    return np.frombuffer(bytearray(raw), np.uint8, offset=header).reshape(shape)


def write_idx(path, array) -> None:
    """Write a uint8 array as IDX (gzipped when the name ends in .gz); for tests and tools."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    data = struct.pack(f">BBBB{array.ndim}I", 0, 0, UBYTE, array.ndim, *array.shape)
    data += array.tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
