"""Checking a learner's nn.Module: give it the reference's weights, by name, and compare outputs.

Module exercises (chapters 05 and 07-11) promise that the learner's module has exactly the
reference's parameter names and shapes, GPT-2's where there is one. The check builds the
reference, nudges its weights away from their initial values (so a forgotten LayerNorm gain or
bias shows), copies them into the learner's module with `load_state_dict(strict=True)` and runs
both on the same input. A name or shape that does not line up is reported by name before
anything runs, instead of as torch's wall of `Missing key(s) in state_dict`.

Under instructor grading the reference must never be in the process that runs learner code, so
the weights travel as data: the grading process builds the reference and takes its
`ReferenceState` (grader/exercises/common.py, `reference_weights`), and the process running the
learner's module loads that into it. Every function here takes a module or a ReferenceState.
"""
from dataclasses import dataclass

import torch
import torch.nn as nn


@dataclass
class ReferenceState:
    """A reference module's weights as data: its `state_dict()` (parameters and persistent
    buffers) and the names of its parameters, tied ones under each name."""
    state: dict
    parameters: list

    @classmethod
    def of(cls, module):
        if isinstance(module, ReferenceState):
            return module
        state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        return cls(state, [name for name, _ in module.named_parameters(remove_duplicate=False)])

    def contract(self, strict_buffers) -> dict:
        """Name -> shape of what a learner's module must share with the reference."""
        names = self.state if strict_buffers else self.parameters
        return {name: tuple(self.state[name].shape) for name in names}


class ParameterMismatch(ValueError):
    """The learner's module does not have the reference's parameter names or shapes."""


def perturb(module, scale=0.2):
    """Move every parameter away from its initial value (LayerNorm's 1s and 0s especially), so
    that forgetting to use one changes the output. Uses torch's global RNG, which the engine seeds."""
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn_like(p))
    return module


def _contract(module, strict_buffers) -> dict:
    """Name -> shape of the tensors a module must share with the reference: its parameters, and
    with `strict_buffers` its persistent buffers too (everything `state_dict()` saves)."""
    if strict_buffers:
        return {k: tuple(v.shape) for k, v in module.state_dict(keep_vars=True).items()}
    return {k: tuple(v.shape) for k, v in module.named_parameters(remove_duplicate=False)}


def parameter_mismatch(model, reference, hint="", strict_buffers=False):
    """None when `model` has the reference's parameter names and shapes, else a message naming
    each missing, unexpected or wrongly shaped one. `hint` ends the message with chapter advice;
    `strict_buffers` counts persistent buffers as part of the contract (chapter 08 teaches
    `register_buffer(..., persistent=False)` so that a mask stays out of the state dict)."""
    if not isinstance(model, nn.Module):
        return (f"expected an nn.Module, got {type(model).__name__}: "
                "did you forget `super().__init__()` or to subclass nn.Module?")
    want, have = ReferenceState.of(reference).contract(strict_buffers), _contract(model, strict_buffers)
    missing, extra = sorted(set(want) - set(have)), sorted(set(have) - set(want))
    if missing or extra:
        buffers = [name for name, _ in model.named_buffers() if name in extra]
        if buffers:
            hint += (f". {buffers} are buffers, which the state dict saves: register them with "
                     "register_buffer(..., persistent=False), or build them in forward")
        return (f"your module's parameter names differ from the reference's: missing {missing}, "
                f"unexpected {extra}. The grader copies the reference's weights in by name "
                f"(load_state_dict(strict=True)); the expected parameters are {sorted(want)}{hint}")
    wrong = [f"{name!r} has shape {have[name]}, expected {shape}"
             for name, shape in want.items() if have[name] != shape]
    if wrong:
        return ("your module's parameters have the wrong shape: " + "; ".join(wrong)
                + " (nn.Linear(n_in, n_out) stores its weight as (n_out, n_in))")
    return None


def load_reference_weights(model, reference, hint="", strict_buffers=False):
    """Copy the reference's parameters into `model` with strict=True and return it; raise
    ParameterMismatch naming the parameters that do not line up. Unless `strict_buffers`, the
    learner's own buffers (a causal-mask buffer, say) are kept and are not part of the contract."""
    problem = parameter_mismatch(model, reference, hint, strict_buffers)
    if problem:
        raise ParameterMismatch(problem)
    parameters = dict(model.named_parameters(remove_duplicate=False))
    state = {k: v for k, v in ReferenceState.of(reference).state.items() if k in parameters}
    state.update({k: v for k, v in model.state_dict().items() if k not in parameters})   # its buffers
    model.load_state_dict(state, strict=True)
    return model
