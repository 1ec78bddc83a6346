"""Correct answers to chapter 13 written differently from the reference."""
import collections
import json

import regex

from grader.reference.ch13 import GPT2_SPLIT_PATTERN


def text_to_bytes(text):
    # UTF-8 by hand, from the code points: 1 byte below 0x80, else a lead byte and 6-bit tails
    out = []
    for c in text:
        cp = ord(c)
        if cp < 0x80:
            out.append(cp)
            continue
        n_tail = 1 if cp < 0x800 else 2 if cp < 0x10000 else 3
        lead = (0xC0, 0xE0, 0xF0)[n_tail - 1]
        out.append(lead | (cp >> (6 * n_tail)))
        out.extend(0x80 | ((cp >> (6 * k)) & 0x3F) for k in range(n_tail - 1, -1, -1))
    return out


def bytes_to_text(ids):
    return bytearray(ids).decode(errors="replace")   # UTF-8 is the default codec


def count_pairs(ids):
    return collections.Counter(tuple(ids[i:i + 2]) for i in range(len(ids) - 1))


def merge(ids, pair, new_id):
    out, skip = [], False
    for i, x in enumerate(ids):
        if skip:
            skip = False
        elif tuple(ids[i:i + 2]) == tuple(pair):
            out.append(new_id)
            skip = True
        else:
            out.append(x)
    return out


def pretokenize(text):
    return [m.group() for m in regex.finditer(GPT2_SPLIT_PATTERN, text)]


def pretokenize_tiktoken_pattern(text):
    # the faster, equivalent form of GPT-2's pattern that the PyPI package tiktoken uses
    pattern = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
    return regex.findall(pattern, text)


def train_bpe(text, vocab_size, verbose=False):
    # naive: every pre-token occurrence kept as its own list, all recounted at each step
    seqs = [list(chunk.encode("utf-8")) for chunk in pretokenize(text)]
    merges = {}
    while 256 + len(merges) < vocab_size:
        counts = collections.Counter(p for s in seqs for p in zip(s, s[1:]))
        if not counts:
            break
        top = max(counts.values())
        best = sorted(p for p, c in counts.items() if c == top)[0]
        new_id = 256 + len(merges)
        merges[best] = new_id
        seqs = [merge(s, best, new_id) for s in seqs]
    return merges


def bpe_encode(text, merges):
    # apply the merges one after the other in rank order: the same as lowest-rank-first, since a
    # merge can only create pairs that were learned after it
    ranked = sorted(merges.items(), key=lambda item: item[1])
    ids = []
    for chunk in pretokenize(text):
        chunk_ids = list(chunk.encode("utf-8"))
        for pair, new_id in ranked:
            if len(chunk_ids) < 2:
                break
            chunk_ids = merge(chunk_ids, pair, new_id)
        ids += chunk_ids
    return ids


def bpe_decode(ids, merges):
    parts = {new_id: pair for pair, new_id in merges.items()}

    def expand(i):                       # a merged id is its two parts, recursively
        return bytes([i]) if i < 256 else expand(parts[i][0]) + expand(parts[i][1])

    return b"".join(map(expand, ids)).decode("utf-8", errors="replace")


def bytes_to_unicode():
    printable = [b for b in range(256) if 33 <= b <= 126 or 161 <= b <= 172 or 174 <= b <= 255]
    others = [b for b in range(256) if b not in printable]
    return {**{b: chr(b) for b in printable}, **{b: chr(256 + n) for n, b in enumerate(others)}}


class GPT2Tokenizer:
    """Written apart from the reference: merges found by scanning a list of ranks per position."""

    def __init__(self, encoder, bpe_merges):
        self.encoder = encoder
        self.decoder = dict(map(reversed, encoder.items()))
        self.rank = {(a, b): r for r, (a, b) in enumerate(bpe_merges)}
        self.to_char = bytes_to_unicode()
        self.to_byte = {c: b for b, c in self.to_char.items()}

    @classmethod
    def from_files(cls, encoder_json, vocab_bpe):
        with open(encoder_json, encoding="utf-8") as f:
            encoder = json.load(f)
        with open(vocab_bpe, encoding="utf-8") as f:
            lines = [line.rstrip("\n") for line in f if not line.startswith("#version")]
        return cls(encoder, [tuple(line.split()) for line in lines if line.strip()])

    def bpe(self, word):
        parts = list(word)
        while len(parts) > 1:
            ranks = [self.rank.get((parts[i], parts[i + 1]), float("inf")) for i in range(len(parts) - 1)]
            best = min(ranks)
            if best == float("inf"):
                break
            pair, i, merged = (parts[ranks.index(best)], parts[ranks.index(best) + 1]), 0, []
            while i < len(parts):
                if tuple(parts[i:i + 2]) == pair:
                    merged.append(pair[0] + pair[1])
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        return parts

    def encode(self, text):
        out = []
        for chunk in regex.findall(GPT2_SPLIT_PATTERN, text):
            out += [self.encoder[t] for t in self.bpe("".join(self.to_char[b] for b in chunk.encode()))]
        return out

    def decode(self, ids):
        text = "".join(self.decoder[i] for i in ids)
        return bytearray(self.to_byte[c] for c in text).decode("utf-8", "replace")


ALTERNATIVES = {
    "13.text_to_bytes": [text_to_bytes],
    "13.bytes_to_text": [bytes_to_text],
    "13.count_pairs": [count_pairs],
    "13.merge": [merge],
    "13.pretokenize": [pretokenize, pretokenize_tiktoken_pattern],
    "13.train_bpe": [train_bpe],
    "13.bpe_encode": [bpe_encode],
    "13.bpe_decode": [bpe_decode],
    "13.bytes_to_unicode": [bytes_to_unicode],
    "13.GPT2Tokenizer": [GPT2Tokenizer],
}
