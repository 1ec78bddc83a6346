"""Chapter 13's reference tokenizers, checked against implementations that are not ours.

The grader compares a learner's answer with the reference (grader/reference/ch13.py); these
tests are why the reference deserves that trust:

- GPT2Tokenizer gives the very ids of an independent GPT-2 tokenizer (the PyPI package
  `transformers`: pure Python in its version 4, the Rust `tokenizers` library in version 5),
  loaded from the same bundled files, on text with contractions, Unicode, whitespace runs and emoji, and
  on random Unicode strings; and decode(encode(text)) == text, exactly.
- train_bpe learns the merges of a naive trainer written here, which keeps every pre-token
  occurrence as its own list; and encoding each training pre-token with the learned merges
  gives back exactly the segmentation training ended with (BPE's defining property).
- The notebook's "first k merges are the vocabulary of size 256 + k" shortcut holds.

Chapter 14 imports `load_gpt2_tokenizer` and relies on the ids checked here.
"""
import collections
import functools
import random

import pytest

from grader import load_shakespeare
from grader.data import gpt2_vocab_files
from grader.reference.ch13 import (GPT2Tokenizer, bpe_decode, bpe_encode, load_gpt2_tokenizer, merge,
                                   pretokenize, train_bpe)

TRICKY = [
    "Hello world",
    " Hello world",
    "I'm sure you'll see: they've said it's done, we'd go. I'M LOUD, DON'T",
    "naïve café — 日本語のテキスト, Ελληνικά, русский, עברית, हिन्दी",
    "emoji 👍🏽 🧑‍🚀 🇫🇷 ❤️ and a lone ✨",
    "tabs\t\tand   spaces  \n\n\n  end   ",
    "   leading spaces and trailing ones   ",
    "\u00a0no-break\u00a0space, zero\u200bwidth, \u3000ideographic space",
    "x = f(3.14159) + 1e-9;  # 12345 67890\n    return {'a': [1, 2]}",
    "e\u0301 (e + combining acute) and é (precomposed)",
    "",
]


@functools.lru_cache(maxsize=1)
def ours():
    return load_gpt2_tokenizer()


@functools.lru_cache(maxsize=1)
def theirs():
    """transformers' GPT-2 tokenizer on the bundled files (transformers 5 takes the vocabulary
    and merges; transformers 4 takes the two paths)."""
    transformers = pytest.importorskip("transformers")
    encoder_json, vocab_bpe = map(str, gpt2_vocab_files())
    try:
        from tokenizers.models import BPE
        vocab, merges = BPE.read_file(encoder_json, vocab_bpe)
        return transformers.GPT2Tokenizer(vocab=vocab, merges=merges)
    except TypeError:
        return transformers.GPT2Tokenizer(vocab_file=encoder_json, merges_file=vocab_bpe)


def test_known_ids():
    """GPT-2's ids for 'Hello world' are quoted everywhere (transformers' own docs among them);
    the space before a word makes it a different token."""
    assert ours().encode("Hello world") == [15496, 995]
    assert ours().encode(" Hello world") == [18435, 995]


@pytest.mark.parametrize("text", TRICKY)
def test_gpt2_ids_match_transformers(text):
    """Same ids as an independent implementation, and an exact round trip through both."""
    ids = ours().encode(text)
    assert ids == theirs().encode(text)
    assert ours().decode(ids) == text
    assert theirs().decode(ids) == text


def test_gpt2_ids_match_transformers_on_shakespeare():
    """A real text of 20,000 characters: names in capitals, verse, punctuation."""
    text = load_shakespeare(verbose=False)[:20_000]
    ids = ours().encode(text)
    assert ids == theirs().encode(text)
    assert ours().decode(ids) == text


def test_random_unicode_round_trips():
    """Random strings from many scripts and planes (including 4-byte characters, combining
    marks and odd whitespace) encode as transformers encodes them and decode back exactly."""
    rng = random.Random(0)
    ranges = [(0x20, 0x7E), (0xA0, 0x24F), (0x300, 0x36F), (0x391, 0x3C9), (0x400, 0x4FF),
              (0x4E00, 0x4FFF), (0x3040, 0x30FF), (0x1F300, 0x1F6FF), (0x2000, 0x200D)]
    for _ in range(200):
        text = "".join(chr(rng.randint(*rng.choice(ranges))) if rng.random() < 0.7 else rng.choice(" \n\t'")
                       for _ in range(rng.randint(1, 40)))
        ids = ours().encode(text)
        assert ids == theirs().encode(text), repr(text)
        assert ours().decode(ids) == text, repr(text)


def test_partial_ids_decode_with_replacement():
    """Cut inside an emoji, decoding gives '\\ufffd', never an exception (errors='replace')."""
    ids = ours().encode("👍")
    assert len(ids) > 1
    assert "\ufffd" in ours().decode(ids[:1])
    assert ours().decode(ids[:1]) == theirs().decode(ids[:1])


def test_endoftext_is_plain_text_to_encode():
    """Like OpenAI's encoder.py, encode() does not turn '<|endoftext|>' in a text into the
    special token (transformers does); id 50256 decodes to it, and callers append it themselves."""
    assert 50256 not in ours().encode("a<|endoftext|>b")
    assert ours().decode([50256]) == "<|endoftext|>"


def test_from_files_equals_constructor():
    """from_files is only reading: the same tokenizer as GPT2Tokenizer(encoder, merges)."""
    import json
    encoder_json, vocab_bpe = gpt2_vocab_files()
    encoder = json.loads(encoder_json.read_text(encoding="utf-8"))
    merges = [tuple(line.split(" ")) for line in vocab_bpe.read_text(encoding="utf-8").splitlines()[1:]]
    tok = GPT2Tokenizer(encoder, merges)
    assert len(tok.ranks) == 50_000 and len(tok.encoder) == 50_257
    assert tok.encode(TRICKY[2]) == ours().encode(TRICKY[2])


# ---------------------------------------------------------------- training BPE


def naive_train(text, vocab_size):
    """BPE as the textbook states it: every pre-token occurrence is its own list of ids, all
    recounted at each step. Returns the merges and the final segmentation of each occurrence."""
    seqs = [list(chunk.encode("utf-8")) for chunk in pretokenize(text)]
    merges = {}
    for new_id in range(256, vocab_size):
        counts = collections.Counter(p for s in seqs for p in zip(s, s[1:]))
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))
        merges[best] = new_id
        seqs = [merge(s, best, new_id) for s in seqs]
    return merges, seqs


@pytest.mark.parametrize("vocab_size", [256, 300, 420])
def test_train_bpe_matches_naive_training(vocab_size):
    """The fast trainer (distinct pre-tokens, weighted counts) learns the naive one's merges,
    and encoding the training text reproduces the segmentation training ended with."""
    text = load_shakespeare(verbose=False)[:30_000]
    merges = train_bpe(text, vocab_size)
    naive, segmentation = naive_train(text, vocab_size)
    assert merges == naive
    assert list(merges.values()) == list(range(256, 256 + len(merges)))  # learned order = id order
    assert bpe_encode(text, merges) == [i for s in segmentation for i in s]
    assert bpe_decode(bpe_encode(text, merges), merges) == text


def test_first_merges_are_the_smaller_vocabulary():
    """Training is greedy, so the first k merges of a bigger vocabulary are the vocabulary of
    size 256 + k: the notebook trains once and truncates for its compression curve."""
    text = load_shakespeare(verbose=False)[:20_000]
    big = train_bpe(text, 400)
    assert dict(list(big.items())[:44]) == train_bpe(text, 300)


def test_bpe_round_trips_unseen_unicode():
    """Bytes Shakespeare never contains (accents, CJK, emoji) still round-trip: byte-level BPE
    has no unknown token."""
    merges = train_bpe(load_shakespeare(verbose=False)[:20_000], 300)
    for text in TRICKY:
        assert bpe_decode(bpe_encode(text, merges), merges) == text


def test_bpe_vs_char_benchmark_runs():
    """benchmarks/bpe_vs_char.py, whose figures the notebook quotes, runs end to end (a tiny
    budget here) and prints bits per byte for both models at each checkpoint."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    run = subprocess.run([sys.executable, str(root / "benchmarks" / "bpe_vs_char.py"), "--seconds", "2",
                          "--vocab", "300", "--val-chars", "3000"],
                         capture_output=True, text=True, timeout=300, cwd=root)
    assert run.returncode == 0, run.stderr
    lines = [line for line in run.stdout.splitlines() if "bits per byte" in line]
    assert len(lines) == 8 and any("characters" in line for line in lines) and any("BPE 300" in line for line in lines)
    assert all(0 < float(line.split("validation ")[1].split()[0]) < 10 for line in lines)
