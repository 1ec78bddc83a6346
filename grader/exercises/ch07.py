"""Chapter 07, attention: the checks and the mistakes they name.

Shapes are chosen so that each mistake shows: the first scores case is square (T = d_k), so
an untransposed K still multiplies and fails by value, not by crashing; later cases separate
the sequence length from d_k so that a square root of the wrong dimension shows. Masks
include a row with no allowed key, which must give zero weights and a zero output, never NaN.
"""
import math

import numpy as np
import torch

from ..compare import Fail, close, compare_values
from ..engine import Case, Exercise, Mistake, Requirement
from .common import lower_triangle, module_case, module_compare, randn, variant


# ---------------------------------------------------------------- attention_scores

attention_scores = Exercise(
    id="07.attention_scores", points=1, difficulty="easy", minutes=10, pure=True,
    cases=[
        Case("square: T_q = T_k = d_k = 4", lambda rng: (randn(rng, 4, 4), randn(rng, 4, 4))),
        Case("a batch: (2, T_q=3, d_k=8) against (2, T_k=5, d_k=8)",
             lambda rng: (randn(rng, 2, 3, 8), randn(rng, 2, 5, 8))),
        Case("batch and heads: (2, 2, 6, 16)", lambda rng: (randn(rng, 2, 2, 6, 16), randn(rng, 2, 2, 6, 16))),
        Case("a batch of one query, large values", lambda rng: (randn(rng, 1, 1, 9, scale=100), randn(rng, 1, 7, 9, scale=100))),
    ],
    # float32 matrix products in another order (e.g. scaling Q first) differ by ~1e-7 relative
    compare=close(rtol=1e-5, atol=1e-5),
    mistakes=[
        Mistake("no scaling",
                "divide the dot products by sqrt(d_k), the length of the key vectors: without it "
                "their spread grows like sqrt(d_k) and the softmax saturates (section 5).",
                lambda Q, K: Q @ K.transpose(-2, -1)),
        Mistake("K not transposed",
                "scores are q_i . k_j: multiply by K with its last two axes swapped, "
                "K.transpose(-2, -1) (shape (..., d_k, T_k)).",
                lambda Q, K: Q @ K / math.sqrt(K.shape[-1])),
        Mistake("sqrt of the wrong dimension",
                "d_k is the size of the *last* axis, the vector length being compared "
                "(K.shape[-1]), not a sequence length.",
                lambda Q, K: Q @ K.transpose(-2, -1) / math.sqrt(K.shape[-2])),
        Mistake("divided by d_k instead of sqrt(d_k)",
                "the dot product's standard deviation is sqrt(d_k), so divide by math.sqrt(d_k); "
                "dividing by d_k shrinks the scores too much and the softmax becomes nearly uniform.",
                lambda Q, K: Q @ K.transpose(-2, -1) / K.shape[-1]),
    ],
    requirements=[
        Requirement("Q (..., T_q, d_k), K (..., T_k, d_k) -> scores (..., T_q, T_k) = Q K^T / sqrt(d_k)",
                    "square: T_q = T_k = d_k = 4", "a batch: (2, T_q=3, d_k=8) against (2, T_k=5, d_k=8)"),
        Requirement("The score of query $i$ against key $j$ is their dot product, divided by $\\sqrt{d_k}$",
                    "square: T_q = T_k = d_k = 4", "a batch of one query, large values"),
        Requirement("With leading batch dimensions, \"$K^\\top$\" means swapping the **last two** axes only",
                    "a batch: (2, T_q=3, d_k=8) against (2, T_k=5, d_k=8)", "batch and heads: (2, 2, 6, 16)"),
        Requirement("$d_k$ is the size of the last axis of $K$ (and of $Q$): the length of the vectors being compared — not the sequence length",
                    "a batch: (2, T_q=3, d_k=8) against (2, T_k=5, d_k=8)", "batch and heads: (2, 2, 6, 16)",
                    "a batch of one query, large values"),
    ],
)

# ---------------------------------------------------------------- scaled_dot_product_attention


def _scores(Q, K):
    return Q @ K.transpose(-2, -1) / math.sqrt(K.shape[-1])


def _sdpa_wrong_dim(Q, K, V, mask=None):
    s = _scores(Q, K)
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-2)
    return w @ V, w


def _sdpa_after_softmax(Q, K, V, mask=None):
    w = torch.softmax(_scores(Q, K), dim=-1)
    if mask is not None:
        w = w.masked_fill(~mask, 0.0)
    return w @ V, w


def _sdpa_inverted(Q, K, V, mask=None):
    s = _scores(Q, K)
    if mask is not None:
        s = s.masked_fill(mask, float("-inf"))
        w = torch.softmax(s, dim=-1).masked_fill(mask.all(dim=-1, keepdim=True), 0.0)
    else:
        w = torch.softmax(s, dim=-1)
    return w @ V, w


def _sdpa_nan(Q, K, V, mask=None):
    s = _scores(Q, K)
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    w = torch.softmax(s, dim=-1)
    return w @ V, w


def _sdpa_minus_1e9(Q, K, V, mask=None):
    s = _scores(Q, K)
    if mask is not None:
        s = s.masked_fill(~mask, -1e9)       # a large negative number: no NaN, but no zero row either
    w = torch.softmax(s, dim=-1)
    return w @ V, w


def _sdpa_compare(got, expected, args):
    """Values within float32 rounding; NaN (from a row with no allowed key) is named."""
    if isinstance(got, tuple) and len(got) == 2 and all(hasattr(g, "array") for g in got):
        if any(np.isnan(g.array).any() for g in got) and not any(np.isnan(e.array).any() for e in expected):
            return Fail("your output contains NaN: a query whose mask allows no key gets softmax of "
                        "all -inf = 0/0. Such a row must get zero weights and a zero output.",
                        mistake=SDPA_NAN_FOR_A_FULLY_MASKED_ROW)
    # softmax and matmul in float32, in another order: ~1e-7 relative
    return compare_values(got, expected, rtol=1e-5, atol=1e-6)


def _attn_inputs(rng, B, T_q, T_k, d_k, d_v, mask=None, scale=1.0):
    Q, K, V = randn(rng, B, T_q, d_k, scale=scale), randn(rng, B, T_k, d_k, scale=scale), randn(rng, B, T_k, d_v)
    return (Q, K, V) if mask is None else (Q, K, V, mask)


def _with_empty_row(rng):
    mask = torch.as_tensor(rng.random((2, 4, 6)) > 0.4)
    mask[:, :, 0] = True
    mask[1, 2] = False                                   # query 2 of sequence 1 may see nothing
    return _attn_inputs(rng, 2, 4, 6, 8, 3, mask=mask)


SDPA_NAN_FOR_A_FULLY_MASKED_ROW = Mistake(
    "NaN for a fully masked row",
    "after the softmax, set the weights of rows with no allowed key to zero: "
    "weights.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0).",
    _sdpa_nan)

scaled_dot_product_attention = Exercise(
    id="07.scaled_dot_product_attention", points=2, difficulty="medium", minutes=20, pure=True,
    cases=[
        Case("no mask: B=2, T=5, d_k=8, d_v=6", lambda rng: _attn_inputs(rng, 2, 5, 5, 8, 6)),
        Case("a causal (T, T) mask broadcast over the batch",
             lambda rng: _attn_inputs(rng, 3, 5, 5, 4, 4, mask=lower_triangle(5))),
        Case("T_q=3 queries against T_k=7 keys, a (B, 1, T_k) key mask",
             lambda rng: _attn_inputs(rng, 2, 3, 7, 4, 5, mask=torch.tensor([[[True] * 5 + [False] * 2],
                                                                           [[True] * 3 + [False] * 4]]))),
        Case("a row with no allowed key: zero weights, zero output, no NaN", _with_empty_row,
             why="softmax over all -inf is 0/0"),
        Case("large scores (x30): the softmax must not overflow",
             lambda rng: _attn_inputs(rng, 1, 4, 4, 16, 2, scale=30.0)),
    ],
    compare=_sdpa_compare,
    mistakes=[
        Mistake("softmax over the wrong dim",
                "each query's weights are spread over the keys: softmax(scores, dim=-1), so that "
                "every row of the weights sums to 1.",
                _sdpa_wrong_dim),
        Mistake("mask applied after softmax",
                "set forbidden scores to -inf *before* the softmax; zeroing weights afterwards "
                "leaves rows that no longer sum to 1.",
                _sdpa_after_softmax),
        Mistake("inverted mask",
                "True means 'may attend': fill the scores where the mask is False, "
                "scores.masked_fill(~mask, float('-inf')).",
                _sdpa_inverted),
        SDPA_NAN_FOR_A_FULLY_MASKED_ROW,
        Mistake("-1e9 instead of -inf, and no zero row",
                "with -1e9 a row with no allowed key has equal scores everywhere and gets uniform "
                "weights 1/T_k, attending to every forbidden key; such a query must attend to nothing: "
                "zero its weights, weights.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0).",
                _sdpa_minus_1e9),
    ],
    requirements=[
        Requirement("Write `scaled_dot_product_attention(Q, K, V, mask=None) -> (out, weights)`",
                    "no mask: B=2, T=5, d_k=8, d_v=6", "a causal (T, T) mask broadcast over the batch"),
        Requirement("Returns out (..., T_q, d_v) and weights (..., T_q, T_k)",
                    "no mask: B=2, T=5, d_k=8, d_v=6", "T_q=3 queries against T_k=7 keys, a (B, 1, T_k) key mask"),
        Requirement("The softmax runs over the **keys**, the last axis: each query's weights sum to 1",
                    "no mask: B=2, T=5, d_k=8, d_v=6", "T_q=3 queries against T_k=7 keys, a (B, 1, T_k) key mask",
                    "large scores (x30): the softmax must not overflow"),
        Requirement("An optional boolean `mask`, broadcastable to `(..., T_q, T_k)`",
                    "a causal (T, T) mask broadcast over the batch", "T_q=3 queries against T_k=7 keys, a (B, 1, T_k) key mask",
                    "a row with no allowed key: zero weights, zero output, no NaN"),
        Requirement("`True` = allowed", "a causal (T, T) mask broadcast over the batch",
                    "T_q=3 queries against T_k=7 keys, a (B, 1, T_k) key mask"),
        Requirement("Forbidden scores become $-\\infty$ *before* the softmax", "a causal (T, T) mask broadcast over the batch",
                    "T_q=3 queries against T_k=7 keys, a (B, 1, T_k) key mask"),
        Requirement("such a query attends to nothing: **zero weights and a zero output**",
                    "a row with no allowed key: zero weights, zero output, no NaN"),
        Requirement("the softmax computes $0/0 = \\text{NaN}$", "a row with no allowed key: zero weights, zero output, no NaN"),
        Requirement("using your `attention_scores`", not_checked="how the answer is written; the output is graded"),
    ],
)

# ---------------------------------------------------------------- SelfAttentionHead


class _Head(torch.nn.Module):
    """The reference head written out, so that a known mistake varies one step of it
    (`variant(_Head, bias=True)`); the defaults are the reference's."""

    def __init__(self, d_model, d_head, bias=False, names=("query", "key", "value"), scale_by_d_model=False,
                 softmax_dim=-1, zero_empty_rows=True):
        super().__init__()
        for name in names:
            setattr(self, name, torch.nn.Linear(d_model, d_head, bias=bias))
        self.names, self.scale = names, d_model if scale_by_d_model else d_head
        self.softmax_dim, self.zero_empty_rows = softmax_dim, zero_empty_rows

    def forward(self, x, mask=None):
        q, k, v = (getattr(self, name)(x) for name in self.names)
        s = q @ k.transpose(-2, -1) / math.sqrt(self.scale)
        if mask is not None:
            s = s.masked_fill(~mask, float("-inf"))
        w = torch.softmax(s, dim=self.softmax_dim)
        if mask is not None and self.zero_empty_rows:
            w = w.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)   # a query that may see nothing
        return w @ v


class _HeadBoth(_Head):
    def forward(self, x, mask=None):
        return _sdpa_nan_free(self.query(x), self.key(x), self.value(x), mask)


def _sdpa_nan_free(q, k, v, mask):
    w = torch.softmax(_scores(q, k) if mask is None else _scores(q, k).masked_fill(~mask, float("-inf")), dim=-1)
    if mask is not None:
        w = w.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)
    return w @ v, w                          # both, as scaled_dot_product_attention returns them


def _empty_row_mask():
    mask = lower_triangle(4).repeat(2, 1, 1)
    mask[1, 0] = False                      # query 0 of sequence 1 may see nothing
    return mask


def _head_inputs(rng, B, T, d_model, d_head, mask=None):
    return (d_model, d_head), (randn(rng, B, T, d_model), mask)


_head_run = module_case("grader.reference.ch07.SelfAttentionHead", lambda model, x, mask: model(x, mask))

SelfAttentionHead = Exercise(
    id="07.SelfAttentionHead", points=2, difficulty="medium", minutes=15,
    cases=[
        Case("B=2, T=5, d_model=16, d_head=4, no mask", lambda rng: _head_inputs(rng, 2, 5, 16, 4), run=_head_run),
        Case("a causal mask", lambda rng: _head_inputs(rng, 2, 6, 8, 8, mask=lower_triangle(6)), run=_head_run),
        Case("a batch of one token", lambda rng: _head_inputs(rng, 1, 1, 8, 2), run=_head_run),
        Case("a mask with a row that allows no key: zero output there, no NaN",
             lambda rng: _head_inputs(rng, 2, 4, 8, 4, mask=_empty_row_mask()), run=_head_run),
    ],
    # the same weights; float32 products in another order differ by ~1e-7 relative
    compare=module_compare(close(rtol=1e-5, atol=1e-6)),
    mistakes=[
        Mistake("Linear with bias",
                "the projections have no bias: nn.Linear(d_model, d_head, bias=False) "
                "(the reference's state dict has no query.bias).",
                variant(_Head, bias=True)),
        Mistake("scaled by sqrt(d_model)",
                "the scores compare vectors of length d_head, so divide by sqrt(d_head), the "
                "size of the keys' last axis, not sqrt(d_model).",
                variant(_Head, scale_by_d_model=True)),
        Mistake("softmax over the wrong dim",
                "softmax over the keys, dim=-1: each query's weights sum to 1.",
                variant(_Head, softmax_dim=-2)),
        Mistake("NaN for a fully masked row",
                "use your scaled_dot_product_attention, which gives a query with no allowed key "
                "zero weights; a bare softmax over all -inf returns NaN.",
                variant(_Head, zero_empty_rows=False)),
        Mistake("misnamed projections",
                "name the layers exactly `query`, `key` and `value`: weights are loaded by name.",
                variant(_Head, names=("q", "k", "v"))),
        Mistake("returned (out, weights)",
                "scaled_dot_product_attention returns (out, weights); the head returns only the "
                "output: out, _ = scaled_dot_product_attention(q, k, v, mask).",
                _HeadBoth),
    ],
    requirements=[
        Requirement("One head of self-attention: x (B, T, d_model) -> (B, T, d_head)",
                    "B=2, T=5, d_model=16, d_head=4, no mask", "a batch of one token"),
        Requirement("Write `SelfAttentionHead(d_model, d_head)` with attributes `query`, `key`, `value`, each an `nn.Linear(d_model, d_head, bias=False)`",
                    "B=2, T=5, d_model=16, d_head=4, no mask", "a causal mask"),
        Requirement("(the grader loads its weights into yours by these names)", "B=2, T=5, d_model=16, d_head=4, no mask"),
        Requirement("`forward(x, mask=None)` using your `scaled_dot_product_attention`; it returns only the output",
                    "B=2, T=5, d_model=16, d_head=4, no mask", "a causal mask",
                    "a mask with a row that allows no key: zero output there, no NaN"),
        Requirement("such a query attends to nothing: **zero weights and a zero output**",
                    "a mask with a row that allows no key: zero output there, no NaN"),
        Requirement("in general to float32 rounding", not_checked="a remark on the comparison with PyTorch's function"),
    ],
)

EXERCISES = [attention_scores, scaled_dot_product_attention, SelfAttentionHead]
