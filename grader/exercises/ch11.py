"""Chapter 11, encoder-decoder and translation: the checks, and the mistakes they name.

The exercises and their contracts (the notebook explains each one; masks are boolean,
True = may attend):

    CrossAttention(d_model, n_head, dropout=0.0)
        attributes q_proj (C->C), kv_proj (C->2C, keys then values), out_proj (C->C), all with bias
        forward(x (B,T,C), memory (B,S,C), mask=None broadcastable to (B,T,S))
            -> (out (B,T,C), weights (B,H,T,S)); a row with no allowed key has zero weights
    EncoderLayer(d_model, n_head, d_ff, dropout=0.0)
        ln_1, self_attn, ln_2, ff = Sequential(Linear, ReLU, Linear, Dropout); pre-LN
        forward(x (B,S,C), src_mask (B,S) True at real tokens) -> (B,S,C)
    DecoderLayer(d_model, n_head, d_ff, dropout=0.0)
        ln_1, self_attn (causal), ln_2, cross_attn (padding mask), ln_3, ff; pre-LN
        forward(x (B,T,C), memory (B,S,C), src_mask (B,S)) -> (B,T,C)
    Seq2SeqTransformer(src_vocab, tgt_vocab, d_model=64, n_head=4, n_layer=2, d_ff=256,
                       max_len=32, dropout=0.0, pad_id=0)
        src_emb, tgt_emb, src_pos, tgt_pos, encoder, decoder, ln_enc, ln_dec, lm_head
        encode(src (B,S)) -> (memory (B,S,C), src_mask (B,S) = src != pad_id)
        decode(tgt (B,T), memory, src_mask) -> logits (B,T,tgt_vocab); forward(src, tgt)
    label_smoothed_cross_entropy(logits (...,V), targets (...), smoothing=0.1, ignore_index=0)
        -> scalar tensor: mean over non-ignored positions of (1-eps)*NLL + eps*mean_k(-log p_k)
    greedy_decode(model, src (B,S), max_len, bos_id, eos_id)
        -> long (B, 1+n), n <= max_len: <s>, greedy tokens, each row's </s>, then model.pad_id;
           stops as soon as every row has produced </s>

Modules are checked the chapter-09 way, with the reference's weights as data: a case's `prepare`
(the grading process, torch seeded by the engine) builds the reference module, nudges its
weights and takes them (common.reference_weights); the case's run, beside the learner's code
where chapter 11's reference is absent, loads them into the learner's module with strict=True
and calls it in eval mode. greedy_decode's cases decode with stand-in models defined here.
Known mistakes are subclasses of the reference that override `forward`, so they have the very
same parameters; they are made at first use, on the trusted side (`_over_reference`), so that
importing these checks never imports chapter 11's reference.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..compare import Fail, close, compare_values
from ..engine import Case, Exercise, Mistake, Requirement
from . import common
from .common import FLOAT32, adding_weights, lower_triangle, prepared, randn, variant, with_weights

ref = common.lazy_reference("11")   # chapter 11's reference: in inputs, prepare steps and mistakes only


def padding(lengths, S):
    """(B, S) bool, True at the first `length` positions of each row."""
    return torch.arange(S)[None, :] < torch.tensor(lengths)[:, None]


class _OnReference:
    """A known mistake written as chapter 11's reference class `base` with the methods of
    `overrides`, a plain class. The subclass is made at the first call, which happens on the
    trusted side only: importing these checks does not import the reference."""

    def __init__(self, base, overrides):
        self.base, self.overrides, self.made = base, overrides, None
        self.__name__ = self.__qualname__ = overrides.__name__
        self.__module__ = overrides.__module__

    def __call__(self, *args, **kwargs):
        if self.made is None:
            self.made = type(self.__name__, (self.overrides, getattr(ref, self.base)), {"__module__": self.__module__})
        return self.made(*args, **kwargs)


def _over_reference(base):
    """`@_over_reference("CrossAttention")` above `class _MaskIgnored:` (see _OnReference)."""
    return lambda overrides: _OnReference(base, overrides)


DROPOUT_SEED = 1234


def in_train_mode(module):
    """The module in train mode, torch seeded the same for the reference and the learner: the
    reference's weights were loaded with torch's random state moved by however many draws each
    constructor made, so the dropout masks start from a fixed seed here. A module that calls
    dropout on the same tensors in the same order as the instructions then draws the very same
    masks, and any other place or rate shows as a different output."""
    module.train()
    torch.manual_seed(DROPOUT_SEED)
    return module


def _train_mode_compare(where):
    """FLOAT32, with what a train-mode difference means for this module."""
    def compare(got, expected, args):
        fail = FLOAT32(got, expected, args)
        if fail is not None:
            fail.message += (f"\n    This case runs in train mode with dropout on (torch seeded the same for "
                             f"your module and the reference): {where}")
        return fail
    return compare


def _eval_mode_compare(got, expected, args):
    fail = FLOAT32(got, expected, args)
    if fail is not None:
        fail.message += ("\n    This case runs in eval mode with dropout > 0: dropout must do nothing "
                         "there. nn.Dropout follows model.eval() by itself; F.dropout(x, p) drops "
                         "unless you pass training=self.training.")
    return fail


# ---------------------------------------------------------------- CrossAttention

def _attention_ctor(args):
    return tuple(args[:2])   # (d_model, n_head)


@prepared(adding_weights("11", "CrossAttention", _attention_ctor, nudge=0.05))
def _run_attention(cls, args):
    d_model, n_head, x, memory, mask, weights = args
    module = with_weights(cls, (d_model, n_head), weights)
    with torch.no_grad():
        return module(x, x if memory is None else memory, mask)


def _empty_rows_zero(got, expected, args):
    fail = FLOAT32(got, expected, args)
    if fail and "NaN" in fail.message:
        fail.message += ("\n    A source with no real token has every score at -inf, and softmax of "
                         "all -inf is NaN: set the weights of masked positions to 0 after the softmax.")
    return fail


@_over_reference("CrossAttention")
class _HeadsNotTransposed:
    def forward(self, x, memory, mask=None):
        B, T, C = x.shape
        S, H = memory.size(1), self.n_head
        q = self.q_proj(x).reshape(B, H, T, C // H)
        k, v = self.kv_proj(memory).split(C, dim=2)
        k, v = k.reshape(B, H, S, C // H), v.reshape(B, H, S, C // H)
        return _attend(self, q, k, v, mask, math.sqrt(C // H), B, T, C)


def _split(self, x, memory, kv_source=None):
    B, T, C = x.shape
    src = memory if kv_source is None else kv_source
    S, H = src.size(1), self.n_head
    q = self.q_proj(x).view(B, T, H, C // H).transpose(1, 2)
    k, v = self.kv_proj(src).split(C, dim=2)
    k = k.view(B, S, H, C // H).transpose(1, 2)
    v = v.view(B, S, H, C // H).transpose(1, 2)
    return q, k, v, B, T, C


def _attend(self, q, k, v, mask, scale, B, T, C, after_softmax=False):
    scores = q @ k.transpose(-2, -1) / scale
    if mask is not None and not after_softmax:
        mask = mask.unsqueeze(-3)
        scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, -1).masked_fill(~mask, 0.0)
    else:
        weights = torch.softmax(scores, -1)
        if mask is not None:
            weights = weights * mask.unsqueeze(-3)
    out = (weights @ v).transpose(1, 2).reshape(B, T, C)
    return self.out_proj(out), weights


@_over_reference("CrossAttention")
class _KeysFromDecoder:
    def forward(self, x, memory, mask=None):
        q, k, v, B, T, C = _split(self, x, memory, kv_source=x)
        return _attend(self, q, k, v, mask, math.sqrt(C // self.n_head), B, T, C)


@_over_reference("CrossAttention")
class _MaskIgnored:
    def forward(self, x, memory, mask=None):
        return super().forward(x, memory, None)


@_over_reference("CrossAttention")
class _MaskAfterSoftmax:
    def forward(self, x, memory, mask=None):
        q, k, v, B, T, C = _split(self, x, memory)
        return _attend(self, q, k, v, mask, math.sqrt(C // self.n_head), B, T, C, after_softmax=True)


@_over_reference("CrossAttention")
class _ScaledByDModel:
    def forward(self, x, memory, mask=None):
        q, k, v, B, T, C = _split(self, x, memory)
        return _attend(self, q, k, v, mask, math.sqrt(C), B, T, C)


def _attention_dropout_ctor(args):
    d_model, n_head, p = args[0], args[1], args[5]
    return d_model, n_head, p


@prepared(adding_weights("11", "CrossAttention", _attention_dropout_ctor, nudge=0.05))
def _run_attention_dropout(cls, args):
    """Weights of the reference with dropout `p`, called in train or eval mode."""
    d_model, n_head, x, memory, mask, p, train, weights = args
    module = with_weights(cls, (d_model, n_head, p), weights)
    if train:
        in_train_mode(module)
    with torch.no_grad():
        return module(x, memory, mask)


@prepared(adding_weights("11", "CrossAttention", _attention_ctor, nudge=0.05))
def run_attention_default_dropout(cls, args):
    """Built without a dropout argument, called in train mode: the default, 0.0, drops nothing."""
    d_model, n_head, x, memory, mask, weights = args
    module = in_train_mode(with_weights(cls, (d_model, n_head), weights))
    with torch.no_grad():
        return module(x, memory, mask)


def _dropout_attention(self, x, memory, mask, where="weights", return_dropped=False, always=False):
    """Cross-attention with dropout somewhere else: on the output (`where="out"`), nowhere
    (`"none"`), on the weights that are also returned (`return_dropped`), or on in eval mode too."""
    q, k, v, B, T, C = _split(self, x, memory)
    scores = q @ k.transpose(-2, -1) / math.sqrt(C // self.n_head)
    if mask is not None:
        scores = scores.masked_fill(~mask.unsqueeze(-3), float("-inf"))
    weights = torch.softmax(scores, -1)
    if mask is not None:
        weights = weights.masked_fill(~mask.unsqueeze(-3), 0.0)
    p = self.dropout.p
    dropped = F.dropout(weights, p, training=True if always else self.training) if where == "weights" else weights
    out = self.out_proj((dropped @ v).transpose(1, 2).reshape(B, T, C))
    if where == "out":
        out = self.dropout(out)
    return out, dropped if return_dropped else weights


@_over_reference("CrossAttention")
class _DropoutOnTheOutput:
    def forward(self, x, memory, mask=None):
        return _dropout_attention(self, x, memory, mask, where="out")


@_over_reference("CrossAttention")
class _DropoutForgotten:
    def forward(self, x, memory, mask=None):
        return _dropout_attention(self, x, memory, mask, where="none")


@_over_reference("CrossAttention")
class _WeightsAfterDropout:
    def forward(self, x, memory, mask=None):
        return _dropout_attention(self, x, memory, mask, return_dropped=True)


@_over_reference("CrossAttention")
class _DropoutInEvalMode:
    def forward(self, x, memory, mask=None):
        return _dropout_attention(self, x, memory, mask, always=True)


CrossAttention = Exercise(
    id="11.CrossAttention", points=3, difficulty="medium", minutes=30,
    compare=close(rtol=1e-4, atol=1e-5, parts=("output", "attention weights")),
    cases=[
        Case("3 decoder positions over a memory of 5, no mask",
             lambda rng: (16, 2, randn(rng, 2, 3, 16), randn(rng, 2, 5, 16), None),
             run=_run_attention),
        Case("padded sources (lengths 5 and 2), mask (B, 1, S)",
             lambda rng: (16, 2, randn(rng, 2, 3, 16), randn(rng, 2, 5, 16), padding([5, 2], 5)[:, None, :]),
             run=_run_attention),
        Case("self-attention (memory = x) with a causal (T, T) mask, 4 heads",
             lambda rng: (16, 4, randn(rng, 2, 4, 16), None, lower_triangle(4)),
             run=_run_attention),
        Case("a batch of one whose source has no real token: zero weights, not NaN",
             lambda rng: (8, 2, randn(rng, 1, 2, 8), randn(rng, 1, 3, 8), torch.zeros(1, 1, 3, dtype=torch.bool)),
             run=_run_attention, compare=_empty_rows_zero),
        Case("train mode, dropout=0.5: dropout on the attention weights, weights returned before it",
             lambda rng: (16, 2, randn(rng, 2, 3, 16), randn(rng, 2, 5, 16), padding([5, 3], 5)[:, None, :], 0.5, True),
             run=_run_attention_dropout,
             compare=_train_mode_compare("apply dropout once, to the attention weights after the softmax "
                                         "and before `@ v`, and return the weights from before dropout "
                                         "(each row sums to 1)."),
             why="with dropout on, the output shows where dropout is applied and the weights whether "
                 "they are returned before it"),
        Case("eval mode, dropout=0.5: no dropout",
             lambda rng: (16, 2, randn(rng, 2, 3, 16), randn(rng, 2, 4, 16), None, 0.5, False),
             run=_run_attention_dropout, compare=_eval_mode_compare),
        Case("train mode with the default dropout=0.0: nothing dropped",
             lambda rng: (16, 2, randn(rng, 2, 3, 16), randn(rng, 2, 5, 16), None),
             run=run_attention_default_dropout, compare=_train_mode_compare("the default is dropout=0.0.")),
    ],
    mistakes=[
        Mistake("keys and values from the decoder",
                "in cross-attention only the queries come from x (the decoder); keys and values "
                "come from `memory` (the encoder's output): kv_proj(memory). The weights are then "
                "(B, H, T, S), one column per source position.",
                _KeysFromDecoder),
        Mistake("padding mask ignored",
                "`mask` marks the real source tokens: fill the scores of masked positions with "
                "-inf before the softmax, or the decoder attends to <pad>.",
                _MaskIgnored),
        Mistake("mask applied after the softmax",
                "zeroing weights after the softmax leaves rows that no longer sum to 1; set "
                "masked scores to -inf *before* the softmax so the allowed ones share all the weight.",
                _MaskAfterSoftmax),
        Mistake("scaled by sqrt(d_model) instead of sqrt(d_head)",
                "each head's dot products have d_head = d_model / n_head terms: divide the scores "
                "by sqrt(d_model // n_head).",
                _ScaledByDModel),
        Mistake("heads split without a transpose",
                "`.view(B, H, T, hs)` straight from (B, T, C) mixes positions between heads; view "
                "as (B, T, H, hs) and then .transpose(1, 2).",
                _HeadsNotTransposed),
        Mistake("dropout on the output instead of the attention weights",
                "this module's dropout goes on the attention weights, self.dropout(weights) @ v: it "
                "drops whole source positions from each query's mix. The layers around it drop the output.",
                _DropoutOnTheOutput),
        Mistake("no dropout in train mode",
                "the dropout argument is part of the contract: keep an nn.Dropout(dropout) and apply "
                "it to the weights before `@ v` (in eval mode it does nothing by itself).",
                _DropoutForgotten),
        Mistake("returned the weights after dropout",
                "return the weights from before dropout (rows that sum to 1): they are what a "
                "picture of the attention shows; only `@ v` uses the dropped ones.",
                _WeightsAfterDropout),
        Mistake("dropout also in eval mode",
                "F.dropout(w, p) drops even in eval mode, since its training argument defaults to "
                "True: use an nn.Dropout module, or pass training=self.training.",
                _DropoutInEvalMode),
    ],
    requirements=[
        Requirement("the queries come from the decoder", "3 decoder positions over a memory of 5, no mask",
                    "padded sources (lengths 5 and 2), mask (B, 1, S)"),
        Requirement("and the keys and values from the encoder's output, the memory",
                    "3 decoder positions over a memory of 5, no mask"),
        Requirement("$X$ `(B, T, C)` the decoder's states and $M$ `(B, S, C)` the memory. The attention "
                    "matrix is `(B, H, T, S)`", "3 decoder positions over a memory of 5, no mask"),
        Requirement("Split into `H` heads as in chapter 09: `(B, H, T, C/H)` for queries, `(B, H, S, C/H)` "
                    "for keys and values.", "self-attention (memory = x) with a causal (T, T) mask, 4 heads"),
        Requirement("\\frac{Q K^\\top}{\\sqrt{d_{head}}}", "3 decoder positions over a memory of 5, no mask"),
        Requirement("`mask` is a boolean tensor broadcastable to `(B, T, S)`, **True = may attend**: for "
                    "padding it is `(B, 1, S)` (the same for every query), for a causal mask `(T, T)`",
                    "padded sources (lengths 5 and 2), mask (B, 1, S)",
                    "self-attention (memory = x) with a causal (T, T) mask, 4 heads"),
        Requirement("set the forbidden scores to $-\\infty$ before the softmax",
                    "padded sources (lengths 5 and 2), mask (B, 1, S)"),
        Requirement("make fully masked rows zero rather than NaN",
                    "a batch of one whose source has no real token: zero weights, not NaN"),
        Requirement("Self-attention is the special case `memory = x`",
                    "self-attention (memory = x) with a causal (T, T) mask, 4 heads"),
        Requirement("`CrossAttention(d_model, n_head, dropout=0.0)` with exactly three `nn.Linear` layers "
                    "(with bias): `q_proj` (C → C), `kv_proj` (C → 2C: keys first, then values) and "
                    "`out_proj` (C → C)", "3 decoder positions over a memory of 5, no mask",
                    "self-attention (memory = x) with a causal (T, T) mask, 4 heads"),
        Requirement("dropout on the attention weights.",
                    "train mode, dropout=0.5: dropout on the attention weights, weights returned before it",
                    "eval mode, dropout=0.5: no dropout", "train mode with the default dropout=0.0: nothing dropped"),
        Requirement("`forward(x, memory, mask=None) -> (out, weights)`: `x` `(B, T, C)`, `memory` `(B, S, C)`, "
                    "`out` `(B, T, C)` (after `out_proj`)", "3 decoder positions over a memory of 5, no mask"),
        Requirement("`weights` `(B, H, T, S)` (before dropout)",
                    "train mode, dropout=0.5: dropout on the attention weights, weights returned before it"),
        Requirement("The grader loads the reference weights into your module (`load_state_dict(strict=True)`), "
                    "so the attribute names matter.", "3 decoder positions over a memory of 5, no mask"),
    ],
)

# ---------------------------------------------------------------- EncoderLayer


def _layer_ctor(args):
    return tuple(args[:3])   # (d_model, n_head, d_ff)


@prepared(adding_weights("11", "EncoderLayer", _layer_ctor, nudge=0.05))
def _run_encoder(cls, args):
    d_model, n_head, d_ff, x, src_mask, weights = args
    module = with_weights(cls, (d_model, n_head, d_ff), weights)
    with torch.no_grad():
        return module(x, src_mask)


@_over_reference("EncoderLayer")
class _EncoderMaskIgnored:
    def forward(self, x, src_mask):
        h = self.ln_1(x)
        x = x + self.self_attn(h, h, None)[0]
        return x + self.ff(self.ln_2(x))


@_over_reference("EncoderLayer")
class _EncoderMaskedQueries:
    def forward(self, x, src_mask):
        h = self.ln_1(x)
        x = x + self.self_attn(h, h, src_mask[:, :, None])[0]
        return x + self.ff(self.ln_2(x))


@_over_reference("EncoderLayer")
class _EncoderPostLN:
    def forward(self, x, src_mask):
        x = self.ln_1(x + self.self_attn(x, x, src_mask[:, None, :])[0])
        return self.ln_2(x + self.ff(x))


@_over_reference("EncoderLayer")
class _EncoderNoResidual:
    def forward(self, x, src_mask):
        h = self.ln_1(x)
        x = self.self_attn(h, h, src_mask[:, None, :])[0]
        return x + self.ff(self.ln_2(x))


def _layer_dropout_ctor(p_at):
    """(d_model, n_head, d_ff, p) from a case's inputs, p at index `p_at`; p=None: built without
    a dropout argument (its default)."""
    def ctor(args):
        p = args[p_at]
        return tuple(args[:3]) + (() if p is None else (p,))
    return ctor


_encoder_dropout_ctor = _layer_dropout_ctor(5)


@prepared(adding_weights("11", "EncoderLayer", _encoder_dropout_ctor, nudge=0.05))
def _run_encoder_dropout(cls, args):
    d_model, n_head, d_ff, x, src_mask, p, train, weights = args
    module = with_weights(cls, _encoder_dropout_ctor(args), weights)
    if train:
        in_train_mode(module)
    with torch.no_grad():
        return module(x, src_mask)


@_over_reference("EncoderLayer")
class _EncoderNoAttentionDropout:
    def forward(self, x, src_mask):
        h = self.ln_1(x)
        x = x + self.self_attn(h, h, src_mask[:, None, :])[0]
        return x + self.ff(self.ln_2(x))


@_over_reference("EncoderLayer")
class _EncoderDropoutAfterTheSum:
    def forward(self, x, src_mask):
        h = self.ln_1(x)
        x = self.dropout(x + self.self_attn(h, h, src_mask[:, None, :])[0])
        return x + self.ff(self.ln_2(x))


@_over_reference("EncoderLayer")
class _EncoderFFWithoutDropout:
    def forward(self, x, src_mask):
        h = self.ln_1(x)
        x = x + self.dropout(self.self_attn(h, h, src_mask[:, None, :])[0])
        return x + self.ff[2](self.ff[1](self.ff[0](self.ln_2(x))))


_LAYER_DROPOUT = ("dropout goes in three places here: inside self_attn (pass `dropout` on to "
                  "CrossAttention), on self_attn's output before it is added to x, and at the end of "
                  "`ff` (its nn.Dropout); the LayerNorms and the residual sums get none.")

EncoderLayer = Exercise(
    id="11.EncoderLayer", points=2, difficulty="medium", minutes=20,
    compare=FLOAT32,
    cases=[
        Case("two padded sources (lengths 5 and 3)",
             lambda rng: (16, 2, 32, randn(rng, 2, 5, 16), padding([5, 3], 5)), run=_run_encoder),
        Case("a batch of one, no padding",
             lambda rng: (16, 4, 32, randn(rng, 1, 4, 16), padding([4], 4)), run=_run_encoder),
        Case("three sources of lengths 7, 1 and 4",
             lambda rng: (8, 2, 16, randn(rng, 3, 7, 8), padding([7, 1, 4], 7)), run=_run_encoder),
        Case("train mode, dropout=0.3, padded sources",
             lambda rng: (16, 2, 32, randn(rng, 2, 5, 16), padding([5, 3], 5), 0.3, True),
             run=_run_encoder_dropout, compare=_train_mode_compare(_LAYER_DROPOUT),
             why="in eval mode dropout is invisible; only train mode shows where it is applied"),
        Case("eval mode, dropout=0.5: no dropout",
             lambda rng: (16, 2, 32, randn(rng, 2, 4, 16), padding([4, 2], 4), 0.5, False),
             run=_run_encoder_dropout, compare=_eval_mode_compare),
        Case("train mode with the default dropout=0.0: nothing dropped",
             lambda rng: (16, 2, 32, randn(rng, 2, 4, 16), padding([4, 3], 4), None, True),
             run=_run_encoder_dropout, compare=_train_mode_compare("the default is dropout=0.0.")),
    ],
    mistakes=[
        Mistake("padding mask ignored",
                "pass the padding mask to self-attention as src_mask[:, None, :] (B, 1, S): "
                "real tokens must not attend to <pad>.",
                _EncoderMaskIgnored),
        Mistake("masked the padded queries instead of the padded keys",
                "src_mask[:, :, None] is (B, S, 1): it hides rows (queries), so real tokens still "
                "read the padding. Mask columns, the keys: src_mask[:, None, :] is (B, 1, S).",
                _EncoderMaskedQueries),
        Mistake("post-LN instead of pre-LN",
                "this course's layers are pre-LN, like GPT-2: x = x + attn(ln_1(x)), then "
                "x = x + ff(ln_2(x)); the LayerNorm goes inside the branch, not after the sum.",
                _EncoderPostLN),
        Mistake("forgot the residual connection",
                "each sub-layer *adds* to the stream: x = x + self_attn(...), not x = self_attn(...).",
                _EncoderNoResidual),
        Mistake("no dropout on the attention's output",
                "apply dropout to self_attn's output before adding it to the residual stream: "
                "x = x + dropout(self_attn(...)[0]).",
                _EncoderNoAttentionDropout),
        Mistake("dropout after the residual sum",
                "dropout goes on the branch, not on the stream: x = x + dropout(attn), not "
                "dropout(x + attn), which would also drop parts of x itself.",
                _EncoderDropoutAfterTheSum),
        Mistake("ff without its nn.Dropout",
                "ff is nn.Sequential(Linear, ReLU, Linear, nn.Dropout(dropout)): the feed-forward "
                "branch ends with dropout too (it has no weights, so the state dict cannot tell).",
                _EncoderFFWithoutDropout),
    ],
    requirements=[
        Requirement("We use **pre-LN** (normalise *before* each sub-layer, add the result to the residual stream)",
                    "two padded sources (lengths 5 and 3)", "a batch of one, no padding"),
        Requirement("The feed-forward part is the paper's: Linear → ReLU → Linear, `d_ff` wide.",
                    "two padded sources (lengths 5 and 3)", "three sources of lengths 7, 1 and 4"),
        Requirement("x \\leftarrow x + \\mathrm{SelfAttn}(\\mathrm{LN}_1(x);\\ \\text{mask} = \\texttt{src\\_mask[:, None, :]})",
                    "two padded sources (lengths 5 and 3)", "three sources of lengths 7, 1 and 4"),
        Requirement("x \\leftarrow x + \\mathrm{FF}(\\mathrm{LN}_2(x))", "a batch of one, no padding"),
        Requirement("No causal mask: the encoder sees the whole source at once.", "a batch of one, no padding"),
        Requirement("The padding mask hides padded *keys*: shape `(B, 1, S)`, one row shared by every query.",
                    "two padded sources (lengths 5 and 3)", "three sources of lengths 7, 1 and 4"),
        Requirement("`EncoderLayer(d_model, n_head, d_ff, dropout=0.0)`: `ln_1`, `self_attn` (a `CrossAttention`), "
                    "`ln_2`, `ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Linear(d_ff, d_model), "
                    "nn.Dropout(dropout))`", "two padded sources (lengths 5 and 3)", "a batch of one, no padding",
                    "train mode, dropout=0.3, padded sources", "train mode with the default dropout=0.0: nothing dropped"),
        Requirement("`forward(x, src_mask) -> (B, S, C)`", "two padded sources (lengths 5 and 3)"),
        Requirement("Apply dropout to each attention's output before adding it to the residual stream.",
                    "train mode, dropout=0.3, padded sources", "eval mode, dropout=0.5: no dropout"),
        Requirement("Contract (attribute names matter, the grader loads reference weights)",
                    "two padded sources (lengths 5 and 3)"),
    ],
)

# ---------------------------------------------------------------- DecoderLayer


@prepared(adding_weights("11", "DecoderLayer", _layer_ctor, nudge=0.05))
def _run_decoder(cls, args):
    d_model, n_head, d_ff, x, memory, src_mask, weights = args
    module = with_weights(cls, (d_model, n_head, d_ff), weights)
    with torch.no_grad():
        return module(x, memory, src_mask)


def _decoder_variant(self_mask=lower_triangle, keys_from_memory=True, cross_mask=True):
    """The reference DecoderLayer (the same parameters) with its forward written out and one step
    varied: the self-attention mask `self_mask(T)`, where keys and values come from, the source mask."""
    class Decoder:
        def forward(self, x, memory, src_mask):
            h = self.ln_1(x)
            x = x + self.self_attn(h, h, self_mask(x.size(1)))[0]
            h = self.ln_2(x)
            kv, mask = (memory if keys_from_memory else h), (src_mask[:, None, :] if cross_mask else None)
            x = x + self.cross_attn(h, kv, mask)[0]
            return x + self.ff(self.ln_3(x))
    return _OnReference("DecoderLayer", Decoder)


_decoder_dropout_ctor = _layer_dropout_ctor(6)


@prepared(adding_weights("11", "DecoderLayer", _decoder_dropout_ctor, nudge=0.05))
def _run_decoder_dropout(cls, args):
    """p=None: built without a dropout argument (its default)."""
    d_model, n_head, d_ff, x, memory, src_mask, p, train, weights = args
    module = with_weights(cls, _decoder_dropout_ctor(args), weights)
    if train:
        in_train_mode(module)
    with torch.no_grad():
        return module(x, memory, src_mask)


@_over_reference("DecoderLayer")
class _DecoderNoCrossDropout:
    def forward(self, x, memory, src_mask):
        h = self.ln_1(x)
        x = x + self.dropout(self.self_attn(h, h, lower_triangle(x.size(1)))[0])
        x = x + self.cross_attn(self.ln_2(x), memory, src_mask[:, None, :])[0]
        return x + self.ff(self.ln_3(x))


_DecoderNoAttentionDropout = _decoder_variant()   # its defaults are the layer without dropout on the attentions


DecoderLayer = Exercise(
    id="11.DecoderLayer", points=3, difficulty="medium", minutes=25,
    compare=FLOAT32,
    cases=[
        Case("target and source of length 4, no padding",
             lambda rng: (16, 2, 32, randn(rng, 2, 4, 16), randn(rng, 2, 4, 16), padding([4, 4], 4)),
             run=_run_decoder),
        Case("3 target positions, padded sources of lengths 6 and 2",
             lambda rng: (16, 2, 32, randn(rng, 2, 3, 16), randn(rng, 2, 6, 16), padding([6, 2], 6)),
             run=_run_decoder),
        Case("a batch of one, 4 heads, target longer than source",
             lambda rng: (16, 4, 32, randn(rng, 1, 5, 16), randn(rng, 1, 2, 16), padding([2], 2)),
             run=_run_decoder),
        Case("train mode, dropout=0.3, padded sources",
             lambda rng: (16, 2, 32, randn(rng, 2, 4, 16), randn(rng, 2, 5, 16), padding([5, 2], 5), 0.3, True),
             run=_run_decoder_dropout,
             compare=_train_mode_compare("dropout goes inside both attentions (pass `dropout` on), on each "
                                         "attention's output before it is added to x, and at the end of `ff`."),
             why="in eval mode dropout is invisible; only train mode shows where it is applied"),
        Case("eval mode, dropout=0.5: no dropout",
             lambda rng: (16, 2, 32, randn(rng, 2, 3, 16), randn(rng, 2, 4, 16), padding([4, 1], 4), 0.5, False),
             run=_run_decoder_dropout, compare=_eval_mode_compare),
        Case("train mode with the default dropout=0.0: nothing dropped",
             lambda rng: (16, 2, 32, randn(rng, 2, 3, 16), randn(rng, 2, 4, 16), padding([4, 2], 4), None, True),
             run=_run_decoder_dropout, compare=_train_mode_compare("the default is dropout=0.0.")),
    ],
    mistakes=[
        Mistake("no causal mask in the decoder's self-attention",
                "the decoder writes left to right: position t may only attend to positions <= t. "
                "Pass a lower-triangular (T, T) mask to self_attn.",
                _decoder_variant(self_mask=lambda T: None)),
        Mistake("causal mask upside down",
                "True = may attend, so the causal mask is the *lower* triangle: "
                "torch.ones(T, T, dtype=torch.bool).tril().",
                _decoder_variant(self_mask=lambda T: torch.ones(T, T, dtype=torch.bool).triu())),
        Mistake("cross-attention keys/values from the decoder",
                "cross_attn's second argument is the encoder's `memory`; attending to the decoder's "
                "own states is just a second self-attention and never reads the source.",
                _decoder_variant(keys_from_memory=False)),
        Mistake("padding mask ignored in cross-attention",
                "give cross_attn the source padding mask, src_mask[:, None, :] (B, 1, S), so the "
                "decoder never reads <pad> positions of the memory.",
                _decoder_variant(cross_mask=False)),
        Mistake("no dropout on the attentions' outputs",
                "apply dropout to each attention's output before adding it to x: "
                "x = x + dropout(self_attn(...)[0]), and the same for cross_attn.",
                _DecoderNoAttentionDropout),
        Mistake("no dropout on the cross-attention's output",
                "both attentions' outputs get dropout before they join the residual stream, the "
                "cross-attention's too.",
                _DecoderNoCrossDropout),
    ],
    requirements=[
        Requirement("x \\leftarrow x + \\mathrm{SelfAttn}(\\mathrm{LN}_1(x);\\ \\text{causal } (T, T))",
                    "target and source of length 4, no padding", "a batch of one, 4 heads, target longer than source"),
        Requirement("x \\leftarrow x + \\mathrm{CrossAttn}(\\mathrm{LN}_2(x),\\ \\text{memory};\\ \\texttt{src\\_mask[:, None, :]})",
                    "3 target positions, padded sources of lengths 6 and 2",
                    "a batch of one, 4 heads, target longer than source"),
        Requirement("x \\leftarrow x + \\mathrm{FF}(\\mathrm{LN}_3(x))", "target and source of length 4, no padding"),
        Requirement("The decoder's self-attention needs only the causal mask", "target and source of length 4, no padding"),
        Requirement("We use **pre-LN** (normalise *before* each sub-layer, add the result to the residual stream)",
                    "target and source of length 4, no padding"),
        Requirement("The padding mask hides padded *keys*: shape `(B, 1, S)`, one row shared by every query.",
                    "3 target positions, padded sources of lengths 6 and 2"),
        Requirement("`DecoderLayer(d_model, n_head, d_ff, dropout=0.0)`: `ln_1`, `self_attn`, `ln_2`, "
                    "`cross_attn`, `ln_3`, `ff` (as above)", "target and source of length 4, no padding",
                    "a batch of one, 4 heads, target longer than source", "train mode, dropout=0.3, padded sources",
                    "train mode with the default dropout=0.0: nothing dropped"),
        Requirement("`forward(x, memory, src_mask) -> (B, T, C)`", "3 target positions, padded sources of lengths 6 and 2"),
        Requirement("Apply dropout to each attention's output before adding it to the residual stream.",
                    "train mode, dropout=0.3, padded sources", "eval mode, dropout=0.5: no dropout"),
    ],
)

# ---------------------------------------------------------------- Seq2SeqTransformer

S2S = dict(src_vocab=11, tgt_vocab=9, d_model=16, n_head=2, n_layer=2, d_ff=32, max_len=12)


def _seq2seq_ctor(args):
    return dict(S2S, pad_id=args[0])


@prepared(adding_weights("11", "Seq2SeqTransformer", _seq2seq_ctor, nudge=0.05))
def _run_seq2seq(cls, args):
    pad_id, src, tgt, weights = args
    model = with_weights(cls, dict(S2S, pad_id=pad_id), weights)
    with torch.no_grad():
        memory, src_mask = model.encode(src)
        return memory, src_mask, model.decode(tgt, memory, src_mask)


def _tokens(rng, lengths, S, pad_id=0, low=1, high=11):
    """Random ids in [low, high), never pad_id, padded with pad_id after each length."""
    ids = rng.integers(low, high, size=(len(lengths), S))
    ids = np.where(ids == pad_id, pad_id + 1, ids)
    ids[np.arange(S)[None, :] >= np.array(lengths)[:, None]] = pad_id
    return torch.from_numpy(ids).long()


def _seq2seq_inputs(lengths, S, T, pad_id=0):
    def inputs(rng):
        src = _tokens(rng, lengths, S, pad_id, low=0 if pad_id else 1)
        if pad_id:
            src[0, 0] = 0   # a real token with id 0: only `src != self.pad_id` keeps it
        return pad_id, src, _tokens(rng, [T] * len(lengths), T, pad_id, 1, 9)
    return inputs


@_over_reference("Seq2SeqTransformer")
class _S2SMaskIgnored:
    def encode(self, src):
        mask = torch.ones_like(src, dtype=torch.bool)
        x = self.src_emb(src) + self.src_pos(torch.arange(src.size(1)))
        for layer in self.encoder:
            x = layer(x, mask)
        return self.ln_enc(x), mask


@_over_reference("Seq2SeqTransformer")
class _S2SNoTargetPositions:
    def decode(self, tgt, memory, src_mask):
        y = self.tgt_emb(tgt)
        for layer in self.decoder:
            y = layer(y, memory, src_mask)
        return self.lm_head(self.ln_dec(y))


@_over_reference("Seq2SeqTransformer")
class _S2SSourcePositionsForTarget:
    def decode(self, tgt, memory, src_mask):
        y = self.tgt_emb(tgt) + self.src_pos(torch.arange(tgt.size(1)))
        for layer in self.decoder:
            y = layer(y, memory, src_mask)
        return self.lm_head(self.ln_dec(y))


@_over_reference("Seq2SeqTransformer")
class _S2SNoFinalNorms:
    def encode(self, src):
        mask = src != self.pad_id
        x = self.src_emb(src) + self.src_pos(torch.arange(src.size(1)))
        for layer in self.encoder:
            x = layer(x, mask)
        return x, mask

    def decode(self, tgt, memory, src_mask):
        y = self.tgt_emb(tgt) + self.tgt_pos(torch.arange(tgt.size(1)))
        for layer in self.decoder:
            y = layer(y, memory, src_mask)
        return self.lm_head(y)


@_over_reference("Seq2SeqTransformer")
class _S2SPadIdZero:
    def encode(self, src):
        mask = src != 0
        x = self.src_emb(src) + self.src_pos(torch.arange(src.size(1)))
        for layer in self.encoder:
            x = layer(x, mask)
        return self.ln_enc(x), mask


def _seq2seq_dropout_ctor(args):
    return dict(S2S, pad_id=args[0], dropout=args[3])


@prepared(adding_weights("11", "Seq2SeqTransformer", _seq2seq_dropout_ctor, nudge=0.05))
def _run_seq2seq_dropout(cls, args):
    pad_id, src, tgt, p, train, weights = args
    model = with_weights(cls, dict(S2S, pad_id=pad_id, dropout=p), weights)
    if train:
        in_train_mode(model)
    with torch.no_grad():
        memory, src_mask = model.encode(src)
        return memory, src_mask, model.decode(tgt, memory, src_mask)


S2S_DEFAULTS = dict(src_vocab=11, tgt_vocab=9)


@prepared(adding_weights("11", "Seq2SeqTransformer", lambda args: S2S_DEFAULTS, nudge=0.05))
def run_seq2seq_defaults(cls, args):
    """Seq2SeqTransformer(src_vocab, tgt_vocab) with every other argument at its default, in
    train mode (the default dropout, 0.0, drops nothing), through forward."""
    _, src, tgt, weights = args
    model = in_train_mode(with_weights(cls, S2S_DEFAULTS, weights))
    with torch.no_grad():
        return model(src, tgt)


@prepared(adding_weights("11", "Seq2SeqTransformer", _seq2seq_ctor, nudge=0.05))
def run_seq2seq_forward(cls, args):
    """forward(src, tgt) itself."""
    pad_id, src, tgt, weights = args
    model = with_weights(cls, dict(S2S, pad_id=pad_id), weights)
    with torch.no_grad():
        return model(src, tgt)


def _seq2seq_dropout_inputs(lengths, S, T, p, train):
    inputs = _seq2seq_inputs(lengths, S, T)
    return lambda rng: inputs(rng) + (p, train)


@_over_reference("Seq2SeqTransformer")
class _S2SNoEmbeddingDropout:
    def encode(self, src):
        src_mask = src != self.pad_id
        x = self.src_emb(src) + self.src_pos(torch.arange(src.size(1)))
        for layer in self.encoder:
            x = layer(x, src_mask)
        return self.ln_enc(x), src_mask

    def decode(self, tgt, memory, src_mask):
        y = self.tgt_emb(tgt) + self.tgt_pos(torch.arange(tgt.size(1)))
        for layer in self.decoder:
            y = layer(y, memory, src_mask)
        return self.lm_head(self.ln_dec(y))


@_over_reference("Seq2SeqTransformer")
class _S2SLayersWithoutDropout:
    """dropout used after the embeddings, but the layers built with their default dropout=0."""
    def __init__(self, src_vocab, tgt_vocab, d_model=64, n_head=4, n_layer=2, d_ff=256,
                 max_len=32, dropout=0.0, pad_id=0):
        super().__init__(src_vocab, tgt_vocab, d_model, n_head, n_layer, d_ff, max_len, dropout, pad_id)
        self.encoder = nn.ModuleList(ref.EncoderLayer(d_model, n_head, d_ff) for _ in range(n_layer))
        self.decoder = nn.ModuleList(ref.DecoderLayer(d_model, n_head, d_ff) for _ in range(n_layer))


Seq2SeqTransformer = Exercise(
    id="11.Seq2SeqTransformer", points=3, difficulty="medium", minutes=30,
    compare=close(rtol=1e-4, atol=1e-5, parts=("encode: memory", "encode: src_mask", "decode: logits")),
    cases=[
        Case("two padded sources (lengths 6 and 3), 4 target tokens",
             _seq2seq_inputs([6, 3], 6, 4), run=_run_seq2seq),
        Case("a batch of one, target longer than the source",
             _seq2seq_inputs([3], 3, 7), run=_run_seq2seq),
        Case("pad_id=3 (use self.pad_id, not 0)",
             _seq2seq_inputs([5, 2, 4], 5, 3, pad_id=3), run=_run_seq2seq),
        Case("train mode, dropout=0.2: after the embedding sums and inside every layer",
             _seq2seq_dropout_inputs([6, 3], 6, 4, 0.2, True), run=_run_seq2seq_dropout,
             compare=_train_mode_compare("dropout goes after each embedding sum (token + position), "
                                         "before the first layer, and every layer gets `dropout` too: "
                                         "EncoderLayer(d_model, n_head, d_ff, dropout)."),
             why="in eval mode dropout is invisible; only train mode shows where it is applied"),
        Case("eval mode, dropout=0.5: no dropout",
             _seq2seq_dropout_inputs([4, 2], 4, 3, 0.5, False), run=_run_seq2seq_dropout,
             compare=_eval_mode_compare),
        Case("the defaults: Seq2SeqTransformer(11, 9), train mode, through forward",
             _seq2seq_inputs([5, 2], 5, 4), run=run_seq2seq_defaults,
             compare=_train_mode_compare("built as Seq2SeqTransformer(src_vocab, tgt_vocab) alone, every "
                                         "other argument takes its default, dropout=0.0 and pad_id=0 included."),
             why="d_model=64, n_head=4, n_layer=2, d_ff=256, max_len=32, dropout=0.0, pad_id=0"),
        Case("source and target of exactly max_len (12) tokens",
             _seq2seq_inputs([12, 7], 12, 12), run=_run_seq2seq,
             why="max_len positions fit: the position tables have max_len rows"),
        Case("forward(src, tgt) = decode(tgt, *encode(src))", _seq2seq_inputs([4, 3], 4, 5),
             run=run_seq2seq_forward),
    ],
    mistakes=[
        Mistake("padding mask ignored",
                "encode must return src_mask = (src != self.pad_id) and hand it to every encoder "
                "layer; an all-True mask lets the model attend to <pad>.",
                _S2SMaskIgnored),
        Mistake("no position embeddings on the target",
                "attention is blind to order: add tgt_pos(torch.arange(T)) to the target embeddings.",
                _S2SNoTargetPositions),
        Mistake("target positions from the source table",
                "each side has its own position table: the decoder adds tgt_pos, the encoder src_pos.",
                _S2SSourcePositionsForTarget),
        Mistake("forgot the final LayerNorms",
                "pre-LN stacks leave the residual stream un-normalised: apply ln_enc to the memory "
                "and ln_dec before lm_head.",
                _S2SNoFinalNorms),
        Mistake("pad id hard-coded to 0",
                "the padding id is a constructor argument: build the mask with self.pad_id.",
                _S2SPadIdZero),
        Mistake("no dropout after the embeddings",
                "apply dropout to the sum of token and position embeddings, on both sides, before "
                "the first layer: x = drop(src_emb(src) + src_pos(positions)).",
                _S2SNoEmbeddingDropout),
        Mistake("dropout not passed on to the layers",
                "build every EncoderLayer and DecoderLayer with the model's dropout; their default, "
                "0.0, turns off all the dropout inside them.",
                _S2SLayersWithoutDropout),
    ],
    requirements=[
        Requirement("src (B, S) ─ src_emb + src_pos ─ EncoderLayer × n_layer ─ ln_enc ─► memory (B, S, C)",
                    "two padded sources (lengths 6 and 3), 4 target tokens"),
        Requirement("tgt (B, T) ─ tgt_emb + tgt_pos ─ DecoderLayer × n_layer",
                    "two padded sources (lengths 6 and 3), 4 target tokens",
                    "a batch of one, target longer than the source"),
        Requirement("ln_dec ─ lm_head ─► logits (B, T, tgt_vocab)", "two padded sources (lengths 6 and 3), 4 target tokens"),
        Requirement("Each stack ends with a LayerNorm", "two padded sources (lengths 6 and 3), 4 target tokens"),
        Requirement("Positions are learned embeddings, one table per side", "a batch of one, target longer than the source"),
        Requirement("`Seq2SeqTransformer(src_vocab, tgt_vocab, d_model=64, n_head=4, n_layer=2, d_ff=256, "
                    "max_len=32, dropout=0.0, pad_id=0)` with attributes `src_emb`, `tgt_emb` (`nn.Embedding` of "
                    "each vocabulary), `src_pos`, `tgt_pos` (`nn.Embedding(max_len, d_model)`), `encoder`, "
                    "`decoder` (`nn.ModuleList`s of `n_layer` layers), `ln_enc`, `ln_dec` (`nn.LayerNorm`), "
                    "`lm_head` (`nn.Linear(d_model, tgt_vocab)`, with bias), `pad_id`",
                    "two padded sources (lengths 6 and 3), 4 target tokens", "pad_id=3 (use self.pad_id, not 0)",
                    "the defaults: Seq2SeqTransformer(11, 9), train mode, through forward",
                    "source and target of exactly max_len (12) tokens"),
        Requirement("and dropout after the embedding sums",
                    "train mode, dropout=0.2: after the embedding sums and inside every layer",
                    "eval mode, dropout=0.5: no dropout"),
        Requirement("`encode(src) -> (memory (B, S, C), src_mask (B, S) bool)`, where `src_mask = src != pad_id`",
                    "two padded sources (lengths 6 and 3), 4 target tokens", "pad_id=3 (use self.pad_id, not 0)"),
        Requirement("`decode(tgt, memory, src_mask) -> logits (B, T, tgt_vocab)`",
                    "two padded sources (lengths 6 and 3), 4 target tokens",
                    "a batch of one, target longer than the source"),
        Requirement("`forward(src, tgt) -> logits`, i.e. `decode(tgt, *encode(src))`",
                    "forward(src, tgt) = decode(tgt, *encode(src))",
                    "the defaults: Seq2SeqTransformer(11, 9), train mode, through forward"),
    ],
)

# ---------------------------------------------------------------- label_smoothed_cross_entropy


def _lsce_inputs(B, T, V, pad_tail, smoothing=0.1, ignore_index=0, scale=1.0):
    def inputs(rng):
        logits = randn(rng, B, T, V, scale=scale) if T else randn(rng, B, V, scale=scale)
        low = 0 if ignore_index != 0 else 1
        targets = torch.from_numpy(rng.integers(low, V, size=(B, T) if T else (B,))).long()
        if T and pad_tail:
            for b, n in enumerate(pad_tail):
                if n:
                    targets[b, -n:] = ignore_index
        return logits, targets, smoothing, ignore_index
    return inputs


def _ls_wrong_classes(logits, targets, smoothing=0.1, ignore_index=0):
    V = logits.size(-1)
    logp = F.log_softmax(logits, -1)
    q = torch.full_like(logp, smoothing / (V - 1))
    q.scatter_(-1, targets.clamp(min=0).unsqueeze(-1), 1 - smoothing)
    loss = -(q * logp).sum(-1)
    keep = targets != ignore_index
    return loss[keep].mean()


def _ls_no_ignore(logits, targets, smoothing=0.1, ignore_index=0):
    logp = F.log_softmax(logits, -1)
    nll = -logp.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return ((1 - smoothing) * nll + smoothing * -logp.mean(-1)).mean()


def _ls_sum(logits, targets, smoothing=0.1, ignore_index=0):
    logp = F.log_softmax(logits, -1)
    nll = -logp.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    loss = (1 - smoothing) * nll + smoothing * -logp.mean(-1)
    return loss[targets != ignore_index].sum()


def _ls_log_of_softmax(logits, targets, smoothing=0.1, ignore_index=0):
    logp = torch.log(torch.softmax(logits, -1))
    nll = -logp.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    loss = (1 - smoothing) * nll + smoothing * -logp.mean(-1)
    return loss[targets != ignore_index].mean()


def _ls_float(logits, targets, smoothing=0.1, ignore_index=0):
    return ref.label_smoothed_cross_entropy(logits, targets, smoothing, ignore_index).item()


def _ls_no_grad(logits, targets, smoothing=0.1, ignore_index=0):
    return ref.label_smoothed_cross_entropy(logits.detach(), targets, smoothing, ignore_index)


def run_lsce_defaults(fn, args):
    """Only logits and targets: the defaults smoothing=0.1 and ignore_index=0 apply."""
    logits, targets = args[:2]
    return fn(logits, targets)


def run_lsce_backward(fn, args):
    """The loss and d(loss)/d(logits): the loss must be a scalar tensor `.backward()` works on."""
    logits, targets, smoothing, ignore_index = args
    logits = logits.clone().requires_grad_(True)
    loss = fn(logits, targets, smoothing, ignore_index)
    if not isinstance(loss, torch.Tensor) or not loss.requires_grad:
        return {"loss": loss, "backward": f"no gradient: the loss is {type(loss).__name__}"
                + ("" if not isinstance(loss, torch.Tensor) else " with requires_grad=False")}
    loss.backward()
    return {"loss": loss.detach(), "backward": logits.grad}


def run_lsce_4d(fn, args):
    """(2, 6, V) logits seen as (2, 3, 2, V): more leading axes than (B, T)."""
    logits, targets, smoothing, ignore_index = args
    return fn(logits.reshape(2, 3, 2, -1), targets.reshape(2, 3, 2), smoothing, ignore_index)


def _scalar_loss(got, expected, args):
    # float32 log-softmax over a handful of classes: ~1e-6 relative; accept float64 answers.
    return compare_values(got, expected, rtol=1e-5, atol=1e-5, check_dtype=False)


label_smoothed_cross_entropy = Exercise(
    id="11.label_smoothed_cross_entropy", points=2, difficulty="medium", minutes=20, pure=True,
    compare=_scalar_loss,
    cases=[
        Case("(B, T, V) logits, padded targets", _lsce_inputs(3, 5, 7, [0, 2, 4])),
        Case("smoothing=0 is plain cross-entropy, (N, V) logits",
             _lsce_inputs(6, 0, 5, None, smoothing=0.0, ignore_index=-100)),
        Case("smoothing=0.2, ignore_index=3", _lsce_inputs(2, 6, 9, [1, 3], smoothing=0.2, ignore_index=3)),
        Case("large logits (x1000): log_softmax, never log(softmax)",
             _lsce_inputs(2, 4, 6, [0, 1], scale=1000.0)),
        Case("the defaults: smoothing=0.1, ignore_index=0", _lsce_inputs(2, 5, 7, [1, 3]),
             run=run_lsce_defaults),
        Case("a scalar tensor that .backward() works through: the gradient of the logits",
             _lsce_inputs(2, 4, 6, [0, 2], smoothing=0.2), run=run_lsce_backward,
             why="the loss trains a model: it must be a tensor in the autograd graph, not a float"),
        Case("logits (2, 3, 2, V): any number of leading axes", _lsce_inputs(2, 6, 5, [2, 0]),
             run=run_lsce_4d),
        Case("ignore_index=-100 (PyTorch's default) on padded targets",
             _lsce_inputs(2, 5, 6, [2, 1], smoothing=0.1, ignore_index=-100),
             why="-100 is no valid class: an ignored position must never be used as an index"),
    ],
    mistakes=[
        Mistake("smoothing mass spread over the wrong number of classes",
                "the eps mass goes evenly over all V classes, the true one included: q_k = "
                "(1-eps)[k=y] + eps/V, i.e. (1-eps)*NLL + eps*mean_k(-log p_k). Spreading it "
                "over the V-1 wrong classes is another (older) convention.",
                _ls_wrong_classes),
        Mistake("padding tokens not ignored",
                "positions whose target is ignore_index must not count: average over "
                "targets != ignore_index only, both in the sum and in the count.",
                _ls_no_ignore),
        Mistake("summed instead of averaged",
                "return the mean over the real tokens, so the loss does not grow with the batch.",
                _ls_sum),
        Mistake("log of softmax",
                "torch.log(torch.softmax(x)) underflows to log(0) = -inf for large logits; "
                "F.log_softmax computes the same thing stably.",
                _ls_log_of_softmax),
        Mistake("returned a Python float",
                "return the loss as a 0-dim tensor (no .item()): training calls loss.backward() on it.",
                _ls_float),
        Mistake("detached from the graph",
                "compute the loss from `logits` itself with torch operations (no .detach(), no numpy, "
                "no torch.no_grad()), so that gradients flow back to the logits.",
                _ls_no_grad),
    ],
    requirements=[
        Requirement("This course uses PyTorch's form, the first one", "(B, T, V) logits, padded targets",
                    "smoothing=0.2, ignore_index=3"),
        Requirement("q_k = (1 - \\varepsilon)\\,[k = y] + \\frac{\\varepsilon}{V}", "smoothing=0.2, ignore_index=3"),
        Requirement("Compute $\\log p$ with `F.log_softmax` (stable for large logits)",
                    "large logits (x1000): log_softmax, never log(softmax)"),
        Requirement("**average over real tokens only**: positions whose target is `ignore_index` (the padding id) "
                    "contribute nothing, neither to the sum nor to the count.",
                    "(B, T, V) logits, padded targets", "smoothing=0.2, ignore_index=3",
                    "ignore_index=-100 (PyTorch's default) on padded targets"),
        Requirement("`label_smoothed_cross_entropy(logits, targets, smoothing=0.1, ignore_index=0)`",
                    "the defaults: smoothing=0.1, ignore_index=0", "smoothing=0 is plain cross-entropy, (N, V) logits",
                    "smoothing=0.2, ignore_index=3"),
        Requirement("`logits` `(..., V)` (e.g. `(B, T, V)`), `targets` `(...)` long",
                    "(B, T, V) logits, padded targets", "smoothing=0 is plain cross-entropy, (N, V) logits",
                    "logits (2, 3, 2, V): any number of leading axes"),
        Requirement("a scalar tensor (so that `.backward()` works)",
                    "a scalar tensor that .backward() works through: the gradient of the logits"),
        Requirement("It must equal `F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), "
                    "label_smoothing=smoothing, ignore_index=ignore_index)`",
                    "smoothing=0 is plain cross-entropy, (N, V) logits", "smoothing=0.2, ignore_index=3"),
        Requirement("but write it yourself.", not_checked="a request to the learner; calling F.cross_entropy gives the same numbers"),
    ],
)

# ---------------------------------------------------------------- greedy_decode

EOS_ID, BOS_ID = 2, 1


class CopyModel(nn.Module):
    """A stand-in model with a known right answer: it writes its source back token by token,
    then </s> forever. Sources of different lengths finish at different steps. It also counts
    its encode calls and notes whether gradients were on in decode."""

    def __init__(self, vocab=8, eos_id=EOS_ID, pad_id=0):
        super().__init__()
        self.vocab, self.eos_id, self.pad_id = vocab, eos_id, pad_id
        self.encode_calls, self.grad_in_decode = 0, False

    def encode(self, src):
        self.encode_calls += 1
        return src.clone(), src != self.pad_id

    def decode(self, tgt, memory, src_mask):
        self.grad_in_decode |= torch.is_grad_enabled()
        B, T = tgt.shape
        want = torch.full((B, T), self.eos_id, dtype=torch.long)
        n = min(T, memory.size(1))
        want[:, :n] = torch.where(src_mask[:, :n], memory[:, :n], self.eos_id)
        return 10.0 * F.one_hot(want, self.vocab).float()

    def forward(self, src, tgt):
        return self.decode(tgt, *self.encode(src))


class RandomTranslator(nn.Module):
    """A stand-in for a Seq2SeqTransformer with random weights (torch is seeded by the engine):
    greedy_decode's cases run where chapter 11's reference is absent. As in a translation model,
    the logits at each target position depend on its token and position, on every earlier
    target token, and on the real tokens of the source (attention over the memory with the
    padding mask); dropout acts on the embeddings. Random weights, but never </s>: the bias of
    eos_id is -100, so every row runs on to max_len."""

    def __init__(self, src_vocab=11, tgt_vocab=9, width=16, max_len=12, dropout=0.0, pad_id=0, eos_id=EOS_ID):
        super().__init__()
        self.pad_id, self.max_len = pad_id, max_len
        self.source, self.target = nn.Embedding(src_vocab, width), nn.Embedding(tgt_vocab, width)
        self.position = nn.Embedding(max_len, width)
        self.query = nn.Linear(width, width)
        self.head = nn.Linear(3 * width, tgt_vocab)
        self.drop = nn.Dropout(p=dropout)
        with torch.no_grad():
            self.head.bias[eos_id] -= 100.0

    def encode(self, src):
        return self.drop(self.source(src)), src != self.pad_id

    def decode(self, tgt, memory, src_mask):
        T = tgt.size(1)
        y = self.drop(self.target(tgt) + self.position(torch.arange(T)))
        prefix = y.cumsum(1) / torch.arange(1, T + 1)[:, None]      # each position: the mean of its prefix
        scores = (self.query(prefix) @ memory.transpose(1, 2)).masked_fill(~src_mask[:, None, :], float("-inf"))
        context = torch.softmax(scores, dim=-1) @ memory            # (B, T, width)
        return self.head(torch.tanh(torch.cat([y, prefix, context], dim=-1)))

    def forward(self, src, tgt):
        return self.decode(tgt, *self.encode(src))


def _run_greedy(fn, args):
    kind, src, max_len = args
    model = CopyModel() if kind == "copy" else RandomTranslator().eval()
    return fn(model, src, max_len, BOS_ID, EOS_ID)


def run_greedy_contract(fn, args):
    """The tokens, and what the call did to the model: how often it encoded, whether gradients
    were on, and the mode it left the model in."""
    kind, src, max_len, bos_id, eos_id, pad_id, train = args
    if kind == "copy":
        model = CopyModel(vocab=10, eos_id=eos_id, pad_id=pad_id)
    else:
        model = RandomTranslator(dropout=0.5, pad_id=pad_id, eos_id=eos_id)
    model.train(train)
    tokens = fn(model, src, max_len, bos_id, eos_id)
    out = {"tokens": tokens, "left in train mode": model.training}
    if kind == "copy":
        out.update({"encode calls": model.encode_calls, "gradients on in decode": model.grad_in_decode})
    return out


def compare_greedy_contract(got, expected, args):
    if not isinstance(got, dict) or set(got) != set(expected):
        return Fail(f"got {type(got).__name__}; this case's run returns a dict with keys {sorted(expected)}")
    if got["left in train mode"] != expected["left in train mode"]:
        mode = "train" if expected["left in train mode"] else "eval"
        return Fail(f"the model was in {mode} mode and your greedy_decode left it in the other one: "
                    "leave the model in whatever mode it is in (no model.eval() or model.train() inside)",
                    mistake=SWITCHED_THE_MODE)
    if "encode calls" in got and got["encode calls"] != expected["encode calls"]:
        return Fail(f"model.encode was called {got['encode calls']} times; encode the source once, before "
                    "the loop, and call only model.decode at each step", mistake=ENCODED_EVERY_STEP)
    if got.get("gradients on in decode"):
        return Fail("gradients were on while the model decoded: run greedy_decode under torch.no_grad() "
                    "(keep the @torch.no_grad() decorator)")
    return _tokens_equal(got["tokens"], expected["tokens"], args)


def _greedy_switches_mode(model, src, max_len, bos_id, eos_id):
    model.eval()
    return ref.greedy_decode(model, src, max_len, bos_id, eos_id)


def _greedy_encodes_every_step(model, src, max_len, bos_id, eos_id):
    ys = torch.full((src.size(0), 1), bos_id)
    done = torch.zeros(src.size(0), dtype=torch.bool)
    for _ in range(max_len):
        nxt = model(src, ys)[:, -1].argmax(-1).masked_fill(done, model.pad_id)
        ys = torch.cat([ys, nxt[:, None]], 1)
        done |= nxt == eos_id
        if done.all():
            break
    return ys


def _greedy_pad_zero(model, src, max_len, bos_id, eos_id):
    ys = ref.greedy_decode(model, src, max_len, bos_id, eos_id)
    after_eos = (ys == eos_id).long().cumsum(1) - (ys == eos_id).long() > 0
    return ys.masked_fill(after_eos, 0)


def _greedy(model, src, max_len, bos_id, eos_id, position=-1, pad=True, stop=True):
    """Greedy decoding with one thing wrong: the logits read at `position` (not the last), no
    padding after </s> (`pad=False`), or no early stop (`stop=False`)."""
    memory, src_mask = model.encode(src)
    ys = torch.full((src.size(0), 1), bos_id)
    done = torch.zeros(src.size(0), dtype=torch.bool)
    for _ in range(max_len):
        nxt = model.decode(ys, memory, src_mask)[:, position].argmax(-1)
        if pad:
            nxt = nxt.masked_fill(done, model.pad_id)
        ys = torch.cat([ys, nxt[:, None]], 1)
        done |= nxt == eos_id
        if stop and done.all():
            break
    return ys


def _greedy_no_bos(model, src, max_len, bos_id, eos_id):
    return ref.greedy_decode(model, src, max_len, bos_id, eos_id)[:, 1:]


def _tokens_equal(got, expected, args):
    if isinstance(got, type(expected)) and hasattr(got, "dtype") and got.dtype != "torch.int64":
        return Fail(f"expected a long tensor of token ids (torch.int64), got dtype {got.dtype}")
    return compare_values(got, expected, check_dtype=False)


SWITCHED_THE_MODE = Mistake("switched the model's mode",
                            "greedy_decode must leave the model as it found it: do not call model.eval() "
                            "or model.train() inside (the caller decides; torch.no_grad() is about "
                            "gradients, not the mode).", _greedy_switches_mode)
ENCODED_EVERY_STEP = Mistake("encoded the source at every step",
                             "the memory does not change while the target grows: call model.encode(src) "
                             "once, before the loop, and only model.decode(ys, memory, src_mask) inside it.",
                             _greedy_encodes_every_step)


greedy_decode = Exercise(
    id="11.greedy_decode", points=2, difficulty="medium", minutes=20,
    compare=_tokens_equal,
    cases=[
        Case("a random model, two padded sources, max_len=5",
             lambda rng: ("random", _tokens(rng, [5, 2], 5), 5), run=_run_greedy),
        Case("a model that copies its source: rows finish at different steps",
             lambda rng: ("copy", _tokens(rng, [4, 2, 3], 4, low=3, high=8), 8), run=_run_greedy),
        Case("a batch of one that hits max_len before </s>",
             lambda rng: ("copy", _tokens(rng, [4], 4, low=3, high=8), 2), run=_run_greedy),
        Case("bos_id=8, eos_id=9, model.pad_id=7, a model in train mode: encoded once, left in train mode",
             lambda rng: ("copy", _tokens(rng, [4, 1, 3], 4, pad_id=7, low=1, high=7), 6, 8, 9, 7, True),
             run=run_greedy_contract, compare=compare_greedy_contract,
             why="the ids come from the arguments and model.pad_id, never from constants"),
        Case("a model with dropout=0.5 in eval mode stays in eval mode",
             lambda rng: ("random", _tokens(rng, [5, 3], 5), 4, BOS_ID, EOS_ID, 0, False),
             run=run_greedy_contract, compare=compare_greedy_contract),
    ],
    mistakes=[
        Mistake("took the logits of the first position",
                "decode returns logits for every position of ys; the next token comes from the "
                "last one: logits[:, -1].",
                variant(_greedy, position=0)),
        Mistake("kept writing after </s>",
                "once a row has produced </s> it is finished: append model.pad_id to it from then "
                "on (keep a boolean `done` per row).",
                variant(_greedy, pad=False)),
        Mistake("did not stop when every row had finished",
                "stop the loop as soon as every row has produced </s> (`if done.all(): break`); "
                "max_len is only an upper bound.",
                variant(_greedy, stop=False)),
        Mistake("dropped the <s> column",
                "return ys itself, starting with the <s> column: (B, 1 + n).",
                _greedy_no_bos),
        SWITCHED_THE_MODE,
        ENCODED_EVERY_STEP,
        Mistake("padded with 0 instead of model.pad_id",
                "after </s> append model.pad_id, whatever its value: the model knows its padding id.",
                _greedy_pad_zero),
    ],
    requirements=[
        Requirement("encode the source **once**: `memory, src_mask = model.encode(src)`",
                    "bos_id=8, eos_id=9, model.pad_id=7, a model in train mode: encoded once, left in train mode"),
        Requirement("start every row with `<s>`: `ys` `(B, 1)`", "a random model, two padded sources, max_len=5",
                    "bos_id=8, eos_id=9, model.pad_id=7, a model in train mode: encoded once, left in train mode"),
        Requirement("run `model.decode(ys, memory, src_mask)` → `(B, t, V)`, take the logits of the **last** "
                    "position, pick the most likely token (*greedy*), append it to `ys`",
                    "a random model, two padded sources, max_len=5",
                    "a model that copies its source: rows finish at different steps"),
        Requirement("once a row has produced `</s>` it is finished: from then on append `model.pad_id` to it",
                    "a model that copies its source: rows finish at different steps",
                    "bos_id=8, eos_id=9, model.pad_id=7, a model in train mode: encoded once, left in train mode"),
        Requirement("stop when every row is finished, or after `max_len` new tokens.",
                    "a model that copies its source: rows finish at different steps",
                    "a batch of one that hits max_len before </s>"),
        Requirement("Write `greedy_decode(model, src, max_len, bos_id, eos_id)` → a long tensor `(B, 1 + n)`, "
                    "`n <= max_len`", "a random model, two padded sources, max_len=5",
                    "bos_id=8, eos_id=9, model.pad_id=7, a model in train mode: encoded once, left in train mode"),
        Requirement("the `<s>` column, then the generated tokens (including each row's `</s>`), padded with "
                    "`model.pad_id` after it", "a model that copies its source: rows finish at different steps"),
        Requirement("Run it without gradients (`torch.no_grad()`)",
                    "bos_id=8, eos_id=9, model.pad_id=7, a model in train mode: encoded once, left in train mode"),
        Requirement("and leave the model in whatever mode it is in.",
                    "bos_id=8, eos_id=9, model.pad_id=7, a model in train mode: encoded once, left in train mode",
                    "a model with dropout=0.5 in eval mode stays in eval mode"),
        Requirement("Greedy decoding takes the single best token at each step",
                    "a random model, two padded sources, max_len=5"),
    ],
)

EXERCISES = [CrossAttention, EncoderLayer, DecoderLayer, Seq2SeqTransformer,
             label_smoothed_cross_entropy, greedy_decode]
