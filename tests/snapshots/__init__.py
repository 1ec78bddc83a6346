"""Frozen expected values: what each chapter's reference returns on every public case.

The exercise tests compare the learner with the reference, so they cannot see an edit to a
solution that changes its numbers. `tests/test_snapshots.py` compares the reference with the
values stored here. After a deliberate change to a solution (or to a case's inputs),
regenerate the chapter's file and commit it with the change:

    PYTHONPATH=$PWD python -m tests.snapshots 09        # or no argument: every chapter

One JSON file per chapter, `chNN.json`: {exercise id: [case 0, case 1, ...]}. A case is the
reference's outcome (its error, whether it is implemented, its value and, for pure exercises,
its arguments after the call), each value stored as a *fingerprint*: the same tree with every
integer, string and shape exact, and every float kept to within the rounding that differs from
one CPU to another (the same float32 sum in another order, another BLAS kernel: seen between
this project's machines, where the first, bit-for-bit snapshots failed 22 exercises). A float
array of up to FULL elements is stored whole; a larger one as its sum, its sum of absolute
values, a signed sum and SAMPLES of its elements; an integer or boolean array of any size as
the SHA-256 of its bytes.
"""
import hashlib
import json
import math
from pathlib import Path

import numpy as np

from grader.engine import all_exercises, run_case
from grader.values import Opaque, TensorValue

FOLDER = Path(__file__).resolve().parent
PARTS = ("value", "inputs_after")
FULL = 64
SAMPLES = 16
# Relative rounding allowed, per float precision, measured against the array's largest value
# (so that a difference of two large numbers may differ by a rounding of theirs). float64: chapter
# 03's numerical gradient, (f(x+h) - f(x-h)) / 2h, turns 1e-16 into 5e-11 from one CPU to another.
RTOL = {"float64": 1e-9, "float32": 1e-5, "float16": 2e-3, "bfloat16": 2e-2}


def _float_kind(dtype: str) -> str | None:
    name = dtype.replace("torch.", "")
    return name if name in RTOL else None


def fingerprint(value):
    """The JSON-able fingerprint of a normalized value (see the module docstring)."""
    if isinstance(value, TensorValue):
        return {"tensor": value.dtype, "of": fingerprint(value.array)}
    if isinstance(value, np.ndarray):
        kind = _float_kind(str(value.dtype))
        if kind is None or value.size == 0:
            data = np.ascontiguousarray(value)
            return {"array": str(value.dtype), "shape": list(value.shape),
                    "sha256": hashlib.sha256(data.tobytes() if data.dtype != object else repr(data).encode()).hexdigest()}
        flat = value.astype(np.float64).ravel()
        item = {"array": str(value.dtype), "shape": list(value.shape)}
        if flat.size <= FULL:
            item["values"] = [_float(v) for v in flat]
        else:
            signs = np.where(np.arange(flat.size) % 3 == 0, -1.0, 1.0)
            finite = np.where(np.isfinite(flat), flat, 0.0)
            item.update(sum=_float(finite.sum()), l1=_float(np.abs(finite).sum()), signed=_float((signs * finite).sum()),
                        max=_float(np.abs(finite).max()), nonfinite=[_float(v) for v in flat[~np.isfinite(flat)][:SAMPLES]],
                        samples=[_float(v) for v in flat[np.linspace(0, flat.size - 1, SAMPLES).astype(int)]])
        return item
    if isinstance(value, float):
        return {"float": _float(value)}
    if isinstance(value, (tuple, list)):
        return {type(value).__name__: [fingerprint(v) for v in value]}
    if isinstance(value, dict):
        return {"dict": [[fingerprint(k), fingerprint(v)] for k, v in value.items()]}
    if isinstance(value, Opaque):
        return {"opaque": value.type_name}
    return value          # None, bool, int, str: exact


def _float(v) -> float | str:
    v = float(v)
    return v if math.isfinite(v) else repr(v)   # JSON has no nan/inf


def _number(v) -> float:
    return float(v)


def difference(got, want, where="value", rtol=RTOL["float64"]) -> str | None:
    """None when fingerprint `got` matches the stored `want`, else where and how it differs."""
    if isinstance(want, dict) and "float" in want and isinstance(got, dict) and "float" in got:
        return _floats_differ([got["float"]], [want["float"]], rtol, abs(_number(want["float"])) if
                              not isinstance(want["float"], str) else 0.0, where)
    if isinstance(want, dict) and "array" in want and isinstance(got, dict) and "array" in got:
        if (got["array"], got["shape"]) != (want["array"], want["shape"]):
            return f"{where}: {got['array']} of shape {got['shape']}, the snapshot's {want['array']} of shape {want['shape']}"
        if "sha256" in want:
            return None if got.get("sha256") == want["sha256"] else f"{where}: other values (compared by SHA-256)"
        rtol = RTOL[_float_kind(want["array"])] if rtol == RTOL["float64"] else rtol
        if "values" in want:
            scale = max((abs(v) for v in want["values"] if not isinstance(v, str)), default=0.0)
            return _floats_differ(got["values"], want["values"], rtol, scale, where)
        n = math.prod(want["shape"])
        scale = want["max"]
        for key, tolerance in (("sum", n), ("l1", n), ("signed", n), ("max", 1)):
            if abs(got[key] - want[key]) > rtol * tolerance * scale + 1e-300:
                return f"{where}: its {key} is {got[key]!r}, the snapshot's {want[key]!r}"
        return _floats_differ(got["samples"] + got["nonfinite"], want["samples"] + want["nonfinite"], rtol, scale, where)
    if isinstance(want, dict) and "tensor" in want and isinstance(got, dict) and "tensor" in got:
        if got["tensor"] != want["tensor"]:
            return f"{where}: a {got['tensor']} tensor, the snapshot's is {want['tensor']}"
        kind = _float_kind(want["tensor"])
        return difference(got["of"], want["of"], where, RTOL[kind] if kind else rtol)
    if isinstance(want, dict) and isinstance(got, dict) and want.keys() == got.keys() and len(want) == 1:
        (key,) = want
        if key in ("tuple", "list", "dict"):
            if len(got[key]) != len(want[key]):
                return f"{where}: {len(got[key])} items, the snapshot has {len(want[key])}"
            for i, (g, w) in enumerate(zip(got[key], want[key])):
                problem = difference(g, w, f"{where}[{i}]", rtol)
                if problem:
                    return problem
            return None
    return None if got == want else f"{where}: {str(got)[:200]}, the snapshot's {str(want)[:200]}"


def _floats_differ(got, want, rtol, scale, where) -> str | None:
    if len(got) != len(want):
        return f"{where}: {len(got)} values, the snapshot has {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        if isinstance(g, str) or isinstance(w, str):     # nan, inf, -inf: exactly
            if g != w:
                return f"{where}: element {i} is {g!r}, the snapshot's {w!r}"
        elif abs(g - w) > rtol * (abs(w) + scale):
            return f"{where}: element {i} is {g!r}, the snapshot's {w!r}"
    return None


def outcome(exercise, index, fn) -> dict:
    """Case `index` of `exercise` run on `fn`, as it is stored."""
    result = run_case(exercise, index, fn)
    return {"error": result.error, "not_implemented": result.not_implemented,
            "value": fingerprint(result.value), "inputs_after": fingerprint(result.inputs_after)}


def path(chapter: str) -> Path:
    return FOLDER / f"ch{chapter}.json"


def stored(exercise) -> list | None:
    """The stored cases of `exercise`, or None when its chapter has no snapshot of it."""
    file = path(exercise.chapter)
    return json.loads(file.read_text()).get(exercise.id) if file.exists() else None


def write(chapter: str):
    exercises = {ex_id: ex for ex_id, ex in all_exercises().items() if ex.chapter == chapter}
    data = {ex_id: [outcome(ex, i, ex.reference()) for i in range(len(ex.cases))]
            for ex_id, ex in sorted(exercises.items())}
    path(chapter).write_text(json.dumps(data, sort_keys=True, separators=(",", ":")).replace("]},", "]},\n") + "\n")
    print(f"{path(chapter).name}: {len(data)} exercises, {path(chapter).stat().st_size / 1024:.0f} KiB")


def main(chapters):
    for chapter in chapters or sorted({ex.chapter for ex in all_exercises().values()}):
        write(chapter)
