"""What more than one chapter's checks use: inputs, a float32 tolerance, the reference, and one
way to give a learner's nn.Module the reference's weights.

A chapter module (`chNN.py`) imports from here and from the grader core, never from another
chapter module (tests/test_exercises.py enforces it), so that each chapter reads on its own.
"""
import importlib
import inspect
import math
from functools import partial

import numpy as np
import torch

from ..compare import Fail, close
from ..module_weights import ParameterMismatch, load_reference_weights, perturb


# ---------------------------------------------------------------- inputs

def randn(rng, *shape, scale=1.0):
    """A float32 tensor of standard normals times `scale`, drawn from the case's generator."""
    return torch.from_numpy((scale * rng.standard_normal(shape)).astype(np.float32))


def random_params(rng, sizes):
    """Chapter 02's network as [(W, b), ...] with W (n_out, n_in); the biases are not zero, so
    that a forgotten bias shows."""
    return [(rng.standard_normal((n, m)) / np.sqrt(m), rng.standard_normal(n))
            for m, n in zip(sizes[:-1], sizes[1:])]


# ---------------------------------------------------------------- known mistakes

def variant(fn, **changes):
    """`fn` with some of its keyword parameters set: a known mistake made by varying a
    reference-like function (`variant(_GPT, positions=False)`). Unlike functools.partial it
    checks the names when the checks are imported, so a misspelt behaviour is an error there
    rather than a mistake that silently equals the reference."""
    unknown = sorted(set(changes) - set(inspect.signature(fn).parameters))
    if unknown:
        raise TypeError(f"{fn.__qualname__} has no parameter {', '.join(unknown)}")
    return partial(fn, **changes)


def quiet(fn):
    """A mistake that overflows, divides by zero or takes log(0) on purpose: keep its NumPy
    warnings out of the test logs."""
    def wrapped(*args):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return fn(*args)
    return wrapped


def dropped_fraction_fail(dropped, p, what, advice=""):
    """Fail when the fraction of `dropped` (a bool array) is not p within six standard deviations
    of a fair draw; `advice` ends the message."""
    fraction = dropped.mean()
    tolerance = 6 * math.sqrt(p * (1 - p) / dropped.size)
    if abs(fraction - p) > tolerance:
        return Fail(f"in train mode with dropout={p}, {fraction:.3f} of {what} were dropped "
                    f"(expected {p} +- {tolerance:.3f}){advice}")
    return None


# ---------------------------------------------------------------- tolerance

# float32 through a few layers: the same maths in another order (a fused kernel, einsum against
# matmul, F.layer_norm) moves results by a few units in the 7th digit, so 1e-5 separates a correct
# answer from the known mistakes, whose errors are 1e-3 and larger.
FLOAT32 = close(rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- the reference

def reference(name, chapter):
    """The course's reference object `name` from chapter `chapter` ("09"), imported when a check
    runs rather than when the checks are imported."""
    return getattr(importlib.import_module(f"grader.reference.ch{chapter}"), name)


# ---------------------------------------------------------------- modules with the reference's weights

# From chapter 09 on GPT-2's names are the contract: a learner's module must load GPT-2 state dicts.
GPT2_NAMES = ("; name the submodules exactly as the exercise says (and pass bias=bias on, so "
              "that bias=False has no bias parameters)")


def with_reference_weights(cls, reference_cls, ctor=(), *, nudge=0.0, hint="", strict_buffers=False):
    """`cls(*ctor)` holding the weights of `reference_cls(*ctor)`, in eval mode (a dict `ctor`
    is passed as keyword arguments).

    nudge: the scale of the noise added to the reference's weights first. A module with a
        LayerNorm needs it (its weight 1 and bias 0 would hide a LayerNorm that is never used);
        chapters 05-08 have none and copy the initial weights as they are.
    hint: chapter advice that ends a parameter-name mismatch message.
    strict_buffers: persistent buffers count as parameters. Chapters 05-08 use it: chapter 08
        teaches `register_buffer(..., persistent=False)`, so a saved mask is a mistake there.
    Raises ParameterMismatch, naming the parameters, when the names or shapes do not line up."""
    def build(make):
        return make(**ctor) if isinstance(ctor, dict) else make(*ctor)
    ref = build(reference_cls)
    if nudge:
        perturb(ref, scale=nudge)
    return load_reference_weights(build(cls), ref, hint, strict_buffers).eval()


STATE_DICT = "state_dict mismatch"


def module_case(reference_path, call):
    """A Case.run for a module exercise whose `args` are (constructor args, call args): the
    learner's module gets the reference's weights and `call(model, *call_args)` is returned, or
    {STATE_DICT: message} when the parameters do not line up (see `module_compare`)."""
    def run(cls, args):
        module_name, class_name = reference_path.rsplit(".", 1)
        reference_cls = getattr(importlib.import_module(module_name), class_name)
        ctor, call_args = args
        try:
            model = with_reference_weights(cls, reference_cls, ctor, strict_buffers=True)
        except ParameterMismatch as mismatch:
            return {STATE_DICT: str(mismatch)}
        return call(model, *call_args)
    return run


def module_compare(inner):
    """Wrap a comparator so a parameter mismatch becomes a failure that names the parameters
    (and two identical mismatches count as equal, so a mistake of that kind can be named)."""
    def compare(got, expected, args):
        if isinstance(expected, dict) and STATE_DICT in expected:
            return None if got == expected else Fail("outputs differ")
        if isinstance(got, dict) and STATE_DICT in got:
            return Fail(got[STATE_DICT])
        return inner(got, expected, args)
    return compare


def positions_embedded(model, call):
    """`call()`'s result, and how many positions went through `model`'s token embedding
    meanwhile: the work a generation loop did (with a KV cache each position goes once)."""
    count = [0]
    hook = model.transformer.wte.register_forward_hook(
        lambda module, inputs, output: count.__setitem__(0, count[0] + inputs[0].shape[-1]))
    try:
        return call(), count[0]
    finally:
        hook.remove()

