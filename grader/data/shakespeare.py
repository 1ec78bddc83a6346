"""load_shakespeare: the bundled corpus, Tiny Shakespeare, or any text file."""
from pathlib import Path

from .paths import bundled_file, data_dir

FULL_NAME = "tinyshakespeare.txt"


def load_shakespeare(source: str = "auto", verbose: bool = True) -> str:
    """Return the corpus as one string.

    source: "bundled" (about 1.1 million characters from nine plays, shipped with the
    course), "full" (Tiny Shakespeare, 1,115,394 characters, after
    `grader download shakespeare`), "auto" (full when downloaded, else bundled), or the
    path of a text file.
    """
    full = data_dir() / "shakespeare" / FULL_NAME
    if source == "auto":
        source = "full" if full.is_file() else "bundled"
    if source == "bundled":
        text = _read(bundled_file("shakespeare/shakespeare.txt"))
        note = (f"Shakespeare: bundled corpus ({len(text):,} characters from nine plays) — "
                "run 'grader download shakespeare' for Tiny Shakespeare")
    elif source == "full":
        if not full.is_file():
            raise FileNotFoundError(
                f"Tiny Shakespeare is not in {full.parent}: run 'grader download shakespeare' "
                "(or grader.data.download_dataset('shakespeare')) to fetch it, about 1 MB, "
                "or use source='bundled'.")
        text = _read(full)
        note = f"Shakespeare: Tiny Shakespeare ({len(text):,} characters) from {full}"
    else:
        path = Path(source).expanduser()
        if not path.is_file():
            raise ValueError(f"source must be 'auto', 'bundled', 'full' or a text file; "
                             f"{source!r} is none of these")
        text = _read(path)
        note = f"Shakespeare: {len(text):,} characters from {path}"
    if verbose:
        print(note)
    return text


def _read(path: Path) -> str:
    # Bytes then decode: no newline translation, so lengths match the checksummed file.
    return path.read_bytes().decode("utf-8")
