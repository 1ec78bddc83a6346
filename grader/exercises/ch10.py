"""Chapter 10, GPT: the checks, and the mistakes they recognise by name.

Models are small (a few thousand parameters) so every case runs in milliseconds. `GPT` is
checked like chapter 09's modules: the reference model's (nudged) weights are loaded into the
learner's with `strict=True`, then outputs are compared; tying, initialisation and the
too-long-input error get cases of their own. Sampling (`generate`) is judged by properties:
greedy decoding equals the argmax roll-out, a tiny temperature approaches it, the same seeded
generator gives the same tokens, and top-k never draws outside the top k. `train_gpt` is
watched from outside through a global optimizer step pre-hook, which records the learning rate
and the gradient norm at every `optimizer.step()` (after clipping), and through a hook on every
parameter that records its gradient as `backward()` leaves it (before clipping): the logged
`history["grad_norm"]` must be that unclipped norm.

The case runs execute beside learner code, where chapter 10's reference is absent (instructor
grading's sandbox, a student install), so nothing of it reaches them but data. A config is a
`Config`, made from the reference's GPTConfig in the inputs. The reference's weights arrive as
a ReferenceState, taken by a `prepare` step (common.prepared) in the grading process. The
model that `generate`, `configure_optimizer` and `train_gpt` are given is a `GivenWeightsGPT`
holding those weights: GPT-2's names on chapter 09's Block and LayerNorm (earlier chapters'
references are there beside learner code). `train_gpt`'s expected learning rates travel the
same way, as a list.
"""
import copy
import dataclasses
import inspect
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..compare import Fail, close, compare_values
from ..engine import Case, Exercise, Mistake, Requirement
from ..reference.ch09 import Block, LayerNorm      # an earlier chapter's: there whenever chapter 10 is graded
from ..values import TensorValue
from .common import (GPT2_NAMES, adding_weights, dropped_fraction_fail, lazy_reference, prepared, reference_weights, variant,
                     with_weights)

ref = lazy_reference("10")   # inputs, prepare steps and mistakes only: never a run or a comparator


@dataclasses.dataclass
class Config:
    """A GPTConfig as the case runs get it: the reference's fields, in a class of the checks, so
    that it unpickles where chapter 10's reference is absent. It has no defaults and is made only
    from the reference's GPTConfig (`gpt_config`), so its defaults are the reference's, and a
    field the reference gains or loses is a TypeError naming the field where the inputs are built."""
    block_size: int
    vocab_size: int
    n_layer: int
    n_head: int
    n_embd: int
    dropout: float
    bias: bool


def gpt_config(**fields):
    """The reference's GPTConfig(**fields), as a Config (inputs only: it needs the reference)."""
    return Config(**dataclasses.asdict(ref.GPTConfig(**fields)))


def config(**kw):
    base = dict(block_size=8, vocab_size=11, n_layer=2, n_head=2, n_embd=16, dropout=0.0, bias=True)
    return gpt_config(**{**base, **kw})


def tokens(rng, B, T, V=11):
    return torch.from_numpy(rng.integers(0, V, size=(B, T)))


class GivenWeightsGPT(nn.Module):
    """The model that the checks of generate, configure_optimizer and train_gpt hand to the
    learner's function: the reference GPT's modules under GPT-2's names, built from chapter 09's
    Block and LayerNorm, its forward the reference's. It has no initialisation of its own: a run
    loads the reference's weights into it (`given_model`), with strict=True, which also makes
    sure its parameters are the reference's, name for name, shape for shape."""

    def __init__(self, cfg):
        super().__init__()
        self.config = cfg
        C, V = cfg.n_embd, cfg.vocab_size
        self.transformer = nn.ModuleDict({
            "wte": nn.Embedding(V, C),
            "wpe": nn.Embedding(cfg.block_size, C),
            "drop": nn.Dropout(cfg.dropout),
            "h": nn.ModuleList(Block(C, cfg.n_head, cfg.dropout, cfg.bias) for _ in range(cfg.n_layer)),
            "ln_f": LayerNorm(C, bias=cfg.bias),
        })
        self.lm_head = nn.Linear(C, V, bias=False)
        self.lm_head.weight = self.transformer.wte.weight      # one (V, C) parameter at both ends

    def forward(self, idx, targets=None) -> tuple:   # (logits, loss), loss None without targets
        T, block_size = idx.size(1), self.config.block_size
        if T > block_size:   # the reference's error, word for word
            raise ValueError("cannot forward a sequence of length %d: block_size is only %d (crop the input to "
                             "its last block_size tokens)" % (T, block_size))
        tr = self.transformer
        x = tr.drop(tr.wte(idx) + tr.wpe(torch.arange(T, device=idx.device)))
        for block in tr.h:
            x = block(x)
        logits = self.lm_head(tr.ln_f(x))
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def given_model(cfg, weights):
    """A GivenWeightsGPT(cfg) holding `weights` (a ReferenceState), in eval mode."""
    return with_weights(GivenWeightsGPT, (cfg,), weights)


# prepares: the inputs, then the weights of a freshly built reference GPT(args[0]), as they
# are or nudged away from their initial values (a LayerNorm left out then shows)
add_gpt_weights = adding_weights("10", "GPT", lambda args: (args[0],))
add_nudged_gpt_weights = adding_weights("10", "GPT", lambda args: (args[0],), nudge=0.2)


# ---------------------------------------------------------------- GPT

@prepared(add_nudged_gpt_weights)
def run_forward(cls, args):
    cfg, idx, targets, weights = args
    model = with_weights(cls, (cfg,), weights, hint=GPT2_NAMES)
    with torch.no_grad():
        return model(idx, targets)


def run_tied(cls, args):
    (cfg,) = args
    model = cls(cfg)
    head, wte = model.lm_head.weight, model.transformer.wte.weight
    return {"tied": head is wte or head.data_ptr() == wte.data_ptr(),
            "parameters": sum(p.numel() for p in model.parameters())}


def compare_tied(got, expected, args):
    if not got["tied"]:
        return Fail("lm_head.weight is a separate matrix from transformer.wte.weight",
                    mistake=LM_HEAD_NOT_TIED_TO_WTE)
    return compare_values(got, expected, where="model")


def run_init(cls, args):
    (cfg,) = args
    model = cls(cfg)
    p = dict(model.named_parameters())
    biases = [v for k, v in p.items() if k.endswith(".bias") and k.count(".ln_") == 0 and "ln_f" not in k]
    return {"wte": p["transformer.wte.weight"].std().item(),
            "wpe": p["transformer.wpe.weight"].std().item(),
            "c_attn": p["transformer.h.0.attn.c_attn.weight"].std().item(),
            "c_proj": p["transformer.h.0.mlp.c_proj.weight"].std().item(),
            "bias": max(b.abs().max().item() for b in biases),
            "n_layer": cfg.n_layer}     # for compare_init: the config reaches comparators as opaque data


def compare_init(got, expected, args):
    """Standard deviations measured on 20k-100k weights: within 10% of GPT-2's values."""
    n_layer = expected["n_layer"]
    for key, want in [("wte", 0.02), ("wpe", 0.02), ("c_attn", 0.02), ("c_proj", 0.02 / math.sqrt(2 * n_layer))]:
        if not abs(got[key] - want) <= 0.1 * want:
            return Fail(f"{key} weights have std {got[key]:.4g}, expected {want:.4g} (GPT-2's initialisation)",
                        mistake=DEFAULT_PYTORCH_INITIALISATION if key in ("wte", "c_attn") else
                        C_PROJ_NOT_SCALED_BY_1_SQRT_2_N_LAYER)
    if got["bias"] != 0:
        return Fail(f"Linear biases should start at zero; the largest is {got['bias']:.3g}",
                    mistake=DEFAULT_PYTORCH_INITIALISATION)
    return None


def run_too_long(cls, args):
    cfg, idx = args
    model = cls(cfg).eval()
    try:
        with torch.no_grad():
            model(idx)
    except Exception as exc:  # what kind of error is the point of this case
        return type(exc).__name__
    return "no error"


def compare_too_long(got, expected, args):
    if got == "ValueError":
        return None
    if got == "AssertionError":
        return Fail("a sequence longer than block_size raised AssertionError; the instructions ask for a "
                    "ValueError (an assert is skipped under python -O, and says less)", mistake=ASSERT_INSTEAD_OF_VALUEERROR)
    if got == "no error":
        return Fail("a sequence longer than block_size ran without an error",
                    mistake=NO_CHECK_OF_THE_SEQUENCE_LENGTH)
    return Fail(f"a sequence longer than block_size raised {got}; check T against block_size "
                "yourself and raise a ValueError that says what is wrong",
                mistake=NO_CHECK_OF_THE_SEQUENCE_LENGTH)


@prepared(add_nudged_gpt_weights)
def run_dropout_places(cls, args):
    """The model in train mode, watched by hooks: what enters block 0 (the embeddings after
    transformer.drop), and what block 0's attn and mlp return (each ends with its dropout).
    With the reference's weights loaded, the embeddings before dropout are known."""
    cfg, idx, _, weights = args
    model = with_weights(cls, (cfg,), weights, hint=GPT2_NAMES).train()
    seen = {}
    block = model.transformer.h[0]
    hooks = [block.register_forward_pre_hook(lambda m, inp: seen.__setitem__("block input", inp[0])),
             block.attn.register_forward_hook(lambda m, inp, out: seen.__setitem__("attn", out)),
             block.mlp.register_forward_hook(lambda m, inp, out: seen.__setitem__("mlp", out))]
    try:
        with torch.no_grad():
            model(idx)
            embeddings = model.transformer.wte(idx) + model.transformer.wpe(torch.arange(idx.size(1)))
    finally:
        for hook in hooks:
            hook.remove()
    return {"embeddings": embeddings, **seen}


def compare_dropout_places(got, expected, args):
    """Train mode: a fraction p of block 0's input is exactly 0 and the rest is the embeddings
    / (1 - p) (transformer.drop); attn's and mlp's outputs each have a fraction p of exact
    zeros (the Blocks got config.dropout)."""
    p = args[2]                            # config.dropout (the config itself reaches here opaque)
    for key in ("block input", "attn", "mlp"):
        if key not in got:
            return Fail(f"transformer.h[0].{'attn' if key == 'attn' else 'mlp' if key == 'mlp' else ''} never ran")
    x, e = got["block input"].array, got["embeddings"].array
    dropped = x == 0
    if not dropped.any():
        return Fail(f"in train mode with dropout={p} nothing of the embeddings was dropped before the first "
                    "block: apply transformer.drop to wte(idx) + wpe(pos)", mistake=NO_EMBEDDING_DROPOUT)
    fail = dropped_fraction_fail(dropped, p, "the embeddings")
    if fail:
        return fail
    if not np.allclose(x[~dropped], e[~dropped] / (1 - p), rtol=1e-4, atol=1e-6):
        return Fail("in train mode the first block's input must be drop(wte(idx) + wpe(pos)): the kept "
                    "elements divided by 1 - p, nothing else in between")
    for key in ("attn", "mlp"):
        if not (got[key].array == 0).any():
            return Fail(f"in train mode with dropout={p} the output of h[0].{key} has no dropped element: build "
                        "each Block(n_embd, n_head, dropout, bias) with config.dropout", mistake=BLOCKS_WITHOUT_DROPOUT)
        fail = dropped_fraction_fail(got[key].array == 0, p, f"the outputs of h[0].{key}")
        if fail:
            return fail
    return None


def run_config_kept(cls, args):
    (cfg,) = args
    model = cls(cfg)
    kept = getattr(model, "config", None)
    return {"self.config is the config given": kept is cfg or kept == cfg}


def run_every_init(cls, args):
    """The mean and standard deviation of every weight matrix, and the largest Linear bias."""
    cfg, _ = args
    model = cls(cfg)
    with torch.no_grad():
        stds = {name: p.std().item() for name, p in model.named_parameters() if p.dim() == 2}
        means = {name: p.mean().item() for name, p in model.named_parameters() if p.dim() == 2}
        biases = [m.bias.abs().max().item() for m in model.modules()
                  if isinstance(m, nn.Linear) and m.bias is not None]
    return {"std": stds, "mean": means, "largest Linear bias": max(biases, default=0.0)}


def compare_every_init(got, expected, args):
    """Each weight matrix within 10% of GPT-2's std, and its mean within a fifth of that std of 0
    (at least 4096 weights each: a sample mean's own spread is std / 64)."""
    n_layer = args[1]                      # config.n_layer (the config itself reaches here opaque)
    want = {name: 0.02 / math.sqrt(2 * n_layer) if name.endswith("c_proj.weight") else 0.02 for name in got["std"]}
    wrong = [name for name, std in got["std"].items() if not abs(std - want[name]) <= 0.1 * want[name]]
    if wrong:
        name, mistake = wrong[0], None
        if all(n.endswith("attn.c_proj.weight") for n in wrong):
            mistake = ONLY_MLP_C_PROJ_SCALED
        elif all(n.endswith("c_proj.weight") for n in wrong):
            mistake = C_PROJ_NOT_SCALED_BY_1_SQRT_2_N_LAYER
        return Fail(f"{name} has std {got['std'][name]:.4g}, expected {want[name]:.4g} (GPT-2's initialisation: "
                    "N(0, 0.02^2) for every Linear and Embedding weight, 0.02 / sqrt(2 n_layer) for attn.c_proj "
                    "and mlp.c_proj)", mistake=mistake)
    for name, mean in got["mean"].items():
        if abs(mean) > 0.2 * want[name]:
            return Fail(f"{name} has mean {mean:.4g}: GPT-2's weights are drawn around 0, N(0, std^2)")
    if got["largest Linear bias"] != 0:
        return Fail(f"Linear biases should start at zero; the largest is {got['largest Linear bias']:.3g}")
    return None


class _GPT(nn.Module):
    """The reference GPT's modules with its forward written out; each parameter switches one
    behaviour off (its default is the reference's)."""

    def __init__(self, cfg, tied=True, gpt2_init=True, scaled_c_proj=True, length_check=True,
                 positions=True, final_ln=True, shift_targets_again=False, length_error=ValueError,
                 embedding_dropout=True, block_dropout=True, scaled_names=("c_proj.weight",)):
        super().__init__()
        inner = ref.GPT(cfg if block_dropout else dataclasses.replace(cfg, dropout=0.0))
        self.config, self.transformer, self.lm_head = cfg, inner.transformer, inner.lm_head
        self.transformer.drop = nn.Dropout(cfg.dropout if embedding_dropout else 0.0)
        self.length_check, self.positions, self.final_ln = length_check, positions, final_ln
        self.shift_targets_again, self.length_error = shift_targets_again, length_error
        if not tied:
            self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
            with torch.no_grad():
                self.lm_head.weight.copy_(self.transformer.wte.weight)
        if not gpt2_init:
            for m in self.modules():
                if isinstance(m, (nn.Linear, nn.Embedding)):
                    m.reset_parameters()
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight") and (not scaled_c_proj or not name.endswith(scaled_names)):
                nn.init.normal_(p, std=0.02)

    def forward(self, idx, targets=None):
        tr = self.transformer
        B, T = idx.shape
        if T > self.config.block_size and self.length_check:
            raise self.length_error("too long")
        x = tr.wte(idx)
        if self.positions:
            x = x + tr.wpe(torch.arange(T))
        x = tr.drop(x)
        for block in tr.h:
            x = block(x)
        if self.final_ln:
            x = tr.ln_f(x)
        logits = self.lm_head(x)
        if targets is None:
            return logits, None
        if self.shift_targets_again:
            return logits, F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)), targets[:, 1:].reshape(-1))
        return logits, F.cross_entropy(logits.view(B * T, -1), targets.view(B * T))


NO_CHECK_OF_THE_SEQUENCE_LENGTH = Mistake("no check of the sequence length",
                                          "wpe has only block_size rows: test `T > self.config.block_size` and raise a "
                                          "ValueError naming both numbers.", variant(_GPT, length_check=False))
LM_HEAD_NOT_TIED_TO_WTE = Mistake("lm_head not tied to wte",
                                  "assign the same Parameter: self.lm_head.weight = self.transformer.wte.weight "
                                  "(copying the values is not tying).", variant(_GPT, tied=False))
DEFAULT_PYTORCH_INITIALISATION = Mistake("default PyTorch initialisation",
                                         "initialise every Linear and Embedding weight from N(0, 0.02^2) and the biases to "
                                         "zero (nn.Embedding starts at N(0, 1) otherwise).", variant(_GPT, gpt2_init=False))
ASSERT_INSTEAD_OF_VALUEERROR = Mistake("assert instead of ValueError",
                                      "`assert T <= block_size` raises AssertionError, and not at all under python -O: "
                                      "test it with `if` and raise ValueError naming T and block_size.",
                                      variant(_GPT, length_error=AssertionError))
NO_EMBEDDING_DROPOUT = Mistake("no dropout on the embeddings",
                               "x = self.transformer.drop(tok + pos) before the first block: the sum of the "
                               "embeddings is the first of dropout's three places.", variant(_GPT, embedding_dropout=False))
BLOCKS_WITHOUT_DROPOUT = Mistake("blocks built without dropout",
                                 "each Block gets the config's dropout: Block(n_embd, n_head, config.dropout, config.bias).",
                                 variant(_GPT, block_dropout=False))
ONLY_MLP_C_PROJ_SCALED = Mistake("only mlp.c_proj scaled",
                                 "both projections that write into the residual stream, attn.c_proj and mlp.c_proj, "
                                 "get std 0.02 / sqrt(2 n_layer): scale every weight whose name ends in c_proj.weight.",
                                 variant(_GPT, scaled_names=("mlp.c_proj.weight",)))
C_PROJ_NOT_SCALED_BY_1_SQRT_2_N_LAYER = Mistake("c_proj not scaled by 1/sqrt(2 n_layer)",
                                                "the weights named '...c_proj.weight' get std 0.02 / sqrt(2 * n_layer).",
                                                variant(_GPT, scaled_c_proj=False))

GPT = Exercise(
    id="10.GPT", points=3, difficulty="hard", minutes=40,
    cases=[
        Case("logits and loss, B=2, T=6", lambda rng: (config(), tokens(rng, 2, 6), tokens(rng, 2, 6)),
             run=run_forward),
        Case("no targets: loss is None; a batch of one, T=1", lambda rng: (config(), tokens(rng, 1, 1), None),
             run=run_forward),
        Case("T == block_size, bias=False, dropout=0.1 in eval mode",
             lambda rng: (config(bias=False, dropout=0.1, n_layer=1), tokens(rng, 2, 8), tokens(rng, 2, 8)),
             run=run_forward),
        Case("lm_head is tied to wte (one matrix)", lambda rng: (config(),), run=run_tied, compare=compare_tied),
        Case("a sequence longer than block_size is a clear error",
             lambda rng: (config(), tokens(rng, 1, 9)), run=run_too_long, compare=compare_too_long),
        Case("GPT-2's initialisation", lambda rng: (config(n_embd=64, n_layer=4, vocab_size=300, block_size=300),),
             run=run_init, compare=compare_init),
        Case("train mode, dropout=0.25: after the embeddings and inside every block",
             lambda rng: (config(dropout=0.25, n_embd=32), tokens(rng, 16, 8), 0.25),
             run=run_dropout_places, compare=compare_dropout_places,
             why="hooks see the first block's input (drop(wte + wpe)) and what its attn and mlp return"),
        Case("self.config is the config given", lambda rng: (config(),), run=run_config_kept),
        Case("GPT-2's initialisation of every weight matrix, attn.c_proj included",
             lambda rng: (config(n_embd=64, n_layer=3, vocab_size=300, block_size=300), 3),
             run=run_every_init, compare=compare_every_init),
    ],
    compare=close(rtol=1e-4, atol=1e-5, parts=("logits", "loss")),
    mistakes=[
        Mistake("forgot the position embedding",
                "add transformer.wpe(torch.arange(T)) to the token embeddings: without it the model "
                "cannot tell the order of the tokens.", variant(_GPT, positions=False)),
        Mistake("forgot the final LayerNorm",
                "pre-LN blocks leave the residual stream unnormalised: apply transformer.ln_f before "
                "lm_head.", variant(_GPT, final_ln=False)),
        Mistake("shifted the targets again",
                "targets are already the inputs shifted by one (get_batch does it): compare logits at "
                "every position t with targets[:, t].", variant(_GPT, shift_targets_again=True)),
        LM_HEAD_NOT_TIED_TO_WTE,
        NO_CHECK_OF_THE_SEQUENCE_LENGTH,
        DEFAULT_PYTORCH_INITIALISATION,
        C_PROJ_NOT_SCALED_BY_1_SQRT_2_N_LAYER,
        ASSERT_INSTEAD_OF_VALUEERROR,
        NO_EMBEDDING_DROPOUT,
        BLOCKS_WITHOUT_DROPOUT,
        ONLY_MLP_C_PROJ_SCALED,
    ],
    requirements=[
        Requirement("Token embedding wte, an nn.Embedding(V, C)", "logits and loss, B=2, T=6"),
        Requirement("Position embedding wpe, an nn.Embedding(block_size, C): a learned vector for each position",
                    "logits and loss, B=2, T=6", "T == block_size, bias=False, dropout=0.1 in eval mode"),
        Requirement("Dropout, then the n_layer blocks", "train mode, dropout=0.25: after the embeddings and inside every block",
                    "T == block_size, bias=False, dropout=0.1 in eval mode"),
        Requirement("The final LayerNorm ln_f", "logits and loss, B=2, T=6"),
        Requirement("The language-model head lm_head, an nn.Linear(C, V, bias=False)", "logits and loss, B=2, T=6"),
        Requirement("lm_head.weight is wte.weight, one (V, C) matrix used at both ends", "lm_head is tied to wte (one matrix)"),
        Requirement("the loss is the mean cross-entropy over all B cdot T positions", "logits and loss, B=2, T=6"),
        Requirement("Without targets, return (logits, None)", "no targets: loss is None; a batch of one, T=1"),
        Requirement("every Linear and Embedding weight from mathcal N(0, 0.02^2), biases zero",
                    "GPT-2's initialisation", "GPT-2's initialisation of every weight matrix, attn.c_proj included"),
        Requirement("the two projections that write into the residual stream, attn.c_proj and mlp.c_proj, with std "
                    "0.02/sqrt{2,n{text{layer}}}", "GPT-2's initialisation",
                    "GPT-2's initialisation of every weight matrix, attn.c_proj included"),
        Requirement("Write GPT(config) with exactly these names", "logits and loss, B=2, T=6",
                    "T == block_size, bias=False, dropout=0.1 in eval mode"),
        Requirement("h an nn.ModuleList of Block(n_embd, n_head, dropout, bias)",
                    "train mode, dropout=0.25: after the embeddings and inside every block",
                    "T == block_size, bias=False, dropout=0.1 in eval mode"),
        Requirement("Keep the config as self.config", "self.config is the config given"),
        Requirement("A sequence longer than block_size has no position embedding: raise a ValueError that says so",
                    "a sequence longer than block_size is a clear error", "T == block_size, bias=False, dropout=0.1 in eval mode"),
        Requirement("A worked shape trace of forward(idx, targets)", "logits and loss, B=2, T=6",
                    "no targets: loss is None; a batch of one, T=1"),
    ],
)

# ---------------------------------------------------------------- count_parameters


def _count(cfg, tied_twice=False, no_wpe=False, always_bias=False, no_ln_f=False, narrow_mlp=False):
    C, b = cfg.n_embd, 1 if (cfg.bias or always_bias) else 0
    ln = C + b * C
    hidden = C if narrow_mlp else 4 * C
    block = 2 * ln + 4 * C * C + 4 * b * C + 2 * hidden * C + b * hidden + b * C
    total = cfg.vocab_size * C * (2 if tied_twice else 1) + cfg.n_layer * block + (0 if no_ln_f else ln)
    return total + (0 if no_wpe else cfg.block_size * C)


class _WatchedConfig:
    """A config that notes which fields are read: a closed-form count needs vocab_size, n_embd,
    n_layer, block_size and bias, never dropout, which only building the model reads."""

    def __init__(self, cfg):
        self._fields, self._read = dataclasses.asdict(cfg), set()

    def __getattr__(self, name):
        fields = self.__dict__.get("_fields", {})
        if name not in fields:
            raise AttributeError(name)
        self._read.add(name)
        return fields[name]


def run_without_a_model(fn, args):
    """The count, or "built a model" when it read config.dropout (nothing is patched: graders
    judge notebooks in several threads at once)."""
    (cfg,) = args
    watched = _WatchedConfig(cfg)
    count = fn(watched)
    return "built a model" if "dropout" in watched._read else count


def compare_without_a_model(got, expected, args):
    if got == "built a model":
        return Fail("count_parameters built a model to count its parameters; the exercise asks for the closed "
                    "form from the table (no model allowed)", mistake=BUILT_THE_MODEL_TO_COUNT)
    return close(rtol=0, atol=0)(got, expected, args)


BUILT_THE_MODEL_TO_COUNT = Mistake("built the model to count",
                                   "add up the table's terms from the config's numbers; sum(p.numel() ...) is the check "
                                   "the answer must agree with, not the answer.",
                                   lambda cfg: sum(p.numel() for p in ref.GPT(cfg).parameters()))


count_parameters = Exercise(
    id="10.count_parameters", points=1, difficulty="easy", minutes=15, pure=True,
    cases=[
        Case("the chapter's default config", lambda rng: (gpt_config(),)),
        Case("bias=False", lambda rng: (gpt_config(bias=False),)),
        Case("GPT-2 small", lambda rng: (gpt_config(block_size=1024, vocab_size=50257, n_layer=12,
                                                    n_head=12, n_embd=768),)),
        Case("a tiny odd config, bias=False", lambda rng: (config(block_size=3, vocab_size=7, n_layer=1, n_embd=6,
                                                                   bias=False),)),
        Case("counted without building a model", lambda rng: (config(block_size=5, vocab_size=9, n_layer=3, n_embd=8),),
             run=run_without_a_model, compare=compare_without_a_model,
             why="the config notes what is read: only building a GPT reads config.dropout"),
    ],
    compare=close(rtol=0, atol=0),  # counts are exact
    mistakes=[
        Mistake("the tied weight counted twice",
                "lm_head.weight and wte.weight are one tensor: count V*C once.", variant(_count, tied_twice=True)),
        Mistake("forgot the position embedding", "wpe adds block_size * n_embd parameters.",
                variant(_count, no_wpe=True)),
        Mistake("counted biases with bias=False",
                "with bias=False there are no Linear biases and no LayerNorm biases: multiply each "
                "bias term by int(config.bias).", variant(_count, always_bias=True)),
        Mistake("forgot ln_f", "the final LayerNorm has n_embd weights (and n_embd biases with bias=True).",
                variant(_count, no_ln_f=True)),
        Mistake("MLP as wide as the stream", "c_fc widens to 4 * n_embd: 8 n_embd^2 weights in the MLP.",
                variant(_count, narrow_mlp=True)),
        BUILT_THE_MODEL_TO_COUNT,
    ],
    requirements=[
        Requirement("wte (shared with lm_head: counted once) | VC", "the chapter's default config", "GPT-2 small"),
        Requirement("wpe | PC", "the chapter's default config", "a tiny odd config, bias=False"),
        Requirement("b = 1 when bias is on (else 0)", "bias=False", "a tiny odd config, bias=False"),
        Requirement("per block: mlp.c_fc, mlp.c_proj | 4C^2 + 4bC + 4C^2 + bC", "the chapter's default config", "GPT-2 small"),
        Requirement("ln_f | C + bC", "the chapter's default config", "bias=False"),
        Requirement("Write count_parameters(config) -> int from this table (no model allowed)",
                    "counted without building a model", "GPT-2 small"),
        Requirement("It must equal sum(p.numel() for p in GPT(config).parameters())", "the chapter's default config",
                    "bias=False", "GPT-2 small", "a tiny odd config, bias=False"),
    ],
)

# ---------------------------------------------------------------- generate


def _sharpen(model):
    model.transformer.wte.weight.mul_(3.0)


def add_generation_model(args):
    """prepare: the inputs, then the config and the weights of a small reference GPT made
    opinionated (nudged weights, larger embeddings), so that a tiny temperature really is greedy
    and different seeds really give different samples.

    Built from the random state a case's run starts from (engine.run_case seeds torch with the
    case's seed + 1; make_inputs, which calls this, has just seeded it with the seed itself):
    the model the cases were written and mutation-tested against when the run built it. What a
    sample tells apart depends on the model: top_k capped at the batch size, min(top_k, B), shows
    only in the public case of top_k=5 with two prompts, and from 200 other random states (model
    and prompts) top_k=2 drew the same 20 tokens as top_k=5 29 times."""
    cfg = config()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(torch.initial_seed() + 1)
        weights = reference_weights(ref.GPT, (cfg,), nudge=0.2, set_weights=_sharpen)
    return (*args, cfg, weights)


def gen_model(args):
    """The model of add_generation_model, from a run's args (its last two), in eval mode."""
    return given_model(*args[-2:])


def G(seed):
    return torch.Generator().manual_seed(seed)


@prepared(add_generation_model)
def run_greedy(fn, args):
    idx, kwargs, *_ = args
    return fn(gen_model(args), idx, 10, generator=G(0), **kwargs)


@prepared(add_generation_model)
def run_seeds(fn, args):
    idx, *_ = args
    model = gen_model(args)
    return (fn(model, idx, 15, generator=G(1)), fn(model, idx, 15, generator=G(1)),
            fn(model, idx, 15, generator=G(2)), tuple(fn(model, idx, 3).shape))


def compare_seeds(got, expected, args):
    idx = args[0].array
    first, again, other, no_generator = got
    fail = compare_values(first.shape if hasattr(first, "shape") else None, expected[0].shape, where="shape")
    if fail or not np.array_equal(first.array[:, :idx.shape[1]], idx):
        return Fail(f"expected the prompt followed by 15 new tokens, shape {expected[0].shape}, "
                    f"starting with the prompt itself")
    if not np.array_equal(first.array, again.array):
        return Fail("two calls with generators seeded alike gave different tokens",
                    mistake=IGNORED_THE_GENERATOR)
    if np.array_equal(first.array, other.array):
        return Fail("generators with different seeds gave the same 30 tokens: you are not sampling",
                    mistake=ARGMAX_INSTEAD_OF_SAMPLING)
    return compare_values(no_generator, expected[3], where="shape without a generator")


@prepared(add_generation_model)
def run_top_k(fn, args):
    idx, k, *_ = args
    model = gen_model(args)
    out = fn(model, idx, 6, temperature=3.0, top_k=k, generator=G(3))   # (B, 8): within block_size
    with torch.no_grad():
        logits, _ = model(out[:, :-1])                                  # position t-1 predicts t
    allowed = logits.topk(k, dim=-1).indices[:, idx.size(1) - 1:]       # (B, 6, k)
    new = out[:, idx.size(1):]
    return out, (allowed == new[..., None]).any(-1)


def compare_top_k(got, expected, args):
    fail = compare_values(got[0].shape, expected[0].shape, where="shape")
    if fail:
        return fail
    inside = got[1].array
    if not inside.all():
        return Fail(f"{int((~inside).sum())} of {inside.size} sampled tokens are outside the top {args[1]}",
                    mistake=TOP_K_IGNORED)
    return None


@prepared(add_generation_model)
def run_gradients_off(fn, args):
    """Whether any of the model's forward passes inside generate ran with gradients on."""
    idx, *_ = args
    model = gen_model(args)
    seen = []
    hook = model.register_forward_pre_hook(lambda m, inp: seen.append(torch.is_grad_enabled()))
    try:
        with torch.enable_grad():            # as a notebook cell runs: gradients on
            tokens_out = fn(model, idx, 4, generator=G(4))
    finally:
        hook.remove()
    return {"shape": tuple(tokens_out.shape), "forward passes with gradients": sum(seen)}


def compare_gradients_off(got, expected, args):
    if got["forward passes with gradients"]:
        return Fail(f"{got['forward passes with gradients']} of generate's forward passes recorded gradients: "
                    "decorate generate with @torch.no_grad()", mistake=GRADIENTS_WHILE_GENERATING)
    return compare_values(got, expected)


def _generate(model, idx, max_new_tokens, temperature=1.0, top_k=None, generator=None, keep_last=True,
              position=-1, divide=True, use_top_k=True, sample=True, pass_generator=True, no_grad=True):
    """The reference's decoding loop; each keyword after `generator` varies one step."""
    with torch.no_grad() if no_grad else torch.enable_grad():
        bs = model.config.block_size
        for _ in range(max_new_tokens):
            logits, _ = model(idx[:, -bs:] if keep_last else idx[:, :bs])
            logits = logits[:, position]
            logits = logits / temperature if divide else logits * temperature
            if top_k is not None and use_top_k:
                kth = logits.topk(min(top_k, logits.size(-1))).values[:, -1:]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            if sample:
                nxt = torch.multinomial(logits.softmax(-1), 1, generator=generator if pass_generator else None)
            else:
                nxt = logits.argmax(-1, keepdim=True)
            idx = torch.cat([idx, nxt], dim=1)
        return idx


IGNORED_THE_GENERATOR = Mistake("ignored the generator",
                                "pass it on: torch.multinomial(probs, 1, generator=generator).",
                                variant(_generate, pass_generator=False))
ARGMAX_INSTEAD_OF_SAMPLING = Mistake("argmax instead of sampling",
                                     "sample with torch.multinomial(probs, 1, generator=generator); argmax is only what "
                                     "top_k=1 or temperature -> 0 gives.", variant(_generate, sample=False))
GRADIENTS_WHILE_GENERATING = Mistake("gradients recorded while generating",
                                     "keep @torch.no_grad() above def generate: sampling needs no backward pass, and "
                                     "without it every step keeps the graph of the whole forward pass.",
                                     variant(_generate, no_grad=False))
TOP_K_IGNORED = Mistake("top_k ignored",
                        "set every logit below the k-th largest to -inf before the softmax "
                        "(torch.topk(logits, k).values[:, -1:] is the k-th largest).", variant(_generate, use_top_k=False))

generate = Exercise(
    id="10.generate", points=2, difficulty="medium", minutes=25,
    cases=[
        Case("top_k=1 is greedy; a prompt longer than block_size (crop)",
             lambda rng: (tokens(rng, 2, 11), {"top_k": 1}), run=run_greedy,
             why="the model accepts at most block_size tokens: keep the last ones"),
        Case("temperature 1e-3 approaches greedy", lambda rng: (tokens(rng, 2, 3), {"temperature": 1e-3}),
             run=run_greedy),
        Case("the same seeded generator gives the same tokens", lambda rng: (tokens(rng, 2, 3),),
             run=run_seeds, compare=compare_seeds),
        Case("top_k=3 never samples outside the top 3", lambda rng: (tokens(rng, 16, 2), 3),
             run=run_top_k, compare=compare_top_k),
        Case("top_k larger than the vocabulary", lambda rng: (tokens(rng, 1, 2), {"top_k": 100}),
             run=run_greedy, compare=lambda got, exp, args: compare_values(got.shape, exp.shape, where="shape")),
        Case("the defaults (temperature=1.0, top_k=None) with a seeded generator: the reference's tokens",
             lambda rng: (tokens(rng, 2, 3), {}), run=run_greedy,
             why="one torch.multinomial(probs, 1, generator=generator) per step draws what the reference draws"),
        Case("temperature 1.5 and top_k=5 with a seeded generator: the reference's tokens",
             lambda rng: (tokens(rng, 2, 3), {"temperature": 1.5, "top_k": 5}), run=run_greedy),
        Case("no gradients while generating", lambda rng: (tokens(rng, 1, 3),), run=run_gradients_off,
             compare=compare_gradients_off),
    ],
    compare=close(rtol=0, atol=0),  # token ids of deterministic decoding must match exactly
    mistakes=[
        Mistake("cropped to the first block_size tokens",
                "the next token depends on the most recent context: idx[:, -block_size:].",
                variant(_generate, keep_last=False)),
        Mistake("used the logits of the first position",
                "logits is (B, T, V); the prediction for the next token is at the last position, "
                "logits[:, -1, :].", variant(_generate, position=0)),
        Mistake("multiplied by the temperature",
                "divide the logits by the temperature: a small temperature must sharpen the "
                "distribution, not flatten it.", variant(_generate, divide=False)),
        TOP_K_IGNORED,
        IGNORED_THE_GENERATOR,
        ARGMAX_INSTEAD_OF_SAMPLING,
        GRADIENTS_WHILE_GENERATING,
    ],
    requirements=[
        Requirement("Crop the sequence to its last block_size tokens", "top_k=1 is greedy; a prompt longer than block_size (crop)"),
        Requirement("Run the model and keep the logits of the last position, (B, V)", "top_k=1 is greedy; a prompt longer than block_size (crop)",
                    "the defaults (temperature=1.0, top_k=None) with a seeded generator: the reference's tokens"),
        Requirement("Divide them by the temperature", "temperature 1e-3 approaches greedy",
                    "temperature 1.5 and top_k=5 with a seeded generator: the reference's tokens"),
        Requirement("Optionally keep only the top k logits (set the others to -infty)", "top_k=3 never samples outside the top 3",
                    "temperature 1.5 and top_k=5 with a seeded generator: the reference's tokens",
                    "top_k larger than the vocabulary"),
        Requirement("top_k=1 is greedy decoding", "top_k=1 is greedy; a prompt longer than block_size (crop)"),
        Requirement("Softmax, draw one token with torch.multinomial(probs, 1, generator=generator), append",
                    "the defaults (temperature=1.0, top_k=None) with a seeded generator: the reference's tokens",
                    "the same seeded generator gives the same tokens"),
        Requirement("Write generate(model, idx, max_new_tokens, temperature=1.0, top_k=None, generator=None)",
                    "the defaults (temperature=1.0, top_k=None) with a seeded generator: the reference's tokens",
                    "the same seeded generator gives the same tokens"),
        Requirement("idx (B, T) → (B, T + max_new_tokens), the prompt followed by the new tokens",
                    "the same seeded generator gives the same tokens"),
        Requirement("Pass generator to torch.multinomial, so that the same seeded generator gives the same text",
                    "the same seeded generator gives the same tokens"),
        Requirement("Decorate it with @torch.no_grad(): no gradients are needed", "no gradients while generating"),
    ],
)

# ---------------------------------------------------------------- cosine_lr


def run_schedule(fn, args):
    hyper, steps = args
    return [float(fn(s, *hyper)) for s in steps]


def _cosine(step, max_lr, min_lr, warmup, max_steps, warm_up=True, first_step=1, offset=True, clamp=True,
            to_min_lr=True):
    """The reference schedule; each keyword after `max_steps` varies one part of it."""
    if step < warmup and warm_up:
        return max_lr * (step + first_step) / warmup
    if step > max_steps and clamp:
        return min_lr
    start = warmup if warm_up and offset else 0      # where the cosine begins
    ratio = (step - start) / (max_steps - start)
    low = min_lr if to_min_lr else 0.0
    return low + 0.5 * (1 + math.cos(math.pi * ratio)) * (max_lr - low)


NO_WARM_UP = Mistake("no warm-up", "for step < warmup_steps, rise linearly: max_lr * (step + 1) / warmup_steps.",
                     variant(_cosine, warm_up=False))

cosine_lr = Exercise(
    id="10.cosine_lr", points=1, difficulty="easy", minutes=10,
    cases=[
        Case("100 warm-up steps, decay over 2000, steps 0..2200",
             lambda rng: ((1e-3, 1e-4, 100, 2000), list(range(0, 2201, 25)) + [1, 99, 100, 101, 1999, 2001]),
             run=run_schedule),
        Case("warmup_steps=0: no warm-up at all", lambda rng: ((6e-4, 6e-5, 0, 50), list(range(0, 60))), run=run_schedule),
        Case("short run: 5 warm-up steps of 20", lambda rng: ((1.0, 0.1, 5, 20), list(range(0, 25))),
             run=run_schedule),
    ],
    compare=close(rtol=1e-9, atol=1e-15),  # closed-form floats: only rounding may differ
    mistakes=[
        NO_WARM_UP,
        Mistake("decays to zero instead of min_lr",
                "the cosine runs from max_lr down to min_lr: min_lr + 0.5 (1 + cos(pi r)) (max_lr - min_lr).",
                variant(_cosine, to_min_lr=False)),
        Mistake("cosine not offset by the warm-up",
                "the decay starts after the warm-up: r = (step - warmup_steps) / (max_steps - warmup_steps).",
                variant(_cosine, offset=False)),
        Mistake("cosine keeps going after max_steps",
                "past max_steps the cosine would climb again: return min_lr for step > max_steps.",
                variant(_cosine, clamp=False)),
        Mistake("warm-up starts at zero",
                "use (step + 1) / warmup_steps: step 0 then learns a little instead of nothing, and "
                "the warm-up ends at max_lr exactly at step warmup_steps - 1.",
                variant(_cosine, first_step=0)),
    ],
    requirements=[
        Requirement("a short linear warm-up", "100 warm-up steps, decay over 2000, steps 0..2200", "short run: 5 warm-up steps of 20"),
        Requirement("then a cosine decay from max_lr down to min_lr at max_steps, then stays at min_lr",
                    "100 warm-up steps, decay over 2000, steps 0..2200", "short run: 5 warm-up steps of 20"),
        Requirement("The warm-up reaches max_lr at step W-1 and the cosine starts there (r=0)",
                    "100 warm-up steps, decay over 2000, steps 0..2200", "short run: 5 warm-up steps of 20"),
        Requirement("the first step already has a small, non-zero learning rate", "100 warm-up steps, decay over 2000, steps 0..2200"),
        Requirement("Write cosine_lr(step, max_lr, min_lr, warmup_steps, max_steps) -> float",
                    "100 warm-up steps, decay over 2000, steps 0..2200", "warmup_steps=0: no warm-up at all",
                    "short run: 5 warm-up steps of 20"),
    ],
)

# ---------------------------------------------------------------- configure_optimizer


@prepared(add_gpt_weights)
def run_optimizer(fn, args):
    cfg, weight_decay, lr, weights = args
    model = given_model(cfg, weights).train()   # as a model is built: in train mode
    optimizer = fn(model, weight_decay, lr)
    names = {}
    for name, p in model.named_parameters():
        names.setdefault(id(p), name)
    summary = {name: [None, 0, p.dim()] for name, p in model.named_parameters()}
    lrs = []
    for group in getattr(optimizer, "param_groups", []):
        lrs.append(float(group["lr"]))
        for p in group["params"]:
            entry = summary.get(names.get(id(p)))
            if entry is not None:
                entry[0], entry[1] = float(group["weight_decay"]), entry[1] + 1
    return {"type": type(optimizer).__name__, "lrs": sorted(set(lrs)), "params": summary}


def compare_optimizer(got, expected, args):
    if got["type"] != "AdamW":
        return Fail(f"expected a torch.optim.AdamW, got {got['type']}")
    if got["lrs"] != expected["lrs"]:
        return Fail(f"every parameter group should have lr={args[2]}, got {got['lrs']}")
    params = got["params"]
    twice = [n for n, (wd, count, dim) in params.items() if count > 1]
    if twice:
        return Fail(f"{twice} appear(s) in the optimizer more than once", mistake=OPTIMIZER_TIED_WEIGHT_TWICE)
    missing = [n for n, (wd, count, dim) in params.items() if count == 0]
    if missing:
        return Fail(f"these parameters are not in the optimizer, so they would never train: {missing}")
    decayed_1d = [n for n, (wd, count, dim) in params.items() if dim < 2 and wd != 0]
    if decayed_1d:
        return Fail(f"1-D parameters with weight decay: {decayed_1d[:4]}",
                    mistake=DECAYED_BIASES_AND_LAYERNORM_PARAMETERS)
    undecayed_2d = [n for n, (wd, count, dim) in params.items() if dim >= 2 and wd != args[1]]
    if undecayed_2d:
        return Fail(f"2-D parameters without weight decay {args[1]}: {undecayed_2d[:4]}",
                    mistake=NO_WEIGHT_DECAY_ON_THE_MATRICES)
    return None


@prepared(add_gpt_weights)
def run_betas(fn, args):
    """The betas of every group: with the default, and with betas passed in."""
    cfg, weight_decay, lr, betas, weights = args
    model = given_model(cfg, weights).train()
    return {"default": sorted({tuple(g["betas"]) for g in fn(model, weight_decay, lr).param_groups}),
            "given": sorted({tuple(g["betas"]) for g in fn(model, weight_decay, lr, betas=betas).param_groups})}


def compare_betas(got, expected, args):
    if got["default"] != expected["default"]:
        return Fail(f"with the default betas the optimizer has betas {got['default']}, expected {expected['default']}",
                    mistake=BETAS_NOT_PASSED_ON if got["default"] == [(0.9, 0.999)] else None)
    if got["given"] != expected["given"]:
        return Fail(f"configure_optimizer(..., betas={args[3]}) built an optimizer with betas {got['given']}",
                    mistake=BETAS_NOT_PASSED_ON)
    return None


def _optimizer(model, weight_decay, lr, betas=(0.9, 0.99), decay_matrices=True, decay_vectors=False,
               tied_once=True, pass_betas=True):
    """The reference's two groups; each keyword after `betas` varies one choice."""
    params = list(model.parameters()) if tied_once else \
        [p for _, p in model.named_parameters(remove_duplicate=False)]   # the tied matrix twice
    matrices = weight_decay if decay_matrices else 0.0
    vectors = matrices if decay_vectors else 0.0
    return torch.optim.AdamW([
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": matrices},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": vectors}], lr=lr,
        **({"betas": betas} if pass_betas else {}))


DECAYED_BIASES_AND_LAYERNORM_PARAMETERS = Mistake("decayed biases and LayerNorm parameters",
                                                  "put only the parameters with p.dim() >= 2 in the group with weight decay; biases and "
                                                  "LayerNorm gains go in a group with weight_decay=0.0.", variant(_optimizer, decay_vectors=True))
NO_WEIGHT_DECAY_ON_THE_MATRICES = Mistake("no weight decay on the matrices",
                                          "the 2-D parameters get weight_decay=weight_decay.", variant(_optimizer, decay_matrices=False))

BETAS_NOT_PASSED_ON = Mistake("betas not passed on",
                              "torch.optim.AdamW(groups, lr=lr, betas=betas): without it AdamW uses its own "
                              "default (0.9, 0.999), not the (0.9, 0.99) of the signature.", variant(_optimizer, pass_betas=False))
OPTIMIZER_TIED_WEIGHT_TWICE = Mistake(
    "the tied weight counted twice",
    "collect parameters with model.parameters() (or named_parameters()), which list the "
    "shared lm_head/wte matrix once; state_dict() or remove_duplicate=False list it twice.",
    variant(_optimizer, tied_once=False))

configure_optimizer = Exercise(
    # the first torch.optim.AdamW of a process takes ~6 s (torch imports its compiler stack), on
    # a busy machine more than the default 10 s limit: a correct answer must not time out
    id="10.configure_optimizer", points=1, difficulty="medium", minutes=15, time_limit=30.0,
    cases=[
        Case("a small GPT with biases", lambda rng: (config(), 0.1, 3e-3), run=run_optimizer),
        Case("bias=False (LayerNorm weights only)", lambda rng: (config(bias=False, n_layer=1), 0.2, 1e-3),
             run=run_optimizer),
        Case("betas: (0.9, 0.99) by default, and the betas given", lambda rng: (config(), 0.1, 1e-3, (0.8, 0.95)),
             run=run_betas, compare=compare_betas),
    ],
    compare=compare_optimizer,
    mistakes=[
        DECAYED_BIASES_AND_LAYERNORM_PARAMETERS,
        OPTIMIZER_TIED_WEIGHT_TWICE,
        NO_WEIGHT_DECAY_ON_THE_MATRICES,
        BETAS_NOT_PASSED_ON,
    ],
    requirements=[
        Requirement("the 2-D tensors — the Linear weight matrices and the embeddings — get weight decay",
                    "a small GPT with biases", "bias=False (LayerNorm weights only)"),
        Requirement("the 1-D tensors — biases and LayerNorm gains and shifts — do not", "a small GPT with biases",
                    "bias=False (LayerNorm weights only)"),
        Requirement("the optimizer gets two parameter groups", "a small GPT with biases"),
        Requirement("listing it twice puts the same tensor in the optimizer twice", "a small GPT with biases"),
        Requirement("Write configure_optimizer(model, weight_decay, lr, betas=(0.9, 0.99)) → torch.optim.AdamW",
                    "a small GPT with biases", "bias=False (LayerNorm weights only)",
                    "betas: (0.9, 0.99) by default, and the betas given"),
        Requirement("a shorter memory for the second moment than the default 0.999 helps",
                    "betas: (0.9, 0.99) by default, and the betas given"),
    ],
)

# ---------------------------------------------------------------- train_gpt


def pattern_data(period, length):
    return torch.arange(length) % period


def add_training_model(args):
    """prepare: the inputs, then the weights of a freshly built reference GPT(cfg) and the
    learning rate of each step as the reference's cosine_lr gives it (for compare_training)."""
    cfg, kwargs = args
    n = kwargs["max_steps"]
    schedule = [ref.cosine_lr(s, kwargs.get("lr", 1e-3), kwargs.get("min_lr", 1e-4), kwargs.get("warmup_steps", 100), n)
                for s in range(n)]
    return cfg, kwargs, reference_weights(ref.GPT, (cfg,)), schedule


@prepared(add_training_model)
def run_training(fn, args):
    from torch.optim.optimizer import register_optimizer_step_pre_hook
    cfg, kwargs, weights, _ = args
    model = given_model(cfg, weights).train()   # as a model is built: in train mode
    train, val = pattern_data(cfg.vocab_size, 400), pattern_data(cfg.vocab_size, 100)
    steps, unclipped, fresh, forwards, groups = [], {}, {}, [], []

    def record_unclipped(p):                     # fires once per parameter per backward()
        unclipped[id(p)] = p.grad.norm().item()

    def record_fresh(p):                         # this backward's own gradient, before accumulation
        return lambda grad: fresh.__setitem__(id(p), grad.norm().item())

    def record_forward(module, inputs, options, output):
        idx = inputs[0] if inputs else options.get("idx")
        loss = output[1] if isinstance(output, tuple) and len(output) > 1 else None
        forwards.append([module.training, torch.is_grad_enabled(), list(idx.shape),
                         None if loss is None else loss.item()])

    def record(optimizer, *_):
        seen, norms = set(), []
        for p in [p for group in optimizer.param_groups for p in group["params"]]:
            if p.grad is not None and id(p) not in seen:
                seen.add(id(p))
                norms.append(p.grad.norm())
        norm = torch.linalg.vector_norm(torch.stack(norms)).item() if norms else 0.0
        before = math.sqrt(sum(v * v for v in unclipped.values()))
        steps.append([float(optimizer.param_groups[0]["lr"]), norm, before,
                      math.sqrt(sum(v * v for v in fresh.values())), len(forwards)])
        groups.append([type(optimizer).__name__, [float(g["lr"]) for g in optimizer.param_groups],
                       sorted({float(g["weight_decay"]) for g in optimizer.param_groups})])

    handles = [register_optimizer_step_pre_hook(record), model.register_forward_hook(record_forward, with_kwargs=True)]
    handles += [p.register_post_accumulate_grad_hook(record_unclipped) for p in model.parameters()]
    handles += [p.register_hook(record_fresh(p)) for p in model.parameters()]
    try:
        history = fn(model, train, val, generator=G(0), live=False, **kwargs)
    finally:
        for handle in handles:
            handle.remove()
    return {"history": {k: history.get(k) for k in ("step", "train", "val", "loss", "grad_norm")}, "steps": steps,
            "forwards": forwards, "groups": groups, "block_size": cfg.block_size}


def _numbers(values):
    """A logged list as floats; a list of 0-d tensors is accepted too."""
    return [float(v.array) if isinstance(v, TensorValue) else v for v in values]


def compare_training(got, expected, args, learns=True):
    """`learns`: the validation loss must fall (cases with lr and steps enough to learn). The
    learning rates cosine_lr gives are in the args (add_training_model)."""
    kwargs, want_lr = args[1], args[3]
    n = kwargs["max_steps"]
    steps = got["steps"]
    if len(steps) != n:
        return Fail(f"expected {n} calls of optimizer.step(), got {len(steps)}")
    lrs = [lr for lr, *_ in steps]
    if not np.allclose(lrs, want_lr, rtol=1e-6, atol=0):
        first = next(i for i, (a, b) in enumerate(zip(lrs, want_lr)) if not math.isclose(a, b, rel_tol=1e-6))
        return Fail(f"at step {first} the optimizer used lr={lrs[first]:.4g}, but cosine_lr gives "
                    f"{want_lr[first]:.4g}", mistake=LEARNING_RATE_NOT_SCHEDULED)
    clip = kwargs.get("grad_clip", 1.0)
    worst = max(norm for _, norm, *_ in steps)
    if worst > clip * (1 + 1e-3):
        return Fail(f"optimizer.step() saw a gradient norm of {worst:.3g} with grad_clip={clip}",
                    mistake=NO_GRADIENT_CLIPPING)
    history = got["history"]
    for key in ("step", "train", "val", "loss", "grad_norm"):
        if history.get(key) is None:
            return Fail(f"the history has no {key!r} list",
                        mistake=GRADIENT_NORM_NOT_LOGGED if key == "grad_norm" else None)
    if history["step"] != expected["history"]["step"]:
        return Fail(f"evaluated at steps {history['step']}, expected {expected['history']['step']} "
                    "(every eval_interval steps, and once more after the last step)",
                    mistake=NO_EVALUATION_AFTER_THE_LAST_STEP if history["step"] == expected["history"]["step"][:-1]
                    else None)
    if len(history["loss"]) != n:
        return Fail(f"history['loss'] should hold the training loss of each of the {n} steps, "
                    f"it has {len(history['loss'])} entries")
    logged = _numbers(history["grad_norm"])
    if len(logged) != n:
        return Fail(f"history['grad_norm'] should hold the gradient norm of each of the {n} steps, "
                    f"it has {len(logged)} entries")
    before, after = [b for _, _, b, *_ in steps], [a for _, a, *_ in steps]
    if not np.allclose(logged, before, rtol=1e-3, atol=1e-7):
        first = next(i for i, (a, b) in enumerate(zip(logged, before)) if not math.isclose(a, b, rel_tol=1e-3))
        return Fail(f"at step {first} you logged a gradient norm of {logged[first]:.4g}; the gradients "
                    f"that backward() produced had norm {before[first]:.4g}",
                    mistake=GRADIENT_NORM_LOGGED_AFTER_CLIPPING if np.allclose(logged, after, rtol=1e-3) else None)
    fail = _check_the_loop(got, kwargs, want_lr)
    if fail or not learns:
        return fail
    val = history["val"]
    if not all(math.isfinite(v) for v in val) or not val[-1] < 0.7 * val[0]:
        return Fail(f"the validation loss went from {val[0]:.3f} to {val[-1]:.3f}; on this easy repeating "
                    "pattern it should fall by far more")
    return None


def compare_training_defaults(got, expected, args):
    return compare_training(got, expected, args, learns=False)


def _check_the_loop(got, kwargs, want_lr):
    """What the hooks saw beyond the schedule and the clipping: every group's learning rate, the
    optimizer and its weight decay, fresh gradients at every step, the forward passes of training
    (train mode, batch_size windows) and of evaluation (eval mode, no gradients, eval_batches
    batches per split), and the logged losses."""
    n, steps, groups, forwards = kwargs["max_steps"], got["steps"], got["groups"], got["forwards"]
    batch = [kwargs["batch_size"], got["block_size"]]
    for s, (kind, lrs, decays) in enumerate(groups):
        if kind != "AdamW":
            return Fail(f"the optimizer is a {kind}; build it with configure_optimizer (AdamW)")
        if not np.allclose(lrs, want_lr[s], rtol=1e-6, atol=0):
            return Fail(f"at step {s} the parameter groups had learning rates {lrs}; every group must get "
                        f"cosine_lr(...) = {want_lr[s]:.4g}", mistake=ONLY_THE_FIRST_GROUP_SCHEDULED)
        wanted = sorted({0.0, float(kwargs.get("weight_decay", 0.1))})
        if decays != wanted:
            return Fail(f"the optimizer's groups have weight decay {decays}; configure_optimizer(model, weight_decay, lr) "
                        f"with weight_decay={kwargs.get('weight_decay', 0.1)} gives {wanted}",
                        mistake=WEIGHT_DECAY_NOT_PASSED_ON)
    for s, (_, norm, before, this_step, _) in enumerate(steps):
        if before > 0 and norm == 0:
            return Fail(f"at step {s} optimizer.step() saw no gradients: zero_grad belongs before backward, "
                        "not between backward and step")
        if not math.isclose(before, this_step, rel_tol=1e-4, abs_tol=1e-9):
            return Fail(f"at step {s} the gradients had norm {before:.4g}, but this step's backward() produced "
                        f"{this_step:.4g}: gradients of earlier steps are still in .grad (zero_grad before backward)",
                        mistake=NO_ZERO_GRAD)
    training = [f for f in forwards if f[0]]
    evaluating = [f for f in forwards if not f[0]]
    if len(training) != n:
        return Fail(f"{len(training)} forward passes ran in train mode, expected one per step ({n}); evaluation "
                    "runs in model.eval() mode (estimate_loss)")
    if any(shape != batch for _, _, shape, _ in training):
        shape = next(shape for _, _, shape, _ in training if shape != batch)
        return Fail(f"a training batch had shape {tuple(shape)}, expected (batch_size, block_size) = {tuple(batch)}")
    n_evals = len(got["history"]["step"])
    if len(evaluating) != n_evals * 2 * kwargs.get("eval_batches", 20):
        return Fail(f"{len(evaluating)} forward passes ran in eval mode; {n_evals} evaluations of eval_batches="
                    f"{kwargs['eval_batches']} batches of the training and of the validation data make "
                    f"{n_evals * 2 * kwargs['eval_batches']}")
    if any(grad for _, grad, _, _ in evaluating):
        return Fail("the evaluation ran with gradients on: estimate_loss runs under torch.no_grad()")
    if any(shape != batch for _, _, shape, _ in evaluating):
        return Fail(f"an evaluation batch did not have shape (batch_size, block_size) = {tuple(batch)}")
    history = got["history"]
    for key in ("loss", "grad_norm"):
        if not all(isinstance(v, float) for v in history[key]):
            kind = type(next(v for v in history[key] if not isinstance(v, float))).__name__
            return Fail(f"history[{key!r}] holds {kind} values; log floats with .item() (a loss tensor keeps "
                        "its whole graph alive)", mistake=LOGGED_TENSORS)
    losses = [loss for _, _, _, loss in training]
    if not np.allclose(history["loss"], losses, rtol=1e-6, atol=1e-7):
        return Fail("history['loss'] must be the training loss of each step, loss.item() of the batch the step "
                    "trained on")
    per_split = kwargs.get("eval_batches", 20)
    for i, step in enumerate(history["step"]):
        chunk = [loss for _, _, _, loss in evaluating[2 * per_split * i:2 * per_split * (i + 1)]]
        means = sorted([sum(chunk[:per_split]) / per_split, sum(chunk[per_split:]) / per_split])
        logged = [history["train"][i], history["val"][i]] if i < min(len(history["train"]), len(history["val"])) else []
        if len(logged) < 2 or not np.allclose(sorted(logged), means, rtol=1e-5, atol=1e-7):
            return Fail(f"at step {step} history['train'] and history['val'] must be the mean losses of the "
                        f"evaluation's eval_batches={per_split} batches of each split (estimate_loss)")
    return None


@prepared(add_gpt_weights)
def run_training_repeated(fn, args):
    """Three runs from the same initial weights: generator seeded 0, again 0 (with torch's global
    random state moved), then 1. {"loss", "train", "val"} of each."""
    cfg, kwargs, weights = args
    start = given_model(cfg, weights).train()
    train, val = pattern_data(cfg.vocab_size, 400), pattern_data(cfg.vocab_size, 100)
    runs = []
    for seed, global_seed in ((0, 1), (0, 2), (1, 1)):
        torch.manual_seed(global_seed)       # a loop that draws from the global state shows here
        history = fn(copy.deepcopy(start), train, val, generator=G(seed), live=False, **kwargs)
        runs.append({k: _as_floats(history.get(k)) for k in ("loss", "train", "val")})
    return runs


def _as_floats(values):
    return None if values is None else [float(v.detach() if isinstance(v, torch.Tensor) else v) for v in values]


def compare_training_repeated(got, expected, args):
    first, again, other = got
    if first["loss"] != again["loss"]:
        return Fail("two runs with generators seeded alike trained on different batches: pass generator to "
                    "get_batch", mistake=GENERATOR_NOT_PASSED_TO_GET_BATCH)
    if (first["train"], first["val"]) != (again["train"], again["val"]):
        return Fail("two runs with generators seeded alike estimated different losses: pass generator to "
                    "estimate_loss too", mistake=GENERATOR_NOT_PASSED_TO_ESTIMATE_LOSS)
    if first["loss"] == other["loss"]:
        return Fail("runs with generators seeded 0 and 1 gave the same losses: draw the batches with the "
                    "generator passed in")
    return None


def _estimate_with(batches):
    """The given estimate_loss, drawing its batches with `batches`."""
    @torch.no_grad()
    def estimate_loss(model, splits, batch_size, n_batches, generator=None):
        model.eval()
        out = {name: sum(model(*batches(data, batch_size, model.config.block_size, generator))[1].item()
                         for _ in range(n_batches)) / n_batches for name, data in splits.items()}
        model.train()
        return out
    return estimate_loss


def _train(*args, scheduled=True, clipped=True, log_after_clipping=False, final_eval=True,
           log_grad_norm=True, log_floats=True, **kwargs):
    """The reference train_gpt with one thing changed through its own arguments, or in the
    history it returns. Nothing is patched: graders judge several notebooks in threads at once."""
    train_gpt = ref.train_gpt
    call = inspect.signature(train_gpt).bind(*args, **kwargs)
    call.apply_defaults()
    settings = call.arguments
    if not scheduled:   # cosine_lr(step, lr, lr, 0, max_steps) is lr at every step
        settings["min_lr"], settings["warmup_steps"] = settings["lr"], 0
    if not clipped:
        settings["grad_clip"] = math.inf
    history = train_gpt(**settings)
    if log_after_clipping:   # clip_grad_norm_ scales the gradients by min(1, grad_clip / (norm + 1e-6))
        clip = settings["grad_clip"]
        history["grad_norm"] = [norm * min(1.0, clip / (norm + 1e-6)) for norm in history["grad_norm"]]
    if not final_eval:
        for key in ("step", "train", "val"):
            history[key].pop()
    if not log_grad_norm:
        del history["grad_norm"]
    if not log_floats:                       # loss logged without .item()
        history["loss"] = [torch.tensor(v, requires_grad=True) for v in history["loss"]]
    return history


_TRAIN = dict(max_steps=40, batch_size=8, lr=1e-2, min_lr=1e-3, warmup_steps=5, eval_interval=10, eval_batches=2)

LEARNING_RATE_NOT_SCHEDULED = Mistake("learning rate not scheduled",
                                      "before each step set group['lr'] = cosine_lr(step, lr, min_lr, warmup_steps, max_steps) "
                                      "for every group in optimizer.param_groups.", variant(_train, scheduled=False))
NO_GRADIENT_CLIPPING = Mistake("no gradient clipping",
                               "between loss.backward() and optimizer.step(), call "
                               "torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip).", variant(_train, clipped=False))
NO_EVALUATION_AFTER_THE_LAST_STEP = Mistake("no evaluation after the last step",
                                            "evaluate once more after the loop, at step max_steps: that is the model you keep.",
                                            variant(_train, final_eval=False))
GRADIENT_NORM_LOGGED_AFTER_CLIPPING = Mistake("gradient norm logged after clipping",
                                              "log the norm the gradients had *before* clipping: clip_grad_norm_ returns exactly "
                                              "that, norm = clip_grad_norm_(...); after clipping it can never exceed grad_clip, "
                                              "which hides the spikes you want to see.", variant(_train, log_after_clipping=True))
def _learner_loop(model, train_data, val_data, max_steps, batch_size, lr=1e-3, min_lr=1e-4,
                  warmup_steps=100, weight_decay=0.1, grad_clip=1.0, eval_interval=250,
                  eval_batches=20, generator=None, live=True, every_group=True, zero_grad=True,
                  pass_weight_decay=True, seeded_batches=True, seeded_estimates=True):
    """A learner's loop written with the chapter's pieces; each keyword after `live` varies one
    step. (The mistakes that train_gpt's own arguments can make call the reference instead.)"""

    def batches(data, seeded):
        return ref.get_batch(data, batch_size, model.config.block_size, generator if seeded else None)

    optimizer = ref.configure_optimizer(model, weight_decay if pass_weight_decay else 0.1, lr)
    estimate = _estimate_with(lambda data, b, bs, g: ref.get_batch(data, b, bs, g if seeded_estimates else None))
    history = {"step": [], "train": [], "val": [], "loss": [], "grad_norm": []}
    splits = {"train": train_data, "val": val_data}
    for step in range(max_steps + 1):
        if step % eval_interval == 0 or step == max_steps:
            losses = estimate(model, splits, batch_size, eval_batches, generator)
            for key, value in (("step", step), ("train", losses["train"]), ("val", losses["val"])):
                history[key].append(value)
        if step == max_steps:
            return history
        for group in optimizer.param_groups if every_group else optimizer.param_groups[:1]:
            group["lr"] = ref.cosine_lr(step, lr, min_lr, warmup_steps, max_steps)
        _, loss = model(*batches(train_data, seeded_batches))
        if zero_grad:
            optimizer.zero_grad()
        loss.backward()
        history["grad_norm"].append(torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip).item())
        optimizer.step()
        history["loss"].append(loss.item())


ONLY_THE_FIRST_GROUP_SCHEDULED = Mistake("only the first parameter group scheduled",
                                         "the optimizer has two groups (decay and no decay): set the learning rate in "
                                         "a loop, for group in optimizer.param_groups: group['lr'] = lr_now.",
                                         variant(_learner_loop, every_group=False))
LOGGED_TENSORS = Mistake("losses logged as tensors",
                         "history['loss'].append(loss.item()): the tensor itself keeps the graph of its step alive, "
                         "and the history should hold plain floats (grad_norm too: norm.item()).",
                         variant(_train, log_floats=False))
NO_ZERO_GRAD = Mistake("no zero_grad",
                       "backward() adds to .grad; without optimizer.zero_grad() before it, every step also applies "
                       "the gradients of all earlier steps.", variant(_learner_loop, zero_grad=False))
WEIGHT_DECAY_NOT_PASSED_ON = Mistake("weight_decay not passed on",
                                     "build the optimizer with configure_optimizer(model, weight_decay, lr): the "
                                     "argument, not a fixed value.", variant(_learner_loop, pass_weight_decay=False))
GENERATOR_NOT_PASSED_TO_GET_BATCH = Mistake("generator not passed to get_batch",
                                            "get_batch(train_data, batch_size, block_size, generator): without it the "
                                            "batches come from torch's global random state and a run cannot be repeated.",
                                            variant(_learner_loop, seeded_batches=False))
GENERATOR_NOT_PASSED_TO_ESTIMATE_LOSS = Mistake("generator not passed to estimate_loss",
                                                "estimate_loss(model, splits, batch_size, eval_batches, generator): its "
                                                "batches must come from the same generator.",
                                                variant(_learner_loop, seeded_estimates=False))
GRADIENT_NORM_NOT_LOGGED = Mistake("gradient norm not logged",
                                   "append the total gradient norm of every step to history['grad_norm'] "
                                   "(norm = torch.nn.utils.clip_grad_norm_(...); history['grad_norm'].append(norm.item())).",
                                   variant(_train, log_grad_norm=False))

train_gpt = Exercise(
    id="10.train_gpt", points=3, difficulty="hard", minutes=40, time_limit=30.0,
    cases=[
        Case("a tiny GPT learns a repeating pattern in 40 steps",
             lambda rng: (config(vocab_size=5, n_layer=1), dict(_TRAIN)), run=run_training),
        Case("gradient clipping at 0.05, eval_interval that does not divide max_steps",
             lambda rng: (config(vocab_size=5, n_layer=1), dict(_TRAIN, max_steps=45, eval_interval=20, grad_clip=0.05,
                                                                lr=3e-2, warmup_steps=2)),
             run=run_training),
        Case("weight_decay=0.3, batch_size=4, eval_batches=3: every setting reaches the loop",
             lambda rng: (config(vocab_size=5, n_layer=1), dict(_TRAIN, max_steps=30, weight_decay=0.3, batch_size=4,
                                                                eval_batches=3, eval_interval=15)),
             run=run_training),
        Case("the signature's defaults: lr, min_lr, warmup_steps, weight_decay, grad_clip, eval_interval, eval_batches",
             lambda rng: (config(vocab_size=5, n_layer=1, n_embd=8), dict(max_steps=251, batch_size=2)),
             run=run_training, compare=compare_training_defaults,
             why="251 steps: the default eval_interval=250 shows (evaluations at 0, 250 and 251)"),
        Case("the same generator repeats a run exactly; another seed differs",
             lambda rng: (config(vocab_size=5, n_layer=1), dict(_TRAIN, max_steps=8, eval_interval=4)),
             run=run_training_repeated, compare=compare_training_repeated,
             why="torch's global random state is moved between the runs: only the generator may decide the batches"),
    ],
    compare=compare_training,
    mistakes=[
        NO_GRADIENT_CLIPPING,
        LEARNING_RATE_NOT_SCHEDULED,
        NO_EVALUATION_AFTER_THE_LAST_STEP,
        GRADIENT_NORM_LOGGED_AFTER_CLIPPING,
        GRADIENT_NORM_NOT_LOGGED,
        ONLY_THE_FIRST_GROUP_SCHEDULED,
        NO_ZERO_GRAD,
        LOGGED_TENSORS,
        WEIGHT_DECAY_NOT_PASSED_ON,
        GENERATOR_NOT_PASSED_TO_GET_BATCH,
        GENERATOR_NOT_PASSED_TO_ESTIMATE_LOSS,
    ],
    requirements=[
        Requirement("For step in 0 … max_steps-1", "a tiny GPT learns a repeating pattern in 40 steps"),
        Requirement("every eval_interval steps (and once more after the last one), evaluate",
                    "a tiny GPT learns a repeating pattern in 40 steps",
                    "gradient clipping at 0.05, eval_interval that does not divide max_steps"),
        Requirement("the mean loss over eval_batches random batches of the training and of the validation data, in "
                    "model.eval() mode and without gradients",
                    "weight_decay=0.3, batch_size=4, eval_batches=3: every setting reaches the loop"),
        Requirement("set the learning rate of every parameter group to cosine_lr(step, lr, min_lr, warmup_steps, max_steps)",
                    "a tiny GPT learns a repeating pattern in 40 steps",
                    "gradient clipping at 0.05, eval_interval that does not divide max_steps"),
        Requirement("draw a batch (get_batch, given), compute the loss, zero_grad, backward",
                    "weight_decay=0.3, batch_size=4, eval_batches=3: every setting reaches the loop",
                    "a tiny GPT learns a repeating pattern in 40 steps"),
        Requirement("clip the gradient: if the norm of all gradients together exceeds grad_clip, scale them down to that norm",
                    "gradient clipping at 0.05, eval_interval that does not divide max_steps"),
        Requirement("A single unlucky batch then cannot throw the weights far away",
                    not_checked="why clipping helps; the clipping itself is checked"),
        Requirement("clip_grad_norm_ returns the norm the gradients had before clipping",
                    "gradient clipping at 0.05, eval_interval that does not divide max_steps"),
        Requirement("optimizer.step()", "a tiny GPT learns a repeating pattern in 40 steps"),
        Requirement("Return the history: {\"step\": [...], \"train\": [...], \"val\": [...]} with the evaluated losses",
                    "a tiny GPT learns a repeating pattern in 40 steps",
                    "gradient clipping at 0.05, eval_interval that does not divide max_steps"),
        Requirement("\"loss\", the training loss of every step, and \"grad_norm\", the unclipped gradient norm of every step",
                    "a tiny GPT learns a repeating pattern in 40 steps",
                    "weight_decay=0.3, batch_size=4, eval_batches=3: every setting reaches the loop"),
        Requirement("With live=True, show a progress bar (tqdm) and the live loss curve (LiveLossPlot, given); the grader "
                    "calls it with live=False",
                    not_checked="the grader always passes live=False: a progress bar and a figure are not results"),
        Requirement("A loss curve that redraws itself in place in a notebook",
                    not_checked="LiveLossPlot is given, and a figure is not a result"),
        Requirement("Pass generator to get_batch and estimate_loss, so a run can be repeated exactly",
                    "the same generator repeats a run exactly; another seed differs"),
        Requirement("Train model with AdamW, a cosine schedule and gradient clipping",
                    "weight_decay=0.3, batch_size=4, eval_batches=3: every setting reaches the loop"),
        Requirement("def train_gpt(model, train_data, val_data, max_steps, batch_size, lr=1e-3, min_lr=1e-4, "
                    "warmup_steps=100, weight_decay=0.1, grad_clip=1.0, eval_interval=250, eval_batches=20, "
                    "generator=None, live=True)",
                    "a tiny GPT learns a repeating pattern in 40 steps",
                    "gradient clipping at 0.05, eval_interval that does not divide max_steps",
                    "weight_decay=0.3, batch_size=4, eval_batches=3: every setting reaches the loop",
                    "the same generator repeats a run exactly; another seed differs",
                    "the signature's defaults: lr, min_lr, warmup_steps, weight_decay, grad_clip, eval_interval, eval_batches"),
        Requirement("(floats: .item())", "weight_decay=0.3, batch_size=4, eval_batches=3: every setting reaches the loop"),
    ],
)

EXERCISES = [GPT, count_parameters, generate, cosine_lr, configure_optimizer, train_gpt]
