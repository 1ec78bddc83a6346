"""Chapter 06, positional encoding: the checks and the mistakes they name.

The encodings are formulas of the position, so the checks compare values; tolerances allow
the angles to be computed in float32 instead of float64 (explained at each exercise). What the
instructions ask beyond the values has a case of its own: the ValueError of
`relative_shift_matrix` for an odd d_model, and `rotary_embedding` keeping x's dtype (float64).
"""
import numpy as np
import torch

from ..compare import Fail, close, describe
from ..engine import Case, Exercise, Mistake, Requirement


def _angles(max_len, d_model, exponent, base=10000.0):
    pos = torch.arange(max_len, dtype=torch.float64)[:, None]
    return pos / base ** (exponent / d_model)


def _interleave(sin, cos, d_model):
    pe = torch.zeros(sin.shape[0], d_model, dtype=torch.float64)
    pe[:, 0::2] = sin
    pe[:, 1::2] = cos[:, : d_model // 2]
    return pe.float()


def _pe_i_for_2i(max_len, d_model):
    angle = _angles(max_len, d_model, torch.arange((d_model + 1) // 2, dtype=torch.float64))
    return _interleave(angle.sin(), angle.cos(), d_model)


def _pe_blocks(max_len, d_model):
    angle = _angles(max_len, d_model, torch.arange(0, d_model, 2, dtype=torch.float64))
    return torch.cat([angle.sin(), angle.cos()[:, : d_model // 2]], dim=1).float()


def _pe_base_1000(max_len, d_model):
    angle = _angles(max_len, d_model, torch.arange(0, d_model, 2, dtype=torch.float64), base=1000.0)
    return _interleave(angle.sin(), angle.cos(), d_model)


def _pe_cos_first(max_len, d_model):
    angle = _angles(max_len, d_model, torch.arange(0, d_model, 2, dtype=torch.float64))
    return _interleave(angle.cos(), angle.sin(), d_model)


sinusoidal_positional_encoding = Exercise(
    id="06.sinusoidal_positional_encoding", points=2, difficulty="medium", minutes=15,
    cases=[
        Case("max_len=10, d_model=8", lambda rng: (10, 8)),
        Case("max_len=50, d_model=16", lambda rng: (50, 16)),
        Case("an odd d_model=7 (the last sine has no cosine)", lambda rng: (12, 7)),
        Case("a single position, d_model=2", lambda rng: (1, 2)),
    ],
    # Angles up to 49 rad: computed in float32 they are off by a few 1e-6 rad, and sin/cos
    # by as much; 1e-4 accepts that and is far below any mistake's difference (> 1e-2).
    compare=close(rtol=0, atol=1e-4),
    mistakes=[
        Mistake("i for 2i",
                "the exponent is 2i/d_model where 2i is the even column index (0, 2, 4, ...): "
                "columns 2i and 2i+1 share the frequency 10000^(-2i/d_model). Using i = 0, 1, 2 "
                "makes the frequencies fall twice as slowly.",
                _pe_i_for_2i),
        Mistake("sin block then cos block",
                "the paper interleaves: PE[:, 0::2] = sin, PE[:, 1::2] = cos. Concatenating all "
                "sines then all cosines is a different (permuted) encoding.",
                _pe_blocks),
        Mistake("base 1000",
                "the base is 10000: pos / 10000^(2i/d_model).",
                _pe_base_1000),
        Mistake("cos in the even columns",
                "even columns (2i) hold the sine, odd columns (2i+1) the cosine: PE[0] is "
                "(0, 1, 0, 1, ...).",
                _pe_cos_first),
    ],
    requirements=[
        Requirement("Write `sinusoidal_positional_encoding(max_len, d_model)` → a `(max_len, d_model)` float32 tensor",
                    "max_len=10, d_model=8", "max_len=50, d_model=16", "a single position, d_model=2"),
        Requirement("the exponent is $2i/d_\\text{model}$ where $2i$ is the **even column index**",
                    "max_len=10, d_model=8", "max_len=50, d_model=16"),
        Requirement("sines and cosines are **interleaved**: column 0 is a sine, column 1 its cosine",
                    "max_len=10, d_model=8", "a single position, d_model=2"),
        Requirement("the base is $10000$", "max_len=50, d_model=16"),
        Requirement("An odd $d_\\text{model}$ has one sine column left over at the end, without its cosine",
                    "an odd d_model=7 (the last sine has no cosine)"),
        Requirement("float32 is accepted too, within the tolerance explained in the grader",
                    "max_len=50, d_model=16"),
        Requirement("embed each word as a random vector",
                    not_checked="section 1's demonstration that attention ignores order, not this exercise"),
    ],
)

# ---------------------------------------------------------------- relative_shift_matrix


def _shift(k, d_model, angle_of=lambda k, omega: k * omega, transpose=False):
    omega = 10000 ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    c, s = torch.cos(angle_of(k, omega)), torch.sin(angle_of(k, omega))
    M = torch.zeros(d_model, d_model, dtype=torch.float64)
    M[0::2, 0::2], M[0::2, 1::2] = torch.diag(c), torch.diag(s)
    M[1::2, 0::2], M[1::2, 1::2] = torch.diag(-s), torch.diag(c)
    return (M.T if transpose else M).float()


def _raises_value_error(fn, args):
    """A Case.run: which exception the call raised (its type), or the shape it returned instead."""
    try:
        out = fn(*args)
    except NotImplementedError:
        raise
    except Exception as exc:        # an assert or an IndexError is reported by its type
        return {"raised": type(exc).__name__}
    return {"returned": tuple(out.shape) if hasattr(out, "shape") else describe(out)}


def _value_error_compare(got, expected, args):
    if got == expected:
        return None
    if "returned" in expected:       # a mistake's outcome, when the engine names mistakes
        return Fail(f"returned {got}, expected {expected}")
    if "raised" in got:
        return Fail(f"for an odd d_model raise a ValueError (raise ValueError(...)), not {got['raised']}",
                    mistake=ASSERTED_EVEN)
    return Fail(f"an odd d_model must raise a ValueError (the last sine has no cosine partner); your "
                f"function returned a matrix of shape {got['returned']}", mistake=NO_CHECK_OF_AN_ODD_D_MODEL)


def _shift_unchecked(k, d_model):
    # one 2x2 block per sine column (torch.block_diag): an odd d_model silently gets d_model + 1 rows
    return _shift(k, d_model + d_model % 2)


def _shift_asserted(k, d_model):
    assert d_model % 2 == 0, "d_model must be even"
    return _shift(k, d_model)


NO_CHECK_OF_AN_ODD_D_MODEL = Mistake("no check of an odd d_model",
                                     "for an odd d_model the last sine column has no cosine partner and no "
                                     "matrix can move it: `if d_model % 2: raise ValueError(...)` first.",
                                     _shift_unchecked)
ASSERTED_EVEN = Mistake("assert instead of ValueError",
                        "an assert raises AssertionError (and disappears under python -O); the instructions ask "
                        "for a ValueError: `if d_model % 2: raise ValueError(f\"... got {d_model}\")`.",
                        _shift_asserted)

relative_shift_matrix = Exercise(
    id="06.relative_shift_matrix", points=2, difficulty="hard", minutes=20,
    cases=[
        Case("k=1, d_model=8", lambda rng: (1, 8)),
        Case("k=5, d_model=16", lambda rng: (5, 16)),
        Case("k=-3 (a shift backwards), d_model=6", lambda rng: (-3, 6)),
        Case("k=0 is the identity, d_model=4", lambda rng: (0, 4)),
        Case("an odd d_model=7 raises ValueError", lambda rng: (2, 7), run=_raises_value_error,
             compare=_value_error_compare, why="the instructions ask for a ValueError for an odd d_model"),
    ],
    # |k| <= 5: cos/sin of float32 angles are within about 1e-6 of the float64 ones
    compare=close(rtol=0, atol=1e-5),
    mistakes=[
        Mistake("rotated the wrong way",
                "this M shifts by -k. Check one pair: sin(a + kw) = cos(kw) sin(a) + sin(kw) cos(a), "
                "so row 2i holds (cos kw, sin kw) and row 2i+1 holds (-sin kw, cos kw).",
                lambda k, d: _shift(k, d, transpose=True)),
        Mistake("angle k instead of k * omega",
                "each plane (2i, 2i+1) turns at its own frequency: the angle is k * omega_i with "
                "omega_i = 10000^(-2i/d_model), not k.",
                lambda k, d: _shift(k, d, angle_of=lambda k, omega: k + 0 * omega)),
        Mistake("frequency with i for 2i",
                "omega_i = 10000^(-2i/d_model), with 2i the even column index, as in the encoding.",
                lambda k, d: _shift(k, d, angle_of=lambda k, omega: k * omega ** 0.5)),
        NO_CHECK_OF_AN_ODD_D_MODEL,
        ASSERTED_EVEN,
    ],
    requirements=[
        Requirement("Write `relative_shift_matrix(k, d_model)` → `(d_model, d_model)` float32, for an even `d_model`",
                    "k=1, d_model=8", "k=5, d_model=16", "k=0 is the identity, d_model=4"),
        Requirement("(d_model, d_model) float32 M with PE[pos + k] == PE[pos] @ M.T for every pos",
                    "k=1, d_model=8", "k=5, d_model=16"),
        Requirement("the $2\\times 2$ block $R_i(k)$ at rows and columns $(2i, 2i+1)$, and zeros elsewhere",
                    "k=1, d_model=8", "k=5, d_model=16"),
        Requirement("raise a `ValueError` for an odd one", "an odd d_model=7 raises ValueError"),
        Requirement("$k$ may be negative", "k=-3 (a shift backwards), d_model=6"),
        Requirement("so $M$ is orthogonal: $M^\\top M = I$", "k=0 is the identity, d_model=4", "k=5, d_model=16"),
    ],
)

# ---------------------------------------------------------------- rotary_embedding


def _rope(x, positions, base=10000.0, interleaved=True, sign=1.0, two_i=True):
    d = x.shape[-1]
    exponent = torch.arange(0, d, 2, dtype=torch.float64) if two_i else torch.arange(d // 2, dtype=torch.float64)
    angle = positions.to(torch.float64)[:, None] * base ** (-exponent / d)
    cos, sin = angle.cos().to(x.dtype), (sign * angle.sin()).to(x.dtype)
    if interleaved:
        a, b = x[..., 0::2], x[..., 1::2]
    else:
        a, b = x[..., : d // 2], x[..., d // 2:]
    ra, rb = a * cos - b * sin, a * sin + b * cos
    if interleaved:
        return torch.stack([ra, rb], dim=-1).flatten(-2)
    return torch.cat([ra, rb], dim=-1)


def _rope_inputs(rng, shape, positions, base=None, dtype=torch.float32):
    x = torch.as_tensor(rng.standard_normal(shape), dtype=dtype)
    positions = torch.as_tensor(positions, dtype=torch.long)
    return (x, positions) if base is None else (x, positions, base)


rotary_embedding = Exercise(
    id="06.rotary_embedding", points=2, difficulty="hard", minutes=20, pure=True,
    cases=[
        Case("one sequence, T=6, d=8, positions 0..5", lambda rng: _rope_inputs(rng, (6, 8), np.arange(6))),
        Case("(B, heads, T, d) = (2, 3, 5, 4), positions 10..14 (not starting at 0)",
             lambda rng: _rope_inputs(rng, (2, 3, 5, 4), np.arange(10, 15))),
        Case("base=100.0", lambda rng: _rope_inputs(rng, (1, 4, 6), np.arange(4), base=100.0)),
        Case("large vectors, d=64, positions 0..15", lambda rng: _rope_inputs(rng, (16, 64), np.arange(16))),
        Case("float64 x: the result keeps x's dtype", lambda rng: _rope_inputs(rng, (2, 5, 6), np.arange(3, 8), dtype=torch.float64),
             why="the result has the dtype of x, whatever precision the angles are computed in"),
    ],
    # angles up to 15 rad: a float32 computation is off by ~1e-6 rad, times |x| <= ~4
    compare=close(rtol=1e-5, atol=1e-5),
    mistakes=[
        Mistake("rotate-half pairing",
                "this pairs dimension i with i + d/2 (the GPT-NeoX / Hugging Face layout); the "
                "paper and this course pair (2i, 2i+1): x[..., 0::2] with x[..., 1::2].",
                lambda x, p, base=10000.0: _rope(x, p, base, interleaved=False)),
        Mistake("rotated the wrong way",
                "the rotation by +m*theta is x'_2i = x_2i cos - x_2i+1 sin, x'_2i+1 = x_2i sin + x_2i+1 cos.",
                lambda x, p, base=10000.0: _rope(x, p, base, sign=-1.0)),
        Mistake("theta with i for 2i",
                "theta_i = base^(-2i/d), with 2i = 0, 2, 4, ...: the same frequencies as the "
                "sinusoidal encoding.",
                lambda x, p, base=10000.0: _rope(x, p, base, two_i=False)),
        Mistake("ignored base",
                "use the `base` argument; it is not always 10000.",
                lambda x, p, base=10000.0: _rope(x, p, 10000.0)),
        Mistake("result always float32",
                "the result has the dtype of x: compute the angles in any precision, then cast the "
                "result (or cos and sin) with .to(x.dtype), not .float().",
                lambda x, p, base=10000.0: _rope(x, p, base).float()),
    ],
    requirements=[
        Requirement("Write `rotary_embedding(x, positions, base=10000.0)`", "base=100.0",
                    "one sequence, T=6, d=8, positions 0..5"),
        Requirement("`x` is `(..., T, d)` (any leading dims: batch, heads)", "one sequence, T=6, d=8, positions 0..5",
                    "(B, heads, T, d) = (2, 3, 5, 4), positions 10..14 (not starting at 0)"),
        Requirement("`positions` a `(T,)` tensor of positions (not necessarily starting at 0",
                    "(B, heads, T, d) = (2, 3, 5, 4), positions 10..14 (not starting at 0)",
                    "float64 x: the result keeps x's dtype"),
        Requirement("result the same shape and dtype as `x`", "(B, heads, T, d) = (2, 3, 5, 4), positions 10..14 (not starting at 0)",
                    "float64 x: the result keeps x's dtype"),
        Requirement("Pair the dimensions as the formula says, $(2i, 2i+1)$", "one sequence, T=6, d=8, positions 0..5",
                    "large vectors, d=64, positions 0..15"),
        Requirement("with $\\theta_i = \\text{base}^{-2i/d}$", "large vectors, d=64, positions 0..15", "base=100.0"),
    ],
)

EXERCISES = [sinusoidal_positional_encoding, relative_shift_matrix, rotary_embedding]
