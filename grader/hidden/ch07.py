"""Chapter 07's hidden cases: other batch sizes, lengths, widths and masks than the notebook's."""
import torch

from ..engine import Case
from ..exercises.ch07 import _attn_inputs, _head_inputs, _head_run
from ..exercises.common import lower_triangle
from ..exercises.common import randn


def _key_mask(rng, B, T_q, T_k, empty_row=False):
    """A random (B, T_q, T_k) mask; key 0 always allowed, unless a whole row is emptied."""
    mask = torch.as_tensor(rng.random((B, T_q, T_k)) > 0.5)
    mask[..., 0] = True
    if empty_row:
        mask[int(rng.integers(B)), int(rng.integers(T_q))] = False
    return mask


HIDDEN = {
    "07.attention_scores": [
        Case("a batch: (3, T_q=2, d_k=5) against (3, T_k=6, d_k=5)",
             lambda rng: (randn(rng, 3, 2, 5), randn(rng, 3, 6, 5))),
        Case("batch and heads: (2, 3, 4, 12), values x10",
             lambda rng: (randn(rng, 2, 3, 4, 12, scale=10), randn(rng, 2, 3, 4, 12, scale=10))),
    ],
    "07.scaled_dot_product_attention": [
        Case("T_q=6 against T_k=3, d_k=10, d_v=7, a random mask with an empty row",
             lambda rng: _attn_inputs(rng, 2, 6, 3, 10, 7, mask=_key_mask(rng, 2, 6, 3, empty_row=True))),
        Case("a causal mask over T=7, B=1, scores x20",
             lambda rng: _attn_inputs(rng, 1, 7, 7, 6, 3, mask=lower_triangle(7), scale=20.0)),
    ],
    "07.SelfAttentionHead": [
        Case("B=3, T=7, d_model=12, d_head=6, a causal mask",
             lambda rng: _head_inputs(rng, 3, 7, 12, 6, mask=lower_triangle(7)), run=_head_run),
        Case("d_model=10, d_head=5, a random mask with an empty row",
             lambda rng: _head_inputs(rng, 2, 5, 10, 5, mask=_key_mask(rng, 2, 5, 5, empty_row=True)), run=_head_run),
    ],
}
