"""A module whose parameter names or shapes differ from the reference's gets a message naming them.

Every module exercise loads the reference's weights into the learner's module by name
(grader/module_weights.py). A learner who calls a layer `attn_proj` instead of `c_proj`, or builds a
Linear the wrong way round, must be told which parameter is wrong, not shown torch's
`Error(s) in loading state_dict` or, worse, a number mismatch. These tests rename or reshape one
parameter of each reference module and read the message the learner would see.
"""
import inspect

import pytest
import torch
import torch.nn as nn

from grader.engine import all_exercises, grade_function
from grader.module_weights import load_reference_weights

MODULE_EXERCISES = sorted(key for key, ex in all_exercises().items()
                          if inspect.isclass(ex.reference()) and issubclass(ex.reference(), nn.Module))


def test_every_module_chapter_is_covered():
    assert {key.split(".")[0] for key in MODULE_EXERCISES} >= {"04", "05", "07", "08", "09", "10", "11"}


def with_renamed_attribute(reference_cls):
    """The reference module, with the attribute that holds its first parameter renamed."""
    class Renamed(reference_cls):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            first = next(name for name, _ in self.named_parameters()).split(".")[0]
            value = getattr(self, first)
            delattr(self, first)
            setattr(self, first + "_renamed", value)
            self.renamed = first
    return Renamed


@pytest.mark.parametrize("exercise_id", MODULE_EXERCISES)
def test_renamed_parameter_is_named(exercise_id):
    exercise = all_exercises()[exercise_id]
    renamed = with_renamed_attribute(exercise.reference())
    result = grade_function(exercise, renamed)
    assert not result.passed
    assert "_renamed" in result.message and "missing [" in result.message, result.message
    assert "Error(s) in loading state_dict" not in result.message


class Reference(nn.Module):
    def __init__(self):
        super().__init__()
        self.c_fc = nn.Linear(3, 5)
        self.ln = nn.LayerNorm(5)


def test_wrong_shape_is_named_with_the_linear_convention():
    class Transposed(Reference):
        def __init__(self):
            super().__init__()
            self.c_fc = nn.Linear(5, 3)
    with pytest.raises(ValueError, match=r"'c_fc.weight' has shape \(3, 5\), expected \(5, 3\).*\(n_out, n_in\)"):
        load_reference_weights(Transposed(), Reference())


def test_not_a_module_is_explained():
    with pytest.raises(ValueError, match="super\\(\\).__init__\\(\\)"):
        load_reference_weights(object(), Reference())


def test_weights_are_copied_and_the_learners_buffers_kept():
    """Only parameters are the contract: a learner's own buffer (a causal mask, say) survives."""
    class WithBuffer(Reference):
        def __init__(self):
            super().__init__()
            self.register_buffer("mask", torch.ones(2, 2).tril())
    reference, model = Reference(), WithBuffer()
    load_reference_weights(model, reference)
    assert torch.equal(model.c_fc.weight, reference.c_fc.weight)
    assert torch.equal(model.mask, torch.ones(2, 2).tril())


def test_persistent_buffer_is_named_where_buffers_are_part_of_the_contract():
    """Chapter 08 teaches persistent=False for the causal mask; its check counts buffers."""
    class WithBuffer(Reference):
        def __init__(self, persistent):
            super().__init__()
            self.register_buffer("tril", torch.ones(2, 2).tril(), persistent=persistent)
    with pytest.raises(ValueError, match=r"unexpected \['tril'\].*persistent=False"):
        load_reference_weights(WithBuffer(persistent=True), Reference(), strict_buffers=True)
    load_reference_weights(WithBuffer(persistent=False), Reference(), strict_buffers=True)
