"""Chapter 13, byte-level BPE: the checks, and the mistakes they name.

The exercises and their contracts (the notebook explains each one):

    text_to_bytes(text) -> list of ints 0..255, the UTF-8 bytes
    bytes_to_text(ids) -> str, UTF-8 with errors="replace"
    count_pairs(ids) -> {(a, b): count} over all len(ids) - 1 adjacent (overlapping) pairs
    merge(ids, pair, new_id) -> new list, occurrences replaced left to right, non-overlapping
    pretokenize(text) -> list of str, regex.findall(GPT2_SPLIT_PATTERN, text)
    train_bpe(text, vocab_size, verbose=False) -> {(a, b): new_id}, ids 256.. in learned order;
        pairs counted inside pre-tokens, most frequent first, ties to the smallest pair; stops early
    bpe_encode(text, merges) -> ids: per pre-token, the present pair of lowest rank (= new id) first
    bpe_decode(ids, merges) -> str: all bytes joined, decoded once with errors="replace"
    bytes_to_unicode() -> {byte: str}, GPT-2's printable alphabet
    GPT2Tokenizer(encoder, bpe_merges); .from_files(encoder_json, vocab_bpe); .encode; .decode

Cases are small and hand-made where an order matters (rank against position, ties), so that
each known mistake shows on a case of its own; the GPT-2 cases use the real vocabulary, bundled
with the course, on text with contractions, Unicode, whitespace runs and emoji.

Chapter 13's reference is used only where the grading process runs: in a case's inputs, in a
run's `prepare` (the reference tokenizer's ids of the texts, which the GPT2Tokenizer cases decode
with the learner's class) and in the known mistakes. The runs and the comparators execute beside
learner code, where that reference is absent (instructor grading's sandbox, a student install).
"""
import collections
import functools
import re

import regex

from ..compare import Fail, compare_values
from ..data import gpt2_vocab_files
from ..engine import Case, Exercise, Mistake, Requirement
from . import common

ref = common.lazy_reference("13")     # imported at first use, in the grading process only


def EXACT(got, expected, args):
    """Ids and strings: nothing is approximately right. Short values are shown in full, since
    seeing [256, 97] next to [256, 256] says more than "values differ"."""
    if type(got) is type(expected) and isinstance(expected, (str, list)) and got != expected \
            and len(repr(expected)) + len(repr(got)) < 400:
        return Fail(f"expected {expected!r}, got {got!r}")
    if isinstance(got, dict) and isinstance(expected, dict) and set(got) == set(expected):
        for key in expected:
            if got[key] != expected[key] or type(got[key]) is not type(expected[key]):
                return Fail(f"[{key!r}]: expected {expected[key]!r}, got {got[key]!r}")
        return None
    return compare_values(got, expected, rtol=0, atol=0)


def catching(fn, args):
    """A Case.run for cases where a known mistake raises (strict UTF-8 decoding, `re` without
    \\p{L}): the exception becomes data, so the mistake can be recognised and named."""
    try:
        return fn(*args)
    except NotImplementedError:
        raise                                   # the stub: "not implemented", not a mistake
    except Exception as exc:
        return {"raised": f"{type(exc).__name__}: {exc}"}


def exact_or_raised(got, expected, args):
    """EXACT, and a plain sentence when the learner's code raised where it should return."""
    if isinstance(got, dict) and "raised" in got and not (isinstance(expected, dict) and "raised" in expected):
        return Fail(f"your function raised {got['raised']}; expected it to return {expected!r}")
    return EXACT(got, expected, args)


def utf8(text):
    return list(text.encode("utf-8"))


# ---------------------------------------------------------------- text_to_bytes / bytes_to_text

MIXED = "naïve 日本 👍🏽!"   # 2-, 3- and 4-byte characters

text_to_bytes = Exercise(
    id="13.text_to_bytes", points=1, difficulty="easy", minutes=5, pure=True,
    cases=[
        Case("ASCII text: one byte per character", lambda rng: ("Hello, world!\n",)),
        Case("2-, 3- and 4-byte characters: 'ï', '日', '👍🏽'", lambda rng: (MIXED,)),
        Case("the empty string", lambda rng: ("",)),
    ],
    compare=EXACT,
    mistakes=[
        Mistake("code points instead of bytes",
                "ord(c) is a character's Unicode code point, which can be far above 255 ('日' is "
                "26085); the tokenizer works on UTF-8 bytes: list(text.encode('utf-8')).",
                lambda text: [ord(c) for c in text]),
        Mistake("Latin-1 instead of UTF-8",
                "Latin-1 has one byte per character and no byte at all for '日' or emoji; encode "
                "with UTF-8, which has bytes for every character.",
                lambda text: list(text.encode("latin-1", errors="replace"))),
        Mistake("returned a bytes object",
                "text.encode('utf-8') is a bytes object; return list(...) of it, plain ints, so "
                "ids and merged ids (256, 257, ...) can live in one list.",
                lambda text: text.encode("utf-8")),
    ],
    requirements=[
        Requirement("The UTF-8 bytes of `text`, as a list of ints in 0..255 (len = number of bytes, not characters).",
                    "ASCII text: one byte per character", "2-, 3- and 4-byte characters: 'ï', '日', '👍🏽'"),
        Requirement("writes ASCII characters as one byte each", "ASCII text: one byte per character"),
        Requirement("and every other character as 2, 3 or 4 bytes", "2-, 3- and 4-byte characters: 'ï', '日', '👍🏽'"),
        Requirement("def text_to_bytes(text):", "the empty string"),
    ],
)

bytes_to_text = Exercise(
    id="13.bytes_to_text", points=1, difficulty="easy", minutes=5, pure=True,
    cases=[
        Case("the bytes of ASCII text", lambda rng: (utf8("Hello, world!\n"),)),
        Case("2-, 3- and 4-byte characters", lambda rng: (utf8(MIXED),)),
        Case("invalid UTF-8: a lone 0xc3 (half an 'é') and a stray 0xff",
             lambda rng: ([104, 0xC3, 105, 0xFF, 33],), run=catching, compare=exact_or_raised),
        Case("the empty list", lambda rng: ([],)),
    ],
    compare=EXACT,
    mistakes=[
        Mistake("one character per byte",
                "chr(b) reads each byte as a character of its own (that is Latin-1): 'é' is two "
                "bytes and comes out as 'Ã©'. Decode all the bytes together: "
                "bytes(ids).decode('utf-8', errors='replace').",
                lambda ids: "".join(chr(b) for b in ids)),
        Mistake("strict decoding",
                "bytes(ids).decode('utf-8') raises on bytes that are not valid UTF-8, and a "
                "language model can generate those; pass errors='replace' to get '\\ufffd' instead.",
                lambda ids: bytes(ids).decode("utf-8")),
        Mistake("invalid bytes dropped",
                "errors='ignore' hides broken bytes; GPT-2 uses errors='replace', so that each one "
                "shows as '\\ufffd' and the text keeps its length.",
                lambda ids: bytes(ids).decode("utf-8", errors="ignore")),
    ],
    requirements=[
        Requirement("The text whose UTF-8 bytes are `ids` (ints in 0..255)", "the bytes of ASCII text",
                    "2-, 3- and 4-byte characters", "the empty list"),
        Requirement('invalid UTF-8 becomes "\\ufffd"', "invalid UTF-8: a lone 0xc3 (half an 'é') and a stray 0xff"),
        Requirement('GPT-2 decodes with `errors="replace"`, which turns each broken sequence into the replacement '
                    'character `"\\ufffd"` (�) instead of raising.', "invalid UTF-8: a lone 0xc3 (half an 'é') and a stray 0xff"),
    ],
)

# ---------------------------------------------------------------- count_pairs / merge


def _non_overlapping_counts(ids):
    """What str.count does: 'aaa'.count('aa') == 1."""
    data = bytes(ids)
    return {pair: data.count(bytes(pair)) for pair in zip(ids, ids[1:])}


count_pairs = Exercise(
    id="13.count_pairs", points=1, difficulty="easy", minutes=5, pure=True,
    cases=[
        Case("30 random ids in 0..4", lambda rng: (rng.integers(0, 5, size=30).tolist(),)),
        Case("'aaa': the pair (97, 97) occurs twice, overlapping", lambda rng: ([97, 97, 97],)),
        Case("'aaaab': (97, 97) three times", lambda rng: (utf8("aaaab"),)),
        Case("one id: no pairs at all", lambda rng: ([7],)),
    ],
    compare=EXACT,
    mistakes=[
        Mistake("overlapping pairs counted once",
                "counting like str.count skips overlapping occurrences: 'aaa' holds (97, 97) twice, "
                "at positions 0 and 1. Count every position i with (ids[i], ids[i + 1]).",
                _non_overlapping_counts),
        Mistake("pairs counted two ids at a time",
                "zip(ids[::2], ids[1::2]) sees only the pairs that start at even positions; every "
                "adjacent pair counts: zip(ids, ids[1:]).",
                lambda ids: dict(collections.Counter(zip(ids[::2], ids[1::2])))),
        Mistake("each pair counted once",
                "a set of pairs says which pairs occur, not how often: count each occurrence.",
                lambda ids: {p: 1 for p in zip(ids, ids[1:])}),
    ],
    requirements=[
        Requirement("{(a, b): how many times b directly follows a in ids}, over all len(ids) - 1 adjacent pairs.",
                    "30 random ids in 0..4", "one id: no pairs at all"),
        Requirement("`count_pairs` counts all of them, also when they overlap: `[97, 97, 97]` (`\"aaa\"`) holds the pair "
                    "`(97, 97)` twice", "'aaa': the pair (97, 97) occurs twice, overlapping", "'aaaab': (97, 97) three times"),
        Requirement("Each merge makes the sequence shorter by the number of pairs it replaced",
                    not_checked="about merge, not count_pairs; merge's cases check it"),
    ],
)


def _merge_twice_when_overlapping(ids, pair, new_id):
    out = []
    for i in range(len(ids)):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == tuple(pair):
            out.append(new_id)
        elif not (i > 0 and (ids[i - 1], ids[i]) == tuple(pair)):
            out.append(ids[i])
    return out


def _merge_drops_last(ids, pair, new_id):
    out, i = [], 0
    while i < len(ids) - 1:
        if (ids[i], ids[i + 1]) == tuple(pair):
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _merge_in_place(ids, pair, new_id):
    i = 0
    while i < len(ids) - 1:
        if (ids[i], ids[i + 1]) == tuple(pair):
            ids[i:i + 2] = [new_id]
        i += 1
    return ids


merge = Exercise(
    id="13.merge", points=1, difficulty="easy", minutes=10, pure=True,
    cases=[
        Case("[1, 2, 3, 1, 2], merging (1, 2) -> 256", lambda rng: ([1, 2, 3, 1, 2], (1, 2), 256)),
        Case("'aaa', merging (97, 97): the middle 'a' is used once", lambda rng: ([97, 97, 97], (97, 97), 256)),
        Case("40 random ids in 0..2, merging (0, 1) -> 300",
             lambda rng: (rng.integers(0, 3, size=40).tolist(), (0, 1), 300)),
        Case("the pair does not occur", lambda rng: ([5, 6, 7], (6, 5), 256)),
        Case("the empty list", lambda rng: ([], (1, 2), 256)),
    ],
    compare=EXACT,
    mistakes=[
        Mistake("overlapping occurrences merged twice",
                "after replacing a pair, carry on *after* it (i += 2): in 'aaa' the middle 'a' "
                "belongs to the first merge, so the result is [256, 97].",
                _merge_twice_when_overlapping),
        Mistake("dropped the last id",
                "a loop `while i < len(ids) - 1` never looks at the last id on its own: append "
                "it when it was not part of a pair.",
                _merge_drops_last),
        Mistake("changed ids in place",
                "merge returns a new list and leaves `ids` as it was: training merges the same "
                "pre-tokens again and again, and encode calls it on your data.",
                _merge_in_place),
    ],
    requirements=[
        Requirement("A new list: `ids` with each occurrence of `pair`, left to right, replaced by `new_id`.",
                    "[1, 2, 3, 1, 2], merging (1, 2) -> 256", "40 random ids in 0..2, merging (0, 1) -> 300", "pure"),
        Requirement("`merge` scans left to right and, after replacing a pair, continues *after* it, so `\"aaa\"` becomes "
                    "`[256, 97]`", "'aaa', merging (97, 97): the middle 'a' is used once"),
        Requirement("Each merge makes the sequence shorter by the number of pairs it replaced",
                    "[1, 2, 3, 1, 2], merging (1, 2) -> 256", "the pair does not occur", "the empty list"),
    ],
)

# ---------------------------------------------------------------- pretokenize

NO_LOOKAHEAD = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+"""
SPACES_APART = r"""'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}+|[^\s\p{L}\p{N}]+|\s+"""

pretokenize = Exercise(
    id="13.pretokenize", points=1, difficulty="easy", minutes=10, pure=True,
    cases=[
        Case("words, punctuation and contractions", lambda rng: ("Hello world! I'm here, aren't you?",),
             run=catching, compare=exact_or_raised),
        Case("runs of spaces, tabs and newlines", lambda rng: ("a   b\t\tc\n\n  d  ",)),
        Case("Unicode letters, digits and emoji", lambda rng: ("Café 日本語 2024 👍🏽 x² ok",)),
        Case("GPT-2's quirk: upper-case contractions are not split", lambda rng: ("I'M SURE YOU'LL",)),
    ],
    compare=EXACT,
    mistakes=[
        Mistake("used re instead of regex",
                "Python's re module does not know \\p{L} (any letter) or \\p{N} (any digit): "
                "import regex (the PyPI package) and call regex.findall.",
                lambda text: re.findall(ref.GPT2_SPLIT_PATTERN, text)),
        Mistake("split on whitespace",
                "text.split() throws the spaces away, so decoding could never give the "
                "text back; GPT-2 keeps each space with the word after it.",
                lambda text: text.split()),
        Mistake("no lookahead for whitespace",
                "without '\\s+(?!\\S)' a run of spaces swallows the space that belongs to the next "
                "word: 'a   b' must give 'a', '  ', ' b'.",
                lambda text: regex.findall(NO_LOOKAHEAD, text)),
        Mistake("spaces split off the words",
                "in GPT-2's pattern the space before a word belongs to it (' ?\\p{L}+'): "
                "' world' is one pre-token, and one token.",
                lambda text: regex.findall(SPACES_APART, text)),
    ],
    requirements=[
        Requirement("GPT-2's split of `text` into pre-tokens (strs that concatenate back to `text`).",
                    "words, punctuation and contractions", "runs of spaces, tabs and newlines"),
        Requirement("English contractions are their own pieces", "words, punctuation and contractions"),
        Requirement("(lower case only: `\"I'M\"` splits differently, a known quirk of GPT-2)",
                    "GPT-2's quirk: upper-case contractions are not split"),
        Requirement("a run of letters (of any script: `\\p{L}` is \"any Unicode letter\"), with the space before it",
                    "Unicode letters, digits and emoji", "words, punctuation and contractions"),
        Requirement("a run of digits; ` ?[^\\s\\p{L}\\p{N}]+` — a run of anything else (punctuation, emoji)",
                    "Unicode letters, digits and emoji"),
        Requirement("whitespace, but not the last space before a word", "runs of spaces, tabs and newlines"),
        Requirement("the whitespace left at the very end.", "runs of spaces, tabs and newlines"),
        Requirement("Concatenating the pre-tokens gives back the text exactly: nothing is dropped.",
                    "runs of spaces, tabs and newlines", "Unicode letters, digits and emoji"),
    ],
)

# ---------------------------------------------------------------- train_bpe

ENGLISH = "the cat sat on the mat. the hat is on the cat, and that is that.\n" * 3


def _words(text, pretokenized=True):
    counts = {}
    for chunk in (ref.pretokenize(text) if pretokenized else [text]):
        word = tuple(utf8(chunk))
        counts[word] = counts.get(word, 0) + 1
    return counts


def _train(text, vocab_size, pretokenized=True, choose=None, weighted=True, stop=True):
    """The reference algorithm with one thing changed (for the mistakes below)."""
    words = _words(text, pretokenized)
    merges = {}
    for new_id in range(256, vocab_size):
        counts = {}
        for word, n in words.items():
            for pair in zip(word, word[1:]):
                counts[pair] = counts.get(pair, 0) + (n if weighted else 1)
        if not counts and stop:
            break
        best = choose(counts) if choose else min(counts, key=lambda p: (-counts[p], p))
        merges[best] = new_id
        words = {tuple(ref.merge(list(w), best, new_id)): n for w, n in words.items()}
    return merges


def _random_words(rng, n_words=60):
    """Short words of 'a' and 'b' with spaces: many pairs tie, so the tie rule matters."""
    words = ["".join(rng.choice(list("ab"), size=rng.integers(1, 5))) for _ in range(n_words)]
    return " ".join(words)


def _spelled(pair, merges):
    """(a, b) with the bytes each id stands for: (116, 104) 'th'. (Spelled from the merges by
    recursion, and only for a message.)"""
    parts = {new_id: ab for ab, new_id in merges.items()}

    def spell(token, depth=0):
        if token < 256:
            return bytes([token])
        if token not in parts or depth > len(parts):
            return None
        left, right = (spell(t, depth + 1) for t in parts[token])
        return None if left is None or right is None else left + right

    text = [spell(t) for t in pair]
    if None in text:
        return str(pair)
    return f"{pair} = {(text[0] + text[1]).decode('utf-8', errors='replace')!r}"


def _merges_compare(got, expected, args):
    """The first merge, in id order, that differs, spelled out as text."""
    if not (isinstance(got, dict) and isinstance(expected, dict)) or "raised" in got or "raised" in expected:
        return exact_or_raised(got, expected, args)
    if got == expected:
        return None
    by_id = {new_id: pair for pair, new_id in got.items() if isinstance(new_id, int)}
    for pair, new_id in sorted(expected.items(), key=lambda item: item[1]):
        if by_id.get(new_id) != pair:
            theirs = by_id.get(new_id)
            return Fail(f"{len(expected)} merges expected, {len(got)} returned; the first that differs "
                        f"is new id {new_id}: expected {_spelled(pair, expected)}, got "
                        + (_spelled(theirs, got) if theirs else "no merge with that id"))
    return Fail(f"{len(expected)} merges expected, {len(got)} returned: the extra ones are "
                f"{sorted(set(got) - set(expected))[:5]}")


train_bpe = Exercise(
    id="13.train_bpe", points=2, difficulty="medium", minutes=30, pure=True,
    cases=[
        Case("a few English sentences, 20 merges", lambda rng: (ENGLISH, 256 + 20)),
        Case("one frequent word among rare ones: frequencies count",
             lambda rng: ("zq " * 2 + " ".join(["xy"] * 5) + " yx yx yx", 256 + 3)),
        Case("random words of 'a' and 'b': ties go to the smallest pair",
             lambda rng: (_random_words(rng), 256 + 12)),
        Case("vocab_size 256: no merges at all", lambda rng: (ENGLISH, 256)),
        Case("more merges asked for than there are pairs: stops early", lambda rng: ("ab ab", 300),
             run=catching),
        Case("verbose=True: the same merges (and a progress bar)", lambda rng: (ENGLISH, 256 + 8, True)),
    ],
    compare=_merges_compare,
    mistakes=[
        Mistake("merged across pre-token boundaries",
                "count pairs inside each pre-token only (pretokenize first): a pair such as "
                "('t', ' ') spans two words and must never become a token.",
                lambda text, vocab_size, verbose=False: _train(text, vocab_size, pretokenized=False)),
        Mistake("pre-token frequencies ignored",
                "a pre-token that occurs n times contributes its pairs n times: weight each "
                "distinct pre-token's pairs by its count.",
                lambda text, vocab_size, verbose=False: _train(text, vocab_size, weighted=False)),
        Mistake("ties broken by first occurrence",
                "max(counts, key=counts.get) breaks ties by the order you counted in; the rule is "
                "the smallest pair: min(counts, key=lambda p: (-counts[p], p)).",
                lambda text, vocab_size, verbose=False: _train(
                    text, vocab_size, choose=lambda counts: max(counts, key=counts.get))),
        Mistake("did not stop when nothing is left to merge",
                "when every pre-token is a single token there are no pairs to count: stop "
                "(return the merges so far) instead of calling min() on nothing.",
                lambda text, vocab_size, verbose=False: _train(text, vocab_size, stop=False)),
    ],
    requirements=[
        Requirement("`train_bpe(text, vocab_size)` learns `vocab_size - 256` merges and returns them as a dict "
                    "`{(a, b): new_id}` in the order they were learned: the first merge gets id 256, the next 257",
                    "a few English sentences, 20 merges", "vocab_size 256: no merges at all"),
        Requirement("Split the text with `pretokenize` and turn each pre-token into its bytes.",
                    "a few English sentences, 20 merges"),
        Requirement("count the pairs inside every pre-token (never across two of them) and merge the most frequent pair.",
                    "a few English sentences, 20 merges", "one frequent word among rare ones: frequencies count"),
        Requirement("When two pairs are equally frequent, take the **smallest** pair",
                    "random words of 'a' and 'b': ties go to the smallest pair"),
        Requirement("Stop early if no pair is left (every pre-token is a single token already).",
                    "more merges asked for than there are pairs: stops early"),
        Requirement("The optional `verbose=True` shows a progress bar.", "verbose=True: the same merges (and a progress bar)"),
        Requirement("**Make it fast.**", not_checked="speed is a benchmark, not a grade: the cases are small "
                    "and the exercise's time limit only stops an endless loop"),
    ],
)

# ---------------------------------------------------------------- bpe_encode / bpe_decode


def _trained(vocab_size):
    """The reference's merges learned from ENGLISH (a millisecond: not cached, since inputs that
    use the reference are sent to the sandbox as data only when making them asks for it)."""
    return tuple(ref.train_bpe(ENGLISH, vocab_size).items())


def _encode_with(text, merges, pick=None, pretokenized=True, dict_order=False):
    """The reference algorithm with one thing changed (for the mistakes below)."""
    ids = []
    for chunk in (ref.pretokenize(text) if pretokenized else [text]):
        chunk_ids = utf8(chunk)
        if dict_order:
            for pair, new_id in merges.items():
                chunk_ids = ref.merge(chunk_ids, pair, new_id)
        while not dict_order and len(chunk_ids) >= 2:
            mergeable = [p for p in zip(chunk_ids, chunk_ids[1:]) if p in merges]
            if not mergeable:
                break
            pair = pick(mergeable) if pick else min(mergeable, key=merges.get)
            chunk_ids = ref.merge(chunk_ids, pair, merges[pair])
        ids.extend(chunk_ids)
    return ids


ABC = {(98, 99): 256, (97, 98): 257}            # "bc" has rank 0, "ab" rank 1

bpe_encode = Exercise(
    id="13.bpe_encode", points=2, difficulty="medium", minutes=20, pure=True,
    cases=[
        Case("merges trained on English, a new sentence",
             lambda rng: ("the cat is on that mat; hats are not cats.", dict(_trained(256 + 30)))),
        Case("'abc' with merges bc -> 256 (rank 0), ab -> 257 (rank 1): rank decides",
             lambda rng: ("abc cab abc", dict(ABC))),
        Case("the same merges listed out of rank order in the dict",
             lambda rng: ("abc cab abc", dict(reversed(ABC.items())))),
        Case("a merge that would cross a pre-token boundary ('e' + ' ')",
             lambda rng: ("the end", {(101, 32): 256, (116, 104): 257})),
        Case("bytes no merge knows: 'naïve 👍🏽'", lambda rng: (MIXED, dict(_trained(256 + 30)))),
        Case("the empty text", lambda rng: ("", dict(ABC))),
    ],
    compare=EXACT,
    mistakes=[
        Mistake("merges applied in the dict's order, not by rank",
                "a merge's rank is its new id, not its place in the dict: pick the present pair "
                "with the lowest id (and one pass per merge of a 50,000-merge vocabulary is slow).",
                lambda text, merges: _encode_with(text, merges, dict_order=True)),
        Mistake("pairs merged in text order, not by rank",
                "merge the pair *learned first* (lowest new id) among those present, not the first "
                "mergeable pair from the left: in 'abc' with bc -> 256 and ab -> 257, 'bc' wins.",
                lambda text, merges: _encode_with(text, merges, pick=lambda pairs: pairs[0])),
        Mistake("merged across pre-token boundaries",
                "split the text with pretokenize and merge inside each pre-token: training never "
                "saw a pair across two pre-tokens, so encoding must not make one.",
                lambda text, merges: _encode_with(text, merges, pretokenized=False)),
    ],
    requirements=[
        Requirement("Token ids of `text`: bytes of each pre-token, merged lowest rank (= lowest new id) first.",
                    "merges trained on English, a new sentence", "bytes no merge knows: 'naïve 👍🏽'"),
        Requirement("split it into pre-tokens, turn each into bytes, and inside each pre-token merge again and again "
                    "**the pair with the lowest rank**", "'abc' with merges bc -> 256 (rank 0), ab -> 257 (rank 1): rank decides",
                    "a merge that would cross a pre-token boundary ('e' + ' ')"),
        Requirement("merging the first mergeable pair from the left", "'abc' with merges bc -> 256 (rank 0), ab -> 257 (rank 1): rank decides"),
        Requirement("walking through the merges dict and applying each merge in turn: right only when the dict happens to be in rank order",
                    "the same merges listed out of rank order in the dict"),
        Requirement("def bpe_encode(text, merges):", "the empty text"),
        Requirement("every pre-token is a single token already", not_checked="about train_bpe's stopping rule"),
    ],
)


def _vocab(merges):
    vocab = {i: bytes([i]) for i in range(256)}
    for (a, b), new_id in sorted(merges.items(), key=lambda item: item[1]):
        vocab[new_id] = vocab[a] + vocab[b]
    return vocab


def _decode_per_token(ids, merges):
    vocab = _vocab(merges)
    return "".join(vocab[i].decode("utf-8", errors="replace") for i in ids)


def _decode_parts_swapped(ids, merges):
    vocab = {i: bytes([i]) for i in range(256)}
    for (a, b), new_id in sorted(merges.items(), key=lambda item: item[1]):
        vocab[new_id] = vocab[b] + vocab[a]
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")


EMOJI = {(0xF0, 0x9F): 256, (256, 0x91): 257}     # the first 3 of the 4 bytes of "👍"

bpe_decode = Exercise(
    id="13.bpe_decode", points=1, difficulty="easy", minutes=10, pure=True,
    cases=[
        Case("merges trained on English, the ids of a sentence",
             lambda rng: (ref.bpe_encode("the cat sat on the hat", dict(_trained(256 + 30))),
                          dict(_trained(256 + 30)))),
        Case("'é' as two byte tokens [0xc3, 0xa9]: one character across two tokens",
             lambda rng: ([104, 0xC3, 0xA9, 33], {})),
        Case("'👍' as a merged token of 3 bytes plus its last byte",
             lambda rng: ([257, 0x8D, 32, 257, 0x8D], dict(EMOJI))),
        Case("invalid UTF-8 (a stray 0xff) becomes '\\ufffd'", lambda rng: ([0xFF, 104, 105], {}),
             run=catching, compare=exact_or_raised),
        Case("no ids: the empty string", lambda rng: ([], dict(EMOJI))),
    ],
    compare=EXACT,
    mistakes=[
        Mistake("decoded token by token",
                "a character of 2-4 bytes can be split across tokens ('é' is c3 a9); decoding each "
                "token on its own turns each half into '\\ufffd'. Join all the bytes first, then "
                "decode once.",
                _decode_per_token),
        Mistake("strict decoding",
                "bytes.decode('utf-8') raises on invalid bytes, and a model can generate them: "
                "pass errors='replace'.",
                lambda ids, merges: b"".join(_vocab(merges)[i] for i in ids).decode("utf-8")),
        Mistake("parts joined in the wrong order",
                "merge (a, b) stands for the bytes of a followed by the bytes of b: "
                "vocab[a] + vocab[b].",
                _decode_parts_swapped),
    ],
    requirements=[
        Requirement("look up the bytes of each id (a merged id stands for the bytes of its two parts, concatenated)",
                    "merges trained on English, the ids of a sentence", "'👍' as a merged token of 3 bytes plus its last byte"),
        Requirement("join **all** the bytes, and decode them with UTF-8 **once**, at the end.",
                    "'é' as two byte tokens [0xc3, 0xa9]: one character across two tokens"),
        Requirement('invalid UTF-8 -> "\\ufffd"', "invalid UTF-8 (a stray 0xff) becomes '\\ufffd'"),
        Requirement("def bpe_decode(ids, merges):", "no ids: the empty string"),
        Requirement("every pre-token is a single token already", not_checked="about train_bpe's stopping rule"),
    ],
)

# ---------------------------------------------------------------- bytes_to_unicode

PRINTABLE = set(range(ord("!"), ord("~") + 1)) | set(range(ord("¡"), ord("¬") + 1)) | \
    set(range(ord("®"), ord("ÿ") + 1))


def _numbered_by_value():
    return {b: chr(b) if b in PRINTABLE else chr(256 + b) for b in range(256)}


bytes_to_unicode = Exercise(
    id="13.bytes_to_unicode", points=1, difficulty="easy", minutes=10, pure=True,
    cases=[
        Case("the bytes of ' the\\n' through the table: 'Ġ', 't', 'h', 'e', 'Ċ'",
             lambda rng: (), run=lambda fn, args: [fn()[b] for b in b" the\n"]),
        Case("the whole table, all 256 bytes", lambda rng: ()),
    ],
    compare=EXACT,
    mistakes=[
        Mistake("every byte as chr(b)",
                "a space or a newline cannot stand for itself: vocab.bpe separates its two "
                "strings with a space. The 68 non-printable bytes become chr(256 + n), n = 0, 1, ...",
                lambda: {b: chr(b) for b in range(256)}),
        Mistake("every byte moved by 256",
                "the 188 printable bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves, so "
                "'the' is written 'the'; only the others move to chr(256 + n).",
                lambda: {b: chr(256 + b) for b in range(256)}),
        Mistake("non-printable bytes numbered by their value",
                "the n-th non-printable byte becomes chr(256 + n), counting only those bytes: "
                "byte 127 is the 34th (n = 33), so it is chr(289), not chr(256 + 127).",
                _numbered_by_value),
    ],
    requirements=[
        Requirement("GPT-2's {byte: printable character} for all 256 bytes (printable bytes map to themselves).",
                    "the whole table, all 256 bytes"),
        Requirement("the $n$-th of the other 68, in byte order, becomes `chr(256 + n)`", "the whole table, all 256 bytes",
                    "the bytes of ' the\\n' through the table: 'Ġ', 't', 'h', 'e', 'Ċ'"),
        Requirement("(and an empty last line)", not_checked="about vocab.bpe, read by GPT2Tokenizer.from_files"),
    ],
)

# ---------------------------------------------------------------- GPT2Tokenizer

# A toy vocabulary in GPT-2's format, where each mistake tokenizes "abc abc" differently:
# "cĠ" has rank 0 but can only form across a pre-token boundary; "bc" outranks "ab".
TOY_MERGES = [("c", "Ġ"), ("b", "c"), ("a", "b"), ("a", "bc"), ("Ġ", "abc")]
GPT2_TEXTS = [
    "Hello world",
    "I'm sure you'll see: they've said it's done, we'd go.",
    "naïve café — 日本語 テキスト, Ελληνικά",
    "emoji 👍🏽 and 🧑‍🚀, flags 🇫🇷",
    "tabs\t\tand   spaces  \n\n\n  end   ",
    "x = f(3.14159) + 1e-9;  # 12345",
]


def _toy_inputs(rng):
    alphabet = list(ref.bytes_to_unicode().values())
    tokens = alphabet + ["".join(pair) for pair in TOY_MERGES]
    encoder = {token: i for i, token in enumerate(tokens)}
    return encoder, [list(pair) for pair in TOY_MERGES], ["abc abc", "cab", "ab c"]


@functools.lru_cache(maxsize=2)
def _gpt2_of(tokenizer_cls):
    """`tokenizer_cls` on GPT-2's vocabulary, loaded once (it takes a quarter of a second)."""
    return tokenizer_cls.from_files(*gpt2_vocab_files())


def _reference_gpt2():
    """The reference's tokenizer of GPT-2's vocabulary (grading process only). Its class is
    looked up at every call, so that each case whose inputs use it asks for the reference
    (engine.references_used) and has them sent to the sandbox as data, cache or not."""
    return _gpt2_of(ref.GPT2Tokenizer)


# The GPT2Tokenizer cases decode the reference's ids of their texts with the learner's class.
# Those ids are made by the runs' `prepare` steps below, in the grading process, and reach the
# runs as data: the texts stay last, where the comparator reads them.

def _toy_reference_ids(args):
    """Prepare: (encoder, merges, texts) -> (encoder, merges, the reference's ids of each text, texts)."""
    encoder, merges, texts = args
    reference = ref.GPT2Tokenizer(encoder, merges)
    return encoder, merges, [reference.encode(text) for text in texts], texts


def _gpt2_reference_ids(args):
    """Prepare: (texts,) -> (the reference's GPT-2 ids of each text, texts)."""
    (texts,) = args
    reference = _reference_gpt2()
    return [reference.encode(text) for text in texts], texts


def _prefix_reference_ids(args):
    """Prepare: (text,) -> (text, the reference's GPT-2 ids of it)."""
    (text,) = args
    return text, _reference_gpt2().encode(text)


def _use(tok, texts, reference_ids):
    """What the case compares: the ids of each text, and the decoding of the reference's ids
    (whole, and cut after the first token, which splits multi-byte characters)."""
    out = {"encode": [], "decode": []}
    for text, ids in zip(texts, reference_ids):
        try:
            out["encode"].append([int(i) for i in tok.encode(text)])
        except Exception as exc:  # a KeyError for a string not in the vocabulary, say
            out["encode"].append(f"raised {type(exc).__name__}: {exc}")
        out["decode"] += [tok.decode(ids), tok.decode(ids[:1])]
    return out


def _toy_words(rng):
    encoder, merges, _ = _toy_inputs(rng)
    return encoder, merges, ["abc", "Ġabc", "cab", "abcĠ", "a"]


def run_toy_bpe(cls, args):
    """The token strings bpe returns for each word, as lists."""
    encoder, merges, words = args
    tok = cls(encoder, merges)
    return [list(tok.bpe(word)) for word in words]


@common.prepared(_toy_reference_ids)
def _run_toy(cls, args):
    encoder, merges, reference_ids, texts = args
    return _use(cls(encoder, merges), texts, reference_ids)


@common.prepared(_gpt2_reference_ids)
def _run_gpt2(cls, args):
    reference_ids, texts = args
    return _use(cls.from_files(*gpt2_vocab_files()), texts, reference_ids)


def run_gpt2_decode_prefixes(cls, args):
    """decode of every prefix of the reference's ids of a text: some cut a character in two."""
    _, ids = args
    tok = cls.from_files(*gpt2_vocab_files())
    return [tok.decode(ids[:k]) for k in range(1, len(ids) + 1)]


@common.prepared(_prefix_reference_ids)
def catching_decode_prefixes(cls, args):
    return catching(lambda *a: run_gpt2_decode_prefixes(cls, a), args)


def _tokenizer_compare(got, expected, args):
    """Say which text went wrong and how, not just 'values differ'."""
    if not isinstance(got, dict) or set(got) != {"encode", "decode"}:
        return compare_values(got, expected)
    texts = args[-1]                     # both kinds of case pass the texts last (see the prepare steps)
    for text, g, e in zip(texts, got["encode"], expected["encode"]):
        if g != e:
            return Fail(f"encode({text!r}): expected {e}, got {g}")
    for i, (g, e) in enumerate(zip(got["decode"], expected["decode"])):
        if g != e:
            what = "all of its ids" if i % 2 == 0 else "only its first id"
            return Fail(f"decode of {what} of {texts[i // 2]!r}: expected {e!r}, got {g!r}")
    return compare_values(got, expected)


class _OnReference:
    """A known mistake of GPT2Tokenizer: the methods of `mixin` over the reference's class. That
    class is made at its first use, in the grading process (the only place mistakes run), so
    that importing the checks does not import chapter 13's reference. A case's run calls it, and
    its `from_files`, as it would a class."""

    def __init__(self, mixin):
        self.mixin = mixin

    @functools.cached_property
    def cls(self):
        return type(self.mixin.__name__, (self.mixin, ref.GPT2Tokenizer), {})

    def __call__(self, encoder, bpe_merges):
        return self.cls(encoder, bpe_merges)

    def from_files(self, encoder_json, vocab_bpe):
        return self.cls.from_files(encoder_json, vocab_bpe)


# The known mistakes' tokenizers: each class below holds only what the mistake changes, and
# _OnReference puts it over the reference's GPT2Tokenizer.

class _TextOrder:
    def bpe(self, word):
        parts = list(word)
        while True:
            found = [i for i in range(len(parts) - 1) if (parts[i], parts[i + 1]) in self.ranks]
            if not found:
                return parts
            i = found[0]
            parts[i:i + 2] = [parts[i] + parts[i + 1]]


class _PerTokenDecode:
    def decode(self, ids):
        return "".join(bytes(self.byte_decoder[c] for c in self.decoder[int(i)])
                       .decode("utf-8", errors="replace") for i in ids)


class _NoPretokenizer:
    def encode(self, text):
        word = "".join(self.byte_encoder[b] for b in text.encode("utf-8"))
        return [self.encoder[token] for token in self.bpe(word)] if text else []


class _NoByteMapping:
    def encode(self, text):
        return [self.encoder[token] for chunk in ref.pretokenize(text) for token in self.bpe(chunk)]


class _StrictDecode:
    def decode(self, ids):
        return bytes(self.byte_decoder[c] for i in ids for c in self.decoder[int(i)]).decode("utf-8")


class _SpecialTokenParsed:
    def encode(self, text):
        out = []
        for i, part in enumerate(text.split("<|endoftext|>")):
            out += ([50256] if i else []) + super().encode(part)
        return out


GPT2Tokenizer = Exercise(
    id="13.GPT2Tokenizer", points=3, difficulty="hard", minutes=40,
    cases=[
        Case("a toy vocabulary: ranks, pre-token boundaries", _toy_inputs, run=_run_toy),
        Case("GPT-2's vocabulary: contractions, Unicode, whitespace runs, emoji; round trip",
             lambda rng: (GPT2_TEXTS,), run=_run_gpt2),
        Case("bpe(word) itself, on the toy vocabulary", _toy_words, run=run_toy_bpe, compare=EXACT),
        Case("'<|endoftext|>' inside a text is ordinary characters", lambda rng: (["a<|endoftext|>b"],),
             run=_run_gpt2, why="encode never produces the special id 50256; a program appends it itself"),
        Case("decode of every prefix of the ids of '👍🏽 日本': characters cut in two become '\\ufffd'",
             lambda rng: ("👍🏽 日本",), run=catching_decode_prefixes, compare=exact_or_raised),
    ],
    compare=_tokenizer_compare,
    mistakes=[
        Mistake("merged pairs in text order, not by rank",
                "merge the pair of lowest rank (its line in vocab.bpe) among all pairs present, "
                "again and again; the leftmost mergeable pair is not the one GPT-2 learned first.",
                _OnReference(_TextOrder)),
        Mistake("no pre-tokenizer",
                "split the text with pretokenize first and run BPE inside each pre-token: GPT-2's "
                "merges were learned that way, and a merge may not cross a word boundary.",
                _OnReference(_NoPretokenizer)),
        Mistake("no byte-to-unicode mapping",
                "the strings of encoder.json and vocab.bpe are bytes written with bytes_to_unicode "
                "(a space is 'Ġ'): map each UTF-8 byte of a pre-token through it before BPE.",
                _OnReference(_NoByteMapping)),
        Mistake("decoded token by token",
                "an emoji or accented letter can be split across tokens; join all the bytes of all "
                "the ids, then decode once with errors='replace'.",
                _OnReference(_PerTokenDecode)),
        Mistake("<|endoftext|> in the text turned into id 50256",
                "like OpenAI's code, encode reads '<|endoftext|>' in a text as the 13 characters it is; "
                "a program that wants the special token appends id 50256 itself (so user text cannot "
                "inject it).", _OnReference(_SpecialTokenParsed)),
        Mistake("strict UTF-8 in decode",
                "a model can stop in the middle of a character (an emoji is several tokens): decode "
                "the joined bytes with errors='replace', so a cut character becomes '\\ufffd' "
                "instead of an exception.", _OnReference(_StrictDecode)),
    ],
    requirements=[
        Requirement("`GPT2Tokenizer(encoder, bpe_merges)` takes the loaded contents (`encoder`: the dict of `encoder.json`; "
                    "`bpe_merges`: the list of `(left, right)` string pairs of `vocab.bpe`, in rank order)",
                    "a toy vocabulary: ranks, pre-token boundaries"),
        Requirement("the class method `from_files(encoder_json, vocab_bpe)` reads the two files",
                    "GPT-2's vocabulary: contractions, Unicode, whitespace runs, emoji; round trip"),
        Requirement("a first line `#version: 0.2`, then the merges in rank order, one a line, as two strings separated "
                    "by a space: `Ġ t`, `h e`, `Ġt he`, ... (and an empty last line)",
                    "GPT-2's vocabulary: contractions, Unicode, whitespace runs, emoji; round trip"),
        Requirement("Encoding is then: pre-tokenize, write each pre-token's UTF-8 bytes with this alphabet, run BPE on those "
                    "characters with the ranks of `vocab.bpe` (lowest rank first, exactly as your `bpe_encode`), and look "
                    "each resulting string up in `encoder.json`.", "a toy vocabulary: ranks, pre-token boundaries",
                    "GPT-2's vocabulary: contractions, Unicode, whitespace runs, emoji; round trip"),
        Requirement("Decoding reverses it: strings, characters, bytes, one UTF-8 decode with `errors=\"replace\"`.",
                    "GPT-2's vocabulary: contractions, Unicode, whitespace runs, emoji; round trip",
                    "decode of every prefix of the ids of '👍🏽 日本': characters cut in two become '\\ufffd'"),
        Requirement("`encode` treats `<|endoftext|>` in a text as ordinary characters",
                    "'<|endoftext|>' inside a text is ordinary characters"),
        Requirement("The token strings of one pre-token `word` (in GPT-2's alphabet): lowest rank first.",
                    "bpe(word) itself, on the toy vocabulary"),
        Requirement("GPT-2's token ids of `text` (a list of ints).", "a toy vocabulary: ranks, pre-token boundaries"),
        Requirement("The text of GPT-2 token ids (invalid UTF-8 becomes", "GPT-2's vocabulary: contractions, Unicode, whitespace runs, emoji; round trip"),
        Requirement("Keep a cache `{pre-token: tokens}`", not_checked="speed only: a cache changes no result"),
    ],
)

EXERCISES = [text_to_bytes, bytes_to_text, count_pairs, merge, pretokenize, train_bpe, bpe_encode, bpe_decode,
             bytes_to_unicode, GPT2Tokenizer]
