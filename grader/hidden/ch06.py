"""Chapter 06's hidden cases: other lengths, widths, shifts and positions than the notebook's.
The encodings take sizes, not data, so the sizes themselves are drawn from the case's seed."""
import numpy as np
import torch

from ..engine import Case
from ..exercises.ch06 import _rope_inputs, relative_shift_matrix


def _size(rng, low, high, odd=False):
    n = int(rng.integers(low, high))
    return n | 1 if odd else n & ~1


def _shift(rng):
    k = int(rng.integers(2, 12))
    return (k if rng.random() < 0.5 else -k), _size(rng, 18, 31)


HIDDEN = {
    "06.sinusoidal_positional_encoding": [
        Case("an even d_model between 10 and 30, up to 40 positions",
             lambda rng: (_size(rng, 13, 41), _size(rng, 10, 31))),
        Case("an odd d_model between 9 and 21", lambda rng: (_size(rng, 5, 20), _size(rng, 9, 22, odd=True))),
    ],
    "06.relative_shift_matrix": [
        Case("a shift of 2 to 11 positions, either way, an even d_model between 18 and 30", _shift),
        Case("an odd d_model between 9 and 21 raises ValueError", lambda rng: (int(rng.integers(1, 5)), _size(rng, 9, 22, odd=True)),
             run=relative_shift_matrix.cases[4].run),
    ],
    "06.rotary_embedding": [
        Case("(B, T, d) = (3, 7, 10), positions 3..9",
             lambda rng: _rope_inputs(rng, (3, 7, 10), np.arange(3, 10))),
        Case("unordered positions, d=12, base=500.0",
             lambda rng: _rope_inputs(rng, (5, 12), rng.permutation(40)[:5], base=500.0)),
        Case("float64 x of shape (4, 3, 10): the result keeps x's dtype",
             lambda rng: _rope_inputs(rng, (4, 3, 10), np.arange(2, 5), dtype=torch.float64)),
    ],
}
