import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def causal_mask(T):
    i = torch.arange(T)
    return i[:, None] >= i[None, :]


def apply_mask(scores, mask):
    return torch.where(mask, scores, torch.full_like(scores, -math.inf))


def apply_mask_on_a_copy(scores, mask):
    # in place, but on a copy: the caller's scores stay as they were
    out = scores.clone()
    out.masked_fill_(~mask.expand_as(out), float("-inf"))
    return out


def prefix_mean_loop(x):
    # running sum, one step at a time
    outs, total = [], torch.zeros_like(x[:, 0])
    for t in range(x.shape[1]):
        total = total + x[:, t]
        outs.append(total / (t + 1))
    return torch.stack(outs, dim=1)


def prefix_mean_matmul(x):
    T = x.shape[1]
    t = torch.arange(T)
    W = (t[:, None] >= t[None, :]).to(x.dtype) / (t[:, None] + 1).to(x.dtype)
    return torch.einsum("ts,bsc->btc", W, x)


def prefix_mean_softmax(x):
    T = x.shape[1]
    scores = torch.zeros(T, T).masked_fill(torch.ones(T, T).triu(1).bool(), float("-inf"))
    return torch.softmax(scores, dim=1) @ x


def padding_mask(lengths, T):
    return torch.stack([torch.arange(T) < int(n) for n in lengths])


def combine_masks(causal, padding):
    return causal.unsqueeze(0).logical_and(padding.unsqueeze(1))


def combine_masks_per_sequence(causal, padding):
    # one (T, T) mask per sequence: the causal mask with the padded key columns switched off
    return torch.stack([causal & row[None, :] for row in padding])


class CausalSelfAttentionNoBuffer(nn.Module):
    def __init__(self, d_model, d_head):
        super().__init__()
        self.query = nn.Linear(d_model, d_head, bias=False)
        self.key = nn.Linear(d_model, d_head, bias=False)
        self.value = nn.Linear(d_model, d_head, bias=False)

    def forward(self, x):
        # the future (strictly above the diagonal) set to -inf, built for this input's T
        T = x.shape[1]
        q, k, v = self.query(x), self.key(x), self.value(x)
        scores = q @ k.mT / math.sqrt(k.shape[-1])
        future = torch.ones(T, T, dtype=torch.bool).triu(diagonal=1)
        return scores.masked_fill(future, float("-inf")).softmax(dim=-1) @ v


class CausalSelfAttention(nn.Module):
    def __init__(self, d_model, d_head):
        super().__init__()
        self.query = nn.Linear(d_model, d_head, bias=False)
        self.key = nn.Linear(d_model, d_head, bias=False)
        self.value = nn.Linear(d_model, d_head, bias=False)
        # a buffer as in nanoGPT, kept out of the state dict
        self.register_buffer("tril", torch.ones(256, 256).tril().bool(), persistent=False)

    def forward(self, x):
        T = x.shape[1]
        q, k, v = self.query(x), self.key(x), self.value(x)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=self.tril[:T, :T])


ALTERNATIVES = {
    "08.causal_mask": [causal_mask],
    "08.apply_mask": [apply_mask, apply_mask_on_a_copy],
    "08.prefix_mean_loop": [prefix_mean_loop],
    "08.prefix_mean_matmul": [prefix_mean_matmul],
    "08.prefix_mean_softmax": [prefix_mean_softmax],
    "08.padding_mask": [padding_mask],
    "08.combine_masks": [combine_masks, combine_masks_per_sequence],
    "08.CausalSelfAttention": [CausalSelfAttention, CausalSelfAttentionNoBuffer],
}
