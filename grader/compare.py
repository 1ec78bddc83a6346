"""Comparing a learner's (normalized) result with the expected one, in words a learner can use.

A comparator is `compare(got, expected, args) -> None | Fail`. `None` means "matches". A
`Fail` carries a message that says what differs (type, shape, dtype, or which values and by
how much) and, when the comparator recognises a known mistake from the numbers alone, its name.
"""
from dataclasses import dataclass

import numpy as np

from .values import Opaque, TensorValue, type_name


# Bound once at import: learner code running in the same process (a notebook) that patches
# `np.isclose` afterwards cannot change how answers are compared.
_isclose, _isfinite, _argwhere = np.isclose, np.isfinite, np.argwhere


@dataclass
class Fail:
    message: str
    mistake: "Mistake | None" = None   # the known mistake (grader.engine.Mistake) this points to


def describe(x) -> str:
    """Short description of a value for messages: kind, shape and dtype."""
    if isinstance(x, TensorValue):
        return f"torch.Tensor of shape {tuple(x.shape)} and dtype {x.dtype}"
    if isinstance(x, np.ndarray):
        return f"numpy array of shape {x.shape} and dtype {x.dtype}"
    if isinstance(x, Opaque):
        return x.type_name
    if isinstance(x, (list, tuple)):
        return f"{type(x).__name__} of length {len(x)}"
    return f"{type_name(x)} {x!r}" if isinstance(x, (int, float, bool)) else type_name(x)


def _fmt(v) -> str:
    return f"{v:.6g}" if isinstance(v, (float, np.floating)) else repr(v)


def _expected_got(exp, got) -> str:
    """"expected X, got Y" with as many digits as it takes for X and Y to read differently,
    and the relative difference when they are close ("0.000999616" twice would read as equal)."""
    if not all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in (exp, got)) \
            or isinstance(exp, (int, np.integer)) and isinstance(got, (int, np.integer)):
        return f"expected {_fmt(exp)}, got {_fmt(got)}"
    for digits in range(6, 18):
        e, g = f"{exp:.{digits}g}", f"{got:.{digits}g}"
        if e != g:
            break
    text = f"expected {e}, got {g}"
    if digits > 6 and exp != 0 and _isfinite(exp) and _isfinite(got):
        text += f" (a relative difference of {abs(got - exp) / abs(exp):.1e})"
    return text


def _compare_arrays(got: np.ndarray, exp: np.ndarray, rtol, atol, check_dtype, where) -> Fail | None:
    if got.shape != exp.shape:
        msg = f"{where}shape: expected {exp.shape}, got {got.shape}"
        if got.ndim == exp.ndim == 2 and got.shape == exp.shape[::-1]:
            msg += " (transposed?)"
        return Fail(msg)
    if check_dtype and got.dtype != exp.dtype:
        return Fail(f"{where}dtype: expected {exp.dtype}, got {got.dtype}")
    if exp.size == 0:
        return None
    if exp.dtype.kind in "biu" and got.dtype.kind in "biu" or exp.dtype.kind == "b":
        bad = got != exp
    else:
        g, e = got.astype(np.float64), exp.astype(np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            bad = ~_isclose(g, e, rtol=rtol, atol=atol, equal_nan=True)
    if not bad.any():
        return None
    idx = tuple(int(i) for i in _argwhere(bad)[0])
    msg = (f"{where}values differ at {int(bad.sum())} of {exp.size} positions; "
           f"first at index {idx}: {_expected_got(exp[idx].item(), got[idx].item())}")
    if got.dtype.kind == "f" and not _isfinite(got).all() and _isfinite(exp).all():
        msg += " (your result contains NaN or inf)"
    return Fail(msg)


def compare_values(got, exp, rtol=1e-7, atol=1e-9, check_dtype=True, where="", parts=None) -> Fail | None:
    """Recursive comparison of normalized values; `where` names the part being compared, and
    `parts` names the items of a tuple result ("logits", "loss") so messages need not say [0]."""
    at = f"{where}: " if where else ""
    if isinstance(exp, TensorValue):
        if not isinstance(got, TensorValue):
            return Fail(f"{at}expected a torch.Tensor, got {describe(got)}")
        if check_dtype and got.dtype != exp.dtype:
            return Fail(f"{at}dtype: expected {exp.dtype}, got {got.dtype}")
        return _compare_arrays(got.array, exp.array, rtol, atol, False, at)
    if isinstance(exp, np.ndarray):
        if not isinstance(got, np.ndarray):
            return Fail(f"{at}expected a numpy array, got {describe(got)}")
        return _compare_arrays(got, exp, rtol, atol, check_dtype, at)
    if isinstance(exp, (list, tuple)):
        if not isinstance(got, (list, tuple)):
            return Fail(f"{at}expected a {type(exp).__name__} of length {len(exp)}, got {describe(got)}")
        if len(got) != len(exp):
            named = f" ({', '.join(parts)})" if parts and len(parts) == len(exp) else ""
            return Fail(f"{at}expected {len(exp)} items{named}, got {len(got)}")
        for i, (g, e) in enumerate(zip(got, exp)):
            part = parts[i] if parts and len(parts) == len(exp) else f"[{i}]"
            fail = compare_values(g, e, rtol, atol, check_dtype, f"{where}{part}")
            if fail:
                return fail
        return None
    if isinstance(exp, dict):
        if not isinstance(got, dict):
            return Fail(f"{at}expected a dict, got {describe(got)}")
        if set(got) != set(exp):
            missing, extra = sorted(map(repr, set(exp) - set(got))), sorted(map(repr, set(got) - set(exp)))
            return Fail(f"{at}keys differ: missing {missing[:5]}, unexpected {extra[:5]}")
        for k in exp:
            fail = compare_values(got[k], exp[k], rtol, atol, check_dtype, f"{where}[{k!r}]")
            if fail:
                return fail
        return None
    if isinstance(exp, bool) or isinstance(exp, str) or exp is None:
        return None if type(got) is type(exp) and got == exp else Fail(f"{at}expected {exp!r}, got {describe(got)}")
    if isinstance(exp, (int, float)):
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            if isinstance(got, np.ndarray) and got.size == 1:
                got = got.item()      # a 0-d or 1-element array is an acceptable number
            elif isinstance(got, TensorValue) and got.array.size == 1:
                got = got.array.item()
            else:
                return Fail(f"{at}expected a number, got {describe(got)}")
        if _isclose(got, exp, rtol=rtol, atol=atol):
            return None
        return Fail(f"{at}{_expected_got(exp, got)}")
    if isinstance(exp, Opaque):
        return None if isinstance(got, Opaque) and got.type_name == exp.type_name else Fail(
            f"{at}expected {exp.type_name}, got {describe(got)}")
    raise TypeError(f"cannot compare expected value of type {type(exp).__name__}")


def close(rtol=1e-7, atol=1e-9, check_dtype=True, parts=None):
    """A comparator: same structure, shapes and dtypes, values within rtol/atol (see np.isclose).
    `parts` names the items of a tuple result, in order, for the messages."""
    def compare(got, expected, args):
        return compare_values(got, expected, rtol, atol, check_dtype, parts=parts)
    return compare
