"""Chapter 12, fast inference: the checks, and the mistakes they name.

The exercises and their contracts (chapter 10's GPT, nanoGPT attribute names):

    KVCache(n_layer)
        update(layer, k, v): k, v (B, H, T_new, hs) appended along dim 2 -> (k_all, v_all) of
        that layer, (B, H, T_past + T_new, hs);  len(cache): cached positions (0 when empty)
    forward_cached(model, idx (B, T_new), cache) -> logits (B, T_new, V)
        the new tokens sit at positions len(cache) .. len(cache) + T_new - 1; query i may attend
        key j iff j <= len(cache) + i; ValueError past block_size
    generate_cached(model, idx, max_new_tokens, temperature=1.0, top_k=None, generator=None)
        chapter 10's generate with a cache: the very same tokens, sampling included; a fresh
        cache on the cropped window once the sequence is longer than block_size
    quantize_int8(W (n_out, n_in)) -> (q int8 (n_out, n_in), scale float32 (n_out,))
        scale = row absmax / 127, q = round(W / scale) (zero rows: q = 0)
    dequantize_int8(q, scale) -> float32 q * scale[:, None]
    quantize_q4_blocks(W, block_size=32) -> (q int8 in [-8, 7] (n_out, n_in), scales (n_out, n_in // bs))
        llama.cpp Q4_0: per block, m = the weight of largest |w| with its sign, d = m / -8,
        q = clamp(round(w / d), -8, 7) (zero blocks: q = 0)
    dequantize_q4_blocks(q, scales, block_size=32) -> float32 (n_out, n_in): q * d of its block

Models are small GPTs (chapter 10's reference) with weights redrawn at std 0.3, so that
logits vary enough for a wrong position or mask to show; torch is seeded by the engine, so
the reference and the learner's code see the same model.
"""
import numpy as np
import torch
import torch.nn.functional as F

from ..compare import Fail, close, compare_values
from ..engine import Case, Exercise, Mistake, Requirement
from ..reference.ch10 import GPT, GPTConfig, generate
from .common import lazy_reference, positions_embedded, randn

# Chapter 12's reference, imported at first use: only the known mistakes use it (they run in the
# grading process). The cases' runs execute beside learner code, where it is absent (instructor
# grading's sandbox, a student install), so forward_cached's runs hand the learner's code the
# checks' own cache, `_Cache`, below. Chapter 10's reference (the GPT) is there: an earlier chapter.
ref = lazy_reference("12")


def tiny_gpt(block_size=16, n_layer=2, n_head=2, n_embd=16, vocab_size=11):
    model = GPT(GPTConfig(block_size=block_size, vocab_size=vocab_size, n_layer=n_layer,
                          n_head=n_head, n_embd=n_embd, dropout=0.0, bias=True))
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.3)
    return model.eval()


# ---------------------------------------------------------------- KVCache


def _run_cache(cls, args):
    n_layer, updates = args
    cache = cls(n_layer)
    out = [len(cache)]
    for layer, k, v in updates:
        k_all, v_all = cache.update(layer, k, v)
        out.append((k_all, v_all))
        if layer == n_layer - 1:
            out.append(len(cache))
    return out


def _updates(n_layer, B, H, hs, chunks):
    def inputs(rng):
        steps = [(layer, randn(rng, B, H, t, hs), randn(rng, B, H, t, hs))
                 for t in chunks for layer in range(n_layer)]
        return n_layer, steps
    return inputs


class _Cache:
    """The KV cache that forward_cached's runs pass to the code under test (the reference's is
    not beside learner code), and the base of the cache mistakes: per layer, the keys and the
    values of every position seen so far, (B, H, T, hs), None before the first update."""

    def __init__(self, n_layer: int):
        self.keys = [None for _ in range(n_layer)]
        self.values = [None for _ in range(n_layer)]

    def update(self, layer: int, k, v):
        if self.keys[layer] is not None:
            k = torch.cat((self.keys[layer], k), dim=2)
            v = torch.cat((self.values[layer], v), dim=2)
        self.keys[layer] = k
        self.values[layer] = v
        return k, v

    def __len__(self):
        first = self.keys[0]
        return 0 if first is None else first.shape[2]


class _CacheOverwrites(_Cache):
    def update(self, layer, k, v):
        self.keys[layer], self.values[layer] = k, v
        return k, v


class _CacheWrongAxis(_Cache):
    def update(self, layer, k, v):
        if self.keys[layer] is not None:
            k, v = torch.cat([self.keys[layer], k], 1), torch.cat([self.values[layer], v], 1)
        self.keys[layer], self.values[layer] = k, v
        return k, v

    def __len__(self):
        return 0 if self.keys[0] is None else self.keys[0].size(2)


class _CacheSharedByLayers(_Cache):
    def update(self, layer, k, v):
        return super().update(0, k, v)


KVCache = Exercise(
    id="12.KVCache", points=1, difficulty="easy", minutes=10,
    compare=close(rtol=0, atol=0),   # appending copies values: they must be exact
    cases=[
        Case("2 layers, one position at a time", _updates(2, 2, 2, 4, [1, 1, 1])),
        Case("2 layers: a prompt of 3 positions, then one position at a time",
             _updates(2, 2, 2, 4, [3, 1, 1])),
        Case("a batch of one, 3 layers, chunks of 2 and 3 positions",
             _updates(3, 1, 4, 2, [2, 3])),
    ],
    mistakes=[
        Mistake("cache not appended",
                "update must *add* the new keys and values to what is stored (torch.cat along "
                "dim 2) and return everything; keeping only the newest makes each token forget "
                "the text before it.",
                _CacheOverwrites),
        Mistake("appended along the head axis",
                "keys are (B, H, T, hs): time is dim 2, so torch.cat([...], dim=2).",
                _CacheWrongAxis),
        Mistake("one cache shared by all layers",
                "each layer has its own keys and values: store them in slot `layer`.",
                _CacheSharedByLayers),
    ],
    requirements=[
        Requirement("KVCache(n_layer): empty", "2 layers, one position at a time",
                    "a batch of one, 3 layers, chunks of 2 and 3 positions"),
        Requirement("k, v are the new positions' keys and values, (B, H, T_new, hs); append them to layer "
                    "layer's cache along the time axis (dim 2) and return everything cached for that layer, "
                    "(B, H, T_past + T_new, hs)",
                    "2 layers, one position at a time", "2 layers: a prompt of 3 positions, then one position at a time",
                    "a batch of one, 3 layers, chunks of 2 and 3 positions"),
        Requirement("len(cache): the number of cached positions (0 when empty)",
                    "2 layers: a prompt of 3 positions, then one position at a time",
                    "a batch of one, 3 layers, chunks of 2 and 3 positions"),
        Requirement("Per-layer keys and values (B, H, T, hs) of every position seen so far",
                    "a batch of one, 3 layers, chunks of 2 and 3 positions"),
    ],
)
for _case in KVCache.cases:
    _case.run = _run_cache

# ---------------------------------------------------------------- forward_cached


def _run_forward(fn, args):
    idx, chunks, block_size = args
    model = tiny_gpt(block_size=block_size)
    cache = _Cache(model.config.n_layer)
    out, t = [], 0
    for n in chunks:
        out.append(fn(model, idx[:, t:t + n], cache))
        t += n
    return out, len(cache)


def _forward_inputs(B, chunks, block_size=16):
    def inputs(rng):
        return torch.from_numpy(rng.integers(0, 11, size=(B, sum(chunks)))).long(), chunks, block_size
    return inputs


def run_forward_past_block_size(fn, args):
    """A prompt of block_size tokens fills the cache; one token more must raise ValueError, and so
    must a prompt of block_size + 1 on an empty cache. Exceptions are returned by name, so that
    the comparator can say which one came. Also: whether the logits carry gradients."""
    idx, _, block_size = args
    model = tiny_gpt(block_size=block_size)

    def raised(call):
        try:
            call()
        except Exception as exc:           # the learner's exception, reported by name
            return type(exc).__name__
        return "no exception"

    cache = _Cache(model.config.n_layer)
    logits = fn(model, idx[:, :block_size], cache)
    return {"logits need no gradients": not logits.requires_grad, "cached": len(cache),
            "one token past a full cache": raised(lambda: fn(model, idx[:, block_size:], cache)),
            "a prompt of block_size + 1": raised(lambda: fn(model, idx, _Cache(model.config.n_layer)))}


def compare_past_block_size(got, expected, args):
    for key in ("one token past a full cache", "a prompt of block_size + 1"):
        if got[key] != "ValueError":
            return Fail(f"{key}: start + T_new > block_size must raise ValueError (there is no position "
                        f"embedding for position block_size); yours: {got[key]}", mistake=NO_VALUEERROR_PAST_BLOCK_SIZE)
    if not got["logits need no gradients"]:
        return Fail("the logits carry gradients: keep @torch.no_grad() on forward_cached")
    return compare_values(got, expected)


def _cached_variant(restart_positions=False, causal_prefill=True, use_cache=True, offset_mask=True,
                    check_block_size=True):
    @torch.no_grad()
    def forward(model, idx, cache):
        B, T_new = idx.shape
        C, H = model.config.n_embd, model.config.n_head
        start = len(cache)
        if check_block_size and start + T_new > model.config.block_size:
            raise ValueError("past block_size")
        pos = torch.arange(T_new) if restart_positions else torch.arange(start, start + T_new)
        x = model.transformer.wte(idx) + model.transformer.wpe(pos)
        T_total = start + T_new
        if offset_mask:
            mask = torch.arange(T_total)[None, :] <= torch.arange(start, T_total)[:, None]
        else:
            mask = torch.ones(T_new, T_total, dtype=torch.bool).tril()
        if not causal_prefill:
            mask = torch.ones(T_new, T_total, dtype=torch.bool)
        for i, block in enumerate(model.transformer.h):
            q, k, v = block.attn.c_attn(block.ln_1(x)).split(C, dim=2)
            q, k, v = (t.view(B, T_new, H, C // H).transpose(1, 2) for t in (q, k, v))
            k_all, v_all = cache.update(i, k, v)
            if use_cache:
                k, v = k_all, v_all
                m = mask
            else:
                m = torch.ones(T_new, T_new, dtype=torch.bool).tril()
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=m)
            x = x + block.attn.c_proj(y.transpose(1, 2).reshape(B, T_new, C))
            x = x + block.mlp(block.ln_2(x))
        return model.lm_head(model.transformer.ln_f(x))
    return forward


NO_VALUEERROR_PAST_BLOCK_SIZE = Mistake(
    "no ValueError past block_size",
    "check before anything else: if len(cache) + T_new > model.config.block_size, raise ValueError "
    "with a message saying so (wpe has block_size rows; an index past them is an IndexError deep in torch).",
    _cached_variant(check_block_size=False))


forward_cached = Exercise(
    id="12.forward_cached", points=3, difficulty="hard", minutes=40,
    # float32: the cached pass adds up the same terms in another order than a full pass;
    # differences are ~1e-6 of logits of size ~10.
    compare=close(rtol=1e-4, atol=1e-4),
    cases=[
        Case("a prompt of 5 tokens, then 3 tokens one at a time", _forward_inputs(2, [5, 1, 1, 1]), run=_run_forward),
        Case("a prompt of 2, then a chunk of 3 (the mask must be offset by the cache)",
             _forward_inputs(2, [2, 3, 1]), run=_run_forward),
        Case("a batch of one filling the context to block_size", _forward_inputs(1, [6] + [1] * 10), run=_run_forward),
        Case("past block_size: ValueError", _forward_inputs(2, [17]), run=run_forward_past_block_size,
             compare=compare_past_block_size,
             why="block_size=16 positions have embeddings; a 17th has none"),
    ],
    mistakes=[
        Mistake("position embeddings restarted at 0 for each new token",
                "the new tokens continue the text: their positions are len(cache), ..., "
                "len(cache) + T_new - 1, read *before* the cache is updated.",
                _cached_variant(restart_positions=True)),
        Mistake("no causal mask for the prompt",
                "when several new tokens go through at once (the prompt), token i may only attend "
                "keys j <= len(cache) + i: pass a (T_new, T_total) boolean mask.",
                _cached_variant(causal_prefill=False)),
        Mistake("attended to the new keys only",
                "after cache.update, attend over the keys and values it returns — all cached "
                "positions plus the new ones — not just the new k, v.",
                _cached_variant(use_cache=False)),
        Mistake("causal mask not offset by the cache length",
                "a (T_new, T_total) mask built with tril() lines up query 0 with key 0; query i is "
                "at absolute position len(cache) + i, so allow keys j <= len(cache) + i.",
                _cached_variant(offset_mask=False)),
        NO_VALUEERROR_PAST_BLOCK_SIZE,
    ],
    requirements=[
        Requirement("forward_cached(model, idx, cache) takes the tokens the model has not seen yet, idx (B, T_new), "
                    "and returns their logits (B, T_new, V), reading and extending cache",
                    "a prompt of 5 tokens, then 3 tokens one at a time",
                    "a prompt of 2, then a chunk of 3 (the mask must be offset by the cache)"),
        Requirement("Positions continue where the cache ends", "a prompt of 5 tokens, then 3 tokens one at a time"),
        Requirement("new token i (absolute position start + i) may attend key j iff j le text{start} + i",
                    "a prompt of 2, then a chunk of 3 (the mask must be offset by the cache)",
                    "a prompt of 5 tokens, then 3 tokens one at a time"),
        Requirement("for a prompt (start = 0) it is the usual causal mask", "a prompt of 5 tokens, then 3 tokens one at a time"),
        Requirement("logits = model.lm_head(model.transformer.ln_f(x))", "a batch of one filling the context to block_size"),
        Requirement("Raise a ValueError if start + T_new > block_size", "past block_size: ValueError",
                    "a batch of one filling the context to block_size"),
        Requirement("Run in eval mode", not_checked="the checks pass models already in eval mode, with dropout=0: "
                    "no mode-dependent layer whose behaviour would show"),
        Requirement("without gradients", "past block_size: ValueError"),
    ],
)

# ---------------------------------------------------------------- generate_cached


def _run_generate(fn, args):
    idx, n, temperature, top_k, seed = args
    model = tiny_gpt()
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    return positions_embedded(model, lambda: fn(model, idx, n, temperature=temperature, top_k=top_k,
                                                generator=generator))


def run_generate_reporting(fn, args):
    """`_run_generate`, with an exception returned by name in place of the tokens (so that a
    prompt fed uncropped is a failure that can be named, not a crash)."""
    try:
        return _run_generate(fn, args)
    except Exception as exc:               # the learner's exception, reported by name
        return f"raised {type(exc).__name__}: {exc}", 0


def run_generate_defaults(fn, args):
    """`_run_generate` calling fn without temperature and top_k: their defaults, 1.0 and None."""
    idx, n, _, _, seed = args
    model = tiny_gpt()
    generator = torch.Generator().manual_seed(seed)
    return fn(model, idx, n, generator=generator), None


def compare_defaults(got, expected, args):
    fail = compare_values(got[0], expected[0], check_dtype=False)
    if fail:
        fail.message = ("called without temperature and top_k (defaults 1.0 and None, as in generate), "
                        "the tokens differ from generate's: " + fail.message)
    return fail


def _generate_inputs(B, P, n, temperature=1.0, top_k=1, seed=None):
    def inputs(rng):
        return torch.from_numpy(rng.integers(0, 11, size=(B, P))).long(), n, temperature, top_k, seed
    return inputs


def _same_tokens_less_work(got, expected, args):
    """The tokens must be exactly the reference's (= generate's); the work, counted as positions
    passed through the token embedding, must be about the cached amount, not the quadratic one."""
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return Fail("internal: unexpected result")
    if isinstance(got[0], str):     # an exception, by name: equal only to the same exception
        return None if got[0] == expected[0] else Fail(f"your code {got[0]}")
    fail = compare_values(got[0], expected[0], check_dtype=False)
    if fail:
        fail.message = "the tokens differ from generate's: " + fail.message
        return fail
    work, cached_work = got[1], expected[1]
    if work > 2 * cached_work + 2:
        return Fail(f"right tokens, but your model embedded {work} positions where a cache needs "
                    f"{cached_work}: it recomputes the whole context each step",
                    mistake=RECOMPUTED_THE_WHOLE_CONTEXT_EVERY_STEP)
    return None


def _gen_variant(temperature_used=True, use_generator=True, crop_prompt=True):
    @torch.no_grad()
    def generate_cached(model, idx, max_new_tokens, temperature=1.0, top_k=None, generator=None):
        block_size, n_layer = model.config.block_size, model.config.n_layer
        cache, new = ref.KVCache(n_layer), idx[:, -block_size:] if crop_prompt else idx
        for step in range(max_new_tokens):
            if (step > 0 or crop_prompt) and len(cache) + new.size(1) > block_size:
                cache, new = ref.KVCache(n_layer), idx[:, -block_size:]
            logits = ref.forward_cached(model, new, cache)[:, -1, :]
            if temperature_used:
                logits = logits / temperature
            if top_k is not None:
                kth = torch.topk(logits, min(top_k, logits.size(-1))).values[:, -1:]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            probs = F.softmax(logits, dim=-1)
            next_id = torch.multinomial(probs, 1, generator=generator if use_generator else None)
            idx = torch.cat([idx, next_id], dim=1)
            new = next_id
        return idx
    return generate_cached


@torch.no_grad()
def _gen_no_cache(model, idx, max_new_tokens, temperature=1.0, top_k=None, generator=None):
    return generate(model, idx, max_new_tokens, temperature, top_k, generator)


RECOMPUTED_THE_WHOLE_CONTEXT_EVERY_STEP = Mistake("recomputed the whole context every step",
                                                  "that is chapter 10's generate: feed the prompt once, then only the newest token, "
                                                  "through forward_cached with a KVCache that keeps the rest.",
                                                  _gen_no_cache)

generate_cached = Exercise(
    id="12.generate_cached", points=3, difficulty="medium", minutes=25,
    compare=_same_tokens_less_work,
    cases=[
        Case("greedy (top_k=1), 12 new tokens after a prompt of 4", _generate_inputs(2, 4, 12), run=_run_generate),
        Case("sampling: temperature 0.7, top_k=4, a seeded generator",
             _generate_inputs(2, 3, 10, temperature=0.7, top_k=4, seed=5), run=_run_generate),
        Case("past block_size: the window slides as in generate", _generate_inputs(1, 6, 14), run=_run_generate),
        Case("sampling from the whole distribution: top_k=None, temperature 1.3, another seed",
             _generate_inputs(2, 3, 10, temperature=1.3, top_k=None, seed=11), run=_run_generate,
             why="top_k=None means no top-k filter; a second seed shows the generator is the one passed in"),
        Case("called without temperature and top_k: the defaults 1.0 and None",
             _generate_inputs(2, 3, 8, seed=3), run=run_generate_defaults, compare=compare_defaults),
        Case("a prompt longer than block_size (20 tokens): only the last 16 are fed",
             _generate_inputs(1, 20, 4), run=run_generate_reporting,
             why="the prompt itself is cropped, idx[:, -block_size:], before the first forward pass"),
        Case("a batch of 17 sequences, more than block_size", _generate_inputs(17, 2, 5), run=_run_generate,
             why="the window is about the time axis, new.size(1), never the batch axis"),
    ],
    mistakes=[
        RECOMPUTED_THE_WHOLE_CONTEXT_EVERY_STEP,
        Mistake("temperature ignored",
                "divide the last position's logits by `temperature` before top-k and softmax, as "
                "generate does.",
                _gen_variant(temperature_used=False)),
        Mistake("sampled without the generator",
                "pass generator=generator to torch.multinomial: the same generator must give the "
                "same text as generate.",
                _gen_variant(use_generator=False)),
        Mistake("prompt not cropped to block_size",
                "the first tokens fed are idx[:, -block_size:]: a prompt longer than the context "
                "has no position embeddings for its start, and generate crops it too.",
                _gen_variant(crop_prompt=False)),
    ],
    requirements=[
        Requirement("generate_cached(model, idx, max_new_tokens, temperature=1.0, top_k=None, generator=None) "
                    "has chapter 10's signature and must return the same tokens as generate, sampling included",
                    "greedy (top_k=1), 12 new tokens after a prompt of 4",
                    "sampling: temperature 0.7, top_k=4, a seeded generator",
                    "called without temperature and top_k: the defaults 1.0 and None"),
        Requirement("same temperature, same top-k, one torch.multinomial(probs, 1, generator=generator) per step",
                    "sampling: temperature 0.7, top_k=4, a seeded generator",
                    "sampling from the whole distribution: top_k=None, temperature 1.3, another seed"),
        Requirement("cache = KVCache(n_layer); the tokens not yet seen are the prompt, idx[:, -block_size:]",
                    "a prompt longer than block_size (20 tokens): only the last 16 are fed"),
        Requirement("each step: logits = forward_cached(model, new, cache)[:, -1, :]",
                    "greedy (top_k=1), 12 new tokens after a prompt of 4", "a batch of 17 sequences, more than block_size"),
        Requirement("append the token; it is the next step's new", "greedy (top_k=1), 12 new tokens after a prompt of 4"),
        Requirement("start a fresh cache and feed the cropped window again",
                    "past block_size: the window slides as in generate"),
        Requirement("chapter 10's generate with a KV cache: the same tokens, (B, T + max_new_tokens)",
                    "greedy (top_k=1), 12 new tokens after a prompt of 4"),
    ],
)

# ---------------------------------------------------------------- quantize_int8


def _ints_close(got, expected, name, allowed_fraction=0.002):
    """Integer codes: equal, except an occasional off-by-one where W/scale lands within a
    rounding error of .5 (x * (1/s) and x / s can round differently there)."""
    if not hasattr(got, "dtype") or got.dtype != "torch.int8":
        kind = getattr(got, "dtype", type(got).__name__)
        return Fail(f"{name}: expected a torch.int8 tensor (1 byte per weight), got {kind}")
    if got.shape != expected.shape:
        return Fail(f"{name}: shape expected {expected.shape}, got {got.shape}")
    diff = np.abs(got.array.astype(np.int64) - expected.array.astype(np.int64))
    if diff.max(initial=0) > 1 or (diff > 0).mean() > allowed_fraction:
        idx = tuple(int(i) for i in np.argwhere(diff > 0)[0])
        return Fail(f"{name}: {int((diff > 0).sum())} of {diff.size} codes differ; first at {idx}: "
                    f"expected {expected.array[idx]}, got {got.array[idx]}")
    return None


def _quantized(got, expected, args):
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return Fail("return a tuple (q, scale)")
    if getattr(got[1], "dtype", None) != "torch.float32":
        kind = getattr(got[1], "dtype", type(got[1]).__name__)
        return Fail(f"scales: expected a torch.float32 tensor, got {kind}")
    fail = compare_values(got[1], expected[1], rtol=1e-6, atol=1e-12, check_dtype=False)
    if fail:
        fail.message = "scales: " + fail.message
        return fail
    return _ints_close(got[0], expected[0], "q")


def _int8_per_tensor(W):
    scale = W.abs().max() / 127
    return torch.round(W / scale).clamp(-127, 127).to(torch.int8), scale


def _int8_truncated(W):
    scale = W.abs().amax(dim=1) / 127
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    return (W / safe[:, None]).to(torch.int8), scale


def _int8_over_128(W):
    scale = W.abs().amax(dim=1) / 128
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    return torch.round(W / safe[:, None]).to(torch.int8), scale


def _int8_per_column(W):
    scale = W.abs().amax(dim=0) / 127
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    return torch.round(W / safe[None, :]).clamp(-127, 127).to(torch.int8), scale


def _with_special_rows(rng):
    W = randn(rng, 3, 32)
    W[1] = 0.0               # a row of zeros: no division by zero
    W[2, 5] = 40.0           # one outlier sets its row's scale only
    return (W,)


quantize_int8 = Exercise(
    id="12.quantize_int8", points=2, difficulty="easy", minutes=15, pure=True,
    compare=_quantized,
    cases=[
        Case("a (6, 40) matrix", lambda rng: (randn(rng, 6, 40),)),
        Case("a single row", lambda rng: (randn(rng, 1, 64, scale=0.02),)),
        Case("a row of zeros and a row with an outlier", _with_special_rows),
        Case("large weights (x1000), (5, 8)", lambda rng: (randn(rng, 5, 8, scale=1000.0),)),
    ],
    mistakes=[
        Mistake("one scale for the whole tensor",
                "compute the absmax of each row, W.abs().amax(dim=1): one scale per output row, "
                "shape (n_out,), so a row of small weights keeps its precision.",
                _int8_per_tensor),
        Mistake("rounding by truncation",
                "`.to(torch.int8)` cuts towards zero; round to the nearest level first with "
                "torch.round, or every weight shrinks and the error doubles.",
                _int8_truncated),
        Mistake("scale of absmax/128",
                "int8 goes from -128 to 127: with absmax/128 the largest positive weight becomes "
                "128, which wraps around to -128. Use absmax/127 (symmetric, -127..127).",
                _int8_over_128),
        Mistake("one scale per column",
                "W is (n_out, n_in) like nn.Linear.weight: a row is one output neuron. Take the "
                "absmax over dim=1, giving n_out scales.",
                _int8_per_column),
    ],
    requirements=[
        Requirement("quantize_int8(W) -> (q, scale): W (n_out, n_in) float32 → q (n_out, n_in) torch.int8, "
                    "scale (n_out,) float32", "a (6, 40) matrix", "a single row", "pure"),
        Requirement("s_r = frac{max_j |W_{rj}|}{127}", "a (6, 40) matrix", "large weights (x1000), (5, 8)"),
        Requirement("The largest weight of each row maps to ±127 exactly", "a (6, 40) matrix",
                    "a row of zeros and a row with an outlier"),
        Requirement("a scale per row adapts to each output neuron", "a row of zeros and a row with an outlier",
                    "a (6, 40) matrix"),
        Requirement("One scale for the whole matrix would be set by its single largest weight",
                    "a row of zeros and a row with an outlier"),
        Requirement("Round to the nearest integer (torch.round), not towards zero", "a (6, 40) matrix"),
        Requirement("A row of zeros has scale 0: give it q = 0 without dividing by zero",
                    "a row of zeros and a row with an outlier"),
    ],
)

# ---------------------------------------------------------------- dequantize_int8


def _codes(rng, n_out, n_in, low=-127, high=128):
    q = torch.from_numpy(rng.integers(low, high, size=(n_out, n_in))).to(torch.int8)
    return q


dequantize_int8 = Exercise(
    id="12.dequantize_int8", points=1, difficulty="easy", minutes=5, pure=True,
    compare=close(rtol=1e-6, atol=0),   # one float32 product per weight
    cases=[
        Case("a square (5, 5) matrix", lambda rng: (_codes(rng, 5, 5), randn(rng, 5).abs())),
        Case("a (3, 8) matrix", lambda rng: (_codes(rng, 3, 8), randn(rng, 3).abs())),
        Case("a single row", lambda rng: (_codes(rng, 1, 16), randn(rng, 1).abs())),
    ],
    mistakes=[
        Mistake("scale broadcast along the columns",
                "scale has one entry per row: multiply by scale[:, None] (n_out, 1), not by "
                "scale (which lines up with the columns).",
                lambda q, s: q.float() * s[None, :]),
        Mistake("divided by the scale",
                "quantizing divided by the scale; dequantizing multiplies: W_hat = q * scale.",
                lambda q, s: q.float() / s[:, None]),
        Mistake("left as int8 codes times the scale in float64",
                "W_hat is float32, like the weights it replaces: q.float() * scale[:, None].",
                lambda q, s: q.double() * s.double()[:, None]),
    ],
    requirements=[
        Requirement("dequantize_int8(q, scale) -> W_hat (n_out, n_in) float32", "a square (5, 5) matrix",
                    "a (3, 8) matrix", "a single row", "pure"),
        Requirement("hat W_{rj} = q_{rj}, s_r", "a (3, 8) matrix", "a square (5, 5) matrix"),
        Requirement("One scale for the whole matrix would be set by its single largest weight",
                    not_checked="why quantize_int8 scales per row; dequantize gets the scales it is given"),
    ],
)

# ---------------------------------------------------------------- quantize_q4_blocks


def _q4(W, block_size=32, signed=True, divisor=8.0, clamp=(-8, 7), per_row=False, check=True):
    n_out, n_in = W.shape
    if check and n_in % block_size:
        raise ValueError("n_in is not a multiple of block_size")
    bs = n_in if per_row else block_size
    blocks = W.float().reshape(n_out, n_in // bs, bs)
    if signed:
        d = blocks.gather(-1, blocks.abs().argmax(-1, keepdim=True)) / -divisor
    else:  # the sign of the largest weight dropped
        d = blocks.abs().amax(-1, keepdim=True) / divisor
    safe = torch.where(d != 0, d, torch.ones_like(d))
    q = torch.round(blocks / safe)
    if clamp:
        q = q.clamp(*clamp)
    return q.to(torch.int8).reshape(n_out, n_in), d.squeeze(-1)


def _largest_exactly_8(rng):
    W = randn(rng, 2, 32)
    W[0, 7] = 8.0                     # d = 8 / -8 = -1 exactly
    W[1, 2] = -8.0                    # d = 1 exactly
    return (W,)


def _opposite_extremes(rng):
    W = randn(rng, 2, 64, scale=0.1)
    W[0, 3], W[0, 17] = 1.0, -0.99    # +m and almost -m in one block: -0.99/d rounds to 8
    W[1, 40], W[1, 41] = -2.0, 1.97
    W[1, :32] = 0.0                   # a block of zeros
    return (W,)


def run_reporting_value_error(fn, args):
    """The call's result, or the name of the exception it raised, so that a missing ValueError
    is a failure with a message rather than the learner's crash."""
    try:
        return fn(*args)
    except Exception as exc:               # the learner's exception, reported by name
        return f"raised {type(exc).__name__}"


def compare_ragged_blocks(got, expected, args):
    if got != "raised ValueError":
        said = got if isinstance(got, str) else "returned normally"
        return Fail(f"n_in={args[0].shape[1]} is not a multiple of block_size={args[1]}: raise ValueError "
                    f"(yours {said})", mistake=NO_VALUEERROR_FOR_RAGGED_ROWS)
    return None


NO_VALUEERROR_FOR_RAGGED_ROWS = Mistake(
    "no ValueError when n_in is not a multiple of block_size",
    "check n_in % block_size first and raise ValueError: a reshape error from torch, or blocks that "
    "silently drop the last weights, say nothing about what was wrong.",
    lambda W, bs=32: _q4(W, bs, check=False))


quantize_q4_blocks = Exercise(
    id="12.quantize_q4_blocks", points=3, difficulty="medium", minutes=25, pure=True,
    compare=_quantized,
    cases=[
        Case("a (4, 64) matrix: two blocks per row", lambda rng: (randn(rng, 4, 64),)),
        Case("a block holding +m and almost -m, and a block of zeros", _opposite_extremes),
        Case("block_size=16, a (3, 48) matrix", lambda rng: (randn(rng, 3, 48), 16)),
        Case("a single row of one block, large values", lambda rng: (randn(rng, 1, 32, scale=500.0),)),
        Case("blocks whose scale is exactly -1 and 1 (largest weights 8 and -8)", _largest_exactly_8,
             why="d = -1 and d = 1 are scales like any other: only d = 0 is special"),
        Case("n_in=48 with block_size=32: ValueError", lambda rng: (randn(rng, 2, 48), 32),
             run=run_reporting_value_error, compare=compare_ragged_blocks,
             why="48 weights make one block and a half: the instructions ask for a ValueError"),
    ],
    mistakes=[
        Mistake("one scale per row instead of per block",
                "cut each row into blocks of block_size weights (W.view(n_out, n_in // block_size, "
                "block_size)) and give each block its own scale: scales are (n_out, n_blocks).",
                lambda W, bs=32: _q4(W, bs, per_row=True)),
        Mistake("wrong clamp range",
                "4-bit signed integers hold -8..7: clamp(round(w / d), -8, 7). A weight as large "
                "as m on the other side gives +8, which does not fit.",
                lambda W, bs=32: _q4(W, bs, clamp=None)),
        Mistake("symmetric absmax/7 scale",
                "Q4_0 divides the *signed* largest weight by -8, so it lands exactly on the extra "
                "level -8; absmax/7 never uses -8 and wastes one of the 16 levels.",
                lambda W, bs=32: _q4(W, bs, signed=False, divisor=7.0)),
        Mistake("lost the sign of the largest weight",
                "d = m / -8 where m is the block's largest-magnitude weight *with its sign* "
                "(gather it with argmax of abs); absmax/8 sends a positive maximum to +8, which "
                "is clamped to 7.",
                lambda W, bs=32: _q4(W, bs, signed=False)),
        NO_VALUEERROR_FOR_RAGGED_ROWS,
    ],
    requirements=[
        Requirement("quantize_q4_blocks(W, block_size=32) -> (q, scales)", "a (4, 64) matrix: two blocks per row",
                    "block_size=16, a (3, 48) matrix", "pure"),
        Requirement("W (n_out, n_in) with n_in divisible by block_size (else ValueError)",
                    "n_in=48 with block_size=32: ValueError"),
        Requirement("q (n_out, n_in) torch.int8 in [-8, 7], scales (n_out, n_in // block_size) float32 (the d of each block)",
                    "a (4, 64) matrix: two blocks per row", "block_size=16, a (3, 48) matrix"),
        Requirement("find m, the weight of largest magnitude, with its sign", "a (4, 64) matrix: two blocks per row",
                    "a block holding +m and almost -m, and a block of zeros"),
        Requirement("the scale is d = m / (-8), so m itself maps to exactly -8", "a (4, 64) matrix: two blocks per row",
                    "a single row of one block, large values", "blocks whose scale is exactly -1 and 1 (largest weights 8 and -8)"),
        Requirement("A weight as large on the other side would come out as +8, one past the range: that is what "
                    "the clamp to 7 is for",
                    "a block holding +m and almost -m, and a block of zeros"),
        Requirement("A block of zeros has d = 0: give it q = 0", "a block holding +m and almost -m, and a block of zeros"),
        Requirement("a single large weight (an outlier) stretches the scale", "a block holding +m and almost -m, and a block of zeros",
                    "a (4, 64) matrix: two blocks per row"),
    ],
)

# ---------------------------------------------------------------- dequantize_q4_blocks


def _q4_codes(rng, n_out, n_in, bs=32):
    q = torch.from_numpy(rng.integers(-8, 8, size=(n_out, n_in))).to(torch.int8)
    return q, randn(rng, n_out, n_in // bs), bs


def _deq_repeat(q, s, bs=32):
    return q.float() * s.repeat(1, bs)


def _deq_per_row(q, s, bs=32):
    return q.float() * s[:, :1]


def _deq_offset(q, s, bs=32):
    n_out, n_in = q.shape
    return ((q.float() - 8).reshape(n_out, -1, bs) * s[..., None]).reshape(n_out, n_in)


dequantize_q4_blocks = Exercise(
    id="12.dequantize_q4_blocks", points=1, difficulty="easy", minutes=10, pure=True,
    compare=close(rtol=1e-6, atol=0),
    cases=[
        Case("a (3, 96) matrix: three blocks per row", lambda rng: _q4_codes(rng, 3, 96)),
        Case("block_size=8, a (2, 24) matrix", lambda rng: _q4_codes(rng, 2, 24, 8)),
        Case("a single block", lambda rng: _q4_codes(rng, 1, 32)),
        Case("the default block_size=32, (2, 64)", lambda rng: _q4_codes(rng, 2, 64)[:2]),
    ],
    mistakes=[
        Mistake("scales repeated instead of interleaved",
                "each scale covers block_size *consecutive* weights: repeat_interleave(block_size, "
                "dim=1) or a (n_out, n_blocks, block_size) view — .repeat tiles them in the wrong order.",
                _deq_repeat),
        Mistake("one scale per row",
                "there is one scale per block: weight j of a row uses scales[:, j // block_size].",
                _deq_per_row),
        Mistake("subtracted the nibble offset",
                "our codes are already signed, -8..7 (llama.cpp stores q + 8 in a nibble and "
                "subtracts 8 when it unpacks): multiply q by its block's scale directly.",
                _deq_offset),
    ],
    requirements=[
        Requirement("dequantize_q4_blocks(q, scales, block_size=32) -> W_hat (n_out, n_in) float32",
                    "a (3, 96) matrix: three blocks per row", "block_size=8, a (2, 24) matrix", "a single block", "pure",
                    "the default block_size=32, (2, 64)"),
        Requirement("hat w_j = q_j, d", "a (3, 96) matrix: three blocks per row", "block_size=8, a (2, 24) matrix"),
        Requirement("with n_in divisible by block_size (else ValueError)",
                    not_checked="quantize_q4_blocks's instruction; dequantize gets codes quantize made"),
        Requirement("a single large weight (an outlier) stretches the scale",
                    not_checked="why quantize_q4_blocks scales per block; dequantize gets the scales it is given"),
    ],
)

EXERCISES = [KVCache, forward_cached, generate_cached, quantize_int8, dequantize_int8,
             quantize_q4_blocks, dequantize_q4_blocks]
