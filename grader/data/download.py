"""Fetch the full datasets and GPT-2's weights: checksum-verified, atomic, mirror after mirror.

A file is first written to a temporary file beside its destination and renamed over it
only once its checksum is right, so an interrupted or corrupt download never leaves a
partial file where the loaders would find it. A checksum is an MD5 (32 hex digits) or a
SHA-256 (64). Large files (`resumable=True`, GPT-2's 548 MB) keep the partial file,
`.NAME.part`, after a cut connection or Ctrl-C, and the next call asks the server for the
rest only (an HTTP Range request); a partial file that ends up with the wrong checksum is
deleted.
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
    resumable: bool = False  # keep a partial download and continue it next time


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
    # OpenAI's GPT-2 (124M) in Hugging Face's format, at a pinned revision of the hub's
    # openai-community/gpt2 (then its main branch). Sizes 665 and 548,105,171 bytes; the SHA-256s
    # are the ones two public manifests of that revision record (the hub's LFS pointer of
    # model.safetensors starts 248dfc3911 too); they were not re-computed here, offline.
    "gpt2": Dataset(
        folder="gpt2",
        files={
            "config.json": "0daed7749b4f02b8f76240d5444551d7b08712dab4d0adb8239c56ba823bb7b4",
            "model.safetensors": "248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707",
        },
        mirrors=("https://huggingface.co/openai-community/gpt2/resolve/"
                 "607a30d783dfa663caf39e06633721c8d4cfcd7e/",
                 "https://huggingface.co/openai-community/gpt2/resolve/main/"),
        offline_hint="chapter 14 runs on a tiny random GPT-2 instead",
        resumable=True,
    ),
}


def download_dataset(name: str, data_dir=None, mirrors=None, progress: bool = True,
                     files=None, timeout: float = TIMEOUT) -> list[Path]:
    """Fetch dataset `name` ("mnist", "shakespeare" or "gpt2", the weights) into <data dir>/<name>/.

    Files already there with the right checksum are kept. `mirrors` (base URLs) and `files`
    ({file name: MD5 or SHA-256}) replace the built-in ones, for tests and private mirrors.
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
                   offline_hint=spec.offline_hint, resumable=spec.resumable)
        for fname, md5 in (files or spec.files).items()
    ]


def fetch_file(urls, dest, md5: str, progress: bool = True, timeout: float = TIMEOUT,
               offline_hint: str = "check your connection and try again",
               resumable: bool = False) -> Path:
    """Download `dest` from the first of `urls` that serves it with checksum `md5` (an MD5,
    or a SHA-256 when it has 64 hex digits). With `resumable`, a partial file left by an
    earlier attempt is continued rather than started again."""
    dest = Path(dest)
    if dest.is_file() and file_digest(dest, md5) == md5:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for url in urls:
        try:
            if resumable:
                _fetch_resumable(url, dest, md5, progress, timeout)
            else:
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


def _hasher(checksum: str):
    """MD5 for a 32-digit checksum, SHA-256 for a 64-digit one."""
    return hashlib.sha256() if len(checksum) == 64 else hashlib.md5()


def _algorithm(checksum: str) -> str:
    return "SHA-256" if len(checksum) == 64 else "MD5"


def file_digest(path, checksum: str) -> str:
    """The hex digest of `path` with the algorithm `checksum` is written in."""
    digest = _hasher(checksum)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_md5(path) -> str:
    return file_digest(path, "0" * 32)


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
        digest, size = _hasher(md5), 0
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
            raise _MirrorFailed(url, f"checksum mismatch ({_algorithm(md5)} {digest.hexdigest()}, "
                                     f"expected {md5})", reached=True)
        os.replace(tmp, dest)
    except (OSError, http.client.HTTPException) as e:  # cut or timed out mid-transfer
        _remove(tmp)
        raise _MirrorFailed(url, f"transfer failed ({e or type(e).__name__})", reached=True) from e
    except BaseException:  # our own failures, KeyboardInterrupt, anything else
        _remove(tmp)
        raise


def part_path(dest: Path) -> Path:
    """Where a resumable download keeps the bytes received so far."""
    return dest.with_name(f".{dest.name}.part")


def _fetch_resumable(url: str, dest: Path, checksum: str, progress: bool, timeout: float) -> None:
    """Like _fetch_one, but the partial file survives a cut or an interrupt and is continued
    with `Range: bytes=<size>-`; a server that ignores Range (200) starts it afresh."""
    part = part_path(dest)
    have = part.stat().st_size if part.is_file() else 0
    headers = dict(HEADERS, **({"Range": f"bytes={have}-"} if have else {}))
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                          timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:   # nothing left to send: the part may already be complete
            response = None
        else:
            raise _MirrorFailed(url, f"HTTP error {e.code}", reached=True) from e
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise _MirrorFailed(url, str(getattr(e, "reason", e)), reached=False) from e
    if response is not None and response.status != 206:
        have = 0                                       # the whole file again, from byte 0
    digest = _hasher(checksum)
    if have:                                           # the checksum covers the old bytes too
        with open(part, "rb") as f:
            for chunk in iter(lambda: f.read(CHUNK), b""):
                digest.update(chunk)
    size = have
    if response is not None:
        length = response.headers.get("Content-Length")
        expected = have + int(length) if length and length.isdigit() else None
        try:
            with response, open(part, "ab" if have else "wb") as out, tqdm(
                    total=expected, initial=have, unit="B", unit_scale=True, desc=dest.name,
                    disable=not progress) as bar:
                for chunk in iter(lambda: response.read(CHUNK), b""):
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    bar.update(len(chunk))
        except (OSError, http.client.HTTPException) as e:   # kept: the next call resumes
            raise _MirrorFailed(url, f"transfer failed after {size:,} bytes "
                                     f"({e or type(e).__name__}); run it again to resume",
                                reached=True) from e
        if expected is not None and size != expected:
            raise _MirrorFailed(url, f"connection closed after {size:,} of {expected:,} bytes; "
                                     "run it again to resume", reached=True)
    if digest.hexdigest() != checksum:
        _remove(str(part))                             # wrong bytes: never resume from them
        raise _MirrorFailed(url, f"checksum mismatch ({_algorithm(checksum)} {digest.hexdigest()}, "
                                 f"expected {checksum})", reached=True)
    os.replace(part, dest)


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
