"""load_mnist: the bundled 10k subset, the full 70k, or IDX files in any folder."""
from pathlib import Path

import numpy as np

from .idx import IDXError, read_idx
from .paths import bundled_file, data_dir

# File-name prefixes of each split: canonical MNIST says "t10k" for the test set; the
# bundled subset says "test". A folder passed as `source` may use either.
PREFIXES = {"train": ("train",), "test": ("t10k", "test")}
BUNDLED_NOTE = ("MNIST: bundled 10k subset (8,000 train / 2,000 test) — "
                "run 'grader download mnist' for the full 70,000")
_SAID: set[str] = set()  # notes printed in this session: a notebook loads train and test, once each


def load_mnist(split: str = "train", source: str = "auto", verbose: bool = True):
    """Return (images, labels): uint8 arrays of shape (N, 28, 28) and (N,).

    split: "train" or "test".
    source: "bundled" (the 8,000/2,000 subset shipped with the course), "full" (the
    canonical 60,000/10,000, after `grader download mnist`), "auto" (full when both
    of its splits are downloaded, else bundled), or a folder holding {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz.
    """
    if split not in PREFIXES:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    full_dir = data_dir() / "mnist"
    if source == "auto":
        # Full only when both splits are there: the bundled images come from MNIST's
        # training set, so a full train split beside a bundled test split would overlap.
        complete = all(_split_files(full_dir, s) for s in PREFIXES)
        source = "full" if complete else "bundled"
    if source == "bundled":
        files = [bundled_file(f"mnist10k/{split}-{kind}.gz")
                 for kind in ("images-idx3-ubyte", "labels-idx1-ubyte")]
        note = BUNDLED_NOTE
    elif source == "full":
        files = _split_files(full_dir, split)
        if not files:
            raise FileNotFoundError(
                f"The full MNIST is not in {full_dir}: run 'grader download mnist' (or "
                "grader.data.download_dataset('mnist')) to fetch it, about 11 MB, or use "
                "source='bundled'.")
        note = f"MNIST: full dataset, {split} split, from {full_dir}"
    else:
        folder = Path(source).expanduser()
        if not folder.is_dir():
            raise ValueError(f"source must be 'auto', 'bundled', 'full' or a folder; "
                             f"{source!r} is none of these")
        files = _split_files(folder, split)
        if not files:
            names = " or ".join(f"{p}-images-idx3-ubyte[.gz]" for p in PREFIXES[split])
            raise FileNotFoundError(f"{folder} has no MNIST {split} split ({names} and the "
                                    "matching labels-idx1-ubyte file)")
        note = f"MNIST: {split} split from {folder}"
    images, labels = (read_idx(f) for f in files)
    _check(images, labels, files)
    if verbose:
        note = note if source == "bundled" else f"{note} ({len(labels):,} images)"
        if note not in _SAID:  # which data this session uses is news once, not on every call
            _SAID.add(note)
            print(note)
    return images, labels


def _split_files(folder: Path, split: str):
    """[images path, labels path] of `split` in `folder`, or None when absent."""
    for prefix in PREFIXES[split]:
        for ext in (".gz", ""):
            files = [folder / f"{prefix}-{kind}{ext}"
                     for kind in ("images-idx3-ubyte", "labels-idx1-ubyte")]
            if all(f.is_file() for f in files):
                return files
    return None


def _check(images: np.ndarray, labels: np.ndarray, files) -> None:
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise IDXError(f"{files[0]} holds shape {images.shape}, not (N, 28, 28) images")
    if labels.shape != (len(images),):
        raise IDXError(f"{files[1]} holds shape {labels.shape}, not ({len(images)},) labels "
                       f"matching {files[0].name}")
    if labels.size and labels.max() > 9:
        raise IDXError(f"{files[1]} holds label {labels.max()}, not a digit 0-9")
