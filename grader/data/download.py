"""Fetch the full datasets: checked against MD5, written atomically, mirror after mirror.

A file is first written to a temporary file beside its destination and renamed over it
only once its checksum is right, so an interrupted or corrupt download never leaves a
partial file where the loaders would find it.
"""
import contextlib
import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from . import paths

TIMEOUT = 30  # seconds without an answer before a mirror counts as unreachable
CHUNK = 1 << 16
HEADERS = {"User-Agent": "mnist-to-gpt-course (python urllib)"}


class DownloadError(RuntimeError):
    """No mirror gave a file with the right checksum; the message is one sentence."""


@dataclass(frozen=True)
class Dataset:
    folder: str  # under the data folder
    files: dict  # local file name -> MD5
    mirrors: tuple  # base URLs, tried in order
    offline_hint: str  # the end of the message when nothing could be fetched
    remote_names: dict = field(default_factory=dict)  # local name -> name on the mirrors


DATASETS = {
    "mnist": Dataset(
        folder="mnist",
        files={
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
        mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",
                 "https://storage.googleapis.com/cvdf-datasets/mnist/"),
        offline_hint="the course works offline with the bundled 10k subset",
    ),
    "shakespeare": Dataset(
        folder="shakespeare",
        files={"tinyshakespeare.txt": "6fb458f1232090904fb40fe944165e91"},
        mirrors=("https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/",),
        offline_hint="the course works offline with the bundled Shakespeare corpus",
        remote_names={"tinyshakespeare.txt": "input.txt"},
    ),
}


def download_dataset(name: str, data_dir=None, mirrors=None, progress: bool = True,
                     files=None, timeout: float = TIMEOUT) -> list[Path]:
    """Fetch dataset `name` ("mnist" or "shakespeare") into <data dir>/<name>/.

    Files already there with the right MD5 are kept. `mirrors` (base URLs) and `files`
    ({file name: MD5}) replace the built-in ones, for tests and private mirrors.
    Returns the paths; raises DownloadError when a file cannot be fetched.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    spec = DATASETS[name]
    folder = Path(data_dir or paths.data_dir()) / spec.folder
    mirrors = spec.mirrors if mirrors is None else mirrors
    return [
        fetch_file([base + spec.remote_names.get(fname, fname) for base in mirrors],
                   folder / fname, md5, progress=progress, timeout=timeout,
                   offline_hint=spec.offline_hint)
        for fname, md5 in (files or spec.files).items()
    ]


def fetch_file(urls, dest, md5: str, progress: bool = True, timeout: float = TIMEOUT,
               offline_hint: str = "check your connection and try again") -> Path:
    """Download `dest` from the first of `urls` that serves it with MD5 `md5`."""
    dest = Path(dest)
    if dest.is_file() and file_md5(dest) == md5:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for url in urls:
        try:
            _fetch_one(url, dest, md5, progress, timeout)
            return dest
        except _MirrorFailed as e:
            failures.append(e)
    if not any(f.reached for f in failures):
        raise DownloadError(f"Could not reach any mirror for {dest.name} (no internet?); "
                            f"{offline_hint}.")
    reasons = "; ".join(f"{f.host}: {f}" for f in failures)
    raise DownloadError(f"Could not download {dest.name} from any mirror ({reasons}); "
                        f"{offline_hint}.")


def file_md5(path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _MirrorFailed(Exception):
    """One mirror failed; `reached` tells whether it answered at all."""

    def __init__(self, url: str, reason: str, reached: bool):
        super().__init__(reason)
        self.host = urllib.parse.urlsplit(url).netloc or url
        self.reached = reached


def _fetch_one(url: str, dest: Path, md5: str, progress: bool, timeout: float) -> None:
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=HEADERS),
                                          timeout=timeout)
    except urllib.error.HTTPError as e:
        raise _MirrorFailed(url, f"HTTP error {e.code}", reached=True) from e
    except (urllib.error.URLError, OSError, ValueError) as e:  # DNS, refused, timeout, bad URL
        raise _MirrorFailed(url, str(getattr(e, "reason", e)), reached=False) from e
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        length = response.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        digest, size = hashlib.md5(), 0
        with response, os.fdopen(fd, "wb") as out, tqdm(
                total=expected, unit="B", unit_scale=True, desc=dest.name,
                disable=not progress) as bar:
            # http.client returns b"" (no error) when the server closes early: count bytes.
            for chunk in iter(lambda: response.read(CHUNK), b""):
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
                bar.update(len(chunk))
        if expected is not None and size != expected:
            raise _MirrorFailed(url, f"connection closed after {size:,} of {expected:,} bytes",
                                reached=True)
        if digest.hexdigest() != md5:
            raise _MirrorFailed(url, f"checksum mismatch (MD5 {digest.hexdigest()}, "
                                     f"expected {md5})", reached=True)
        os.replace(tmp, dest)
    except (OSError, http.client.HTTPException) as e:  # cut or timed out mid-transfer
        _remove(tmp)
        raise _MirrorFailed(url, f"transfer failed ({e or type(e).__name__})", reached=True) from e
    except BaseException:  # our own failures, KeyboardInterrupt, anything else
        _remove(tmp)
        raise


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
