"""Chapter 09's hidden cases: other widths, head counts, lengths, probabilities and seeds than the
notebook's. The module exercises use their exercise's own run (the reference's weights, nudged)."""
import numpy as np
import torch

from ..engine import Case
from . import like
from ..exercises.ch09 import Block, FeedForward, MultiHeadAttention, _dropout_inputs, _ln_inputs, _mha_inputs, _one_hot_inputs
from ..exercises.common import randn

HIDDEN = {
    "09.split_heads": [
        Case("B=3, T=4, C=18 into 6 heads", lambda rng: (randn(rng, 3, 4, 18), 6)),
        Case("B=1, T=7, C=10 into 2 heads", lambda rng: (randn(rng, 1, 7, 10), 2)),
    ],
    "09.merge_heads": [
        Case("B=3, 6 heads, T=4, hs=3", lambda rng: (randn(rng, 3, 6, 4, 3),)),
        Case("a transposed view, 5 heads, T=3, hs=2", lambda rng: (randn(rng, 1, 3, 5, 2).transpose(1, 2),)),
    ],
    "09.MultiHeadAttention": [
        Case("n_embd=18, 3 heads, B=3, T=5", _mha_inputs((18, 3), 3, 5)),
        Case("n_embd=12, 6 heads, bias=False, B=1, T=8", _mha_inputs((12, 6, 0.0, False), 1, 8)),
        like(MultiHeadAttention, 4, "train mode with the default dropout, n_embd=18, 3 heads", _mha_inputs((18, 3), 3, 5)),
        like(MultiHeadAttention, 5, "train mode, dropout=0.4, n_embd=24, 3 heads: attention weights and output",
             _one_hot_inputs((24, 3, 0.4), B=24, T=8)),
    ],
    "09.LayerNorm": [
        Case("(3, 4, 12) activations, offset and scaled", _ln_inputs((12,), 3, 4, 12, scale=4.0, shift=-7.0)),
        Case("eps=0.05, bias=False, (2, 6) activations", _ln_inputs((6, 0.05, False), 2, 6, scale=0.2)),
    ],
    "09.gelu": [
        Case("a (3, 5, 4) tensor", lambda rng: (randn(rng, 3, 5, 4, scale=3.0),)),
        Case("values in [-12, 12]", lambda rng: (torch.as_tensor(rng.uniform(-12, 12, 40), dtype=torch.float32),)),
    ],
    "09.dropout": [
        Case("training, p=0.25, a (48, 400) tensor", _dropout_inputs((48, 400), 0.25, True)),
        Case("eval mode, p=0.7, float64", _dropout_inputs((6, 20), 0.7, False, np.float64)),
        Case("training, p=1, a (5, 7) tensor", _dropout_inputs((5, 7), 1.0, True)),
    ],
    "09.FeedForward": [
        Case("n_embd=12, B=3, T=4", lambda rng: ((12,), randn(rng, 3, 4, 12, scale=3.0))),
        Case("dropout=0.3 in eval mode, bias=False, n_embd=6, B=2, T=7", lambda rng: ((6, 0.3, False), randn(rng, 2, 7, 6, scale=2.0))),
        like(FeedForward, 2, "train mode with the default dropout, n_embd=12",
             lambda rng: ((12,), randn(rng, 3, 4, 12, scale=3.0))),
        like(FeedForward, 3, "train mode, dropout=0.45, n_embd=12, 2304 elements",
             lambda rng: ((12, 0.45), randn(rng, 12, 16, 12, scale=3.0))),
    ],
    "09.Block": [
        Case("n_embd=12, 3 heads, B=3, T=5", lambda rng: ((12, 3), randn(rng, 3, 5, 12))),
        Case("n_embd=10, 5 heads, bias=False, B=1, T=6, x30",
             lambda rng: ((10, 5, 0.0, False), randn(rng, 1, 6, 10, scale=30.0))),
        like(Block, 3, "train mode with the default dropout, n_embd=12, 3 heads", lambda rng: ((12, 3), randn(rng, 3, 5, 12))),
        like(Block, 4, "train mode, dropout=0.2 reaches attn and mlp, n_embd=12, 3 heads",
             lambda rng: ((12, 3, 0.2), randn(rng, 12, 16, 12))),
    ],
}
