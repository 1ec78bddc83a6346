"""Correct answers to chapter 12 written differently from the reference."""
import math

import torch

from grader.reference import ch12 as ref


class KVCache:
    """Keeps a list of chunks per layer and concatenates on demand; counts positions itself."""

    def __init__(self, n_layer):
        self.chunks = [[] for _ in range(n_layer)]
        self.length = 0

    def update(self, layer, k, v):
        self.chunks[layer].append((k, v))
        if layer == 0:
            self.length += k.shape[2]
        ks, vs = zip(*self.chunks[layer])
        return torch.cat(ks, dim=-2), torch.cat(vs, dim=-2)

    def __len__(self):
        return self.length


@torch.no_grad()
def forward_cached(model, idx, cache):
    """Explicit attention with a float mask of -inf, heads by reshape/permute."""
    B, T_new = idx.shape
    cfg = model.config
    hs = cfg.n_embd // cfg.n_head
    start = len(cache)
    if start + T_new > cfg.block_size:
        raise ValueError("past block_size")
    x = model.transformer.wte(idx) + model.transformer.wpe.weight[start:start + T_new]
    T_total = start + T_new
    forbidden = torch.triu(torch.full((T_new, T_total), float("-inf")), diagonal=start + 1)
    for layer, block in enumerate(model.transformer.h):
        qkv = block.attn.c_attn(block.ln_1(x)).reshape(B, T_new, 3, cfg.n_head, hs)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)                      # each (B, H, T_new, hs)
        k, v = cache.update(layer, k, v)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hs) + forbidden, dim=-1)
        y = (att @ v).permute(0, 2, 1, 3).reshape(B, T_new, cfg.n_embd)
        x = x + block.attn.c_proj(y)
        x = x + block.mlp(block.ln_2(x))
    return model.lm_head(model.transformer.ln_f(x))


@torch.no_grad()
def generate_cached(model, idx, max_new_tokens, temperature=1.0, top_k=None, generator=None):
    """Prefill before the loop, one forward per new token, the window checked after sampling."""
    block_size = model.config.block_size
    cache = ref.KVCache(model.config.n_layer)
    logits = ref.forward_cached(model, idx[:, -block_size:], cache)[:, -1]
    for step in range(max_new_tokens):
        logits = logits / temperature
        if top_k is not None:
            values, _ = torch.topk(logits, min(top_k, logits.size(-1)))
            logits = torch.where(logits < values[:, [-1]], float("-inf"), logits)
        next_id = torch.multinomial(logits.softmax(-1), 1, generator=generator)
        idx = torch.cat((idx, next_id), 1)
        if step == max_new_tokens - 1:
            break
        if idx.shape[1] > block_size:
            cache = ref.KVCache(model.config.n_layer)
            logits = ref.forward_cached(model, idx[:, -block_size:], cache)[:, -1]
        else:
            logits = ref.forward_cached(model, next_id, cache)[:, -1]
    return idx


@torch.no_grad()
def generate_cached_while(model, idx, max_new_tokens, temperature=1.0, top_k=None, generator=None):
    """A while loop over the output length; temperature inside the softmax, top-k by sorting,
    `if top_k:` for "no filter"; a fresh cache whenever the next input would not fit."""
    cfg = model.config
    target = idx.size(1) + max_new_tokens
    cache, new = ref.KVCache(cfg.n_layer), idx[:, -cfg.block_size:]
    while idx.size(1) < target:
        if len(cache) + new.size(1) > cfg.block_size:
            cache, new = ref.KVCache(cfg.n_layer), idx[:, -cfg.block_size:]
        logits = ref.forward_cached(model, new, cache)[:, -1, :]
        if top_k:
            kth = logits.sort(dim=-1, descending=True).values[:, min(top_k, logits.size(-1)) - 1:][:, :1]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        probs = torch.softmax(logits / temperature, dim=-1)
        new = torch.multinomial(probs, num_samples=1, replacement=False, generator=generator)
        idx = torch.cat([idx, new], dim=-1)
    return idx


def quantize_int8(W):
    """Multiplies by the inverse scale (rounds differently from division only at exact ties)."""
    absmax = W.abs().max(dim=1).values
    inverse = torch.where(absmax > 0, 127.0 / absmax, torch.zeros_like(absmax))
    q = (W * inverse.unsqueeze(1)).round().to(torch.int8)
    return q, absmax / 127.0


def dequantize_int8(q, scale):
    return torch.einsum("ij,i->ij", q.to(torch.float32), scale)


def quantize_q4_blocks(W, block_size=32):
    """A loop over blocks, llama.cpp-style: multiply by the inverse of d."""
    n_out, n_in = W.shape
    if n_in % block_size:
        raise ValueError("n_in must be a multiple of block_size")
    q = torch.empty(n_out, n_in, dtype=torch.int8)
    scales = torch.empty(n_out, n_in // block_size)
    for r in range(n_out):
        for b in range(n_in // block_size):
            block = W[r, b * block_size:(b + 1) * block_size]
            m = block[block.abs().argmax()]
            d = m / -8
            inv = 1 / d if d != 0 else 0.0
            q[r, b * block_size:(b + 1) * block_size] = torch.clamp(torch.round(block * inv), -8, 7)
            scales[r, b] = d
    return q, scales


def quantize_q4_blocks_unflatten(W, block_size=32):
    """unflatten into blocks, the signed maximum via where(max >= -min), the check by divmod."""
    n_blocks, rest = divmod(W.shape[-1], block_size)
    if rest:
        raise ValueError(f"{W.shape[-1]} weights per row do not split into blocks of {block_size}")
    blocks = W.unflatten(-1, (n_blocks, block_size))
    high, low = blocks.amax(-1), blocks.amin(-1)
    m = torch.where(high >= -low, high, low)
    d = m / -8
    q = torch.where(d[..., None] == 0, torch.zeros_like(blocks), blocks / d[..., None])
    return q.round().clamp(-8, 7).to(torch.int8).flatten(-2), d


def dequantize_q4_blocks(q, scales, block_size=32):
    return q.float() * scales.repeat_interleave(block_size, dim=1)


ALTERNATIVES = {
    "12.KVCache": [KVCache],
    "12.forward_cached": [forward_cached],
    "12.generate_cached": [generate_cached, generate_cached_while],
    "12.quantize_int8": [quantize_int8],
    "12.dequantize_int8": [dequantize_int8],
    "12.quantize_q4_blocks": [quantize_q4_blocks, quantize_q4_blocks_unflatten],
    "12.dequantize_q4_blocks": [dequantize_q4_blocks],
}
