"""Plain values: what a learner's function returned, reduced to data the grader can trust.

Everything the engine compares goes through `normalize` first, in the notebook and in the
grading process alike. It turns whatever came back (an ndarray subclass, a tensor that needs
grad, a numpy scalar, a tuple of those) into plain Python scalars, plain `np.ndarray`s and
`TensorValue`s. `encode`/`decode` carry such a tree across a process boundary as JSON: the
grading process only ever parses bytes (`np.load(allow_pickle=False)`), so nothing the
learner's code returns can run code on the grading side.
"""
import base64
import io
import json
import sys
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TensorValue:
    """A torch tensor seen as data: its values (as numpy) and its torch dtype name."""
    array: np.ndarray
    dtype: str           # e.g. "torch.float32"

    @property
    def shape(self):
        return self.array.shape


@dataclass(frozen=True)
class Opaque:
    """Something that is not data (a module, a generator, a lambda): kept by type name only."""
    type_name: str

    def __repr__(self):
        return f"<{self.type_name}>"


def type_name(x) -> str:
    t = type(x)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _plain_array(x) -> np.ndarray:
    # np.array(..., subok=False) copies into a base-class ndarray: a subclass's rigged
    # operators do not survive the copy.
    return np.array(x, copy=True, subok=False)


def normalize(x, _depth=0):
    """Reduce a returned value to plain data (see the module docstring)."""
    if _depth > 20:
        return Opaque("deeply nested value")
    if x is None or type(x) in (bool, int, float, str):
        return x
    if isinstance(x, np.generic):
        return x.item() if x.dtype.kind in "biufc" else Opaque(type_name(x))
    if isinstance(x, np.ndarray):
        return _plain_array(x)
    torch = sys.modules.get("torch")  # a tensor implies torch is loaded; never import it here
    if torch is not None and isinstance(x, torch.Tensor):
        base = torch.Tensor.detach(x).as_subclass(torch.Tensor).cpu()
        if base.dtype == torch.bfloat16:
            base = base.float()
        return TensorValue(_plain_array(base.numpy()), str(x.dtype))
    if isinstance(x, bool):  # bool subclasses are impossible, int/float subclasses are not
        return bool(x)
    if isinstance(x, int):
        return int(x)
    if isinstance(x, float):
        return float(x)
    if isinstance(x, str):
        return str(x)
    if isinstance(x, tuple):
        return tuple(normalize(v, _depth + 1) for v in x)
    if isinstance(x, list):
        return [normalize(v, _depth + 1) for v in x]
    if isinstance(x, dict):
        return {normalize(k, _depth + 1): normalize(v, _depth + 1) for k, v in x.items()}
    return Opaque(type_name(x))


def _array_to_b64(a: np.ndarray) -> str:
    if a.dtype.hasobject:
        raise TypeError("an array of Python objects cannot be graded; return numbers")
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _array_from_b64(s: str) -> np.ndarray:
    return np.load(io.BytesIO(base64.b64decode(s)), allow_pickle=False)


def _to_json(x):
    if isinstance(x, np.ndarray):
        return {"ndarray": _array_to_b64(x)}
    if isinstance(x, TensorValue):
        return {"tensor": _array_to_b64(x.array), "dtype": x.dtype}
    if isinstance(x, Opaque):
        return {"opaque": x.type_name}
    if isinstance(x, tuple):
        return {"tuple": [_to_json(v) for v in x]}
    if isinstance(x, list):
        return [_to_json(v) for v in x]
    if isinstance(x, dict):
        return {"dict": [[_to_json(k), _to_json(v)] for k, v in x.items()]}
    return x  # None, bool, int, float, str


def _from_json(x):
    if isinstance(x, list):
        return [_from_json(v) for v in x]
    if not isinstance(x, dict):
        if x is None or type(x) in (bool, int, float, str):
            return x
        raise ValueError(f"unexpected value in a result: {type(x).__name__}")
    if "ndarray" in x:
        return _array_from_b64(x["ndarray"])
    if "tensor" in x:
        return TensorValue(_array_from_b64(x["tensor"]), str(x["dtype"]))
    if "opaque" in x:
        return Opaque(str(x["opaque"]))
    if "tuple" in x:
        return tuple(_from_json(v) for v in x["tuple"])
    if "dict" in x:
        return {_from_json(k): _from_json(v) for k, v in x["dict"]}
    raise ValueError("unexpected value in a result")


def encode(x) -> str:
    """A normalized value as one line of JSON."""
    return json.dumps(_to_json(x))


def decode(s: str):
    """The inverse of `encode`; parses data only."""
    return _from_json(json.loads(s))
