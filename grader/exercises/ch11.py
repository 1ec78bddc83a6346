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

Modules are checked the chapter-09 way: the case builds the reference module (torch is seeded
by the engine), loads its state dict into the learner's module with strict=True, and compares
outputs in eval mode. Known mistakes are subclasses of the reference that override `forward`,
so they have the very same parameters.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..compare import Fail, close, compare_values
from ..engine import Case, Exercise, Mistake
from .common import FLOAT32, randn, variant, with_reference_weights
from ..reference import ch11 as ref

def padding(lengths, S):
    """(B, S) bool, True at the first `length` positions of each row."""
    return torch.arange(S)[None, :] < torch.tensor(lengths)[:, None]


def built(reference_cls, cls, ctor):
    """The learner's module holding the reference's weights, nudged so that a skipped LayerNorm
    shows, in eval mode."""
    return with_reference_weights(cls, reference_cls, ctor, nudge=0.05)


def causal(T):
    return torch.ones(T, T, dtype=torch.bool).tril()


# ---------------------------------------------------------------- CrossAttention

def _run_attention(cls, args):
    d_model, n_head, x, memory, mask = args
    module = built(ref.CrossAttention, cls, (d_model, n_head))
    with torch.no_grad():
        return module(x, x if memory is None else memory, mask)


def _empty_rows_zero(got, expected, args):
    fail = FLOAT32(got, expected, args)
    if fail and "NaN" in fail.message:
        fail.message += ("\n    A source with no real token has every score at -inf, and softmax of "
                         "all -inf is NaN: set the weights of masked positions to 0 after the softmax.")
    return fail


def _heads_untransposed(cls_base):
    class HeadsNotTransposed(cls_base):
        def forward(self, x, memory, mask=None):
            B, T, C = x.shape
            S, H = memory.size(1), self.n_head
            q = self.q_proj(x).reshape(B, H, T, C // H)
            k, v = self.kv_proj(memory).split(C, dim=2)
            k, v = k.reshape(B, H, S, C // H), v.reshape(B, H, S, C // H)
            return _attend(self, q, k, v, mask, math.sqrt(C // H), B, T, C)
    return HeadsNotTransposed


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


class KeysFromDecoder(ref.CrossAttention):
    def forward(self, x, memory, mask=None):
        q, k, v, B, T, C = _split(self, x, memory, kv_source=x)
        return _attend(self, q, k, v, mask, math.sqrt(C // self.n_head), B, T, C)


class MaskIgnored(ref.CrossAttention):
    def forward(self, x, memory, mask=None):
        return super().forward(x, memory, None)


class MaskAfterSoftmax(ref.CrossAttention):
    def forward(self, x, memory, mask=None):
        q, k, v, B, T, C = _split(self, x, memory)
        return _attend(self, q, k, v, mask, math.sqrt(C // self.n_head), B, T, C, after_softmax=True)


class ScaledByDModel(ref.CrossAttention):
    def forward(self, x, memory, mask=None):
        q, k, v, B, T, C = _split(self, x, memory)
        return _attend(self, q, k, v, mask, math.sqrt(C), B, T, C)


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
             lambda rng: (16, 4, randn(rng, 2, 4, 16), None, causal(4)),
             run=_run_attention),
        Case("a batch of one whose source has no real token: zero weights, not NaN",
             lambda rng: (8, 2, randn(rng, 1, 2, 8), randn(rng, 1, 3, 8), torch.zeros(1, 1, 3, dtype=torch.bool)),
             run=_run_attention, compare=_empty_rows_zero),
    ],
    mistakes=[
        Mistake("keys and values from the decoder",
                "in cross-attention only the queries come from x (the decoder); keys and values "
                "come from `memory` (the encoder's output): kv_proj(memory). The weights are then "
                "(B, H, T, S), one column per source position.",
                KeysFromDecoder),
        Mistake("padding mask ignored",
                "`mask` marks the real source tokens: fill the scores of masked positions with "
                "-inf before the softmax, or the decoder attends to <pad>.",
                MaskIgnored),
        Mistake("mask applied after the softmax",
                "zeroing weights after the softmax leaves rows that no longer sum to 1; set "
                "masked scores to -inf *before* the softmax so the allowed ones share all the weight.",
                MaskAfterSoftmax),
        Mistake("scaled by sqrt(d_model) instead of sqrt(d_head)",
                "each head's dot products have d_head = d_model / n_head terms: divide the scores "
                "by sqrt(d_model // n_head).",
                ScaledByDModel),
        Mistake("heads split without a transpose",
                "`.view(B, H, T, hs)` straight from (B, T, C) mixes positions between heads; view "
                "as (B, T, H, hs) and then .transpose(1, 2).",
                _heads_untransposed(ref.CrossAttention)),
    ],
)

# ---------------------------------------------------------------- EncoderLayer


def _run_encoder(cls, args):
    d_model, n_head, d_ff, x, src_mask = args
    module = built(ref.EncoderLayer, cls, (d_model, n_head, d_ff))
    with torch.no_grad():
        return module(x, src_mask)


class EncoderMaskIgnored(ref.EncoderLayer):
    def forward(self, x, src_mask):
        h = self.ln_1(x)
        x = x + self.self_attn(h, h, None)[0]
        return x + self.ff(self.ln_2(x))


class EncoderMaskedQueries(ref.EncoderLayer):
    def forward(self, x, src_mask):
        h = self.ln_1(x)
        x = x + self.self_attn(h, h, src_mask[:, :, None])[0]
        return x + self.ff(self.ln_2(x))


class EncoderPostLN(ref.EncoderLayer):
    def forward(self, x, src_mask):
        x = self.ln_1(x + self.self_attn(x, x, src_mask[:, None, :])[0])
        return self.ln_2(x + self.ff(x))


class EncoderNoResidual(ref.EncoderLayer):
    def forward(self, x, src_mask):
        h = self.ln_1(x)
        x = self.self_attn(h, h, src_mask[:, None, :])[0]
        return x + self.ff(self.ln_2(x))


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
    ],
    mistakes=[
        Mistake("padding mask ignored",
                "pass the padding mask to self-attention as src_mask[:, None, :] (B, 1, S): "
                "real tokens must not attend to <pad>.",
                EncoderMaskIgnored),
        Mistake("masked the padded queries instead of the padded keys",
                "src_mask[:, :, None] is (B, S, 1): it hides rows (queries), so real tokens still "
                "read the padding. Mask columns, the keys: src_mask[:, None, :] is (B, 1, S).",
                EncoderMaskedQueries),
        Mistake("post-LN instead of pre-LN",
                "this course's layers are pre-LN, like GPT-2: x = x + attn(ln_1(x)), then "
                "x = x + ff(ln_2(x)); the LayerNorm goes inside the branch, not after the sum.",
                EncoderPostLN),
        Mistake("forgot the residual connection",
                "each sub-layer *adds* to the stream: x = x + self_attn(...), not x = self_attn(...).",
                EncoderNoResidual),
    ],
)

# ---------------------------------------------------------------- DecoderLayer


def _run_decoder(cls, args):
    d_model, n_head, d_ff, x, memory, src_mask = args
    module = built(ref.DecoderLayer, cls, (d_model, n_head, d_ff))
    with torch.no_grad():
        return module(x, memory, src_mask)


def _decoder_variant(self_mask=causal, keys_from_memory=True, cross_mask=True):
    """The reference DecoderLayer (the same parameters) with its forward written out and one step
    varied: the self-attention mask `self_mask(T)`, where keys and values come from, the source mask."""
    class Decoder(ref.DecoderLayer):
        def forward(self, x, memory, src_mask):
            h = self.ln_1(x)
            x = x + self.self_attn(h, h, self_mask(x.size(1)))[0]
            h = self.ln_2(x)
            kv, mask = (memory if keys_from_memory else h), (src_mask[:, None, :] if cross_mask else None)
            x = x + self.cross_attn(h, kv, mask)[0]
            return x + self.ff(self.ln_3(x))
    return Decoder


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
    ],
)

# ---------------------------------------------------------------- Seq2SeqTransformer

S2S = dict(src_vocab=11, tgt_vocab=9, d_model=16, n_head=2, n_layer=2, d_ff=32, max_len=12)


def _run_seq2seq(cls, args):
    pad_id, src, tgt = args
    ctor = dict(S2S, pad_id=pad_id)
    model = built(ref.Seq2SeqTransformer, cls, ctor)
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


class S2SMaskIgnored(ref.Seq2SeqTransformer):
    def encode(self, src):
        mask = torch.ones_like(src, dtype=torch.bool)
        x = self.src_emb(src) + self.src_pos(torch.arange(src.size(1)))
        for layer in self.encoder:
            x = layer(x, mask)
        return self.ln_enc(x), mask


class S2SNoTargetPositions(ref.Seq2SeqTransformer):
    def decode(self, tgt, memory, src_mask):
        y = self.tgt_emb(tgt)
        for layer in self.decoder:
            y = layer(y, memory, src_mask)
        return self.lm_head(self.ln_dec(y))


class S2SSourcePositionsForTarget(ref.Seq2SeqTransformer):
    def decode(self, tgt, memory, src_mask):
        y = self.tgt_emb(tgt) + self.src_pos(torch.arange(tgt.size(1)))
        for layer in self.decoder:
            y = layer(y, memory, src_mask)
        return self.lm_head(self.ln_dec(y))


class S2SNoFinalNorms(ref.Seq2SeqTransformer):
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


class S2SPadIdZero(ref.Seq2SeqTransformer):
    def encode(self, src):
        mask = src != 0
        x = self.src_emb(src) + self.src_pos(torch.arange(src.size(1)))
        for layer in self.encoder:
            x = layer(x, mask)
        return self.ln_enc(x), mask


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
    ],
    mistakes=[
        Mistake("padding mask ignored",
                "encode must return src_mask = (src != self.pad_id) and hand it to every encoder "
                "layer; an all-True mask lets the model attend to <pad>.",
                S2SMaskIgnored),
        Mistake("no position embeddings on the target",
                "attention is blind to order: add tgt_pos(torch.arange(T)) to the target embeddings.",
                S2SNoTargetPositions),
        Mistake("target positions from the source table",
                "each side has its own position table: the decoder adds tgt_pos, the encoder src_pos.",
                S2SSourcePositionsForTarget),
        Mistake("forgot the final LayerNorms",
                "pre-LN stacks leave the residual stream un-normalised: apply ln_enc to the memory "
                "and ln_dec before lm_head.",
                S2SNoFinalNorms),
        Mistake("pad id hard-coded to 0",
                "the padding id is a constructor argument: build the mask with self.pad_id.",
                S2SPadIdZero),
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
    ],
)

# ---------------------------------------------------------------- greedy_decode

EOS_ID, BOS_ID = 2, 1


class CopyModel(nn.Module):
    """A stand-in model with a known right answer: it writes its source back token by token,
    then </s> forever. Sources of different lengths finish at different steps."""
    pad_id = 0

    def __init__(self, vocab=8):
        super().__init__()
        self.vocab = vocab

    def encode(self, src):
        return src.clone(), src != self.pad_id

    def decode(self, tgt, memory, src_mask):
        B, T = tgt.shape
        want = torch.full((B, T), EOS_ID, dtype=torch.long)
        n = min(T, memory.size(1))
        want[:, :n] = torch.where(src_mask[:, :n], memory[:, :n], EOS_ID)
        return 10.0 * F.one_hot(want, self.vocab).float()

    def forward(self, src, tgt):
        return self.decode(tgt, *self.encode(src))


def _run_greedy(fn, args):
    kind, src, max_len = args
    if kind == "copy":
        model = CopyModel()
    else:
        model = ref.Seq2SeqTransformer(src_vocab=11, tgt_vocab=9, d_model=16, n_head=2, n_layer=1,
                                       d_ff=32, max_len=12).eval()
        with torch.no_grad():
            model.lm_head.bias[EOS_ID] -= 100.0   # random weights, but never </s>: all rows run on
    return fn(model, src, max_len, BOS_ID, EOS_ID)


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
    if isinstance(got, type(expected)) and hasattr(got, "dtype") and "int" not in got.dtype:
        return Fail(f"expected integer token ids (torch.long), got dtype {got.dtype}")
    return compare_values(got, expected, check_dtype=False)


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
    ],
)

EXERCISES = [CrossAttention, EncoderLayer, DecoderLayer, Seq2SeqTransformer,
             label_smoothed_cross_entropy, greedy_decode]
