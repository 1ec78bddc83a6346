"""Chapter 11's hidden cases: other widths, head counts, lengths, paddings, vocabularies and
seeds than the notebook's."""

from ..engine import Case
from ..exercises.ch11 import (_empty_rows_zero, _lsce_inputs, _run_attention, _run_decoder, _run_encoder,
                              _run_greedy, _run_seq2seq, _seq2seq_inputs, _tokens, causal, padding)
from ..exercises.common import randn

HIDDEN = {
    "11.CrossAttention": [
        Case("5 decoder positions over a padded memory of 6 (lengths 6, 4, 1), 3 heads, d_model=12",
             lambda rng: (12, 3, randn(rng, 3, 5, 12), randn(rng, 3, 6, 12), padding([6, 4, 1], 6)[:, None, :]),
             run=_run_attention),
        Case("self-attention with a causal mask, 2 heads, d_model=10, T=6",
             lambda rng: (10, 2, randn(rng, 2, 6, 10), None, causal(6)), run=_run_attention),
        Case("a source with no real token in a batch of two",
             lambda rng: (8, 4, randn(rng, 2, 3, 8), randn(rng, 2, 4, 8), padding([3, 0], 4)[:, None, :]),
             run=_run_attention, compare=_empty_rows_zero),
    ],
    "11.EncoderLayer": [
        Case("d_model=12, 3 heads, d_ff=20, sources of lengths 6 and 2",
             lambda rng: (12, 3, 20, randn(rng, 2, 6, 12), padding([6, 2], 6)), run=_run_encoder),
    ],
    "11.DecoderLayer": [
        Case("d_model=12, 3 heads, d_ff=24, 6 target positions over sources of lengths 3 and 5",
             lambda rng: (12, 3, 24, randn(rng, 2, 6, 12), randn(rng, 2, 5, 12), padding([3, 5], 5)),
             run=_run_decoder),
    ],
    "11.Seq2SeqTransformer": [
        Case("three padded sources (lengths 4, 7, 2), 5 target tokens", _seq2seq_inputs([4, 7, 2], 7, 5),
             run=_run_seq2seq),
        Case("pad_id=2, two sources", _seq2seq_inputs([3, 6], 6, 2, pad_id=2), run=_run_seq2seq),
    ],
    "11.label_smoothed_cross_entropy": [
        Case("(B, T, V) = (2, 7, 11) logits, padded targets, smoothing=0.3",
             _lsce_inputs(2, 7, 11, [3, 0], smoothing=0.3)),
        Case("(N, V) = (9, 4) logits, ignore_index=2, x500", _lsce_inputs(9, 0, 4, None, ignore_index=2, scale=500.0)),
    ],
    "11.greedy_decode": [
        Case("a random model, three padded sources, max_len=6",
             lambda rng: ("random", _tokens(rng, [3, 6, 1], 6), 6), run=_run_greedy),
        Case("a model that copies its source, two rows of lengths 5 and 1",
             lambda rng: ("copy", _tokens(rng, [5, 1], 5, low=3, high=8), 7), run=_run_greedy),
    ],
}
