"""What more than one chapter's checks use: inputs, a float32 tolerance, the reference, and one
way to give a learner's nn.Module the reference's weights.

A chapter module (`chNN.py`) imports from here and from the grader core, never from another
chapter module (tests/test_exercises.py enforces it), so that each chapter reads on its own.
"""
import inspect
import math
import re
from functools import partial

import numpy as np
import torch

from ..compare import Fail, close
from ..engine import reference_module
from ..module_weights import ParameterMismatch, ReferenceState, load_reference_weights, perturb


# ---------------------------------------------------------------- inputs

def randn(rng, *shape, scale=1.0):
    """A float32 tensor of standard normals times `scale`, drawn from the case's generator."""
    return torch.from_numpy((scale * rng.standard_normal(shape)).astype(np.float32))


def lower_triangle(T):
    """A (T, T) bool tensor, True where key j <= query i: the causal mask, for cases' inputs.
    Written unlike chapter 08's `causal_mask`, so that checks which need one do not hold its
    answer (grader/withhold.py looks for reference lines in a student install)."""
    return torch.arange(T)[:, None] >= torch.arange(T)[None, :]


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

# A check uses the reference only where the grading process runs: in a case's inputs (and a
# run's `prepare`, see engine.Case) and for the expected outputs. Case runs execute beside
# learner code, where an unreleased chapter's reference is absent (instructor grading's sandbox,
# a student install): what a run needs from the reference reaches it as data, in its args.

def reference(name, chapter):
    """The course's reference object `name` from chapter `chapter` ("09"), imported when a check
    first needs it. Raises engine.ReferenceUnavailable where that chapter's reference is withheld."""
    return getattr(reference_module(chapter), name)


class lazy_reference:
    """`ref = lazy_reference("11")`, then `ref.CrossAttention`: chapter 11's reference, imported
    at the first attribute looked up, not when the checks are imported (so they load without it)."""

    def __init__(self, chapter):
        self._chapter = chapter

    def __getattr__(self, name):
        return reference(name, self._chapter)


def prepared(prepare):
    """Decorator for a Case.run: `prepare(args)` turns the case's inputs into the run's args in
    the grading process (see engine.Case). `@prepared(adding_weights("07", "SelfAttentionHead"))` above `def run(cls, args)`."""
    def attach(run):
        run.prepare = prepare
        return run
    return attach


# ---------------------------------------------------------------- modules with the reference's weights

# From chapter 09 on GPT-2's names are the contract: a learner's module must load GPT-2 state dicts.
GPT2_NAMES = ("; name the submodules exactly as the exercise says (and pass bias=bias on, so "
              "that bias=False has no bias parameters)")


def build(cls, ctor):
    """`cls(*ctor)`, or `cls(**ctor)` for a dict."""
    return cls(**ctor) if isinstance(ctor, dict) else cls(*ctor)


def reference_weights(reference_cls, ctor=(), *, nudge=0.0, set_weights=None) -> ReferenceState:
    """The weights of `reference_cls(*ctor)`, as data (grading process only).

    nudge: the scale of the noise added to the reference's weights. A module with a LayerNorm
        needs it (its weight 1 and bias 0 would hide a LayerNorm that is never used); chapters
        05-08 have none and copy the initial weights as they are.
    set_weights(module): chosen weights instead (under torch.no_grad), after the nudge."""
    ref = build(reference_cls, ctor)
    if nudge:
        perturb(ref, scale=nudge)
    if set_weights is not None:
        with torch.no_grad():
            set_weights(ref)
    return ReferenceState.of(ref)


def adding_weights(chapter, name, ctor_of=lambda args: args[0], *, nudge=0.0, set_weights=None):
    """A run's `prepare` (see `prepared`): the case's inputs, then the weights of chapter
    `chapter`'s reference `name` built as `ctor_of(inputs)`, as data (see reference_weights)."""
    def prepare(args):
        return (*args, reference_weights(reference(name, chapter), ctor_of(args), nudge=nudge, set_weights=set_weights))
    return prepare


def with_weights(cls, ctor, weights, *, hint="", strict_buffers=False):
    """`cls(*ctor)` holding `weights` (a ReferenceState), in eval mode.

    hint: chapter advice that ends a parameter-name mismatch message.
    strict_buffers: persistent buffers count as parameters. Chapters 05-08 use it: chapter 08
        teaches `register_buffer(..., persistent=False)`, so a saved mask is a mistake there.
    Raises ParameterMismatch, naming the parameters, when the names or shapes do not line up."""
    return load_reference_weights(build(cls, ctor), weights, hint, strict_buffers).eval()


STATE_DICT = "state_dict mismatch"


def module_case(reference_path, call):
    """A Case.run for a module exercise whose inputs are (constructor args, call args): the
    grading process adds the weights of the reference at `reference_path`
    ("grader.reference.ch07.SelfAttentionHead"), the learner's module gets them and
    `call(model, *call_args)` is returned, or {STATE_DICT: message} when the parameters do not
    line up (see `module_compare`)."""
    chapter, class_name = re.fullmatch(r"grader\.reference\.ch(\d\d)\.(\w+)", reference_path).groups()

    @prepared(adding_weights(chapter, class_name))
    def run(cls, args):
        ctor, call_args, weights = args
        try:
            model = with_weights(cls, ctor, weights, strict_buffers=True)
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

