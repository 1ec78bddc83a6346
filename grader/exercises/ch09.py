"""Chapter 09, the Transformer block: the checks, and the mistakes they recognise by name.

Functions (`split_heads`, `merge_heads`, `gelu`) are called on seeded tensors. `dropout` is
random, so it is judged by what must hold for every draw (each element dropped or scaled by
exactly 1/(1-p), about a fraction p dropped, a fresh independent mask per element and per
call), never by equality with the reference's draws. Modules are
checked the way the chapter promises: the course's reference module is built, its weights
are nudged away from their initial values (so a forgotten LayerNorm gain or bias shows), all in
the grading process (a run's `prepare`); the weights reach the run as data and are
copied into the learner's module with `load_state_dict(strict=True)`, and both run on the
same input in `eval()` mode. A parameter with a wrong name or shape is reported by name
before anything runs.

Dropout inside the modules is checked in `train()` mode by structure, never by equality with
the reference's draws (a correct answer may draw its random numbers in another order): the
weights are chosen so that each dropout leaves its own mark in the output (an exact zero, a
factor 1/(1-p)), and the comparator counts the marks.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..compare import Fail, close
from ..engine import Case, Exercise, Mistake, Requirement
from ..values import TensorValue
from . import common
from .common import FLOAT32, GPT2_NAMES, dropped_fraction_fail, randn, variant

# Chapter 09's reference, imported at the first attribute looked up: only the grading process
# uses it (a run's `prepare`, the known mistakes); the runs get its weights as data in their args.
ref = common.lazy_reference("09")


DROPOUT_ADVICE = ": use nn.Dropout(dropout), the p you were given"


def explicit(model):
    """The model with the reference's `fast` switches off: the reference then runs the explicit
    lines a learner writes (attention from the (T, T) matrix, LayerNorm and GELU by formula), so
    the checks grade those lines; torch's fused kernels are proven equal in
    tests/test_gpt_fast_path.py. A learner's module has no such switch and is returned as it is."""
    for module in model.modules():
        if hasattr(module, "fast"):
            module.fast = False
    return model


def learner_model(cls, ctor, weights):
    """`cls(*ctor)` holding the reference's weights, in eval mode, with any `fast` switch off."""
    return explicit(common.with_weights(cls, ctor, weights, hint=GPT2_NAMES))


def module_run(name, train=False):
    """`run` for a module exercise: args are (constructor args, input tensor), and the prepared
    reference weights. `train`: call it in train() mode (with dropout=0 a module must then
    compute what it computes in eval mode)."""
    @common.prepared(common.adding_weights("09", name, nudge=0.2))
    def run(cls, args):
        ctor, x, weights = args
        model = learner_model(cls, ctor, weights)
        with torch.no_grad():
            return model.train(train)(x)
    return run


def eval_and_train_run(name, set_weights=None):
    """`run` that calls the module in eval mode, then in train mode, on the same input:
    {"eval": ..., "train": ...}. `set_weights(reference_module)` replaces the nudged weights by
    chosen ones (the grading process does it, before the weights become the run's data)."""
    @common.prepared(common.adding_weights("09", name, nudge=0.0 if set_weights else 0.2, set_weights=set_weights))
    def run(cls, args):
        ctor, x, weights = args
        model = learner_model(cls, ctor, weights)
        with torch.no_grad():
            out = {"eval": model(x)}
            out["train"] = model.train()(x)
        return out
    return run


def compare_output_dropout(no_dropout, mistake_before=None):
    """Comparator for {"eval", "train"} of a module whose last step is dropout: in train mode
    each output element is exactly 0 or exactly its eval value / (1 - p), about a fraction p
    of them 0. `no_dropout`: the mistake named when train equals eval; `mistake_before`: the
    one named when train differs from eval but no element is 0 (dropout before the last layer)."""
    def compare(got, expected, args):
        fail = FLOAT32(got["eval"], expected["eval"], args)
        if fail:
            return Fail(f"in eval mode: {fail.message}")
        ctor, e, y = args[0], got["eval"].array, got["train"].array
        p = ctor[1]
        if y.shape != e.shape:
            return Fail(f"in train mode the output has shape {y.shape}, in eval mode {e.shape}")
        dropped = y == 0
        if not dropped.any():
            if np.allclose(y, e, rtol=1e-5, atol=1e-6):
                return Fail(f"in train mode with dropout={p} nothing was dropped: the output equals "
                            "the eval-mode output", mistake=no_dropout)
            return Fail(f"in train mode with dropout={p} no output element is exactly 0: the dropout "
                        "must be the last step, on the output of c_proj", mistake=mistake_before)
        fail = dropped_fraction_fail(dropped, p, "the output elements", DROPOUT_ADVICE)
        if fail:
            return fail
        if not np.allclose(y[~dropped], e[~dropped] / (1 - p), rtol=1e-4, atol=1e-5):
            return Fail("in train mode the kept output elements must be exactly the eval-mode values "
                        "divided by 1 - p (inverted dropout)")
        return None
    return compare


# ---------------------------------------------------------------- split_heads / merge_heads

def _split_bare_view(x, n_head):
    B, T, C = x.shape
    return x.reshape(B, n_head, T, C // n_head)


def _split_interleaved(x, n_head):
    B, T, C = x.shape
    return x.reshape(B, T, C // n_head, n_head).permute(0, 3, 1, 2)


def _split_no_transpose(x, n_head):
    B, T, C = x.shape
    return x.reshape(B, T, n_head, C // n_head)


split_heads = Exercise(
    id="09.split_heads", points=1, difficulty="easy", minutes=10, pure=True,
    cases=[
        Case("B=2, T=5, C=12 into 3 heads", lambda rng: (randn(rng, 2, 5, 12), 3)),
        Case("a batch of one, T=4, C=8 into 4 heads (T == n_head)", lambda rng: (randn(rng, 1, 4, 8), 4)),
        Case("one head: (B, 1, T, C)", lambda rng: (randn(rng, 2, 3, 6), 1)),
    ],
    compare=close(rtol=0, atol=0),  # a pure rearrangement: every number must land exactly
    mistakes=[
        Mistake("heads split by a bare reshape without transpose",
                "x.view(B, n_head, T, hs) has the right shape but re-reads memory in order, so "
                "head 0 gets all channels of the first tokens. View as (B, T, n_head, hs), then "
                "transpose(1, 2).", _split_bare_view),
        Mistake("forgot the transpose",
                "after view(B, T, n_head, hs) the head axis must move in front of T: "
                ".transpose(1, 2) gives (B, n_head, T, hs).", _split_no_transpose),
        Mistake("interleaved heads",
                "head h owns the contiguous channels h*hs ... (h+1)*hs - 1, so view the channel "
                "axis as (n_head, hs), not (hs, n_head).", _split_interleaved),
    ],
    requirements=[
        Requirement("(B, T, C) -> (B, n_head, T, C // n_head); head h holds channels h*hs ... (h+1)*hs - 1",
                    "B=2, T=5, C=12 into 3 heads", "a batch of one, T=4, C=8 into 4 heads (T == n_head)",
                    "one head: (B, 1, T, C)"),
        Requirement("x.view(B, H, T, hs) has the right shape but the wrong content",
                    "a batch of one, T=4, C=8 into 4 heads (T == n_head)", "B=2, T=5, C=12 into 3 heads"),
        Requirement("def split_heads(x, n_head):", "B=2, T=5, C=12 into 3 heads", "pure"),
    ],
)


def _merge_bare_view(x):
    B, H, T, hs = x.shape
    return x.reshape(B, T, H * hs)


def _merge_interleaved(x):
    B, H, T, hs = x.shape
    return x.permute(0, 2, 3, 1).reshape(B, T, H * hs)


merge_heads = Exercise(
    id="09.merge_heads", points=1, difficulty="easy", minutes=5, pure=True,
    cases=[
        Case("B=2, 3 heads, T=5, hs=4", lambda rng: (randn(rng, 2, 3, 5, 4),)),
        Case("a batch of one, 4 heads, T=4 (T == n_head)", lambda rng: (randn(rng, 1, 4, 4, 2),)),
        Case("the output of a transpose (not contiguous)",
             lambda rng: (randn(rng, 2, 6, 2, 3).transpose(1, 2),),
             why="split_heads returns a transposed view; merge_heads must accept it"),
    ],
    compare=close(rtol=0, atol=0),
    mistakes=[
        Mistake("merged by a bare reshape without transpose",
                "(B, H, T, hs).reshape(B, T, C) mixes tokens and heads; first transpose(1, 2) "
                "to (B, T, H, hs), then reshape.", _merge_bare_view),
        Mistake("interleaved heads",
                "the channels of head 0 come first, then those of head 1: transpose(1, 2) to "
                "(B, T, H, hs) and flatten the last two axes in that order.", _merge_interleaved),
    ],
    requirements=[
        Requirement("(B, n_head, T, hs) -> (B, T, n_head * hs): the inverse of split_heads",
                    "B=2, 3 heads, T=5, hs=4", "a batch of one, 4 heads, T=4 (T == n_head)"),
        Requirement("x.view(B, H, T, hs) has the right shape but the wrong content",
                    "a batch of one, 4 heads, T=4 (T == n_head)", "B=2, 3 heads, T=5, hs=4"),
        Requirement("After a transpose the memory is no longer in order, so in merge_heads use "
                    ".contiguous().view(...) or .reshape(...)", "the output of a transpose (not contiguous)"),
        Requirement("def merge_heads(x):", "B=2, 3 heads, T=5, hs=4", "pure"),
    ],
)

# ---------------------------------------------------------------- MultiHeadAttention


class _MHA(nn.Module):
    """The reference computation written out; each keyword after `bias` varies one step."""

    def __init__(self, n_embd, n_head, dropout=0.0, bias=True, causal=True, split_transposed=True,
                 head_size_scale=True, q_first=True, softmax_dim=-1, project=True,
                 attention_dropout=True, output_dropout=True):
        super().__init__()
        self.n_embd, self.n_head = n_embd, n_head
        self.causal, self.split_transposed, self.head_size_scale = causal, split_transposed, head_size_scale
        self.q_first, self.softmax_dim, self.project = q_first, softmax_dim, project
        self.attention_dropout, self.output_dropout = attention_dropout, output_dropout
        self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias=bias)
        self.c_proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        if not self.q_first:
            k, q, v = q, k, v
        split = (lambda t, h: t.view(B, T, h, C // h).transpose(1, 2)) if self.split_transposed else \
            _split_bare_view
        q, k, v = (split(t, self.n_head) for t in (q, k, v))
        scale = math.sqrt(C // self.n_head if self.head_size_scale else C)
        att = q @ k.transpose(-2, -1) / scale
        if self.causal:
            att = att.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
        att = att.softmax(dim=self.softmax_dim)
        if self.attention_dropout:
            att = self.drop(att)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        if not self.project:
            return y
        return self.drop(self.c_proj(y)) if self.output_dropout else self.c_proj(y)


NO_ATTENTION_DROPOUT = Mistake(
    "no dropout on the attention weights",
    "the attention weights get their own nn.Dropout(dropout), applied after the softmax and before "
    "the weighted sum of the values (dropout on the scores before the softmax is not the same).",
    variant(_MHA, attention_dropout=False))
NO_OUTPUT_DROPOUT = Mistake(
    "no dropout after c_proj",
    "the output gets a second nn.Dropout(dropout), applied to the output of c_proj (the last step): "
    "GPT-2 drops what each sub-layer adds to the residual stream.",
    variant(_MHA, output_dropout=False))


def _mha_inputs(ctor, B, T):
    def inputs(rng):
        return ctor, randn(rng, B, T, ctor[0])
    return inputs


def attention_shown_weights(mha):
    """Weights under which MultiHeadAttention's output shows its attention weights: q = k = 0,
    so every query attends evenly to positions 0..t; v copies a one-hot x_t (token t is the
    one-hot vector e_t) to channel t of every head; c_proj is the identity with bias 1. In eval
    mode output[b, t, h*hs + s] = 1 + att_h[t, s] = 1 + 1/(t+1) for s <= t, else 1. In train
    mode each dropout leaves its own mark: the one after c_proj an exact 0, the one after the
    softmax an attention weight of 0 or att/(1-p)."""
    C, H = mha.c_attn.in_features, mha.n_head
    hs = C // H
    mha.c_attn.weight.zero_()
    mha.c_attn.bias.zero_()
    for h in range(H):
        for t in range(hs):
            mha.c_attn.weight[2 * C + h * hs + t, t] = 1.0
    mha.c_proj.weight.copy_(torch.eye(C))
    mha.c_proj.bias.fill_(1.0)


def _one_hot_inputs(ctor, B, T):
    """x[b, t] = e_t, the one-hot vector of position t (T <= head size)."""
    def inputs(rng):
        return ctor, torch.eye(T, ctor[0]).expand(B, T, ctor[0]).clone()
    return inputs


def compare_attention_dropout(got, expected, args):
    """Train mode under `attention_shown_weights`: a fraction p of the output is exactly 0 (the
    dropout after c_proj); the kept elements, times (1 - p), minus c_proj's bias 1, are the
    attention weights as the dropout after the softmax left them: 0 or att/(1-p), a fraction p
    of them 0, and 0 wherever the causal mask is (s > t)."""
    fail = FLOAT32(got["eval"], expected["eval"], args)
    if fail:
        return Fail(f"in eval mode: {fail.message}")
    ctor, y = args[0], got["train"].array
    p = ctor[2]
    att = expected["eval"].array - 1                   # the eval-mode attention weights
    if y.shape != att.shape:
        return Fail(f"in train mode the output has shape {y.shape}, expected {att.shape}")
    dropped = y == 0
    if not dropped.any():
        return Fail(f"in train mode with dropout={p} no output element is exactly 0: the dropout on the "
                    "output must come after c_proj", mistake=NO_OUTPUT_DROPOUT)
    fail = dropped_fraction_fail(dropped, p, "the output elements", DROPOUT_ADVICE)
    if fail:
        return fail
    shown = y * (1 - p) - 1                            # the attention weights after their dropout
    future = (att == 0) & ~dropped
    if not np.allclose(shown[future], 0, atol=1e-4):
        return Fail("in train mode a query attended to a later position: the causal mask must hold in "
                    "training too")
    live = (att > 0) & ~dropped
    ratio = shown[live] / att[live]
    if np.allclose(ratio, 1, atol=1e-3):
        return Fail(f"in train mode with dropout={p} no attention weight was dropped: the attention "
                    "weights need their own dropout, after the softmax", mistake=NO_ATTENTION_DROPOUT)
    zero, scaled = np.isclose(ratio, 0, atol=1e-3), np.isclose(ratio, 1 / (1 - p), rtol=1e-3)
    if not (zero | scaled).all():
        return Fail(f"in train mode each attention weight must be either 0 or divided by 1 - p "
                    f"(x {1 / (1 - p):.4g}); yours are multiplied by {np.unique(ratio.round(3))[:6]}: "
                    "one dropout after the softmax, one after c_proj, each inverted")
    return dropped_fraction_fail(zero, p, "the attention weights", DROPOUT_ADVICE)


MultiHeadAttention = Exercise(
    id="09.MultiHeadAttention", points=3, difficulty="medium", minutes=30,
    run=module_run("MultiHeadAttention"),
    cases=[
        Case("n_embd=16, 4 heads, B=2, T=6", _mha_inputs((16, 4), 2, 6)),
        Case("a batch of one, T=1", _mha_inputs((16, 2), 1, 1)),
        Case("bias=False, dropout=0.1 in eval mode", _mha_inputs((12, 3, 0.1, False), 2, 5),
             why="bias=False must leave c_attn and c_proj without bias parameters"),
        Case("one head, T=9", _mha_inputs((8, 1), 2, 9)),
        Case("train mode with the default dropout (0.0): the same as eval mode", _mha_inputs((16, 4), 2, 6),
             run=module_run("MultiHeadAttention", train=True),
             why="dropout=0.0 is the default: model.train() must then change nothing"),
        Case("train mode, dropout=0.25: the attention weights after the softmax and the output after c_proj",
             _one_hot_inputs((16, 2, 0.25), B=32, T=8),
             run=eval_and_train_run("MultiHeadAttention", attention_shown_weights),
             compare=compare_attention_dropout,
             why="weights chosen so each dropout shows: the output dropout as exact zeros, the attention "
                 "dropout as attention weights of 0 or att/(1-p)"),
    ],
    compare=FLOAT32,
    mistakes=[
        Mistake("no causal mask",
                "a GPT predicts the next token, so position t may only attend to positions <= t: "
                "fill the scores above the diagonal with -inf before the softmax.", variant(_MHA, causal=False)),
        Mistake("heads split by a bare reshape without transpose",
                "view q, k, v as (B, T, n_head, hs) and transpose(1, 2); a bare view to "
                "(B, n_head, T, hs) mixes tokens into the wrong heads.", variant(_MHA, split_transposed=False)),
        Mistake("scaled by sqrt(n_embd) instead of sqrt(head size)",
                "each head's scores are dot products of hs = n_embd / n_head numbers: divide by "
                "sqrt(hs).", variant(_MHA, head_size_scale=False)),
        Mistake("q, k, v taken in the wrong order",
                "GPT-2's c_attn output is [queries | keys | values] along the last axis: "
                "q, k, v = self.c_attn(x).split(n_embd, dim=2).", variant(_MHA, q_first=False)),
        Mistake("softmax over the queries",
                "each query's weights over the keys must sum to 1: softmax(dim=-1).", variant(_MHA, softmax_dim=-2)),
        Mistake("forgot the output projection",
                "after merging the heads, mix them with c_proj.", variant(_MHA, project=False)),
        NO_ATTENTION_DROPOUT,
        NO_OUTPUT_DROPOUT,
    ],
    requirements=[
        Requirement("Write MultiHeadAttention(n_embd, n_head, dropout=0.0, bias=True) with exactly these parameters",
                    "n_embd=16, 4 heads, B=2, T=6", "bias=False, dropout=0.1 in eval mode",
                    "train mode with the default dropout (0.0): the same as eval mode"),
        Requirement("c_attn | nn.Linear(n_embd, 3 * n_embd, bias=bias)", "n_embd=16, 4 heads, B=2, T=6",
                    "bias=False, dropout=0.1 in eval mode"),
        Requirement("c_proj | nn.Linear(n_embd, n_embd, bias=bias)", "n_embd=16, 4 heads, B=2, T=6",
                    "bias=False, dropout=0.1 in eval mode"),
        Requirement("In that order: the first C output channels are the queries, then the keys, then the values",
                    "n_embd=16, 4 heads, B=2, T=6"),
        Requirement("two nn.Dropout(dropout): one on the attention weights (after the softmax), one on the "
                    "output (after c_proj)",
                    "train mode, dropout=0.25: the attention weights after the softmax and the output after c_proj",
                    "bias=False, dropout=0.1 in eval mode"),
        Requirement("forward(x): (B, T, C) → (B, T, C), causal",
                    "n_embd=16, 4 heads, B=2, T=6", "a batch of one, T=1", "one head, T=9",
                    "train mode, dropout=0.25: the attention weights after the softmax and the output after c_proj"),
        Requirement("scale by sqrt{hs}, the size of one head, not sqrt{C}", "n_embd=16, 4 heads, B=2, T=6"),
        Requirement("the softmax runs over the keys (the last axis)", "n_embd=16, 4 heads, B=2, T=6"),
        Requirement("build the causal mask for the actual T of the input", "a batch of one, T=1", "one head, T=9"),
        Requirement("A worked shape trace of forward", "n_embd=16, 4 heads, B=2, T=6", "one head, T=9"),
    ],
)

# ---------------------------------------------------------------- LayerNorm


class _LN(nn.Module):
    """The reference LayerNorm; each keyword after `bias` varies one step."""

    def __init__(self, ndim, eps=1e-5, bias=True, dim=-1, unbiased=False, eps_inside=True, affine=True):
        super().__init__()
        self.eps, self.dim, self.unbiased, self.eps_inside, self.affine = eps, dim, unbiased, eps_inside, affine
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, x):
        mean = x.mean(dim=self.dim, keepdim=True)
        var = x.var(dim=self.dim, keepdim=True, unbiased=self.unbiased)
        if self.eps_inside:
            y = (x - mean) / torch.sqrt(var + self.eps)
        else:
            y = (x - mean) / (torch.sqrt(var) + self.eps)
        if self.affine:
            y = y * self.weight
            if self.bias is not None:
                y = y + self.bias
        return y


def _ln_inputs(ctor, *shape, scale=1.0, shift=0.0):
    def inputs(rng):
        return ctor, randn(rng, *shape, scale=scale) + shift
    return inputs


LayerNorm = Exercise(
    id="09.LayerNorm", points=2, difficulty="medium", minutes=20,
    run=module_run("LayerNorm"),
    cases=[
        Case("(2, 5, 16) activations", _ln_inputs((16,), 2, 5, 16)),
        Case("eps=0.1 on small activations", _ln_inputs((8, 0.1), 2, 3, 8, scale=0.3),
             why="with a large eps, eps inside and outside the square root differ plainly"),
        Case("bias=False", _ln_inputs((10, 1e-5, False), 3, 4, 10)),
        Case("large offset and scale, a batch of one", _ln_inputs((32,), 1, 3, 32, scale=50.0, shift=1000.0)),
        Case("the default eps=1e-5 on tiny activations (variance about 1e-5)", _ln_inputs((24,), 2, 3, 24, scale=0.003),
             why="where the variance is as small as eps, eps's value shows: the default must be 1e-5"),
    ],
    compare=FLOAT32,
    mistakes=[
        Mistake("eps outside the square root",
                "eps belongs inside: (x - mean) / sqrt(var + eps). sqrt(var) + eps is a different "
                "function, visibly so when eps is not tiny.", variant(_LN, eps_inside=False)),
        Mistake("unbiased variance",
                "LayerNorm divides by C, not C - 1: x.var(dim=-1, unbiased=False) (torch.var "
                "is unbiased by default).", variant(_LN, unbiased=True)),
        Mistake("normalised over the wrong axis",
                "each token is normalised over its own C channels: mean and var over dim=-1.",
                variant(_LN, dim=1)),
        Mistake("forgot weight and bias",
                "after normalising, scale by self.weight and add self.bias (when it exists).",
                variant(_LN, affine=False)),
    ],
    requirements=[
        Requirement("over its C channels it subtracts the mean and divides by the standard deviation",
                    "(2, 5, 16) activations", "large offset and scale, a batch of one"),
        Requirement("x: (B, T, C); mu, sigma^2: (B, T, 1); gamma, beta: (C,); y: (B, T, C)", "(2, 5, 16) activations"),
        Requirement("so a model behaves the same on a batch of one and in training and evaluation",
                    "large offset and scale, a batch of one"),
        Requirement("Write LayerNorm(ndim, eps=1e-5, bias=True) with parameters weight (ones) and bias "
                    "(zeros, or None when bias=False", "(2, 5, 16) activations", "bias=False",
                    "the default eps=1e-5 on tiny activations (variance about 1e-5)"),
        Requirement("It must equal nn.LayerNorm(ndim, eps=eps, bias=bias)", "(2, 5, 16) activations",
                    "eps=0.1 on small activations", "bias=False"),
        Requirement("sigma^2 divides by C (the biased variance)", "(2, 5, 16) activations"),
        Requirement("varepsilon goes inside the square root", "eps=0.1 on small activations"),
        Requirement("def forward(self, x):", "(2, 5, 16) activations"),
    ],
)

# ---------------------------------------------------------------- gelu


def _gelu_tanh(x, a=0.044715, power=3, c=math.sqrt(2.0 / math.pi), half=0.5):
    return half * x * (1.0 + torch.tanh(c * (x + a * x ** power)))


gelu = Exercise(
    id="09.gelu", points=1, difficulty="easy", minutes=5, pure=True,
    cases=[
        Case("values in [-4, 4]", lambda rng: (torch.linspace(-4, 4, 81),)),
        Case("a (2, 3, 8) tensor", lambda rng: (randn(rng, 2, 3, 8, scale=2.0),)),
        Case("large values (-30 and 30)", lambda rng: (torch.tensor([-30.0, -10.0, 10.0, 30.0]),),
             why="tanh saturates: GELU(x) is 0 far left and x far right"),
    ],
    # the erf form differs by up to 5e-4; rounding in a correct float32 formula by ~1e-7.
    compare=close(rtol=1e-5, atol=1e-6),
    mistakes=[
        Mistake("exact (erf) GELU instead of the tanh form",
                "GPT-2 uses the tanh approximation: F.gelu(x) and nn.GELU() default to the exact "
                "erf form; write the formula (or pass approximate='tanh').", lambda x: F.gelu(x)),
        Mistake("x squared instead of x cubed",
                "the correction term is 0.044715 * x**3.", variant(_gelu_tanh, power=2)),
        Mistake("sqrt(2*pi) instead of sqrt(2/pi)",
                "the constant inside tanh is sqrt(2 / pi), about 0.798.", variant(_gelu_tanh, c=math.sqrt(2 * math.pi))),
        Mistake("forgot the factor 1/2",
                "GELU(x) = 0.5 * x * (1 + tanh(...)); without the 0.5 it doubles for large x.",
                variant(_gelu_tanh, half=1.0)),
        Mistake("ReLU instead of GELU", "GELU is smooth and negative for small negative x; ReLU is not.",
                torch.relu),
    ],
    requirements=[
        Requirement("Write gelu(x) for a tensor of any shape", "values in [-4, 4]", "a (2, 3, 8) tensor", "pure"),
        Requirement("It must equal F.gelu(x, approximate=\"tanh\")", "values in [-4, 4]", "a (2, 3, 8) tensor",
                    "large values (-30 and 30)"),
        Requirement("nn.GELU() without arguments is the exact erf form", "values in [-4, 4]"),
    ],
)

# ---------------------------------------------------------------- dropout


def run_dropout(fn, args):
    """Call twice on the same input: a correct dropout draws a fresh mask on every call."""
    x, p, training = args
    return {"out": fn(x, p, training), "again": fn(x, p, training)}


def _dropout_inputs(shape, p, training, dtype=np.float32):
    # standard normal values are never exactly 0, so `out != 0` is exactly the kept mask
    return lambda rng: (torch.from_numpy(rng.standard_normal(shape).astype(dtype)), p, training)


def _check_one_call(out, x, p, training, what):
    if not isinstance(out, TensorValue):
        return Fail(f"{what} returned {type(out).__name__}, expected a tensor like x")
    if out.shape != x.shape:
        return Fail(f"{what} returned shape {out.shape}; dropout keeps the shape of x, {x.shape}")
    if out.dtype != x.dtype:
        return Fail(f"{what} returned {out.dtype} for a {x.dtype} input; keep the dtype of x")
    y, xs = out.array, x.array
    if np.isnan(y).any():
        return Fail(f"{what} returned NaN with p={p}", mistake=NAN_AT_P_1)
    if not training:
        if np.allclose(y, xs, rtol=1e-6, atol=0):
            return None
        if np.allclose(y, (1 - p) * xs, rtol=1e-5, atol=0):
            return Fail("in eval mode the output is x * (1 - p), not x", mistake=NON_INVERTED_DROPOUT)
        return Fail(f"in eval mode (training=False) dropout must return x unchanged; {int((y == 0).sum())} "
                    f"of {y.size} elements were zeroed or changed", mistake=DROPPED_IN_EVAL_MODE)
    if p == 0:
        return None if np.allclose(y, xs, rtol=1e-6, atol=0) else \
            Fail("with p=0 nothing is dropped: the output must equal x")
    kept = y != 0
    if p == 1:
        return None if not kept.any() else \
            Fail(f"with p=1 every element is dropped, but {int(kept.sum())} of {y.size} are not zero")
    for axis in range(y.ndim):
        if y.shape[axis] > 1 and (kept == kept.take([0], axis=axis)).all():
            return Fail(f"the same elements are dropped at every index of axis {axis}: each element "
                        "needs its own random draw", mistake=ONE_MASK_SHARED_ALONG_AN_AXIS)
    dropped = 1.0 - kept.mean()
    tolerance = 6 * math.sqrt(p * (1 - p) / y.size)   # six standard deviations of a fair draw
    if abs(dropped - p) > tolerance:
        return Fail(f"{dropped:.3f} of the elements were dropped with p={p} (expected {p} +- {tolerance:.3f})",
                    mistake=P_USED_AS_THE_KEEP_PROBABILITY if abs(dropped - (1 - p)) <= tolerance else None)
    ratio = y[kept] / xs[kept]
    if not np.allclose(ratio, 1 / (1 - p), rtol=1e-5, atol=0):
        for factor, name in ((1.0, NO_RESCALING), (1 / p, SCALED_BY_P_INSTEAD_OF_1_P),
                             (p, SCALED_BY_P_INSTEAD_OF_1_P)):
            if np.allclose(ratio, factor, rtol=1e-5, atol=0):
                return Fail(f"the kept elements are x * {factor:.4g}, expected x / (1 - p) = x * {1 / (1 - p):.4g}",
                            mistake=name)
        return Fail(f"the kept elements must be exactly x / (1 - p) = x * {1 / (1 - p):.4g}; "
                    f"yours range over x * [{ratio.min():.4g}, {ratio.max():.4g}]")
    return None


def compare_dropout(got, expected, args):
    x, p, training = args
    for key, what in (("out", "dropout"), ("again", "a second call")):
        fail = _check_one_call(got[key], x, p, training, what)
        if fail:
            return fail
    if training and 0 < p < 1 and np.array_equal(got["out"].array != 0, got["again"].array != 0):
        return Fail("two calls on the same x dropped exactly the same elements: draw a fresh mask on "
                    "every call", mistake=THE_SAME_MASK_ON_EVERY_CALL)
    return None


def _dropout_no_rescale(x, p, training):
    return x * (torch.rand_like(x) >= p) if training else x


def _dropout_in_eval(x, p, training):
    return x * (torch.rand_like(x) >= p) / (1 - p)


def _dropout_scaled_by_p(x, p, training):
    return x * (torch.rand_like(x) >= p) / p if training else x


def _dropout_keep_probability(x, p, training):
    return x * (torch.rand_like(x) < p) / p if training else x


def _dropout_non_inverted(x, p, training):
    return x * (torch.rand_like(x) >= p) if training else x * (1 - p)


def _dropout_shared_mask(x, p, training):
    return x * (torch.rand(x.shape[-1]) >= p) / (1 - p) if training else x


def _dropout_fixed_seed(x, p, training):
    generator = torch.Generator().manual_seed(0)
    return x * (torch.rand(x.shape, generator=generator) >= p).to(x.dtype) / (1 - p) if training else x


def _dropout_nan_at_one(x, p, training):
    return x * (torch.rand_like(x) >= p) / (1 - p) if training else x


NAN_AT_P_1 = Mistake("NaN at p=1",
                     "at p=1, x * 0 / (1 - p) is 0 / 0 = NaN: every element is dropped, so return zeros "
                     "(torch.zeros_like(x)) for p == 1.", _dropout_nan_at_one)
DROPPED_IN_EVAL_MODE = Mistake("dropped in eval mode",
                               "with training=False dropout does nothing: return x. (nn.Dropout follows "
                               "model.eval() by itself; F.dropout needs training=self.training.)", _dropout_in_eval)
NO_RESCALING = Mistake("no rescaling",
                       "the survivors must be divided by (1 - p): then every element keeps its expected "
                       "value, E[output] = x, and the next layer sees the same scale in training and eval.",
                       _dropout_no_rescale)
SCALED_BY_P_INSTEAD_OF_1_P = Mistake("scaled by p instead of 1 - p",
                                     "p is the probability of dropping, so a fraction 1 - p survives: divide the survivors "
                                     "by (1 - p), not by p (and do not multiply by p).", _dropout_scaled_by_p)
THE_SAME_MASK_ON_EVERY_CALL = Mistake("the same mask on every call",
                                      "a seeded generator inside the function repeats the same mask forever; draw from "
                                      "torch's global random state (torch.rand_like(x)), so every call drops other elements.",
                                      _dropout_fixed_seed)
NON_INVERTED_DROPOUT = Mistake("non-inverted dropout",
                               "the 2014 paper scaled by (1 - p) at test time; inverted dropout, which PyTorch and "
                               "this exercise use, scales by 1/(1 - p) in training and leaves eval mode alone.",
                               _dropout_non_inverted)
ONE_MASK_SHARED_ALONG_AN_AXIS = Mistake("one mask shared along an axis",
                                        "draw one random number per element, torch.rand_like(x), not one per channel or per row.",
                                        _dropout_shared_mask)
P_USED_AS_THE_KEEP_PROBABILITY = Mistake("p used as the keep probability",
                                         "p is the probability of *dropping* an element (PyTorch's convention, and the "
                                         "paper's 'keep probability' is 1 - p): keep an element when torch.rand_like(x) >= p.",
                                         _dropout_keep_probability)

dropout = Exercise(
    id="09.dropout", points=2, difficulty="easy", minutes=15, pure=True,
    run=run_dropout,
    cases=[
        Case("eval mode (training=False), p=0.5", _dropout_inputs((8, 32), 0.5, False),
             why="at evaluation dropout is the identity"),
        Case("training, p=0.1, a (64, 512) tensor", _dropout_inputs((64, 512), 0.1, True),
             why="32768 elements: the dropped fraction is 0.1 within +-0.01 for a fair draw"),
        Case("training, p=0.5, a (4, 16, 32) tensor", _dropout_inputs((4, 16, 32), 0.5, True)),
        Case("training, p=0.3, float64", _dropout_inputs((16, 256), 0.3, True, np.float64),
             why="the output keeps the dtype of x"),
        Case("training, p=0: nothing dropped", _dropout_inputs((4, 8), 0.0, True)),
        Case("training, p=1: everything dropped", _dropout_inputs((4, 8), 1.0, True),
             why="1/(1-p) divides by zero at p=1; the answer is all zeros, not NaN"),
    ],
    compare=compare_dropout,
    mistakes=[
        NO_RESCALING,
        DROPPED_IN_EVAL_MODE,
        SCALED_BY_P_INSTEAD_OF_1_P,
        P_USED_AS_THE_KEEP_PROBABILITY,
        NON_INVERTED_DROPOUT,
        ONE_MASK_SHARED_ALONG_AN_AXIS,
        THE_SAME_MASK_ON_EVERY_CALL,
        NAN_AT_P_1,
    ],
    requirements=[
        Requirement("training=True: zero each element independently with probability p",
                    "training, p=0.1, a (64, 512) tensor", "training, p=0.5, a (4, 16, 32) tensor"),
        Requirement("with a fresh random draw on every call", "training, p=0.5, a (4, 16, 32) tensor"),
        Requirement("divide the kept elements by 1 - p", "training, p=0.1, a (64, 512) tensor", "training, p=0.3, float64"),
        Requirement("training=False: return x unchanged", "eval mode (training=False), p=0.5"),
        Requirement("p=0 drops nothing", "training, p=0: nothing dropped"),
        Requirement("p=1 drops everything, so the output is all zeros — not NaN", "training, p=1: everything dropped"),
        Requirement("the output has the shape and dtype of x", "training, p=0.3, float64", "training, p=0.5, a (4, 16, 32) tensor"),
        Requirement("x itself is not modified", "pure"),
    ],
)

# ---------------------------------------------------------------- FeedForward


class _FF(nn.Module):
    """The reference MLP; `act` is the activation, and the keywords after it vary the dropout."""

    def __init__(self, n_embd, dropout=0.0, bias=True, act=_gelu_tanh, functional_dropout=False,
                 uses_dropout=True, dropout_last=True):
        super().__init__()
        self.c_fc = nn.Linear(n_embd, 4 * n_embd, bias=bias)
        self.c_proj = nn.Linear(4 * n_embd, n_embd, bias=bias)
        self.p, self.act, self.functional_dropout = dropout if uses_dropout else 0.0, act, functional_dropout
        self.dropout_last = dropout_last

    def drop(self, h):
        return F.dropout(h, self.p) if self.functional_dropout else F.dropout(h, self.p, self.training)

    def forward(self, x):
        h = self.act(self.c_fc(x))
        return self.drop(self.c_proj(h)) if self.dropout_last else self.c_proj(self.drop(h))


FF_NO_DROPOUT = Mistake("no dropout in train mode",
                        "FeedForward ends with an nn.Dropout(dropout) on the output of c_proj; in train mode "
                        "it drops a fraction p of the elements and divides the rest by 1 - p.",
                        variant(_FF, uses_dropout=False))
FF_DROPOUT_BEFORE_C_PROJ = Mistake("dropout before c_proj",
                                   "the dropout is the last step, on the output of c_proj (what the MLP adds "
                                   "to the residual stream), not on the 4C hidden units after GELU.",
                                   variant(_FF, dropout_last=False))


FeedForward = Exercise(
    id="09.FeedForward", points=1, difficulty="easy", minutes=10,
    run=module_run("FeedForward"),
    cases=[
        Case("n_embd=16, B=2, T=5", lambda rng: ((16,), randn(rng, 2, 5, 16, scale=3.0))),
        Case("dropout=0.5 in eval mode, bias=False", lambda rng: ((8, 0.5, False), randn(rng, 1, 4, 8, scale=3.0)),
             why="in eval mode dropout must do nothing"),
        Case("train mode with the default dropout (0.0): the same as eval mode",
             lambda rng: ((16,), randn(rng, 2, 5, 16, scale=3.0)), run=module_run("FeedForward", train=True),
             why="dropout=0.0 is the default: model.train() must then change nothing"),
        Case("train mode, dropout=0.3: the output of c_proj is dropped",
             lambda rng: ((16, 0.3), randn(rng, 8, 16, 16, scale=3.0)),
             run=eval_and_train_run("FeedForward"),
             compare=compare_output_dropout(FF_NO_DROPOUT, FF_DROPOUT_BEFORE_C_PROJ),
             why="2048 elements: about 30% exactly 0, the rest exactly the eval-mode output / 0.7"),
    ],
    compare=FLOAT32,
    mistakes=[
        Mistake("ReLU instead of GELU", "GPT-2's MLP uses GELU (your gelu), not ReLU.",
                variant(_FF, act=torch.relu)),
        Mistake("exact (erf) GELU instead of the tanh form",
                "nn.GELU() and F.gelu default to the erf form; use your tanh-form gelu.",
                variant(_FF, act=F.gelu)),
        Mistake("dropout active in eval mode",
                "F.dropout(x, p) drops even in eval mode unless you pass training=self.training; "
                "an nn.Dropout module handles that for you.",
                variant(_FF, act=_gelu_tanh, functional_dropout=True)),
        FF_NO_DROPOUT,
        FF_DROPOUT_BEFORE_C_PROJ,
    ],
    requirements=[
        Requirement("Write FeedForward(n_embd, dropout=0.0, bias=True)", "n_embd=16, B=2, T=5",
                    "dropout=0.5 in eval mode, bias=False",
                    "train mode with the default dropout (0.0): the same as eval mode"),
        Requirement("c_fc = nn.Linear(n_embd, 4 * n_embd, bias=bias)", "n_embd=16, B=2, T=5",
                    "dropout=0.5 in eval mode, bias=False"),
        Requirement("c_proj = nn.Linear(4 * n_embd, n_embd, bias=bias)", "n_embd=16, B=2, T=5",
                    "dropout=0.5 in eval mode, bias=False"),
        Requirement("(B, T, C) → c_fc → (B, T, 4C) → GELU → c_proj → (B, T, C) → dropout",
                    "n_embd=16, B=2, T=5", "train mode, dropout=0.3: the output of c_proj is dropped"),
        Requirement("an nn.Dropout(dropout), using your gelu", "n_embd=16, B=2, T=5",
                    "train mode, dropout=0.3: the output of c_proj is dropped"),
        Requirement("it switches itself off in .eval() mode", "dropout=0.5 in eval mode, bias=False"),
        Requirement("F.dropout(x, p) does not unless you pass training=self.training",
                    "dropout=0.5 in eval mode, bias=False"),
    ],
)

# ---------------------------------------------------------------- Block


class _Block(nn.Module):
    """The reference block's sub-layers, wired as the keywords after `bias` say (the defaults
    wire them as the reference does)."""

    def __init__(self, n_embd, n_head, dropout=0.0, bias=True, pre_ln=True, residual=True,
                 sequential=True, own_ln_2=True, add_to_stream=True, pass_dropout=True):
        super().__init__()
        sub_dropout = dropout if pass_dropout else 0.0
        self.ln_1 = ref.LayerNorm(n_embd, bias=bias)
        self.attn = ref.MultiHeadAttention(n_embd, n_head, sub_dropout, bias)
        self.ln_2 = ref.LayerNorm(n_embd, bias=bias)
        self.mlp = ref.FeedForward(n_embd, sub_dropout, bias)
        self.pre_ln, self.residual, self.sequential = pre_ln, residual, sequential
        self.own_ln_2, self.add_to_stream = own_ln_2, add_to_stream

    def sublayer(self, x, ln, f):
        h = ln(x)
        if not self.residual:
            return f(h)
        return (x if self.add_to_stream else h) + f(h)

    def forward(self, x):
        if not self.pre_ln:
            x = self.ln_1(x + self.attn(x))
            return self.ln_2(x + self.mlp(x))
        after_attn = self.sublayer(x, self.ln_1, self.attn)
        if not self.sequential:
            return after_attn + self.mlp(self.ln_2(x))
        return self.sublayer(after_attn, self.ln_2 if self.own_ln_2 else self.ln_1, self.mlp)


def sublayers_shown(block):
    """Weights under which each sub-layer adds a constant to the stream: c_proj's weights are 0,
    so attn adds its c_proj bias, 1, and mlp its c_proj bias, 2. In train mode each addition is
    dropped (0) or divided by 1 - p, so output - x is a multiple n / (1 - p), n in {0, 1, 2, 3},
    and n says which sub-layer's dropout dropped what."""
    for sub, value in ((block.attn, 1.0), (block.mlp, 2.0)):
        sub.c_proj.weight.zero_()
        sub.c_proj.bias.fill_(value)


@common.prepared(common.adding_weights("09", "Block", nudge=0.2, set_weights=sublayers_shown))
def run_block_train(cls, args):
    """The block in train mode under `sublayers_shown` (nudged weights, then c_proj's set):
    {"x": x, "train": output}."""
    ctor, x, weights = args
    model = learner_model(cls, ctor, weights).train()
    with torch.no_grad():
        return {"x": x, "train": model(x)}


def compare_block_dropout(got, expected, args):
    ctor, x, y = args[0], got["x"].array, got["train"].array
    p = ctor[2]
    if y.shape != x.shape:
        return Fail(f"in train mode the output has shape {y.shape}, expected {x.shape}")
    added = (y - x) * (1 - p)                 # attn's 1 + mlp's 2, each kept (1) or dropped (0)
    n = np.rint(added)
    if np.allclose(y - x, 3, atol=1e-4):
        return Fail(f"in train mode with dropout={p} nothing was dropped: pass dropout on to "
                    "MultiHeadAttention and FeedForward", mistake=BLOCK_DROPOUT_NOT_PASSED_ON)
    if not np.allclose(added, n, atol=1e-4) or not ((n >= 0) & (n <= 3)).all():
        kept = 1 / (1 - p)
        for value, undropped, sub in ((1.0, 2.0, "FeedForward"), (2.0, 1.0, "MultiHeadAttention")):
            u = y - x - undropped          # the other sub-layer's addition, if this one is never dropped
            if np.isclose(u, 0, atol=1e-4).any() and (np.isclose(u, 0, atol=1e-4) | np.isclose(u, value * kept, atol=1e-4)).all():
                return Fail(f"in train mode with dropout={p} the output of {sub} was never dropped: pass "
                            f"dropout on to {sub} too")
        return Fail("in train mode what each sub-layer adds to the stream must be dropped or divided by "
                    f"1 - p, with dropout={p} in both attn and mlp: x = x + attn(ln_1(x)), then "
                    "x = x + mlp(ln_2(x))")
    for what, dropped in (("attn's outputs", (n == 0) | (n == 2)), ("mlp's outputs", n <= 1)):
        fail = dropped_fraction_fail(dropped, p, what, DROPOUT_ADVICE)
        if fail:
            return fail
    return None


BLOCK_DROPOUT_NOT_PASSED_ON = Mistake(
    "dropout not passed on to the sub-layers",
    "Block(n_embd, n_head, dropout) must hand its dropout to MultiHeadAttention(n_embd, n_head, dropout, "
    "bias) and FeedForward(n_embd, dropout, bias); left out, they use their default 0.0.",
    variant(_Block, pass_dropout=False))


Block = Exercise(
    id="09.Block", points=2, difficulty="medium", minutes=15,
    run=module_run("Block"),
    cases=[
        Case("n_embd=16, 4 heads, B=2, T=6", lambda rng: ((16, 4), randn(rng, 2, 6, 16))),
        Case("a batch of one, bias=False", lambda rng: ((8, 2, 0.0, False), randn(rng, 1, 3, 8))),
        Case("large residual stream (x100)", lambda rng: ((16, 2), randn(rng, 2, 4, 16, scale=100.0)),
             why="the residual stream grows in deep models; pre-LN leaves it unnormalised"),
        Case("train mode with the default dropout (0.0): the same as eval mode",
             lambda rng: ((16, 4), randn(rng, 2, 6, 16)), run=module_run("Block", train=True),
             why="dropout=0.0 is the default: model.train() must then change nothing"),
        Case("train mode, dropout=0.3 reaches attn and mlp", lambda rng: ((16, 2, 0.3), randn(rng, 16, 16, 16)),
             run=run_block_train, compare=compare_block_dropout,
             why="c_proj's weights set to 0 and its bias to 1 (attn) and 2 (mlp): output - x shows "
                 "which sub-layer's dropout dropped what"),
    ],
    compare=FLOAT32,
    mistakes=[
        Mistake("post-LN instead of pre-LN",
                "GPT-2 normalises the input of each sub-layer and adds the result to the "
                "unnormalised stream: x = x + attn(ln_1(x)), not x = ln_1(x + attn(x)).",
                variant(_Block, pre_ln=False)),
        Mistake("no residual connections",
                "each sub-layer adds to the stream: x = x + attn(ln_1(x)), then x = x + mlp(ln_2(x)).",
                variant(_Block, residual=False)),
        Mistake("attention and MLP in parallel",
                "the MLP reads the stream *after* attention has updated it: two sequential steps.",
                variant(_Block, sequential=False)),
        Mistake("ln_1 used twice",
                "the two sub-layers have their own LayerNorms: ln_1 before attention, ln_2 before the MLP.",
                variant(_Block, own_ln_2=False)),
        Mistake("added the sub-layer to the normalised x",
                "the residual adds to the stream x itself, not to ln(x): x = x + attn(ln_1(x)).",
                variant(_Block, add_to_stream=False)),
        BLOCK_DROPOUT_NOT_PASSED_ON,
    ],
    requirements=[
        Requirement("Write Block(n_embd, n_head, dropout=0.0, bias=True) with submodules ln_1, attn "
                    "(your MultiHeadAttention), ln_2, mlp (your FeedForward)",
                    "n_embd=16, 4 heads, B=2, T=6", "train mode with the default dropout (0.0): the same as eval mode",
                    "train mode, dropout=0.3 reaches attn and mlp"),
        Requirement("the LayerNorms get bias=bias", "a batch of one, bias=False"),
        Requirement("A pre-LN Transformer block: x + attn(ln_1(x)), then x + mlp(ln_2(x))", "n_embd=16, 4 heads, B=2, T=6",
                    "large residual stream (x100)", "train mode, dropout=0.3 reaches attn and mlp"),
        Requirement("forward(x): (B, T, C) → (B, T, C)", "n_embd=16, 4 heads, B=2, T=6", "a batch of one, bias=False"),
        Requirement("Gradients flow back along that stream unchanged",
                    not_checked="why residual connections help, not something forward computes"),
    ],
)

EXERCISES = [split_heads, merge_heads, MultiHeadAttention, LayerNorm, gelu, dropout, FeedForward, Block]
