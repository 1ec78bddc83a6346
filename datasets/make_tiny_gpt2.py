"""Write the tiny random GPT-2 checkpoint that chapter 14 runs on offline and in CI.

    python datasets/make_tiny_gpt2.py [FOLDER]     # default: <data dir>/gpt2-tiny

It is not committed (6.7 MB): `grader.data.gpt2_weights.gpt2_checkpoint()` makes it on first use with
this same function. The file has GPT-2's vocabulary (50,257) and the real `gpt2` checkpoint's
layout (config.json and model.safetensors; keys without the `transformer.` prefix, the
`h.N.attn.bias` causal-mask buffers, no `lm_head.weight`), random weights drawn with numpy's
generator seeded 0, 2 layers, 4 heads, 32 channels, 128 positions. It needs numpy and torch
only, not `transformers`; tests/test_ch14_gpt2.py checks that `transformers`' GPT2LMHeadModel
loads it and computes the same logits as the course's GPT.
"""
import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grader.data.gpt2_weights import TINY_FOLDER, make_tiny_gpt2  # noqa: E402
from grader.data.paths import data_dir  # noqa: E402


def main(argv):
    folder = Path(argv[0]) if argv else data_dir() / TINY_FOLDER
    make_tiny_gpt2(folder)
    for name in ("config.json", "model.safetensors"):
        path = folder / name
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        print(f"{path}  {path.stat().st_size:,} bytes  sha256 {digest}")


if __name__ == "__main__":
    main(sys.argv[1:])
