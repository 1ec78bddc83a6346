"""Correct chapter-09 answers written differently from the reference."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def split_heads(x, n_head):
    # einops-style: unflatten the channel axis, then permute.
    return x.unflatten(-1, (n_head, -1)).permute(0, 2, 1, 3)


def merge_heads(x):
    return x.permute(0, 2, 1, 3).flatten(2)


class MultiHeadAttention(nn.Module):
    """Per-head loop with an additive mask and torch.einsum: slower, same numbers."""

    def __init__(self, n_embd, n_head, dropout=0.0, bias=True):
        super().__init__()
        self.n_head = n_head
        self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias=bias)
        self.c_proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.drop_attn, self.drop_out = nn.Dropout(dropout), nn.Dropout(dropout)
        # a nanoGPT-style mask buffer: extra buffers are allowed
        self.register_buffer("bias", torch.tril(torch.ones(64, 64)).view(1, 1, 64, 64))

    def forward(self, x):
        B, T, C = x.shape
        hs = C // self.n_head
        qkv = self.c_attn(x)
        outs = []
        for h in range(self.n_head):
            q = qkv[..., h * hs:(h + 1) * hs]
            k = qkv[..., C + h * hs:C + (h + 1) * hs]
            v = qkv[..., 2 * C + h * hs:2 * C + (h + 1) * hs]
            scores = torch.einsum("btd,bsd->bts", q, k) * hs ** -0.5
            scores = scores + torch.triu(torch.full((T, T), float("-inf")), diagonal=1)
            outs.append(self.drop_attn(F.softmax(scores, dim=-1)) @ v)
        return self.drop_out(self.c_proj(torch.cat(outs, dim=-1)))


class MultiHeadAttentionSDPA(nn.Module):
    """torch's fused kernel only."""

    def __init__(self, n_embd, n_head, dropout=0.0, bias=True):
        super().__init__()
        self.n_head, self.p = n_head, dropout
        self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias=bias)
        self.c_proj = nn.Linear(n_embd, n_embd, bias=bias)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = (t.reshape(B, T, self.n_head, -1).transpose(1, 2) for t in self.c_attn(x).chunk(3, dim=-1))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.p if self.training else 0.0)
        return F.dropout(self.c_proj(y.transpose(1, 2).reshape(B, T, C)), self.p, self.training)


class MultiHeadAttentionOwnDropout(nn.Module):
    """Dropout written out with masks from torch.rand_like (other draws than nn.Dropout's), and
    the output's mask drawn before the attention's: the train-mode check must not care."""

    def __init__(self, n_embd, n_head, dropout=0.0, bias=True):
        super().__init__()
        self.n_head, self.p = n_head, dropout
        self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias=bias)
        self.c_proj = nn.Linear(n_embd, n_embd, bias=bias)

    def drop(self, t, keep):
        return t * keep / (1 - self.p) if self.training and self.p > 0 else t

    def forward(self, x):
        B, T, C = x.shape
        out_keep = torch.rand(B, T, C) >= self.p
        q, k, v = (t.reshape(B, T, self.n_head, -1).transpose(1, 2) for t in self.c_attn(x).chunk(3, dim=-1))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // self.n_head)
        att = att.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf")).softmax(-1)
        att = self.drop(att, torch.rand_like(att) >= self.p)
        y = self.c_proj((att @ v).transpose(1, 2).reshape(B, T, C))
        return self.drop(y, out_keep)


class LayerNorm(nn.Module):
    def __init__(self, ndim, eps=1e-5, bias=True):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(ndim))
        self.register_parameter("bias", nn.Parameter(torch.zeros(ndim)) if bias else None)

    def forward(self, x):
        return F.layer_norm(x, x.shape[-1:], self.weight, self.bias, self.eps)


class LayerNormByHand(nn.Module):
    """Variance as E[x^2] - E[x]^2 around the mean, and rsqrt."""

    def __init__(self, ndim, eps=1e-5, bias=True):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, x):
        centred = x - x.mean(-1, keepdim=True)
        var = (centred ** 2).mean(-1, keepdim=True)
        y = self.weight * centred * torch.rsqrt(var + self.eps)
        return y + self.bias if self.bias is not None else y


def gelu(x):
    return F.gelu(x, approximate="tanh")


def gelu_sigmoid_form(x):
    # 0.5 * (1 + tanh(z)) == sigmoid(2z)
    return x * torch.sigmoid(2 * math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x))


def dropout(x, p, training):
    # torch.bernoulli draws the keep mask directly; p == 1 scales by 0 instead of dividing by 0
    if not training:
        return x
    scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
    return x * torch.bernoulli(torch.full_like(x, 1.0 - p)) * scale


def dropout_where(x, p, training):
    if not training or p == 0:
        return x.clone()
    keep = torch.rand(x.shape, dtype=x.dtype) < 1 - p
    return torch.where(keep, x / max(1 - p, 1e-12), torch.zeros_like(x))


def dropout_torch(x, p, training):
    return F.dropout(x, p, training)


class FeedForward(nn.Module):
    def __init__(self, n_embd, dropout=0.0, bias=True):
        super().__init__()
        self.c_fc = nn.Linear(n_embd, 4 * n_embd, bias=bias)
        self.gelu = nn.GELU(approximate="tanh")
        self.c_proj = nn.Linear(4 * n_embd, n_embd, bias=bias)
        self.p = dropout

    def forward(self, x):
        return F.dropout(self.c_proj(self.gelu(self.c_fc(x))), self.p, training=self.training)


class FeedForwardModules(nn.Module):
    """torch's GELU and Dropout modules, applied in a loop over the layers."""

    def __init__(self, n_embd, dropout=0.0, bias=True):
        super().__init__()
        self.c_fc = nn.Linear(n_embd, 4 * n_embd, bias=bias)
        self.act = nn.GELU(approximate="tanh")
        self.c_proj = nn.Linear(4 * n_embd, n_embd, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        for layer in (self.c_fc, self.act, self.c_proj, self.dropout):
            x = layer(x)
        return x


class BlockKeywords(nn.Module):
    """Sub-layers built with keyword arguments, from the per-head attention above."""

    def __init__(self, n_embd, n_head, dropout=0.0, bias=True):
        super().__init__()
        self.ln_1 = LayerNormByHand(n_embd, bias=bias)
        self.attn = MultiHeadAttention(n_embd, n_head, dropout=dropout, bias=bias)
        self.ln_2 = LayerNormByHand(n_embd, bias=bias)
        self.mlp = FeedForwardModules(n_embd, dropout=dropout, bias=bias)

    def forward(self, x):
        h = x + self.attn(self.ln_1(x))
        return h + self.mlp(self.ln_2(h))


class Block(nn.Module):
    def __init__(self, n_embd, n_head, dropout=0.0, bias=True):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd, bias=bias)     # torch's own modules: same names
        self.attn = MultiHeadAttentionSDPA(n_embd, n_head, dropout, bias)
        self.ln_2 = nn.LayerNorm(n_embd, bias=bias)
        self.mlp = FeedForward(n_embd, dropout, bias)

    def forward(self, x):
        for norm, layer in ((self.ln_1, self.attn), (self.ln_2, self.mlp)):
            x = x + layer(norm(x))
        return x


ALTERNATIVES = {
    "09.split_heads": [split_heads],
    "09.merge_heads": [merge_heads],
    "09.MultiHeadAttention": [MultiHeadAttention, MultiHeadAttentionSDPA, MultiHeadAttentionOwnDropout],
    "09.LayerNorm": [LayerNorm, LayerNormByHand],
    "09.gelu": [gelu, gelu_sigmoid_form],
    "09.dropout": [dropout, dropout_where, dropout_torch],
    "09.FeedForward": [FeedForward, FeedForwardModules],
    "09.Block": [Block, BlockKeywords],
}
