import torch
import torch.nn as nn


def attention_scores(Q, K):
    # scale the queries first, then contract the last axes with einsum
    return torch.einsum("...qd,...kd->...qk", Q * K.shape[-1] ** -0.5, K)


def scaled_dot_product_attention(Q, K, V, mask=None):
    # an explicitly stable softmax with a finite row maximum: exp(-inf) = 0, and an empty
    # row sums to 0, which the clamp turns into 0 / tiny = 0
    scores = attention_scores(Q, K)
    if mask is not None:
        scores = torch.where(mask, scores, torch.tensor(float("-inf")))
    top = scores.amax(dim=-1, keepdim=True)
    top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    e = torch.exp(scores - top)
    weights = e / e.sum(dim=-1, keepdim=True).clamp_min(torch.finfo(e.dtype).tiny)
    return torch.matmul(weights, V), weights


def scaled_dot_product_attention_finite(Q, K, V, mask=None):
    # the most negative float instead of -inf (no NaN can arise), then the rows with no
    # allowed key, uniform at this point, are zeroed as the instructions ask
    scores = Q @ K.transpose(-2, -1) / K.shape[-1] ** 0.5
    if mask is not None:
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    weights = scores.softmax(dim=-1)
    if mask is not None:
        weights = weights * mask.any(dim=-1, keepdim=True)
    return weights @ V, weights


class SelfAttentionHead(nn.Module):
    def __init__(self, d_model, d_head):
        super().__init__()
        for name in ("query", "key", "value"):
            setattr(self, name, nn.Linear(d_model, d_head, bias=False))

    def forward(self, x, mask=None):
        return scaled_dot_product_attention(self.query(x), self.key(x), self.value(x), mask)[0]


ALTERNATIVES = {
    "07.attention_scores": [attention_scores],
    "07.scaled_dot_product_attention": [scaled_dot_product_attention, scaled_dot_product_attention_finite],
    "07.SelfAttentionHead": [SelfAttentionHead],
}
