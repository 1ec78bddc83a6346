"""Where the data lives: the bundled files and the data folder for downloads."""
import os
from pathlib import Path

from .. import REPOSITORY

ENV_VAR = "MNIST_TO_GPT_DATA"
# Where an installation without the repository's datasets/ folder fetches the bundled files.
BUNDLED_BASE_URL = f"https://raw.githubusercontent.com/{REPOSITORY}/main/datasets/"
# In a checkout or an editable install, <repo>/datasets sits two levels above this folder.
REPO_DATASETS = Path(__file__).resolve().parents[2] / "datasets"

# MD5 of each bundled file, as in datasets/CHECKSUMS (tests/test_data.py keeps them in
# step); here too because a pip-installed package has no datasets/ folder to read.
BUNDLED_MD5 = {
    "mnist10k/train-images-idx3-ubyte.gz": "7f8e416a33d812060b4f56392ee17e0c",
    "mnist10k/train-labels-idx1-ubyte.gz": "22982819a141ea5b2d5afd5fa7f202fe",
    "mnist10k/test-images-idx3-ubyte.gz": "217d9740325a94fd27ad979dae99fffb",
    "mnist10k/test-labels-idx1-ubyte.gz": "a0059969999caa928ca75e7637e14705",
    "shakespeare/shakespeare.txt": "2f285b2681401c1ee89265934439f959",
    "gpt2/encoder.json": "dffec25a898b1f5e569bec4dffd7e5c0",
    "gpt2/vocab.bpe": "75a37753dd7a28a2c5df80c28bf06e4e",
    "gpt2/LICENSE": "8d10c459f92a928b3e682c71da0e2899",
}


def data_dir() -> Path:
    """$MNIST_TO_GPT_DATA if set, else ~/.cache/mnist-to-gpt."""
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "mnist-to-gpt"


def bundled_file(rel: str) -> Path:
    """Path of a bundled file (`rel` as in BUNDLED_MD5), fetching it once if need be."""
    for candidate in (REPO_DATASETS / rel, data_dir() / "bundled" / rel):
        if candidate.is_file():
            return candidate
    from .download import fetch_file  # late: download imports this module

    return fetch_file([BUNDLED_BASE_URL + rel], data_dir() / "bundled" / rel, BUNDLED_MD5[rel],
                      offline_hint="this installation has no bundled copy either, so clone "
                                   "the course repository or connect to the internet once")
