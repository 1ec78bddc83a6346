"""The downloader against a local HTTP server: good, corrupt, cut and unreachable mirrors,
and GPT-2's resumable, SHA-256-checked download."""
import hashlib
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from grader.data import download, gpt2_weights as gpt2, paths
from grader.data.download import DownloadError, download_dataset

BODY = bytes(range(256)) * 400  # 102,400 bytes: several read chunks
MD5 = hashlib.md5(BODY).hexdigest()
FILES = {"data.bin": MD5}
SHA256 = hashlib.sha256(BODY).hexdigest()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        body, cut = route
        asked = self.headers.get("Range")
        self.server.ranges.append((self.path, asked))
        if asked and self.path.startswith("/ranged"):   # these routes honour Range requests
            start = int(asked.removeprefix("bytes=").rstrip("-"))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            body = body[start:]
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # A cut connection: promise the whole body, send half, hang up.
        self.wfile.write(body[: len(body) // 2] if cut else body)
        self.close_connection = cut

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def httpd():
    """A local server; `good/`, `corrupt/` and `cut/` serve data.bin; tests may add routes."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    corrupt = bytearray(BODY)
    corrupt[1000] ^= 1
    httpd.routes = {"/good/data.bin": (BODY, False), "/corrupt/data.bin": (bytes(corrupt), False),
                    "/cut/data.bin": (BODY, True)}
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.ranges = []   # (path, Range header or None) of every request
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def server(httpd):
    """The local server's base URL."""
    return httpd.url


@pytest.fixture
def unreachable():
    """A base URL whose port nothing listens on: the connection is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def fetch(tmp_path, mirrors, **kw):
    return download_dataset("mnist", data_dir=tmp_path, mirrors=mirrors, files=FILES,
                            progress=False, timeout=5, **kw)


def leftovers(tmp_path):
    return sorted(p.name for p in (tmp_path / "mnist").iterdir())


def test_good_mirror(tmp_path, server):
    (path,) = download_dataset("mnist", data_dir=tmp_path, mirrors=[server + "good/"],
                               files=FILES, progress=True)
    assert path == tmp_path / "mnist" / "data.bin"
    assert path.read_bytes() == BODY
    assert leftovers(tmp_path) == ["data.bin"]


def test_corrupt_file_rejected_then_next_mirror(tmp_path, server):
    with pytest.raises(DownloadError, match="checksum mismatch"):
        fetch(tmp_path, [server + "corrupt/"])
    assert leftovers(tmp_path) == []
    (path,) = fetch(tmp_path, [server + "corrupt/", server + "good/"])
    assert path.read_bytes() == BODY and leftovers(tmp_path) == ["data.bin"]


def test_connection_cut_halfway(tmp_path, server):
    with pytest.raises(DownloadError, match=r"connection closed after 51,200 of 102,400 bytes"):
        fetch(tmp_path, [server + "cut/"])
    assert leftovers(tmp_path) == []
    (path,) = fetch(tmp_path, [server + "cut/", server + "good/"])
    assert path.read_bytes() == BODY


def test_http_error_then_good(tmp_path, server):
    with pytest.raises(DownloadError, match="HTTP error 404"):
        fetch(tmp_path, [server + "missing/"])
    assert fetch(tmp_path, [server + "missing/", server + "good/"])[0].read_bytes() == BODY


def test_unreachable_then_good(tmp_path, server, unreachable):
    (path,) = fetch(tmp_path, [unreachable, server + "good/"])
    assert path.read_bytes() == BODY


def test_all_unreachable_is_one_sentence(tmp_path, unreachable):
    with pytest.raises(DownloadError) as info:
        fetch(tmp_path, [unreachable, unreachable + "other/"])
    message = str(info.value)
    assert message == ("Could not reach any mirror for data.bin (no internet?); "
                       "the course works offline with the bundled 10k subset.")
    assert "\n" not in message and not re.search(r"[.!?] [A-Z]", message)
    assert leftovers(tmp_path) == []


def test_present_file_is_kept_and_wrong_one_replaced(tmp_path, server, unreachable):
    folder = tmp_path / "mnist"
    folder.mkdir()
    (folder / "data.bin").write_bytes(BODY)
    assert fetch(tmp_path, [unreachable])[0].read_bytes() == BODY  # no network needed
    (folder / "data.bin").write_bytes(b"stale")
    assert fetch(tmp_path, [server + "good/"])[0].read_bytes() == BODY


class InterruptingBar:
    """Stands in for tqdm: Ctrl-C arrives after the first chunk."""

    def __init__(self, **kw):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n):
        raise KeyboardInterrupt


def test_interrupt_leaves_no_partial_file(tmp_path, server, monkeypatch):
    monkeypatch.setattr(download, "tqdm", InterruptingBar)
    with pytest.raises(KeyboardInterrupt):
        fetch(tmp_path, [server + "good/"])
    assert leftovers(tmp_path) == []


def test_unknown_dataset(tmp_path):
    with pytest.raises(ValueError, match="mnist, shakespeare"):
        download_dataset("cifar", data_dir=tmp_path)


def test_shakespeare_uses_remote_name(tmp_path, httpd):
    httpd.routes["/ts/input.txt"] = (BODY, False)
    (path,) = download_dataset("shakespeare", data_dir=tmp_path, mirrors=[httpd.url + "ts/"],
                               files={"tinyshakespeare.txt": MD5}, progress=False)
    assert path == tmp_path / "shakespeare" / "tinyshakespeare.txt"
    assert path.read_bytes() == BODY


def test_bundled_files_fetched_when_not_in_checkout(tmp_path, httpd, monkeypatch):
    """A pip-installed package has no datasets/ folder: it fetches and verifies the files."""
    rel = "shakespeare/shakespeare.txt"
    real = (paths.REPO_DATASETS / rel).read_bytes()
    httpd.routes["/bundle/" + rel] = (real, False)
    httpd.routes["/bad/" + rel] = (real[:-1], False)
    monkeypatch.setenv(paths.ENV_VAR, str(tmp_path))
    monkeypatch.setattr(paths, "REPO_DATASETS", tmp_path / "no-checkout")
    monkeypatch.setattr(paths, "BUNDLED_BASE_URL", httpd.url + "bad/")
    with pytest.raises(DownloadError, match="checksum mismatch"):
        paths.bundled_file(rel)
    monkeypatch.setattr(paths, "BUNDLED_BASE_URL", httpd.url + "bundle/")
    path = paths.bundled_file(rel)
    assert path == tmp_path / "bundled" / rel
    assert path.read_bytes() == real


# ---------------------------------------------------------------- GPT-2: SHA-256, resumable


def fetch_gpt2(tmp_path, mirrors):
    return download_dataset("gpt2", data_dir=tmp_path, mirrors=mirrors, progress=False,
                            files={"model.safetensors": SHA256}, timeout=5)


def test_gpt2_sha256_checked(tmp_path, server):
    """GPT-2's files are checked against SHA-256 (64 hex digits), not MD5."""
    with pytest.raises(DownloadError, match="checksum mismatch \\(SHA-256 [0-9a-f]{64}, expected"):
        download_dataset("gpt2", data_dir=tmp_path, mirrors=[server + "corrupt/"], progress=False,
                         files={"data.bin": SHA256})
    assert sorted(p.name for p in (tmp_path / "gpt2").iterdir()) == []   # bad bytes not kept
    (path,) = download_dataset("gpt2", data_dir=tmp_path, mirrors=[server + "good/"],
                               progress=False, files={"data.bin": SHA256})
    assert path.read_bytes() == BODY


def test_gpt2_download_resumes_after_a_cut(tmp_path, httpd):
    """A 548 MB download cut halfway keeps its bytes and continues with a Range request."""
    httpd.routes["/ranged-cut/model.safetensors"] = (BODY, True)
    httpd.routes["/ranged/model.safetensors"] = (BODY, False)
    with pytest.raises(DownloadError, match="connection closed after 51,200 of 102,400 bytes; run it again"):
        fetch_gpt2(tmp_path, [httpd.url + "ranged-cut/"])
    part = download.part_path(tmp_path / "gpt2" / "model.safetensors")
    assert part.stat().st_size == 51_200
    httpd.ranges.clear()
    (path,) = fetch_gpt2(tmp_path, [httpd.url + "ranged/"])
    assert httpd.ranges == [("/ranged/model.safetensors", "bytes=51200-")]   # only the rest
    assert path.read_bytes() == BODY and not part.exists()
    httpd.ranges.clear()
    assert fetch_gpt2(tmp_path, [httpd.url + "ranged/"])[0] == path   # cached: no request
    assert httpd.ranges == []


def test_gpt2_resume_when_server_ignores_range(tmp_path, httpd):
    """A server that answers a Range request with the whole file (200) restarts the part."""
    httpd.routes["/plain/model.safetensors"] = (BODY, False)
    folder = tmp_path / "gpt2"
    folder.mkdir()
    download.part_path(folder / "model.safetensors").write_bytes(BODY[:3000])
    (path,) = fetch_gpt2(tmp_path, [httpd.url + "plain/"])
    assert path.read_bytes() == BODY


def test_gpt2_wrong_partial_bytes_are_dropped(tmp_path, httpd):
    """A partial file with wrong bytes fails the checksum once, is deleted, and the next
    attempt (the next mirror here) starts from byte 0."""
    httpd.routes["/ranged/model.safetensors"] = (BODY, False)
    folder = tmp_path / "gpt2"
    folder.mkdir()
    part = download.part_path(folder / "model.safetensors")
    part.write_bytes(b"x" * 5000)
    (path,) = fetch_gpt2(tmp_path, [httpd.url + "ranged/", httpd.url + "ranged/"])
    assert path.read_bytes() == BODY and not part.exists()


def test_gpt2_interrupt_keeps_partial_file(tmp_path, httpd, monkeypatch):
    """Ctrl-C during the big download keeps what has arrived, for the next call to resume."""
    httpd.routes["/ranged/model.safetensors"] = (BODY, False)

    monkeypatch.setattr(download, "tqdm", InterruptingBar)
    with pytest.raises(KeyboardInterrupt):
        fetch_gpt2(tmp_path, [httpd.url + "ranged/"])
    part = download.part_path(tmp_path / "gpt2" / "model.safetensors")
    assert 0 < part.stat().st_size < len(BODY)
    monkeypatch.undo()
    assert fetch_gpt2(tmp_path, [httpd.url + "ranged/"])[0].read_bytes() == BODY


def test_gpt2_offline_is_one_line_and_falls_back_to_tiny(tmp_path, unreachable, monkeypatch, capsys):
    """Offline, chapter 14 says so in one line and runs on the tiny random checkpoint."""
    import dataclasses
    spec = dataclasses.replace(download.DATASETS["gpt2"], mirrors=(unreachable,))
    monkeypatch.setitem(download.DATASETS, "gpt2", spec)
    folder, real = gpt2.gpt2_checkpoint(download=True, data_dir=tmp_path, progress=False)
    lines = capsys.readouterr().out.strip().splitlines()
    assert not real and folder == tmp_path / gpt2.TINY_FOLDER
    assert lines[0] == ("Could not reach any mirror for config.json (no internet?); "
                        "chapter 14 runs on a tiny random GPT-2 instead.")
    assert "not available" in lines[1] and len(lines) == 2
    assert (folder / "model.safetensors").is_file() and (folder / "config.json").is_file()


def test_gpt2_spec_pins_published_checksums():
    """The real files' expected sizes and SHA-256s: what two public manifests of the pinned
    revision record (they are not downloaded in the tests)."""
    spec = download.DATASETS["gpt2"]
    assert set(spec.files) == {"config.json", "model.safetensors"} and spec.resumable
    assert all(len(h) == 64 for h in spec.files.values())
    assert spec.mirrors[0].startswith("https://") and spec.offline_hint
