"""Chapter 05's hidden cases: other texts, vocabularies, batch and block sizes and seeds than the notebook's."""
from ..engine import Case
from ..exercises.ch05 import (_batch_inputs, _bigram_inputs, _bigram_run, _decode_inputs, _draw_batches,
                              _encode_inputs, _nll_inputs, _table, decode, encode, long_tensor, random_text)

HIDDEN = {
    "05.build_vocab": [
        Case("a longer text of 120 characters", lambda rng: (random_text(rng, 120),)),
        Case("a text of letters, digits and punctuation", lambda rng: (random_text(rng, 50, list("QZq09!?;: \t")),)),
        Case("a text whose only tab and newline are at its ends",
             lambda rng: ("\t" + random_text(rng, 30, list("abcxyz")) + "\n",)),
    ],
    "05.encode": [
        Case("a text of 33 known characters", lambda rng: _encode_inputs(rng, 33)),
        Case("a single character", lambda rng: _encode_inputs(rng, 1)),
    ],
    "05.decode": [
        Case("a list of 31 ids", lambda rng: _decode_inputs(rng, 31)),
        Case("a 1-D tensor of 14 ids", lambda rng: _decode_inputs(rng, 14, True)),
    ],
    "05.get_batch": [
        Case("batches of 3 windows of 6 from 15 ids", lambda rng: _batch_inputs(rng, 15, 3, 6), run=_draw_batches),
        Case("batches of 5 windows of 2 from 9 ids", lambda rng: _batch_inputs(rng, 9, 5, 2), run=_draw_batches),
    ],
    "05.embedding_lookup": [
        Case("a (B, T) = (4, 2) batch of ids, V=20, C=3",
             lambda rng: (_table(rng, 20, 3), long_tensor(rng.integers(0, 20, (4, 2))))),
        Case("a 1-D list of 11 ids, V=7, C=5", lambda rng: (_table(rng, 7, 5), long_tensor(rng.integers(0, 7, 11)))),
    ],
    "05.bigram_counts": [
        Case("80 ids from a vocabulary of 11", lambda rng: (long_tensor(rng.integers(0, 11, 80)), 11)),
        Case("a vocabulary of 4, one id repeated", lambda rng: (long_tensor([int(rng.integers(0, 4))] * 7), 4)),
    ],
    "05.bigram_nll": [
        Case("another text, default smoothing", lambda rng: _nll_inputs(rng)),
        Case("an unseen pair and smoothing=0.5", lambda rng: (*_nll_inputs(rng, unseen=True), 0.5)),
    ],
    "05.BigramLM": [
        Case("B=3, T=6, V=13 with targets", lambda rng: _bigram_inputs(rng, 13, 3, 6), run=_bigram_run),
        Case("B=2, T=4, V=9 without targets", lambda rng: _bigram_inputs(rng, 9, 2, 4, False), run=_bigram_run),
    ],
}


def _with_unknown(rng, char):
    text, stoi = _encode_inputs(rng, 25)
    at = int(rng.integers(0, len(text)))
    return text[:at] + char + text[at:], stoi


def _with_unknown_id(rng, bad):
    ids, itos = _decode_inputs(rng, 17)
    at = int(rng.integers(0, len(ids)))
    return ids[:at] + [bad] + ids[at:], itos


# The error cases reuse the public error case's run and comparator (they name '@' and id 99).
HIDDEN["05.encode"].append(Case("an unknown character '@' somewhere in a longer text",
                                lambda rng: _with_unknown(rng, "@"),
                                run=encode.cases[2].run, compare=encode.cases[2].compare))
HIDDEN["05.decode"].append(Case("an unknown id 99 somewhere in a longer list",
                                lambda rng: _with_unknown_id(rng, 99),
                                run=decode.cases[3].run, compare=decode.cases[3].compare))
HIDDEN["05.decode"].append(Case("a negative id -1 somewhere in a longer list",
                                lambda rng: _with_unknown_id(rng, -1),
                                run=decode.cases[4].run, compare=decode.cases[4].compare))
