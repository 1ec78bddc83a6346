"""Correct answers to chapter 11 written differently from the reference."""

import torch
import torch.nn as nn
import torch.nn.functional as F

from grader.reference import ch11 as ref


class CrossAttention(nn.Module):
    """einsum over named axes, a per-key mask made explicit, and empty rows fixed with where."""

    def __init__(self, d_model, n_head, dropout=0.0):
        super().__init__()
        self.n_head = n_head
        self.q_proj = nn.Linear(d_model, d_model)
        self.kv_proj = nn.Linear(d_model, 2 * d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        self.attn_drop = nn.Dropout(dropout)

    def forward(self, x, memory, mask=None):
        B, T, C = x.shape
        H, hs = self.n_head, C // self.n_head
        q = self.q_proj(x).reshape(B, T, H, hs)
        kv = self.kv_proj(memory).reshape(B, memory.size(1), 2, H, hs)
        k, v = kv[:, :, 0], kv[:, :, 1]
        scores = torch.einsum("bthd,bshd->bhts", q, k) * hs ** -0.5
        if mask is None:
            mask = torch.ones(T, memory.size(1), dtype=torch.bool)
        allowed = mask.unsqueeze(-3).expand_as(scores)
        scores = torch.where(allowed, scores, torch.tensor(-1e30))
        weights = torch.where(allowed, torch.softmax(scores, dim=-1), torch.zeros(()))
        out = torch.einsum("bhts,bshd->bthd", self.attn_drop(weights), v).reshape(B, T, C)
        return self.out_proj(out), weights


class CrossAttentionFunctional(nn.Module):
    """Masked scores by adding -inf, dropout as a function of self.training, heads by unflatten."""

    def __init__(self, d_model, n_head, dropout=0.0):
        super().__init__()
        self.n_head, self.p = n_head, dropout
        self.q_proj = nn.Linear(d_model, d_model)
        self.kv_proj = nn.Linear(d_model, 2 * d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, x, memory, mask=None):
        B, T, C = x.shape
        heads = lambda t: t.unflatten(-1, (self.n_head, C // self.n_head)).transpose(1, 2)
        q = heads(self.q_proj(x))
        k, v = map(heads, self.kv_proj(memory).chunk(2, dim=-1))
        scores = q @ k.transpose(-1, -2) / (C // self.n_head) ** 0.5
        if mask is not None:
            scores = scores + torch.zeros(mask.shape).masked_fill(~mask, float("-inf")).unsqueeze(-3)
        weights = torch.nan_to_num(torch.softmax(scores, dim=-1), nan=0.0)
        out = F.dropout(weights, self.p, self.training) @ v
        return self.out_proj(out.transpose(1, 2).flatten(2)), weights


def _ff(d_model, d_ff, dropout):
    layers = [nn.Linear(d_model, d_ff), nn.ReLU(), nn.Linear(d_ff, d_model), nn.Dropout(dropout)]
    return nn.Sequential(*layers)


class EncoderLayer(nn.Module):
    """Builds the full (B, S, S) mask explicitly instead of relying on broadcasting."""

    def __init__(self, d_model, n_head, d_ff, dropout=0.0):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.self_attn = ref.CrossAttention(d_model, n_head, dropout)
        self.ff = _ff(d_model, d_ff, dropout)
        self.p = dropout

    def forward(self, x, src_mask):
        S = x.size(1)
        mask = src_mask[:, None, :].expand(-1, S, -1)
        h = self.ln_1(x)
        attended, _ = self.self_attn(h, h, mask)
        x = F.dropout(attended, self.p, self.training) + x
        return self.ff(self.ln_2(x)) + x


class DecoderLayer(nn.Module):
    """Causal mask from an index comparison; sub-layers applied in a loop, one nn.Dropout per attention."""

    def __init__(self, d_model, n_head, d_ff, dropout=0.0):
        super().__init__()
        self.ln_1, self.ln_2, self.ln_3 = (nn.LayerNorm(d_model) for _ in range(3))
        self.self_attn = ref.CrossAttention(d_model, n_head, dropout)
        self.cross_attn = ref.CrossAttention(d_model, n_head, dropout)
        self.ff = _ff(d_model, d_ff, dropout)
        self.drops = nn.ModuleList([nn.Dropout(dropout), nn.Dropout(dropout)])

    def forward(self, x, memory, src_mask):
        i = torch.arange(x.size(1))
        causal = i[:, None] >= i[None, :]
        steps = [
            lambda h: self.self_attn(h, h, causal[None])[0],
            lambda h: self.cross_attn(h, memory, src_mask.unsqueeze(1))[0],
        ]
        for norm, step, drop in zip((self.ln_1, self.ln_2), steps, self.drops):
            x = x + drop(step(norm(x)))
        return x + self.ff(self.ln_3(x))


class Seq2SeqTransformer(nn.Module):
    """Positions by slicing the tables' weights; a shared helper for both stacks."""

    def __init__(self, src_vocab, tgt_vocab, d_model=64, n_head=4, n_layer=2, d_ff=256,
                 max_len=32, dropout=0.0, pad_id=0):
        super().__init__()
        self.pad_id = pad_id
        self.src_emb = nn.Embedding(src_vocab, d_model)
        self.tgt_emb = nn.Embedding(tgt_vocab, d_model)
        self.src_pos = nn.Embedding(max_len, d_model)
        self.tgt_pos = nn.Embedding(max_len, d_model)
        self.encoder = nn.ModuleList([ref.EncoderLayer(d_model, n_head, d_ff, dropout) for _ in range(n_layer)])
        self.decoder = nn.ModuleList([ref.DecoderLayer(d_model, n_head, d_ff, dropout) for _ in range(n_layer)])
        self.ln_enc, self.ln_dec = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.lm_head = nn.Linear(d_model, tgt_vocab, bias=True)
        self.dropout = nn.Dropout(dropout)

    def encode(self, src):
        src_mask = src.ne(self.pad_id)
        x = self.dropout(self.src_emb(src) + self.src_pos.weight[: src.shape[1]])
        for layer in self.encoder:
            x = layer(x, src_mask)
        return self.ln_enc(x), src_mask

    def decode(self, tgt, memory, src_mask):
        y = self.dropout(self.tgt_emb(tgt) + self.tgt_pos.weight[: tgt.shape[1]])
        for layer in self.decoder:
            y = layer(y, memory, src_mask)
        return self.lm_head(self.ln_dec(y))

    def forward(self, src, tgt):
        memory, src_mask = self.encode(src)
        return self.decode(tgt, memory, src_mask)


class Seq2SeqFunctionalDropout(Seq2SeqTransformer):
    """This file's own layers inside, and the embedding dropout as F.dropout(..., self.training)."""

    def __init__(self, src_vocab, tgt_vocab, d_model=64, n_head=4, n_layer=2, d_ff=256,
                 max_len=32, dropout=0.0, pad_id=0):
        super().__init__(src_vocab, tgt_vocab, d_model, n_head, n_layer, d_ff, max_len, dropout, pad_id)
        del self.dropout
        self.p = dropout
        self.encoder = nn.ModuleList([EncoderLayer(d_model, n_head, d_ff, dropout) for _ in range(n_layer)])
        self.decoder = nn.ModuleList([DecoderLayer(d_model, n_head, d_ff, dropout) for _ in range(n_layer)])

    def dropout(self, x):
        return F.dropout(x, self.p, self.training)


def label_smoothed_cross_entropy(logits, targets, smoothing=0.1, ignore_index=0):
    """The smoothed target distribution built explicitly, then a weighted mean, in float64."""
    V = logits.shape[-1]
    flat, y = logits.reshape(-1, V).double(), targets.reshape(-1)
    keep = (y != ignore_index).double()
    q = torch.full_like(flat, smoothing / V)
    q[torch.arange(len(y)), y.clamp(0, V - 1)] += 1.0 - smoothing
    per_token = -(q * torch.log_softmax(flat, dim=1)).sum(dim=1)
    return (per_token * keep).sum() / keep.sum()


def label_smoothed_cross_entropy_torch(logits, targets, smoothing=0.1, ignore_index=0):
    """The answer the notebook says it must equal: torch's own label smoothing."""
    V = logits.shape[-1]
    return F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), label_smoothing=smoothing,
                           ignore_index=ignore_index)


@torch.no_grad()
def greedy_decode(model, src, max_len, bos_id, eos_id):
    """A preallocated output filled with padding, written in place, cropped at the end."""
    memory, src_mask = model.encode(src)
    B = src.shape[0]
    out = torch.full((B, max_len + 1), model.pad_id, dtype=torch.long)
    out[:, 0] = bos_id
    finished = [False] * B
    n = 0
    while n < max_len and not all(finished):
        n += 1
        best = model.decode(out[:, :n], memory, src_mask)[:, n - 1].max(dim=-1).indices
        for b in range(B):
            if not finished[b]:
                out[b, n] = best[b]
                finished[b] = bool(best[b] == eos_id)
    return out[:, : n + 1]


def greedy_decode_inference_mode(model, src, max_len, bos_id, eos_id):
    """torch.inference_mode() instead of the decorator; rows collected as Python lists."""
    with torch.inference_mode():
        memory, src_mask = model.encode(src)
        rows = [[bos_id] for _ in range(src.shape[0])]
        for _ in range(max_len):
            if all(eos_id in row for row in rows):
                break
            logits = model.decode(torch.tensor(rows), memory, src_mask)
            for row, token in zip(rows, logits[:, -1].argmax(-1).tolist()):
                row.append(model.pad_id if eos_id in row else token)
        return torch.tensor(rows, dtype=torch.long)


ALTERNATIVES = {
    "11.CrossAttention": [CrossAttention, CrossAttentionFunctional],
    "11.EncoderLayer": [EncoderLayer],
    "11.DecoderLayer": [DecoderLayer],
    "11.Seq2SeqTransformer": [Seq2SeqTransformer, Seq2SeqFunctionalDropout],
    "11.label_smoothed_cross_entropy": [label_smoothed_cross_entropy, label_smoothed_cross_entropy_torch],
    "11.greedy_decode": [greedy_decode, greedy_decode_inference_mode],
}
