"""Chapter 05, tokens, embeddings and a bigram model: the checks and the mistakes they name.

Text inputs are drawn from a small alphabet with a seeded generator; tensors are built from
the same generator, so every case is reproducible. `get_batch` draws random windows, so it
is judged by properties over many draws, never by equality with the reference's draws.

`BigramLM` is run with `common.module_case`: the learner's module gets the reference's weights
with `strict=True`, and a parameter-name mismatch becomes a failure that names it.
"""
import numpy as np
import torch
import torch.nn.functional as F

from ..compare import Fail, close, compare_values, describe
from ..engine import Case, Exercise, Mistake, Requirement
from ..values import TensorValue
from .common import module_case, module_compare

ALPHABET = list("abcdefghij ,.\n")


def random_text(rng, n, alphabet=ALPHABET):
    return "".join(rng.choice(alphabet, size=n))


def vocab(text):
    chars = sorted(set(text))
    return {c: i for i, c in enumerate(chars)}, {i: c for i, c in enumerate(chars)}


def long_tensor(values):
    return torch.as_tensor(np.asarray(values), dtype=torch.long)


# ---------------------------------------------------------------- build_vocab


def _vocab_compare(got, expected, args):
    """stoi must be exactly the sorted vocabulary; itos may be a dict or a list (both index
    by id). Ordering mistakes are recognised from the numbers."""
    if not (isinstance(got, tuple) and len(got) == 2):
        return Fail(f"expected a tuple (stoi, itos), got {type(got).__name__}")
    stoi, itos = got
    exp_stoi, exp_itos = expected
    if isinstance(itos, list):
        itos = dict(enumerate(itos))
    if not isinstance(stoi, dict):
        return Fail(f"stoi should be a dict from character to id, got {type(stoi).__name__}")
    text = args[0]
    if set(stoi) == set(exp_stoi) and stoi != exp_stoi:
        if sorted(stoi.values()) == list(range(len(stoi))):
            first_seen = list(dict.fromkeys(text))
            if [c for c, _ in sorted(stoi.items(), key=lambda kv: kv[1])] == first_seen:
                return Fail("stoi numbers the characters in order of first appearance, not sorted",
                            mistake=ORDER_OF_FIRST_APPEARANCE)
            return Fail("stoi numbers the characters in a different order than sorted(set(text))",
                        mistake=NOT_SORTED)
    fail = compare_values(stoi, exp_stoi, where="stoi")
    if fail:
        return fail
    return compare_values(itos, exp_itos, where="itos")


NOT_SORTED = Mistake("not sorted",
                     "list(set(text)) has no reliable order (it can change between runs): number the "
                     "characters of sorted(set(text)).",
                     lambda text: ({c: i for i, c in enumerate(reversed(sorted(set(text))))},
                                   {i: c for i, c in enumerate(reversed(sorted(set(text))))}))
ORDER_OF_FIRST_APPEARANCE = Mistake("order of first appearance",
                                    "the ids must follow the sorted characters, not the order they first appear in: "
                                    "use sorted(set(text)).",
                                    lambda text: ({c: i for i, c in enumerate(dict.fromkeys(text))},
                                                  {i: c for i, c in enumerate(dict.fromkeys(text))}))

build_vocab = Exercise(
    id="05.build_vocab", points=1, difficulty="easy", minutes=5, pure=True,
    cases=[
        Case("a short text with repeated characters", lambda rng: (random_text(rng, 40),)),
        Case("characters in reverse order of first appearance", lambda rng: ("zyx zyx\nabc!",)),
        Case("a single character", lambda rng: ("aaaa",)),
        Case("a space and a newline only at the ends", lambda rng: (" abba\n",),
             why="every character is a token, whitespace included, wherever it occurs"),
    ],
    compare=_vocab_compare,
    mistakes=[
        NOT_SORTED,
        ORDER_OF_FIRST_APPEARANCE,
        Mistake("ids start at 1",
                "ids are positions in the sorted list, starting at 0, so they can index an "
                "embedding table of V rows: enumerate(chars), not enumerate(chars, 1).",
                lambda text: ({c: i for i, c in enumerate(sorted(set(text)), 1)},
                              {i: c for i, c in enumerate(sorted(set(text)), 1)})),
        Mistake("stripped the text",
                "every character of the text is a token, spaces and newlines included (the model must "
                "learn to write them): build the vocabulary from the text as it is, not text.strip().",
                lambda text: vocab(text.strip())),
    ],
    requirements=[
        Requirement("Write `build_vocab(text) -> (stoi, itos)`", "a short text with repeated characters"),
        Requirement("every distinct character of the text is one token",
                    "a short text with repeated characters", "a single character",
                    "a space and a newline only at the ends"),
        Requirement("at the level of single characters", "a single character"),
        Requirement("The ids are the positions of the characters in the **sorted** list of the distinct characters",
                    "characters in reverse order of first appearance", "a short text with repeated characters"),
        Requirement("`itos` (\"integer to string\"): a dict from id back to character, its inverse",
                    "a short text with repeated characters", "characters in reverse order of first appearance"),
    ],
)

# ---------------------------------------------------------------- encode / decode


def _raises_naming(culprit_of):
    """A Case.run: call the function; report whether it raised KeyError/ValueError whose
    message names the culprit, or what it returned instead."""
    def run(fn, args):
        culprit = culprit_of(args)
        try:
            out = fn(*args)
        except (KeyError, ValueError) as exc:
            return {"raised": type(exc).__name__, "names the culprit": str(culprit) in str(exc)}
        return {"returned": out}
    return run


def _raise_compare(what):
    def compare(got, expected, args):
        if "returned" in expected:          # the expected value is a mistake's output
            return compare_values(got, expected, check_dtype=False)
        if "returned" in got:
            return Fail(f"{what} must raise a KeyError or ValueError that names it; your "
                        f"function returned {got['returned']!r} instead")
        if not got["names the culprit"]:
            return Fail(f"your {got['raised']} does not name the {what}: say which one, "
                        "e.g. raise KeyError(f\"character {ch!r} is not in the vocabulary\")")
        return None
    return compare


def _ids_list_compare(got, expected, args):
    """A Python list of Python ints, as the instructions say: not a tuple, not 0-d tensors."""
    if isinstance(expected, list) and isinstance(got, (list, tuple)) and len(got) == len(expected):
        if not isinstance(got, list):
            return Fail(f"encode returns a Python list of ints, got a {type(got).__name__}: wrap it in list(...)")
        odd = next((v for v in got if not isinstance(v, int) or isinstance(v, bool)), None)
        if odd is not None:
            return Fail(f"encode returns a list of Python ints, but one item is {describe(odd)}: "
                        "use the ids of stoi as they are (int(...) turns a 0-d tensor into an int)")
    return compare_values(got, expected)


def _encode_inputs(rng, n):
    text = random_text(rng, 30)
    return random_text(rng, n, sorted(set(text))), vocab(text)[0]


def _unknown_char(rng):
    text, stoi = _encode_inputs(rng, 12)
    return text[:5] + "@" + text[5:], stoi


encode = Exercise(
    id="05.encode", points=1, difficulty="easy", minutes=5, pure=True,
    cases=[
        Case("a text of 20 known characters", lambda rng: _encode_inputs(rng, 20)),
        Case("the empty string", lambda rng: ("", vocab("abc")[0])),
        Case("an unknown character '@' (a clear error naming it)", _unknown_char,
             run=_raises_naming(lambda args: "@"), compare=_raise_compare("unknown character")),
    ],
    compare=_ids_list_compare,
    mistakes=[
        Mistake("skipped unknown characters",
                "dropping a character silently changes the text the model sees; raise a "
                "KeyError that names it instead.",
                lambda text, stoi: [stoi[c] for c in text if c in stoi]),
        Mistake("unknown characters mapped to 0",
                "stoi.get(c, 0) turns every unknown character into the first character of the "
                "vocabulary, silently; raise a KeyError that names it instead.",
                lambda text, stoi: [stoi.get(c, 0) for c in text]),
        Mistake("returned a tensor",
                "encode returns a plain Python list of ints; wrap it with torch.tensor(...) "
                "where you need a tensor.",
                lambda text, stoi: torch.tensor([stoi[c] for c in text], dtype=torch.long)),
        Mistake("returned a tuple",
                "encode returns a Python list, as the instructions say: "
                "[stoi[ch] for ch in text], not tuple(...).",
                lambda text, stoi: tuple(stoi[c] for c in text)),
    ],
    requirements=[
        Requirement("`encode(text, stoi)` maps each character to its id and returns a Python `list` of ints",
                    "a text of 20 known characters", "the empty string"),
        Requirement("must stop the program with a clear `KeyError` or `ValueError` whose message *names the character*",
                    "an unknown character '@' (a clear error naming it)",
                    not_checked="(the ValueError half) either error is accepted; the reference raises KeyError, "
                                "tests/alternatives/ch05.py's encode raises ValueError and passes"),
        Requirement("not be skipped, and not be quietly mapped to id 0", "an unknown character '@' (a clear error naming it)"),
        Requirement("Raises KeyError naming any character not in `stoi`", "an unknown character '@' (a clear error naming it)"),
        Requirement("Round trip: `decode(encode(s, stoi), itos) == s`", "a text of 20 known characters", "the empty string"),
    ],
)


def _decode_inputs(rng, n, as_tensor=False):
    stoi, itos = vocab(random_text(rng, 30))
    ids = rng.integers(0, len(itos), size=n).tolist()
    return (long_tensor(ids) if as_tensor else ids), itos


def _unknown_id(rng):
    ids, itos = _decode_inputs(rng, 6)
    return ids[:3] + [99] + ids[3:], itos


def _negative_id(rng):
    ids, itos = _decode_inputs(rng, 6)
    return ids[:2] + [-1] + ids[2:], itos


def _decode_by_list(ids, itos):
    chars = [itos[i] for i in range(len(itos))]      # Python lists read -1 as the last item
    ids = ids.tolist() if torch.is_tensor(ids) else ids
    if any(i >= len(chars) for i in ids):
        raise KeyError(f"id {max(ids)} is not in the vocabulary")
    return "".join(chars[i] for i in ids)


decode = Exercise(
    id="05.decode", points=1, difficulty="easy", minutes=5, pure=True,
    cases=[
        Case("a list of 20 ids", lambda rng: _decode_inputs(rng, 20)),
        Case("a 1-D tensor of ids (as a model produces them)", lambda rng: _decode_inputs(rng, 9, True)),
        Case("an empty list", lambda rng: ([], vocab("abc")[1])),
        Case("an unknown id 99 (a clear error naming it)", _unknown_id,
             run=_raises_naming(lambda args: 99), compare=_raise_compare("unknown id")),
        Case("a negative id -1 is outside the vocabulary too", _negative_id,
             run=_raises_naming(lambda args: -1), compare=_raise_compare("unknown id"),
             why="an itos turned into a list would read -1 as the last character, silently"),
    ],
    compare=close(),
    mistakes=[
        Mistake("returned a list of characters",
                "decode returns one string: \"\".join(...) the characters.",
                lambda ids, itos: [itos[i] for i in (ids.tolist() if torch.is_tensor(ids) else ids)]),
        Mistake("joined with spaces",
                "characters follow each other directly, spaces are characters of their own: "
                "join with \"\", not \" \".",
                lambda ids, itos: " ".join(itos[i] for i in (ids.tolist() if torch.is_tensor(ids) else ids))),
        Mistake("negative ids read from the end",
                "ids run from 0 to len(itos) - 1; a list of characters indexed with -1 silently gives "
                "the last one. Look ids up in the itos dict, or check 0 <= id < len(itos), and raise "
                "a KeyError naming any other id.", _decode_by_list),
    ],
    requirements=[
        Requirement("`decode(ids, itos)` maps back and joins the characters into one string",
                    "a list of 20 ids", "an empty list"),
        Requirement("`decode` must accept a 1-D tensor as well as a list", "a 1-D tensor of ids (as a model produces them)"),
        Requirement("Round trip: `decode(encode(s, stoi), itos) == s`", "a list of 20 ids", "an empty list"),
        Requirement("Likewise `decode` of an id outside the vocabulary raises a `KeyError` or `ValueError` naming the id",
                    "an unknown id 99 (a clear error naming it)", "a negative id -1 is outside the vocabulary too",
                    not_checked="(the ValueError half) either error is accepted; the reference raises KeyError, "
                                "tests/alternatives/ch05.py's decode raises ValueError and passes"),
        Requirement("A list (or 1-D tensor) of ids -> the string. Raises KeyError naming any unknown id",
                    "a list of 20 ids", "a 1-D tensor of ids (as a model produces them)",
                    "an unknown id 99 (a clear error naming it)"),
    ],
)

# ---------------------------------------------------------------- get_batch

DRAWS = 60


def _batch_inputs(rng, n, batch_size, block_size):
    # distinct values, so each id tells where in `data` it came from
    data = long_tensor(rng.permutation(1000)[:n])
    generator = torch.Generator().manual_seed(int(rng.integers(2**31)))
    return data, batch_size, block_size, generator


def _draw_batches(fn, args):
    """Many batches from one generator, then one more from a generator in the first one's
    initial state after disturbing the global random state (reproducibility)."""
    data, batch_size, block_size, generator = args
    state = generator.get_state()
    xs, ys = zip(*(fn(data, batch_size, block_size, generator) for _ in range(DRAWS)))
    again = torch.Generator()
    again.set_state(state)
    torch.rand(10)                                       # move the global random state on
    x_again, _ = fn(data, batch_size, block_size, again)
    return list(xs), list(ys), x_again


def _batch_properties(got, expected, args):
    """Judge random batches by what must hold for every draw, never by the reference's draws."""
    xs, ys, x_again = got
    data, batch_size, block_size = args[0].array, args[1], args[2]
    n = len(data)
    where = {int(v): i for i, v in enumerate(data)}
    starts = []
    for x, y in zip(xs, ys):
        for name, t in (("x", x), ("y", y)):
            if not hasattr(t, "dtype") or getattr(t, "shape", None) != (batch_size, block_size):
                return Fail(f"{name} should be a tensor of shape (batch_size, block_size) = "
                            f"{(batch_size, block_size)}, got {getattr(t, 'shape', type(t).__name__)}")
            if t.dtype != "torch.int64":
                return Fail(f"{name} should be a torch.long tensor (ids index an embedding), got {t.dtype}")
        x, y = x.array, y.array
        for row_x, row_y in zip(x, y):
            s = where.get(int(row_x[0]))
            if s is None or not np.array_equal(row_x, data[s:s + block_size]):
                return Fail(f"each row of x must be a window of consecutive ids of data; got {row_x.tolist()}")
            if np.array_equal(row_y, row_x):
                return Fail("y equals x: the target of position t is the *next* id, data[s+t+1]",
                            mistake=Y_NOT_SHIFTED)
            if not np.array_equal(row_y, data[s + 1:s + 1 + block_size]):
                return Fail(f"y must be x shifted by one (data[s+1 : s+1+block_size]); for the window "
                            f"starting at {s} it is {row_y.tolist()}, expected {data[s + 1:s + 1 + block_size].tolist()}")
            starts.append(s)
    first, last = 0, n - block_size - 1
    seen = set(starts)
    if last not in seen:
        return Fail(f"over {len(starts)} windows the last possible start, {last} = len(data) - "
                    f"block_size - 1, never appeared (largest seen: {max(starts)})",
                    mistake=OFF_BY_ONE_AT_THE_END)
    if first not in seen:
        return Fail(f"over {len(starts)} windows the first possible start, 0, never appeared",
                    mistake=NEVER_STARTS_AT_0)
    if not (hasattr(x_again, "array") and np.array_equal(x_again.array, xs[0].array)):
        return Fail("the same generator state gave a different batch: draw the starts with "
                    "generator=generator", mistake=IGNORED_THE_GENERATOR)
    return None


def _gb_off_by_one(data, batch_size, block_size, generator):
    starts = torch.randint(len(data) - block_size - 1, (batch_size,), generator=generator)
    x = torch.stack([data[s:s + block_size] for s in starts])
    return x, torch.stack([data[s + 1:s + 1 + block_size] for s in starts])


def _gb_not_shifted(data, batch_size, block_size, generator):
    starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    x = torch.stack([data[s:s + block_size] for s in starts])
    return x, x.clone()


def _gb_from_one(data, batch_size, block_size, generator):
    starts = torch.randint(1, len(data) - block_size, (batch_size,), generator=generator)
    x = torch.stack([data[s:s + block_size] for s in starts])
    return x, torch.stack([data[s + 1:s + 1 + block_size] for s in starts])


def _gb_global_rng(data, batch_size, block_size, generator):
    starts = torch.randint(len(data) - block_size, (batch_size,))
    x = torch.stack([data[s:s + block_size] for s in starts])
    return x, torch.stack([data[s + 1:s + 1 + block_size] for s in starts])


OFF_BY_ONE_AT_THE_END = Mistake("off-by-one at the end",
                                "a window starting at s needs data[s + block_size] for its last target, so the "
                                "starts are 0 .. len(data) - block_size - 1: torch.randint(len(data) - block_size, ...) "
                                "(the bound is exclusive).",
                                _gb_off_by_one)
NEVER_STARTS_AT_0 = Mistake("never starts at 0",
                            "start 0 is a valid window too: torch.randint(len(data) - block_size, ...) draws "
                            "from 0 upwards.",
                            _gb_from_one)
IGNORED_THE_GENERATOR = Mistake("ignored the generator",
                                "pass generator=generator to torch.randint, so that a seeded generator gives the "
                                "same batches whatever else used the global random state.",
                                _gb_global_rng)
Y_NOT_SHIFTED = Mistake("y not shifted",
                        "the target of x[t] is the next id: y = data[s+1 : s+1+block_size].",
                        _gb_not_shifted)

ALL_BATCH_CASES = (f"{DRAWS} batches of 8 windows of 4 from 24 ids", f"{DRAWS} batches of one window",
                   "block_size = len(data) - 1: a single possible start")

get_batch = Exercise(
    id="05.get_batch", points=2, difficulty="medium", minutes=15, pure=True,
    cases=[
        Case(f"{DRAWS} batches of 8 windows of 4 from 24 ids", lambda rng: _batch_inputs(rng, 24, 8, 4), run=_draw_batches,
             why="every start 0..19 must be possible, and over 480 windows each appears"),
        Case(f"{DRAWS} batches of one window", lambda rng: _batch_inputs(rng, 12, 1, 3),
             run=_draw_batches),
        Case("block_size = len(data) - 1: a single possible start",
             lambda rng: _batch_inputs(rng, 6, 4, 5), run=_draw_batches),
    ],
    compare=_batch_properties,
    mistakes=[
        OFF_BY_ONE_AT_THE_END,
        Y_NOT_SHIFTED,
        NEVER_STARTS_AT_0,
        IGNORED_THE_GENERATOR,
    ],
    requirements=[
        Requirement("A **batch** stacks `batch_size` $= B$ windows with random starts: `x` and `y` are `(B, T)` `torch.long` tensors",
                    *ALL_BATCH_CASES),
        Requirement("Random windows of `data` (1-D long tensor): x, y of shape (batch_size, block_size), y = x shifted by one",
                    *ALL_BATCH_CASES),
        Requirement("A window of `block_size` $= T$ ids starting at position $s$ is an input; the *same window shifted by one* is its target",
                    *ALL_BATCH_CASES),
        Requirement("the starts are $0, 1, \\dots, N - T - 1$, that is **$N - T$ of them**",
                    *ALL_BATCH_CASES),
        Requirement("the first *and the last* possible start both appear",
                    *ALL_BATCH_CASES),
        Requirement("the same seeded `torch.Generator` must give the same batch, whatever else used the global random state meanwhile",
                    *ALL_BATCH_CASES),
        Requirement("The `generator` argument makes the batches reproducible", *ALL_BATCH_CASES),
        Requirement("shapes and dtype", *ALL_BATCH_CASES),
    ],
)

# ---------------------------------------------------------------- embedding_lookup


def _table(rng, V, C):
    return torch.as_tensor(rng.standard_normal((V, C)), dtype=torch.float32)


embedding_lookup = Exercise(
    id="05.embedding_lookup", points=1, difficulty="easy", minutes=5, pure=True,
    cases=[
        Case("a 1-D list of 7 ids, V=6, C=8", lambda rng: (_table(rng, 6, 8), long_tensor(rng.integers(0, 6, 7)))),
        Case("a (B, T) = (3, 5) batch of ids", lambda rng: (_table(rng, 12, 6), long_tensor(rng.integers(0, 12, (3, 5))))),
        Case("a batch of one id, (1, 1)", lambda rng: (_table(rng, 5, 3), long_tensor([[4]]))),
        Case("ids of three axes, (2, 3, 4): any shape S", lambda rng: (_table(rng, 7, 5), long_tensor(rng.integers(0, 7, (2, 3, 4)))),
             why="the result is S + (C,) for every shape S of ids, not only (T,) and (B, T)"),
    ],
    # picking rows is exact, and so is one_hot @ E (one weight times 1, plus zeros)
    compare=close(rtol=0, atol=0),
    mistakes=[
        Mistake("indexed columns instead of rows",
                "E is (V, C): one row per token. Take rows, E[ids], not columns, E[:, ids].",
                lambda E, ids: E[:, ids]),
        Mistake("flattened the ids",
                "the result keeps the shape of ids and adds one axis of size C: (B, T) ids give "
                "(B, T, C). E[ids] does that by itself; do not flatten ids first.",
                lambda E, ids: E[ids.reshape(-1)]),
    ],
    requirements=[
        Requirement("`E` is `(V, C)` float32", "a 1-D list of 7 ids, V=6, C=8", "a (B, T) = (3, 5) batch of ids"),
        Requirement("`ids` is a long tensor of *any* shape $S$", "a 1-D list of 7 ids, V=6, C=8",
                    "a (B, T) = (3, 5) batch of ids", "ids of three axes, (2, 3, 4): any shape S"),
        Requirement("the result has shape $S + (C,)$", "a 1-D list of 7 ids, V=6, C=8", "a (B, T) = (3, 5) batch of ids",
                    "a batch of one id, (1, 1)", "ids of three axes, (2, 3, 4): any shape S"),
        Requirement("we index: `E[ids]`", "a 1-D list of 7 ids, V=6, C=8", "a (B, T) = (3, 5) batch of ids"),
    ],
)

# ---------------------------------------------------------------- bigram_counts


def _counts_compare(got, expected, args):
    """Exact whole numbers, as the int64 the docstring asks for (a float32 table of counts is
    recognised by name: `torch.zeros(V, V)` is the usual cause)."""
    if isinstance(got, TensorValue) and isinstance(expected, TensorValue) and got.dtype != expected.dtype \
            and compare_values(got, expected, rtol=0, atol=0, check_dtype=False) is None:
        return Fail(f"the counts are right but their dtype is {got.dtype}; the docstring asks for int64 "
                    "(torch.long) counts", mistake=FLOAT_COUNTS)
    return compare_values(got, expected, rtol=0, atol=0)


def _float_counts(ids, V):
    counts = torch.zeros(V, V)                # float32 by default
    for a, b in zip(ids[:-1].tolist(), ids[1:].tolist()):
        counts[a, b] += 1
    return counts


def _fancy_index_counts(ids, V):
    counts = torch.zeros(V, V, dtype=torch.long)
    counts[ids[:-1], ids[1:]] += 1            # a repeated (a, b) is written, not added, once
    return counts


FLOAT_COUNTS = Mistake("counts in float32",
                       "torch.zeros(V, V) is float32; counts are whole numbers and the docstring asks for "
                       "int64: torch.zeros(V, V, dtype=torch.long), or torch.bincount, which counts in int64.",
                       _float_counts)


def _loop_counts(ids, V, pairs):
    counts = torch.zeros(V, V, dtype=torch.long)
    for a, b in pairs:
        counts[a, b] += 1
    return counts


bigram_counts = Exercise(
    id="05.bigram_counts", points=1, difficulty="easy", minutes=10, pure=True,
    cases=[
        Case("50 ids from a vocabulary of 6", lambda rng: (long_tensor(rng.integers(0, 6, 50)), 6)),
        Case("two ids: one pair", lambda rng: (long_tensor([2, 0]), 3)),
        Case("a vocabulary of 9 where most characters never occur",
             lambda rng: (long_tensor(rng.integers(0, 3, 30) * 3), 9)),
    ],
    compare=_counts_compare,
    mistakes=[
        Mistake("transposed",
                "row = current character, column = next: N[ids[t], ids[t+1]] += 1.",
                lambda ids, V: _loop_counts(ids, V, zip(ids[1:].tolist(), ids[:-1].tolist()))),
        Mistake("wrapped around",
                "the last id has no successor: there are len(ids) - 1 pairs, (ids[:-1], ids[1:]); "
                "torch.roll would add a pair (last, first) that is not in the text.",
                lambda ids, V: _loop_counts(ids, V, zip(ids.tolist(), torch.roll(ids, -1).tolist()))),
        Mistake("missed the last pair",
                "range(len(ids) - 2) stops one pair early: the pairs are t = 0 .. len(ids) - 2.",
                lambda ids, V: _loop_counts(ids, V, zip(ids[:-2].tolist(), ids[1:-1].tolist()))),
        FLOAT_COUNTS,
        Mistake("+= on repeated pairs counted once",
                "counts[ids[:-1], ids[1:]] += 1 reads all cells, adds 1 and writes them back, so a "
                "pair that occurs 5 times is counted once. Count with torch.bincount(a * V + b, "
                "minlength=V * V), index_put_(..., accumulate=True), or a loop.",
                _fancy_index_counts),
    ],
    requirements=[
        Requirement("1-D long tensor of ids -> (V, V) int64 counts, N[a, b] = how often b follows a",
                    "50 ids from a vocabulary of 6", "two ids: one pair", "a vocabulary of 9 where most characters never occur"),
        Requirement("row = current character, column = next", "50 ids from a vocabulary of 6", "two ids: one pair"),
        Requirement("a 1-D long tensor of $n$ ids has $n - 1$ consecutive pairs; no wrap-around from the last id to the first",
                    "two ids: one pair", "50 ids from a vocabulary of 6"),
        Requirement("Write `bigram_counts(ids, vocab_size)`", "a vocabulary of 9 where most characters never occur",
                    "50 ids from a vocabulary of 6"),
        Requirement("the result has shape $S + (C,)$", not_checked="section 5's sentence about embedding_lookup, "
                    "which the tracer reads as part of this section (the (V, V) shape is checked above)"),
    ],
)

# ---------------------------------------------------------------- bigram_nll


def _ref_probs(counts, smoothing, dim=1):
    s = counts.double() + smoothing
    return s / s.sum(dim=dim, keepdim=True)


def _nll_inputs(rng, unseen=False, smoothing=None):
    train = long_tensor(rng.integers(0, 5, 60))
    counts = torch.bincount(train[:-1] * 6 + train[1:], minlength=36).view(6, 6)  # id 5 never occurs
    ids = long_tensor(rng.integers(0, 5, 20))
    if unseen:
        ids = torch.cat([ids, long_tensor([5, 5])])
    return (counts, ids) if smoothing is None else (counts, ids, smoothing)


def _nll_compare(got, expected, args):
    """A Python float (the signature says so), within 1e-5 relative: float32 and float64 logs
    differ around 1e-7 relative, the known mistakes by far more."""
    if not isinstance(got, float):
        return Fail(f"bigram_nll returns a Python float, got {describe(got)}", mistake=RETURNED_A_TENSOR)
    return compare_values(got, expected, rtol=1e-5, atol=1e-6)


RETURNED_A_TENSOR = Mistake("returned a tensor",
                            "the loss is one number: .item() turns a 0-d tensor into the Python float "
                            "the signature promises (-> float).",
                            lambda c, ids, s=1.0: -_ref_probs(c, s)[ids[:-1], ids[1:]].log().mean())

bigram_nll = Exercise(
    id="05.bigram_nll", points=1, difficulty="medium", minutes=10, pure=True,
    cases=[
        Case("20 ids, default smoothing 1.0", lambda rng: _nll_inputs(rng)),
        Case("a pair never seen in training (smoothing keeps it finite)", lambda rng: _nll_inputs(rng, unseen=True)),
        Case("smoothing=0.1", lambda rng: _nll_inputs(rng, smoothing=0.1)),
    ],
    compare=_nll_compare,
    mistakes=[
        Mistake("normalised columns",
                "P(next | current) is a row of the table: divide each row by its own sum, "
                "sum(dim=1, keepdim=True).",
                lambda c, ids, s=1.0: -_ref_probs(c, s, dim=0)[ids[:-1], ids[1:]].log().mean().item()),
        Mistake("forgot the minus sign",
                "log-probabilities are negative; the loss is the *negative* mean log-likelihood.",
                lambda c, ids, s=1.0: _ref_probs(c, s)[ids[:-1], ids[1:]].log().mean().item()),
        Mistake("summed instead of averaged",
                "average over the len(ids) - 1 pairs so that texts of any length compare.",
                lambda c, ids, s=1.0: -_ref_probs(c, s)[ids[:-1], ids[1:]].log().sum().item()),
        Mistake("ignored smoothing",
                "add `smoothing` to every count before normalising; without it an unseen pair "
                "has probability 0 and an infinite loss.",
                lambda c, ids, s=1.0: -_ref_probs(c, 0.0)[ids[:-1], ids[1:]].log().mean().item()),
        RETURNED_A_TENSOR,
    ],
    requirements=[
        Requirement("Write `bigram_nll(counts, ids, smoothing=1.0) -> float` (a Python float, in nats)",
                    "20 ids, default smoothing 1.0", "smoothing=0.1"),
        Requirement("Normalising each row turns counts into probabilities", "20 ids, default smoothing 1.0"),
        Requirement("The standard measure is the **average negative log-likelihood** of each next character",
                    "20 ids, default smoothing 1.0", "smoothing=0.1"),
        Requirement("**Smoothing** adds a pseudo-count $\\alpha$ to every cell before normalising",
                    "smoothing=0.1", "a pair never seen in training (smoothing keeps it finite)"),
        Requirement("A pair never seen in training has $P = 0$", "a pair never seen in training (smoothing keeps it finite)"),
        Requirement("`E` is `(V, C)` float32", not_checked="section 5's sentence about embedding_lookup, "
                    "which the tracer reads as part of this section"),
        Requirement("the result has shape $S + (C,)$", not_checked="section 5's sentence about embedding_lookup, "
                    "which the tracer reads as part of this section"),
    ],
)

# ---------------------------------------------------------------- BigramLM


def _bigram_call(model, idx, targets):
    logits, loss = model(idx, targets)
    return logits, loss


def _bigram_gradient(model, idx, targets):
    """The gradient the loss sends into the table: the table is learned by backpropagation."""
    _, loss = model(idx, targets)
    loss.backward()
    return model.token_embedding_table.weight.grad


def _bigram_inputs(rng, V, B, T, with_targets=True):
    idx = long_tensor(rng.integers(0, V, (B, T)))
    targets = long_tensor(rng.integers(0, V, (B, T))) if with_targets else None
    return (V,), (idx, targets)


class _FlatLogits(torch.nn.Module):
    def __init__(self, V):
        super().__init__()
        self.token_embedding_table = torch.nn.Embedding(V, V)

    def forward(self, idx, targets=None):
        logits = self.token_embedding_table(idx)
        if targets is None:
            return logits, None
        B, T, V = logits.shape
        logits = logits.view(B * T, V)
        return logits, F.cross_entropy(logits, targets.view(B * T))


class _SoftmaxFirst(_FlatLogits):
    def forward(self, idx, targets=None):
        logits = self.token_embedding_table(idx)
        if targets is None:
            return logits, None
        probs = F.softmax(logits, dim=-1)
        return logits, F.cross_entropy(probs.flatten(0, 1), targets.flatten())


class _SummedLoss(_FlatLogits):
    def forward(self, idx, targets=None):
        logits = self.token_embedding_table(idx)
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="sum")


class _Misnamed(torch.nn.Module):
    def __init__(self, V):
        super().__init__()
        self.embedding = torch.nn.Embedding(V, V)

    def forward(self, idx, targets=None):
        logits = self.embedding(idx)
        return logits, None if targets is None else F.cross_entropy(logits.flatten(0, 1), targets.flatten())


_bigram_run = module_case("grader.reference.ch05.BigramLM", _bigram_call)

_grad_compare = module_compare(close(rtol=1e-5, atol=1e-7))

BigramLM = Exercise(
    id="05.BigramLM", points=2, difficulty="medium", minutes=15,
    cases=[
        Case("B=4, T=8, V=11 with targets", lambda rng: _bigram_inputs(rng, 11, 4, 8), run=_bigram_run),
        Case("without targets: (logits, None)", lambda rng: _bigram_inputs(rng, 7, 2, 5, False), run=_bigram_run),
        Case("a batch of one token, (1, 1)", lambda rng: _bigram_inputs(rng, 5, 1, 1), run=_bigram_run),
        Case("the loss's gradient reaches the table", lambda rng: _bigram_inputs(rng, 6, 3, 4),
             run=module_case("grader.reference.ch05.BigramLM", _bigram_gradient), compare=_grad_compare,
             why="the rows are learned by training on this loss: it must be a tensor connected to the table"),
    ],
    # the same weights give the same logits exactly; the loss may be reduced in another
    # order (float32: a few 1e-7 relative)
    compare=module_compare(close(rtol=1e-5, atol=1e-6, parts=("logits", "loss"))),
    mistakes=[
        Mistake("returned flattened logits",
                "flatten logits to (B*T, V) only for F.cross_entropy; return them as (B, T, V), "
                "the shape the rest of the course reads (logits[:, -1, :]).",
                _FlatLogits),
        Mistake("softmax before cross_entropy",
                "F.cross_entropy takes raw logits and applies log-softmax itself; a softmax before "
                "it squashes the loss into a narrow range and slows learning.",
                _SoftmaxFirst),
        Mistake("summed the loss",
                "the loss is the mean over the B*T positions (F.cross_entropy's default), so its "
                "size does not depend on the batch size.",
                _SummedLoss),
        Mistake("misnamed parameter",
                "name the table exactly `token_embedding_table`: weights are saved and loaded by "
                "attribute name.",
                _Misnamed),
    ],
    requirements=[
        Requirement("Write `BigramLM(vocab_size)`, an `nn.Module` with one attribute `token_embedding_table = nn.Embedding(vocab_size, vocab_size)`",
                    "B=4, T=8, V=11 with targets", "without targets: (logits, None)", "a batch of one token, (1, 1)"),
        Requirement("(the grader loads its reference weights into your model by that name)",
                    "B=4, T=8, V=11 with targets"),
        Requirement("`forward(idx, targets=None) -> (logits, loss)`, where `loss` is `None` when no targets are given",
                    "without targets: (logits, None)", "B=4, T=8, V=11 with targets"),
        Requirement("but *return* the logits in their `(B, T, V)` shape", "B=4, T=8, V=11 with targets",
                    "a batch of one token, (1, 1)"),
        Requirement("idx, targets: (B, T) long -> logits (B, T, V), mean cross-entropy loss or None",
                    "B=4, T=8, V=11 with targets", "the loss's gradient reaches the table"),
        Requirement("Do not apply a softmax yourself", "B=4, T=8, V=11 with targets", "the loss's gradient reaches the table"),
        Requirement("its rows are learned like any other weights", "the loss's gradient reaches the table"),
        Requirement("`E` is `(V, C)` float32", not_checked="section 5's sentence about embedding_lookup, "
                    "which the tracer reads as part of this section"),
        Requirement("Sample: start from a newline", not_checked="the notebook's demonstration of the counting model, "
                    "not an instruction for BigramLM"),
        Requirement("every model up to chapter 10's GPT keeps this last step unchanged",
                    not_checked="a remark about the chapters to come"),
    ],
)

EXERCISES = [build_vocab, encode, decode, get_batch, embedding_lookup, bigram_counts, bigram_nll, BigramLM]
