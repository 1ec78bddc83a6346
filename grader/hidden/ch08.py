"""Chapter 08's hidden cases: other lengths, batch sizes, widths and masks than the notebook's.
Sizes and lengths are drawn from the case's seed where the inputs are only sizes."""
import torch

from ..engine import Case
from ..exercises.ch08 import _causal_inputs, _causal_run, _combine_inputs, _mask_inputs, _x


def _lengths(rng, B, T):
    """B lengths in 0..T, one of them T (a full sequence) and one of them 0 or 1."""
    lengths = rng.integers(0, T + 1, B)
    lengths[0], lengths[-1] = T, int(rng.integers(0, 2))
    return torch.as_tensor(rng.permutation(lengths))


def _padding(rng):
    T = int(rng.integers(5, 11))
    return _lengths(rng, 4, T), T


def _combine(rng):
    T = int(rng.integers(4, 9))
    return _combine_inputs(rng, _lengths(rng, 3, T).clamp(min=1), T)


PREFIX_HIDDEN = [
    Case("B=4, T=7, C=5", lambda rng: _x(rng, 4, 7, 5)),
    Case("B=1, T=12, C=3, values x100", lambda rng: _x(rng, 1, 12, 3, scale=100.0)),
]

HIDDEN = {
    "08.causal_mask": [
        Case("T between 8 and 20", lambda rng: (int(rng.integers(8, 21)),)),
        Case("T=2", lambda rng: (2,)),
    ],
    "08.apply_mask": [
        Case("(6, 6) scores, a random mask", lambda rng: _mask_inputs(rng, (6, 6), torch.as_tensor(rng.random((6, 6)) > 0.5))),
        Case("(3, 2, 5) scores, a (3, 1, 5) key mask",
             lambda rng: _mask_inputs(rng, (3, 2, 5), torch.as_tensor(rng.random((3, 1, 5)) > 0.3))),
    ],
    "08.prefix_mean_loop": PREFIX_HIDDEN,
    "08.prefix_mean_matmul": PREFIX_HIDDEN,
    "08.prefix_mean_softmax": PREFIX_HIDDEN,
    "08.padding_mask": [
        Case("four sequences, T between 5 and 10, one full, one empty or of length 1", _padding),
    ],
    "08.combine_masks": [
        Case("B=3, T between 4 and 8, random lengths", _combine),
        Case("B=2, T=6, lengths [6, 1]", lambda rng: _combine_inputs(rng, [6, 1], 6)),
    ],
    "08.CausalSelfAttention": [
        Case("B=2, T=7, d_model=12, d_head=6: change the inputs after t=3",
             lambda rng: _causal_inputs(rng, 2, 7, 12, 6, 3), run=_causal_run),
        Case("B=1, T=5, d_model=6, d_head=3: change the inputs after t=0",
             lambda rng: _causal_inputs(rng, 1, 5, 6, 3, 0), run=_causal_run),
    ],
}
