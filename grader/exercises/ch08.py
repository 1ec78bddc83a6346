"""Chapter 08, masking and causality: the checks and the mistakes they name.

Masks are compared exactly (booleans; -inf equals -inf). The causal head is judged by what
causal means — the output at t does not move when the inputs after t change — and by its
values against the reference with the same weights.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

from ..compare import Fail, close
from ..engine import Case, Exercise, Mistake, Requirement
from .common import lower_triangle, module_case, module_compare, randn, variant


exact = close(rtol=0, atol=0)   # masks are booleans and -inf is exact

# ---------------------------------------------------------------- causal_mask

causal_mask = Exercise(
    id="08.causal_mask", points=1, difficulty="easy", minutes=5,
    cases=[
        Case("T=4", lambda rng: (4,)),
        Case("T=1: a single position sees itself", lambda rng: (1,)),
        Case("T=7", lambda rng: (7,)),
    ],
    compare=exact,
    mistakes=[
        Mistake("upper triangular",
                "rows are queries, columns keys: query t may see keys s <= t, the *lower* "
                "triangle (torch.tril). The upper one lets every position see the future.",
                lambda T: torch.ones(T, T, dtype=torch.bool).triu()),
        Mistake("diagonal excluded",
                "a position may attend to itself: keep the diagonal (tril with diagonal=0). "
                "Without it the first position has no key at all.",
                lambda T: torch.ones(T, T, dtype=torch.bool).tril(diagonal=-1)),
        Mistake("float mask",
                "return a torch.bool mask (True = may attend), as F.scaled_dot_product_attention "
                "expects; a float mask of 0/1 would be *added* to the scores.",
                lambda T: torch.ones(T, T).tril()),
    ],
    requirements=[
        Requirement("Write `causal_mask(T)` → `(T, T)` `torch.bool`", "T=4", "T=7", "T=1: a single position sees itself"),
        Requirement("Query $t$ may attend to key $s$ exactly when $s \\le t$: the past and itself", "T=4", "T=7"),
        Requirement("rows = queries, columns = keys, that is the **lower triangle, diagonal included**",
                    "T=4", "T=1: a single position sees itself"),
    ],
)

# ---------------------------------------------------------------- apply_mask


def _mask_inputs(rng, shape, mask):
    return randn(rng, *shape), mask


def _minus_1e9(scores, mask):
    return scores.masked_fill(~mask, -1e9)


apply_mask = Exercise(
    id="08.apply_mask", points=1, difficulty="easy", minutes=5, pure=True,
    cases=[
        Case("(5, 5) scores, causal mask", lambda rng: _mask_inputs(rng, (5, 5), lower_triangle(5))),
        Case("(2, 3, 4) scores, a (2, 1, 4) key mask", lambda rng: _mask_inputs(
            rng, (2, 3, 4), torch.tensor([[[True, True, False, False]], [[True, True, True, False]]]))),
        Case("a batch of one, (1, 1, 1)", lambda rng: _mask_inputs(rng, (1, 1, 1), torch.ones(1, 1, 1, dtype=torch.bool))),
    ],
    compare=exact,
    mistakes=[
        Mistake("filled with 0 instead of -inf",
                "a score of 0 (from masked_fill with 0, or scores * mask) still gets weight "
                "e^0 = 1 in the softmax; -inf gets exactly 0: scores.masked_fill(~mask, float('-inf')).",
                lambda s, m: s.masked_fill(~m, 0.0)),
        Mistake("inverted mask",
                "True means 'may attend': fill where the mask is False (~mask).",
                lambda s, m: s.masked_fill(m, float("-inf"))),
        Mistake("-1e9 instead of -inf",
                "-1e9 is what the reference implementations of Attention Is All You Need use "
                "(the Annotated Transformer's masked_fill(mask == 0, -1e9)), and in float32 it "
                "almost always works. Here use float('-inf'): it is exact, -1e9 overflows to -inf "
                "in float16 anyway, and with -1e9 a row with no allowed key becomes a uniform "
                "average instead of a row that can be detected and zeroed.",
                _minus_1e9),
        Mistake("modified scores in place",
                "masked_fill_ (with the underscore) writes -inf into the caller's scores; return a new "
                "tensor with masked_fill, which leaves scores as they were.",
                lambda s, m: s.masked_fill_(~m, float("-inf"))),
    ],
    requirements=[
        Requirement("Write `apply_mask(scores, mask)`: `scores` `(..., T_q, T_k)`, a boolean `mask` broadcastable to it",
                    "(5, 5) scores, causal mask", "(2, 3, 4) scores, a (2, 1, 4) key mask", "a batch of one, (1, 1, 1)"),
        Requirement("return a **new** tensor with $-\\infty$ where the mask is `False`",
                    "(5, 5) scores, causal mask", "(2, 3, 4) scores, a (2, 1, 4) key mask"),
        Requirement("do not modify `scores` in place: `masked_fill`, not `masked_fill_`", "pure"),
        Requirement("This course asks for $-\\infty$ all the same", "(5, 5) scores, causal mask"),
        Requirement("**0** is not \"nothing\" for a softmax", "(5, 5) scores, causal mask"),
        Requirement("and in float32 it works almost always",
                    not_checked="why -1e9 is tempting; -inf itself is required above, exactly"),
    ],
)

# ---------------------------------------------------------------- prefix means


def _x(rng, B, T, C, scale=1.0):
    return (randn(rng, B, T, C, scale=scale),)


PREFIX_CASES = [
    Case("B=2, T=5, C=3", lambda rng: _x(rng, 2, 5, 3)),
    Case("a batch of one, T=1", lambda rng: _x(rng, 1, 1, 4)),
    Case("B=3, T=8, C=2, large values", lambda rng: _x(rng, 3, 8, 2, scale=1000.0)),
]
# float32 sums in another order (a loop, a matrix product, a softmax of zeros whose weights
# are 1/(t+1) rounded): ~1e-7 relative, times the values' size
PREFIX_COMPARE = close(rtol=1e-5, atol=1e-5)


def _loop(x, rows):
    out = torch.zeros_like(x)
    for t in range(x.shape[1]):
        out[:, t] = rows(x, t)
    return out


ALL_PREFIX = tuple(c.name for c in PREFIX_CASES)


def _prefix_requirements(how):
    return [
        Requirement("(B, T, C) -> (B, T, C)", *ALL_PREFIX),
        Requirement("$x: (B, T, C) \\to \\bar x: (B, T, C)$", *ALL_PREFIX),
        Requirement("The simplest way for position $t$ to use its past is to **average** it", *ALL_PREFIX),
        how,
    ]


prefix_mean_loop = Exercise(
    id="08.prefix_mean_loop", points=1, difficulty="easy", minutes=5, pure=True,
    cases=PREFIX_CASES, compare=PREFIX_COMPARE,
    requirements=_prefix_requirements(
        Requirement("a Python loop over $t$, `x[:, :t+1].mean(dim=1)`", "B=2, T=5, C=3", "a batch of one, T=1",
                    not_checked="(the loop) how it is written; the averages are graded")),
    mistakes=[
        Mistake("excluded the current token",
                "position t averages x[:, :t+1], itself included; x[:, :t] is empty at t = 0 (NaN).",
                lambda x: _loop(x, lambda x, t: x[:, :t].mean(dim=1))),
        Mistake("averaged the whole sequence",
                "only the past and the present: x[:, :t+1], not all of x.",
                lambda x: x.mean(dim=1, keepdim=True).expand_as(x).clone()),
        Mistake("summed instead of averaged",
                "divide by the number of positions averaged, t + 1: use .mean(dim=1).",
                lambda x: _loop(x, lambda x, t: x[:, :t + 1].sum(dim=1))),
    ],
)


def _weights_matmul(T, normalise_dim=1, lower=True):
    W = torch.ones(T, T).tril() if lower else torch.ones(T, T).triu()
    return W if normalise_dim is None else W / W.sum(dim=normalise_dim, keepdim=True)


prefix_mean_matmul = Exercise(
    id="08.prefix_mean_matmul", points=1, difficulty="medium", minutes=10, pure=True,
    cases=PREFIX_CASES, compare=PREFIX_COMPARE,
    requirements=_prefix_requirements(
        Requirement("$W_{ts} = 1/(t+1)$ for $s \\le t$ and 0 otherwise — the causal mask with each row divided by its sum",
                    "B=2, T=5, C=3", "B=3, T=8, C=2, large values")) + [
        Requirement("broadcast over the batch: `W @ x` is `(T, T) @ (B, T, C) -> (B, T, C)`",
                    "B=2, T=5, C=3", "B=3, T=8, C=2, large values"),
    ],
    mistakes=[
        Mistake("rows not normalised",
                "tril(ones) @ x sums the past; divide each row of the matrix by its sum "
                "(W / W.sum(dim=1, keepdim=True)) to average it.",
                lambda x: _weights_matmul(x.shape[1], normalise_dim=None) @ x),
        Mistake("normalised columns",
                "row t of W holds the weights of output t: normalise rows, sum(dim=1, keepdim=True).",
                lambda x: _weights_matmul(x.shape[1], normalise_dim=0) @ x),
        Mistake("upper triangle",
                "the lower triangle (torch.tril) averages the past; the upper one averages the future.",
                lambda x: _weights_matmul(x.shape[1], lower=False) @ x),
    ],
)


def _softmax_weights(T, fill=float("-inf"), dim=-1, mask_upper=True):
    keep = lower_triangle(T) if mask_upper else ~lower_triangle(T)
    return F.softmax(torch.zeros(T, T).masked_fill(~keep, fill), dim=dim)


prefix_mean_softmax = Exercise(
    id="08.prefix_mean_softmax", points=1, difficulty="medium", minutes=10, pure=True,
    cases=PREFIX_CASES, compare=PREFIX_COMPARE,
    requirements=_prefix_requirements(
        Requirement("the same $W$ built as $\\mathrm{softmax}$ of a `(T, T)` matrix of **zeros** with $-\\infty$ above the diagonal",
                    "B=2, T=5, C=3", "B=3, T=8, C=2, large values")),
    mistakes=[
        Mistake("masked with 0 instead of -inf",
                "softmax gives a score of 0 the weight e^0 = 1, like any other: fill the future "
                "with float('-inf').",
                lambda x: _softmax_weights(x.shape[1], fill=0.0) @ x),
        Mistake("softmax over the wrong dim",
                "row t holds the weights of output t, so softmax along the last dim (dim=-1).",
                lambda x: _softmax_weights(x.shape[1], dim=0) @ x),
        Mistake("masked the wrong triangle",
                "fill -inf where the causal mask is False (above the diagonal), keeping s <= t.",
                lambda x: _softmax_weights(x.shape[1], mask_upper=False) @ x),
    ],
)

# ---------------------------------------------------------------- padding and combining

padding_mask = Exercise(
    id="08.padding_mask", points=1, difficulty="easy", minutes=5, pure=True,
    cases=[
        Case("lengths [3, 5, 1], T=5", lambda rng: (torch.tensor([3, 5, 1]), 5)),
        Case("an empty sequence: lengths [0, 2], T=3", lambda rng: (torch.tensor([0, 2]), 3)),
        Case("a batch of one, full length", lambda rng: (torch.tensor([4]), 4)),
    ],
    compare=exact,
    mistakes=[
        Mistake("one position too many",
                "a sequence of length L occupies positions 0 .. L-1: position s is real when "
                "s < L, not s <= L.",
                lambda lengths, T: torch.arange(T)[None, :] <= lengths[:, None]),
        Mistake("inverted",
                "True marks real tokens (may be attended), False the padding.",
                lambda lengths, T: torch.arange(T)[None, :] >= lengths[:, None]),
        Mistake("transposed",
                "one row per sequence: the shape is (B, T), positions along the columns.",
                lambda lengths, T: torch.arange(T)[:, None] < lengths[None, :]),
    ],
    requirements=[
        Requirement("Write `padding_mask(lengths, T)`: `lengths` a `(B,)` long tensor → `(B, T)` bool",
                    "lengths [3, 5, 1], T=5", "a batch of one, full length"),
        Requirement("$P_{bs} = [\\, s < \\ell_b \\,] \\qquad (B, T), \\quad \\text{True at real tokens}",
                    "lengths [3, 5, 1], T=5", "an empty sequence: lengths [0, 2], T=3"),
        Requirement("(A length of 0 is possible: an empty sequence.)", "an empty sequence: lengths [0, 2], T=3"),
    ],
)


def _combine_inputs(rng, lengths, T):
    lengths = torch.as_tensor(lengths)
    return lower_triangle(T), torch.arange(T)[None, :] < lengths[:, None]


combine_masks = Exercise(
    id="08.combine_masks", points=1, difficulty="medium", minutes=10, pure=True,
    cases=[
        Case("B=2, T=4, lengths [4, 2]", lambda rng: _combine_inputs(rng, [4, 2], 4)),
        Case("B=3, T=5, lengths [1, 3, 5]", lambda rng: _combine_inputs(rng, [1, 3, 5], 5)),
        Case("a batch of one, T=1", lambda rng: _combine_inputs(rng, [1], 1)),
        Case("an empty sequence: lengths [0, 3], T=3", lambda rng: _combine_inputs(rng, [0, 3], 3),
             why="a length of 0 is possible: its queries may attend to no key at all"),
    ],
    compare=exact,
    mistakes=[
        Mistake("masked queries instead of keys",
                "padding hides *keys* (the columns, the last axis): padding[:, None, :], which is "
                "(B, 1, T).",
                lambda c, p: c[None] & p[:, :, None]),
        Mistake("or instead of and",
                "a key is allowed only when both masks allow it: combine with &.",
                lambda c, p: c[None] | p[:, None, :]),
        Mistake("forgot the causal mask",
                "the result must still be causal: causal[None, :, :] & padding[:, None, :].",
                lambda c, p: p[:, None, :].expand(-1, p.shape[1], -1).clone()),
    ],
    requirements=[
        Requirement("(T, T) causal and (B, T) key-padding masks -> (B, T, T): allowed when both allow",
                    "B=2, T=4, lengths [4, 2]", "B=3, T=5, lengths [1, 3, 5]", "a batch of one, T=1"),
        Requirement("query $t$ of sequence $b$ may attend key $s$ when $s \\le t$ **and** key $s$ is a real token",
                    "B=2, T=4, lengths [4, 2]", "B=3, T=5, lengths [1, 3, 5]"),
        Requirement("The padding mask applies to the **keys** (the columns)", "B=2, T=4, lengths [4, 2]",
                    "B=3, T=5, lengths [1, 3, 5]"),
        Requirement("(A length of 0 is possible: an empty sequence.)", "an empty sequence: lengths [0, 3], T=3"),
        Requirement("Queries at padded positions still get *some* output", "B=3, T=5, lengths [1, 3, 5]"),
    ],
)

# ---------------------------------------------------------------- CausalSelfAttention


def _perturbed(x, t):
    """x with every position after t replaced (deterministically)."""
    x2 = x.clone()
    x2[:, t + 1:] = -3.0 * x[:, t + 1:].flip(1) + 1.0
    return x2


def _causal_call(model, x, t):
    return model(x), model(_perturbed(x, t))


def _causal_compare(got, expected, args):
    """First what causal means (the prefix does not move when the future changes), then the
    values against the reference with the same weights."""
    t = args[1][1]
    values = close(rtol=1e-5, atol=1e-6)    # float32 products in another order: ~1e-7 relative
    reference_is_causal = np.allclose(expected[0].array[:, :t + 1], expected[1].array[:, :t + 1], atol=1e-6)
    if reference_is_causal and isinstance(got, tuple) and len(got) == 2 and all(hasattr(g, "array") for g in got):
        a, b = got[0].array, got[1].array
        if a.shape == b.shape and a.ndim == 3 and a.shape[:2] == expected[0].array.shape[:2]:
            moved = np.abs(a[:, :t + 1] - b[:, :t + 1])
            if not np.isfinite(moved).all() or moved.max() > 1e-5:
                where = int(np.nanargmax(moved.max(axis=(0, 2))))
                return Fail(f"not causal: changing the inputs after position {t} changed your output "
                            f"at position {where} (by {np.nanmax(moved):.3g}); position t must see only 0..t")
    return values(got, expected, args)


class _Causal(torch.nn.Module):
    """The reference causal head written out; each keyword after `d_head` varies one step (the
    mask, `mask(T)`, is applied before the softmax or, wrongly, after it)."""

    def __init__(self, d_model, d_head, mask=lower_triangle, mask_before_softmax=True, saved_mask=False):
        super().__init__()
        self.query = torch.nn.Linear(d_model, d_head, bias=False)
        self.key = torch.nn.Linear(d_model, d_head, bias=False)
        self.value = torch.nn.Linear(d_model, d_head, bias=False)
        self.mask, self.mask_before_softmax = mask, mask_before_softmax
        if saved_mask:
            self.register_buffer("tril", lower_triangle(64))

    def forward(self, x):
        q, k, v, mask = self.query(x), self.key(x), self.value(x), self.mask(x.shape[1])
        s = q @ k.transpose(-2, -1) / math.sqrt(k.shape[-1])
        if mask is not None and self.mask_before_softmax:
            s = s.masked_fill(~mask, float("-inf"))
        w = torch.softmax(s, dim=-1)
        if mask is not None and not self.mask_before_softmax:
            w = w.masked_fill(~mask, 0.0)
        elif mask is not None:
            w = w.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)   # a query that may see nothing
        return w @ v


def _causal_inputs(rng, B, T, d_model, d_head, t):
    return (d_model, d_head), (randn(rng, B, T, d_model), t)


_causal_run = module_case("grader.reference.ch08.CausalSelfAttention", _causal_call)

CausalSelfAttention = Exercise(
    id="08.CausalSelfAttention", points=2, difficulty="medium", minutes=15,
    cases=[
        Case("B=2, T=6, d_model=8, d_head=4: change the inputs after t=2",
             lambda rng: _causal_inputs(rng, 2, 6, 8, 4, 2), run=_causal_run),
        Case("B=3, T=9, d_model=16, d_head=8: change the inputs after t=5",
             lambda rng: _causal_inputs(rng, 3, 9, 16, 8, 5), run=_causal_run),
        Case("a batch of one token (nothing after it)",
             lambda rng: _causal_inputs(rng, 1, 1, 4, 4, 0), run=_causal_run),
        Case("a long input, T=40: change the inputs after t=30",
             lambda rng: _causal_inputs(rng, 1, 40, 8, 4, 30), run=_causal_run,
             why="the mask is built for the T of the input, not for a fixed size"),
    ],
    compare=module_compare(_causal_compare),
    mistakes=[
        Mistake("no causal mask",
                "without the mask every position attends to the whole sequence, future included: "
                "pass causal_mask(T) to the attention.",
                variant(_Causal, mask=lambda T: None)),
        Mistake("mask upside down",
                "query t may see keys s <= t: the lower triangle (causal_mask), not its transpose.",
                variant(_Causal, mask=lambda T: lower_triangle(T).T)),
        Mistake("diagonal excluded",
                "a position attends to itself too: tril with the diagonal. Without it position 0 "
                "sees nothing at all.",
                variant(_Causal, mask=lambda T: lower_triangle(T).tril(diagonal=-1))),
        Mistake("mask applied after softmax",
                "masking the weights after the softmax keeps the future in the normalisation, so "
                "the output at t still depends on it: mask the scores with -inf first.",
                variant(_Causal, mask_before_softmax=False)),
        Mistake("mask saved in the state dict",
                "a mask registered with register_buffer(...) is saved with the weights; register "
                "it with persistent=False (or build it in forward).",
                variant(_Causal, saved_mask=True)),
    ],
    requirements=[
        Requirement("`CausalSelfAttention(d_model, d_head)`: attributes `query`, `key`, `value` (`nn.Linear(d_model, d_head, bias=False)`",
                    "B=2, T=6, d_model=8, d_head=4: change the inputs after t=2",
                    "B=3, T=9, d_model=16, d_head=8: change the inputs after t=5"),
        Requirement("the grader loads its weights by them", "B=2, T=6, d_model=8, d_head=4: change the inputs after t=2"),
        Requirement("`forward(x)` for `x` `(B, T, d_model)` → `(B, T, d_head)`",
                    "B=2, T=6, d_model=8, d_head=4: change the inputs after t=2", "a batch of one token (nothing after it)"),
        Requirement("masking with `causal_mask(T)` for the `T` of the input", "a long input, T=40: change the inputs after t=30",
                    "B=3, T=9, d_model=16, d_head=8: change the inputs after t=5"),
        Requirement("register it with `persistent=False`, or it becomes part of the state dict",
                    "B=2, T=6, d_model=8, d_head=4: change the inputs after t=2"),
        Requirement("the output at $t$ does not change when anything after $t$ changes",
                    "B=2, T=6, d_model=8, d_head=4: change the inputs after t=2",
                    "B=3, T=9, d_model=16, d_head=8: change the inputs after t=5",
                    "a long input, T=40: change the inputs after t=30"),
        Requirement("it runs your head on $x$ and on a copy whose positions after $t$ are replaced",
                    "B=2, T=6, d_model=8, d_head=4: change the inputs after t=2"),
        Requirement("Use chapter 07's `scaled_dot_product_attention`", not_checked="how the answer is written; "
                    "its outputs are graded"),
    ],
)

EXERCISES = [causal_mask, apply_mask, prefix_mean_loop, prefix_mean_matmul, prefix_mean_softmax,
             padding_mask, combine_masks, CausalSelfAttention]
