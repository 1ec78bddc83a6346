"""Chapter 11's hidden cases: other widths, head counts, lengths, paddings, vocabularies,
dropout rates, ids and seeds than the notebook's. The train- and eval-mode cases reuse the
public cases' runs (and their teaching compares), with another dropout p and other shapes."""

from ..engine import Case
from . import like
from ..exercises.ch11 import (CrossAttention, DecoderLayer, EncoderLayer, Seq2SeqTransformer, _empty_rows_zero,
                              _lsce_inputs, _run_attention, _run_decoder, _run_encoder, _run_greedy,
                              _run_seq2seq, _seq2seq_inputs, _tokens, greedy_decode,
                              label_smoothed_cross_entropy, padding)
from ..exercises.common import lower_triangle, randn


def _with(inputs, *extra):
    return lambda rng: inputs(rng) + extra


HIDDEN = {
    "11.CrossAttention": [
        Case("5 decoder positions over a padded memory of 6 (lengths 6, 4, 1), 3 heads, d_model=12",
             lambda rng: (12, 3, randn(rng, 3, 5, 12), randn(rng, 3, 6, 12), padding([6, 4, 1], 6)[:, None, :]),
             run=_run_attention),
        Case("self-attention with a causal mask, 2 heads, d_model=10, T=6",
             lambda rng: (10, 2, randn(rng, 2, 6, 10), None, lower_triangle(6)), run=_run_attention),
        Case("a source with no real token in a batch of two",
             lambda rng: (8, 4, randn(rng, 2, 3, 8), randn(rng, 2, 4, 8), padding([3, 0], 4)[:, None, :]),
             run=_run_attention, compare=_empty_rows_zero),
        like(CrossAttention, 4, "train mode, dropout=0.3, 3 heads, d_model=12, sources of lengths 6, 2 and 4",
             lambda rng: (12, 3, randn(rng, 3, 4, 12), randn(rng, 3, 6, 12), padding([6, 2, 4], 6)[:, None, :],
                          0.3, True)),
        like(CrossAttention, 5, "eval mode, dropout=0.4, 4 heads, a causal self-attention mask",
             lambda rng: (12, 4, randn(rng, 2, 5, 12), randn(rng, 2, 5, 12), lower_triangle(5), 0.4, False)),
        like(CrossAttention, 6, "train mode with the default dropout, 3 heads, a padded memory",
             lambda rng: (12, 3, randn(rng, 2, 4, 12), randn(rng, 2, 6, 12), padding([6, 3], 6)[:, None, :])),
    ],
    "11.EncoderLayer": [
        Case("d_model=12, 3 heads, d_ff=20, sources of lengths 6 and 2",
             lambda rng: (12, 3, 20, randn(rng, 2, 6, 12), padding([6, 2], 6)), run=_run_encoder),
        like(EncoderLayer, 3, "train mode, dropout=0.2, d_model=12, 3 heads, d_ff=24, sources of lengths 6, 1 and 4",
             lambda rng: (12, 3, 24, randn(rng, 3, 6, 12), padding([6, 1, 4], 6), 0.2, True)),
        like(EncoderLayer, 4, "eval mode, dropout=0.4, d_model=12, 2 heads",
             lambda rng: (12, 2, 20, randn(rng, 2, 5, 12), padding([5, 3], 5), 0.4, False)),
        like(EncoderLayer, 5, "train mode with the default dropout, d_model=12, 4 heads",
             lambda rng: (12, 4, 24, randn(rng, 2, 5, 12), padding([5, 2], 5), None, True)),
    ],
    "11.DecoderLayer": [
        Case("d_model=12, 3 heads, d_ff=24, 6 target positions over sources of lengths 3 and 5",
             lambda rng: (12, 3, 24, randn(rng, 2, 6, 12), randn(rng, 2, 5, 12), padding([3, 5], 5)),
             run=_run_decoder),
        like(DecoderLayer, 3, "train mode, dropout=0.2, d_model=12, 3 heads, 5 target positions over sources of "
             "lengths 6, 3 and 1",
             lambda rng: (12, 3, 24, randn(rng, 3, 5, 12), randn(rng, 3, 6, 12), padding([6, 3, 1], 6), 0.2, True)),
        like(DecoderLayer, 4, "eval mode, dropout=0.4, d_model=12, 2 heads",
             lambda rng: (12, 2, 20, randn(rng, 2, 4, 12), randn(rng, 2, 3, 12), padding([3, 2], 3), 0.4, False)),
        like(DecoderLayer, 5, "train mode with the default dropout, d_model=12, 4 heads",
             lambda rng: (12, 4, 24, randn(rng, 2, 3, 12), randn(rng, 2, 5, 12), padding([5, 1], 5), None, True)),
    ],
    "11.Seq2SeqTransformer": [
        Case("three padded sources (lengths 4, 7, 2), 5 target tokens", _seq2seq_inputs([4, 7, 2], 7, 5),
             run=_run_seq2seq),
        Case("pad_id=2, two sources", _seq2seq_inputs([3, 6], 6, 2, pad_id=2), run=_run_seq2seq),
        like(Seq2SeqTransformer, 3, "train mode, dropout=0.3, three padded sources (lengths 5, 2, 4), 3 target tokens",
             _with(_seq2seq_inputs([5, 2, 4], 5, 3), 0.3, True)),
        like(Seq2SeqTransformer, 4, "eval mode, dropout=0.4, two padded sources, 5 target tokens",
             _with(_seq2seq_inputs([3, 6], 6, 5), 0.4, False)),
        like(Seq2SeqTransformer, 5, "the defaults, train mode, through forward, three sources",
             _seq2seq_inputs([4, 1, 6], 6, 3)),
        like(Seq2SeqTransformer, 6, "a source of max_len (12) tokens, a target of 9",
             _seq2seq_inputs([7, 12], 12, 9)),
        like(Seq2SeqTransformer, 7, "forward(src, tgt) on three sources, 2 target tokens",
             _seq2seq_inputs([2, 5, 3], 5, 2)),
    ],
    "11.label_smoothed_cross_entropy": [
        Case("(B, T, V) = (2, 7, 11) logits, padded targets, smoothing=0.3",
             _lsce_inputs(2, 7, 11, [3, 0], smoothing=0.3)),
        Case("(N, V) = (9, 4) logits, ignore_index=2, x500", _lsce_inputs(9, 0, 4, None, ignore_index=2, scale=500.0)),
        like(label_smoothed_cross_entropy, 4, "the defaults, (B, T, V) = (3, 4, 8) logits, padded targets",
             _lsce_inputs(3, 4, 8, [2, 0, 1])),
        like(label_smoothed_cross_entropy, 5, "the gradient of the logits, smoothing=0.15, ignore_index=1",
             _lsce_inputs(3, 5, 7, [1, 0, 3], smoothing=0.15, ignore_index=1)),
        like(label_smoothed_cross_entropy, 6, "logits (2, 3, 2, V) with V=8, padded targets",
             _lsce_inputs(2, 6, 8, [1, 3])),
        Case("ignore_index=-100 on padded targets, smoothing=0.25",
             _lsce_inputs(3, 4, 9, [1, 3, 0], smoothing=0.25, ignore_index=-100)),
    ],
    "11.greedy_decode": [
        Case("a random model, three padded sources, max_len=6",
             lambda rng: ("random", _tokens(rng, [3, 6, 1], 6), 6), run=_run_greedy),
        Case("a model that copies its source, two rows of lengths 5 and 1",
             lambda rng: ("copy", _tokens(rng, [5, 1], 5, low=3, high=8), 7), run=_run_greedy),
        like(greedy_decode, 3, "bos_id=3, eos_id=1, model.pad_id=4, a model in train mode, two rows",
             lambda rng: ("copy", _tokens(rng, [5, 2], 5, pad_id=4, low=5, high=10), 7, 3, 1, 4, True)),
        like(greedy_decode, 4, "a model with dropout=0.5 in eval mode, three padded sources, max_len=3",
             lambda rng: ("random", _tokens(rng, [4, 1, 3], 4), 3, 1, 2, 0, False)),
    ],
}
