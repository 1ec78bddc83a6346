"""Chapter 13's hidden cases: texts drawn from the case's seed (English and other scripts,
contractions, whitespace runs, digits, emoji), other ids, pairs and vocabulary sizes than the
notebook's. `bytes_to_unicode` takes no argument, so it has one right answer and no hidden case."""
from ..engine import Case
from . import like
from ..exercises.ch13 import (GPT2Tokenizer, _random_words, _run_gpt2, _run_toy, _toy_inputs, _trained, catching,
                              exact_or_raised, train_bpe, utf8)
from ..reference import ch13 as ref

WORDS = ["the", "cat", "hat", "is", "on", "mat", "that", "and", "The", "HAT", "naïve", "café", "日本語",
         "Ελληνικά", "テキスト", "👍🏽", "🧑‍🚀", "x²", "2024", "3.14", "é", "über", "ok"]
GLUE = [" ", " ", " ", "  ", "\t", "\n", ", ", ". ", "! ", "? ", "; ", " - ", "\n\n  "]
SUFFIXES = ["", "", "", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL"]


def random_text(rng, n_words=12):
    """Words of several scripts with contractions, punctuation and whitespace runs between them."""
    parts = []
    for _ in range(n_words):
        parts.append(str(rng.choice(WORDS)) + str(rng.choice(SUFFIXES)) + str(rng.choice(GLUE)))
    return "".join(parts)


def _broken(rng):
    """The bytes of a text with a stray byte that no UTF-8 character starts with."""
    ids = utf8(random_text(rng, 6))
    at = int(rng.integers(0, len(ids) + 1))
    return (ids[:at] + [int(rng.choice([0xFF, 0xFE, 0xC0]))] + ids[at:],)


def _encoded(rng):
    merges = dict(_trained(256 + 30))
    return ref.bpe_encode(random_text(rng, 10), merges), merges


def _gpt2_texts(rng):
    """Texts of several scripts, and one with an emoji glued to a contraction (without the
    pre-tokenizer, GPT-2's merges join their bytes)."""
    glued = str(rng.choice(["👍🏽", "🧑‍🚀"])) + str(rng.choice(SUFFIXES[3:])) + str(rng.choice(GLUE)) + str(rng.choice(WORDS))
    return [random_text(rng) for _ in range(3)] + [glued]


def _boundary_merges(rng):
    """Words of 't', 'h', 'a', 'e' and merges that would join a word's last letter to the next
    space, listed in reverse rank order, where the leftmost pair is not always the first by rank."""
    words = [str(rng.choice(["the", "that", "hat", "at", "tea", "heat"])) for _ in range(8)]
    merges = {(116, 32): 256, (101, 32): 257, (116, 104): 258, (97, 116): 259, (104, 97): 260,
              (258, 101): 261, (258, 259): 262, (32, 261): 263}     # in 'hat', 'at' ranks before 'ha'
    words[0] = "hat"
    return " ".join(words), dict(reversed(list(merges.items())))


def _toy_texts(rng):
    encoder, merges, _ = _toy_inputs(rng)
    texts = ["".join(rng.choice(list("abc  "), size=int(rng.integers(3, 12)))) for _ in range(4)]
    return encoder, merges, texts


def _toy_words(rng):
    """Random pre-tokens of the toy alphabet, a leading or trailing space ('Ġ') in some."""
    encoder, merges, _ = _toy_inputs(rng)
    words = ["".join(rng.choice(list("abc"), size=int(rng.integers(1, 7)))) for _ in range(5)]
    return encoder, merges, ["Ġ" + words[0], words[1] + "Ġ", *words[2:], "Ġabcabc"]


def _special_token_texts(rng):
    """'<|endoftext|>' between two texts, at the start of one, and alone."""
    return ([random_text(rng, 4) + "<|endoftext|>" + random_text(rng, 4),
             "<|endoftext|>" + random_text(rng, 3), "<|endoftext|>"],)


def _cut_characters(rng):
    """A text whose multi-byte characters (emoji, CJK, Greek, accents) span several tokens."""
    many_bytes = ["👍🏽", "🧑‍🚀", "日本語", "テキスト", "Ελληνικά", "naïve", "café", "x²"]
    return (" ".join(str(w) for w in rng.choice(many_bytes, size=3)),)


HIDDEN = {
    "13.text_to_bytes": [
        Case("a text of several scripts, emoji and whitespace", lambda rng: (random_text(rng),)),
    ],
    "13.bytes_to_text": [
        Case("the bytes of a text of several scripts", lambda rng: (utf8(random_text(rng)),)),
        Case("invalid UTF-8: a stray byte in a longer text", _broken, run=catching, compare=exact_or_raised),
    ],
    "13.count_pairs": [
        Case("50 random ids in 0..9", lambda rng: (rng.integers(0, 10, size=50).tolist(),)),
        Case("40 random ids in 0..2: runs of equal ids overlap", lambda rng: (rng.integers(0, 3, size=40).tolist(),)),
    ],
    "13.merge": [
        Case("60 random ids in 0..3, merging a random pair -> 400",
             lambda rng: (rng.integers(0, 4, size=60).tolist(), tuple(rng.integers(0, 4, size=2).tolist()), 400)),
        Case("a run of one id, merging it with itself -> 257",
             lambda rng: ([3] * int(rng.integers(4, 10)), (3, 3), 257)),
    ],
    "13.pretokenize": [
        Case("a text of several scripts with contractions and whitespace runs",
             lambda rng: (random_text(rng, 16),), run=catching, compare=exact_or_raised),
    ],
    "13.train_bpe": [
        Case("random words of 'a' and 'b', 9 merges", lambda rng: (_random_words(rng, 45), 256 + 9)),
        Case("a text of several scripts, 25 merges", lambda rng: (random_text(rng, 30), 256 + 25)),
        Case("more merges asked for than a few random words allow: stops early",
             lambda rng: (_random_words(rng, 4), 256 + 40), run=catching),
        like(train_bpe, 5, "verbose=True on a text of several scripts, 12 merges",
             lambda rng: (random_text(rng, 20), 256 + 12, True)),
    ],
    "13.bpe_encode": [
        Case("merges trained on English, a text of several scripts",
             lambda rng: (random_text(rng), dict(_trained(256 + 30)))),
        Case("merges that would cross pre-token boundaries, listed out of rank order", _boundary_merges),
        Case("merges trained on random words, other random words",
             lambda rng: (_random_words(rng, 20), ref.train_bpe(_random_words(rng, 40), 256 + 8))),
    ],
    "13.bpe_decode": [
        Case("merges trained on English, the ids of a text of several scripts", _encoded),
        Case("invalid UTF-8: a stray byte among the ids", lambda rng: (*_broken(rng), {}),
             run=catching, compare=exact_or_raised),
    ],
    "13.GPT2Tokenizer": [
        Case("the toy vocabulary on other texts", _toy_texts, run=_run_toy),
        Case("GPT-2's vocabulary on texts of several scripts, an emoji glued to a contraction",
             lambda rng: (_gpt2_texts(rng),), run=_run_gpt2),
        like(GPT2Tokenizer, 2, "bpe(word) itself on random words of the toy alphabet", _toy_words),
        like(GPT2Tokenizer, 3, "'<|endoftext|>' between, before and without other text", _special_token_texts),
        like(GPT2Tokenizer, 4, "decode of every prefix of the ids of emoji, CJK and accented words",
             _cut_characters),
    ],
}
