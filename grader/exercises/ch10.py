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
"""
import importlib
import math
from unittest import mock

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..compare import Fail, close, compare_values
from ..engine import Case, Exercise, Mistake
from ..module_weights import perturb
from ..values import TensorValue
from .common import GPT2_NAMES, reference, variant, with_reference_weights


def ref(name):
    return reference(name, "10")


def config(**kw):
    base = dict(block_size=8, vocab_size=11, n_layer=2, n_head=2, n_embd=16, dropout=0.0, bias=True)
    return ref("GPTConfig")(**{**base, **kw})


def tokens(rng, B, T, V=11):
    return torch.from_numpy(rng.integers(0, V, size=(B, T)))


# ---------------------------------------------------------------- GPT

def run_forward(cls, args):
    cfg, idx, targets = args
    model = with_reference_weights(cls, ref("GPT"), (cfg,), nudge=0.2, hint=GPT2_NAMES)
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
            "bias": max(b.abs().max().item() for b in biases)}


def compare_init(got, expected, args):
    """Standard deviations measured on 20k-100k weights: within 10% of GPT-2's values."""
    n_layer = args[0].n_layer if hasattr(args[0], "n_layer") else 4
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
    if got in ("ValueError", "AssertionError"):
        return None
    if got == "no error":
        return Fail("a sequence longer than block_size ran without an error",
                    mistake=NO_CHECK_OF_THE_SEQUENCE_LENGTH)
    return Fail(f"a sequence longer than block_size raised {got}; check T against block_size "
                "yourself and raise a ValueError that says what is wrong",
                mistake=NO_CHECK_OF_THE_SEQUENCE_LENGTH)


class _GPT(nn.Module):
    """The reference GPT's modules with its forward written out; each parameter switches one
    behaviour off (its default is the reference's)."""

    def __init__(self, cfg, tied=True, gpt2_init=True, scaled_c_proj=True, length_check=True,
                 positions=True, final_ln=True, shift_targets_again=False):
        super().__init__()
        inner = ref("GPT")(cfg)
        self.config, self.transformer, self.lm_head = cfg, inner.transformer, inner.lm_head
        self.length_check, self.positions, self.final_ln = length_check, positions, final_ln
        self.shift_targets_again = shift_targets_again
        if not tied:
            self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
            with torch.no_grad():
                self.lm_head.weight.copy_(self.transformer.wte.weight)
        if not gpt2_init:
            for m in self.modules():
                if isinstance(m, (nn.Linear, nn.Embedding)):
                    m.reset_parameters()
        if not scaled_c_proj:
            for name, p in self.named_parameters():
                if name.endswith("c_proj.weight"):
                    nn.init.normal_(p, std=0.02)

    def forward(self, idx, targets=None):
        tr = self.transformer
        B, T = idx.shape
        if T > self.config.block_size and self.length_check:
            raise ValueError("too long")
        x = tr.wte(idx)
        if self.positions:
            x = x + tr.wpe(torch.arange(T))
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


count_parameters = Exercise(
    id="10.count_parameters", points=1, difficulty="easy", minutes=15, pure=True,
    cases=[
        Case("the chapter's default config", lambda rng: (ref("GPTConfig")(),)),
        Case("bias=False", lambda rng: (ref("GPTConfig")(bias=False),)),
        Case("GPT-2 small", lambda rng: (ref("GPTConfig")(block_size=1024, vocab_size=50257, n_layer=12,
                                                          n_head=12, n_embd=768),)),
        Case("a tiny odd config, bias=False", lambda rng: (config(block_size=3, vocab_size=7, n_layer=1, n_embd=6,
                                                                   bias=False),)),
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
    ],
)

# ---------------------------------------------------------------- generate


def gen_model():
    """A small reference GPT made opinionated (nudged weights, larger embeddings), so that a
    tiny temperature really is greedy and different seeds really give different samples."""
    model = ref("GPT")(config())
    perturb(model)
    with torch.no_grad():
        model.transformer.wte.weight.mul_(3.0)
    return model.eval()


def G(seed):
    return torch.Generator().manual_seed(seed)


def run_greedy(fn, args):
    idx, kwargs = args
    return fn(gen_model(), idx, 10, generator=G(0), **kwargs)


def run_seeds(fn, args):
    (idx,) = args
    model = gen_model()
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


def run_top_k(fn, args):
    idx, k = args
    model = gen_model()
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


def _generate(model, idx, max_new_tokens, temperature=1.0, top_k=None, generator=None, keep_last=True,
              position=-1, divide=True, use_top_k=True, sample=True, pass_generator=True):
    """The reference's decoding loop; each keyword after `generator` varies one step."""
    with torch.no_grad():
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
)

# ---------------------------------------------------------------- configure_optimizer


def run_optimizer(fn, args):
    cfg, weight_decay, lr = args
    model = ref("GPT")(cfg)
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


def _optimizer(model, weight_decay, lr, betas=(0.9, 0.99), decay_matrices=True, decay_vectors=False,
               tied_once=True):
    """The reference's two groups; each keyword after `betas` varies one choice."""
    params = list(model.parameters()) if tied_once else \
        [p for _, p in model.named_parameters(remove_duplicate=False)]   # the tied matrix twice
    matrices = weight_decay if decay_matrices else 0.0
    vectors = matrices if decay_vectors else 0.0
    return torch.optim.AdamW([
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": matrices},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": vectors}], lr=lr, betas=betas)


DECAYED_BIASES_AND_LAYERNORM_PARAMETERS = Mistake("decayed biases and LayerNorm parameters",
                                                  "put only the parameters with p.dim() >= 2 in the group with weight decay; biases and "
                                                  "LayerNorm gains go in a group with weight_decay=0.0.", variant(_optimizer, decay_vectors=True))
NO_WEIGHT_DECAY_ON_THE_MATRICES = Mistake("no weight decay on the matrices",
                                          "the 2-D parameters get weight_decay=weight_decay.", variant(_optimizer, decay_matrices=False))

OPTIMIZER_TIED_WEIGHT_TWICE = Mistake(
    "the tied weight counted twice",
    "collect parameters with model.parameters() (or named_parameters()), which list the "
    "shared lm_head/wte matrix once; state_dict() or remove_duplicate=False list it twice.",
    variant(_optimizer, tied_once=False))

configure_optimizer = Exercise(
    id="10.configure_optimizer", points=1, difficulty="medium", minutes=15,
    cases=[
        Case("a small GPT with biases", lambda rng: (config(), 0.1, 3e-3), run=run_optimizer),
        Case("bias=False (LayerNorm weights only)", lambda rng: (config(bias=False, n_layer=1), 0.2, 1e-3),
             run=run_optimizer),
    ],
    compare=compare_optimizer,
    mistakes=[
        DECAYED_BIASES_AND_LAYERNORM_PARAMETERS,
        OPTIMIZER_TIED_WEIGHT_TWICE,
        NO_WEIGHT_DECAY_ON_THE_MATRICES,
    ],
)

# ---------------------------------------------------------------- train_gpt


def pattern_data(period, length):
    return torch.arange(length) % period


def run_training(fn, args):
    from torch.optim.optimizer import register_optimizer_step_pre_hook
    cfg, kwargs = args
    model = ref("GPT")(cfg)
    train, val = pattern_data(cfg.vocab_size, 400), pattern_data(cfg.vocab_size, 100)
    steps, unclipped = [], {}

    def record_unclipped(p):                     # fires once per parameter per backward()
        unclipped[id(p)] = p.grad.norm().item()

    def record(optimizer, *_):
        seen, norms = set(), []
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is not None and id(p) not in seen:
                    seen.add(id(p))
                    norms.append(p.grad.norm())
        norm = torch.linalg.vector_norm(torch.stack(norms)).item() if norms else 0.0
        before = math.sqrt(sum(v * v for v in unclipped.values()))
        steps.append([float(optimizer.param_groups[0]["lr"]), norm, before])

    handles = [register_optimizer_step_pre_hook(record)]
    handles += [p.register_post_accumulate_grad_hook(record_unclipped) for p in model.parameters()]
    try:
        history = fn(model, train, val, generator=G(0), live=False, **kwargs)
    finally:
        for handle in handles:
            handle.remove()
    return {"history": {k: history.get(k) for k in ("step", "train", "val", "loss", "grad_norm")}, "steps": steps}


def _numbers(values):
    """A logged list as floats; a list of 0-d tensors is accepted too."""
    return [float(v.array) if isinstance(v, TensorValue) else v for v in values]


def compare_training(got, expected, args):
    kwargs = args[1]
    n = kwargs["max_steps"]
    steps = got["steps"]
    if len(steps) != n:
        return Fail(f"expected {n} calls of optimizer.step(), got {len(steps)}")
    want_lr = [cosine_lr_reference(s, kwargs.get("lr", 1e-3), kwargs.get("min_lr", 1e-4),
                                   kwargs.get("warmup_steps", 100), n) for s in range(n)]
    lrs = [lr for lr, _, _ in steps]
    if not np.allclose(lrs, want_lr, rtol=1e-6, atol=0):
        first = next(i for i, (a, b) in enumerate(zip(lrs, want_lr)) if not math.isclose(a, b, rel_tol=1e-6))
        return Fail(f"at step {first} the optimizer used lr={lrs[first]:.4g}, but cosine_lr gives "
                    f"{want_lr[first]:.4g}", mistake=LEARNING_RATE_NOT_SCHEDULED)
    clip = kwargs.get("grad_clip", 1.0)
    worst = max(norm for _, norm, _ in steps)
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
    before, after = [b for _, _, b in steps], [a for _, a, _ in steps]
    if not np.allclose(logged, before, rtol=1e-3, atol=1e-7):
        first = next(i for i, (a, b) in enumerate(zip(logged, before)) if not math.isclose(a, b, rel_tol=1e-3))
        return Fail(f"at step {first} you logged a gradient norm of {logged[first]:.4g}; the gradients "
                    f"that backward() produced had norm {before[first]:.4g}",
                    mistake=GRADIENT_NORM_LOGGED_AFTER_CLIPPING if np.allclose(logged, after, rtol=1e-3) else None)
    val = history["val"]
    if not all(math.isfinite(v) for v in val) or not val[-1] < 0.7 * val[0]:
        return Fail(f"the validation loss went from {val[0]:.3f} to {val[-1]:.3f}; on this easy repeating "
                    "pattern it should fall by far more")
    return None


def cosine_lr_reference(*args):
    return ref("cosine_lr")(*args)


def _train(*args, scheduled=True, clipped=True, log_after_clipping=False, final_eval=True,
           log_grad_norm=True, **kwargs):
    """The reference train_gpt with one step changed from outside: its learning-rate schedule
    or its clipping replaced while it runs, or its history cut short afterwards."""
    module = importlib.import_module("grader.reference.ch10")
    clip = nn.utils.clip_grad_norm_

    def clip_as_told(parameters, max_norm, *rest, **options):
        parameters = list(parameters)
        norm = clip(parameters, max_norm if clipped else math.inf, *rest, **options)
        return clip(parameters, math.inf) if log_after_clipping else norm    # measures, clips nothing

    schedule = module.cosine_lr if scheduled else lambda step, max_lr, *rest: max_lr   # stays at lr
    # train_gpt looks both up when it calls them, so replacing them for the call is enough
    with mock.patch.object(module, "cosine_lr", schedule), mock.patch.object(nn.utils, "clip_grad_norm_", clip_as_told):
        history = module.train_gpt(*args, **kwargs)
    if not final_eval:
        for key in ("step", "train", "val"):
            history[key].pop()
    if not log_grad_norm:
        del history["grad_norm"]
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
    ],
    compare=compare_training,
    mistakes=[
        NO_GRADIENT_CLIPPING,
        LEARNING_RATE_NOT_SCHEDULED,
        NO_EVALUATION_AFTER_THE_LAST_STEP,
        GRADIENT_NORM_LOGGED_AFTER_CLIPPING,
        GRADIENT_NORM_NOT_LOGGED,
    ],
)

EXERCISES = [GPT, count_parameters, generate, cosine_lr, configure_optimizer, train_gpt]
