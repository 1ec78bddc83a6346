"""Every instruction the notebook gives is traceable to a case that enforces it (issue 15).

Why this exists: a check that compares the reference's output on a few inputs passes wrong
answers whenever no input exercises a behaviour the instructions ask for (a required
ValueError no case triggers, dropout never seen in train mode). Each exercise lists its
`requirements`, quotes of its instructions with the cases that enforce them; this test fails
when one is missing, misquoted or names no real case (tests/requirements.py says what is
checked mechanically). `python -m tests.requirements` prints the table for a reviewer.
"""
import pytest

from grader.engine import Case, Exercise, Requirement, all_exercises
from tests import requirements

EXERCISES = all_exercises()


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_every_instruction_is_traced_to_a_case(exercise_id):
    """The exercise's requirements cover its instructions, each backed by existing cases."""
    found = requirements.problems(EXERCISES[exercise_id])
    assert not found, f"{exercise_id}:\n  " + "\n  ".join(found)


def _copy_of(exercise_id, **changes):
    import dataclasses
    return dataclasses.replace(EXERCISES[exercise_id], **changes)


def test_the_tracer_fails_on_a_misquote_an_unknown_case_and_an_untraced_behaviour():
    """The tracing test itself can fail: a quote not in the notebook, a case that does not
    exist, a parameter nobody names, and a mentioned behaviour (dropout's randomness) that no
    requirement covers are each reported."""
    ex = EXERCISES["09.dropout"]
    assert requirements.problems(ex) == []
    broken = _copy_of("09.dropout", requirements=[
        Requirement("zero every second element", "training, p=0.1, a (64, 512) tensor"),
        Requirement("training=False: return x unchanged", "no such case"),
    ])
    found = "\n".join(requirements.problems(broken))
    assert "not a quote of the instructions: 'zero every second element'" in found
    assert "names no case of the exercise: 'no such case'" in found
    assert "parameter 'training' is named by no requirement" not in found   # quoted above
    assert "parameter 'p' is named by no requirement" in found
    assert "speak of randomness" in found
    assert "case 'training, p=1: everything dropped' is named by no requirement" in found


def test_an_error_the_instructions_ask_for_needs_a_case_where_the_reference_raises_it():
    """A ValueError requirement backed only by a case on which the reference returns normally
    is reported: the class of "a required ValueError that no case ever triggers"."""
    ex = EXERCISES.get("10.GPT")
    if ex is None or not any("ValueError" in r.says for r in ex.requirements):
        pytest.skip("needs 10.GPT's requirements, with its ValueError")
    normal = next(c.name for c in ex.cases if "long" not in c.name)
    broken = _copy_of("10.GPT", requirements=[
        Requirement(r.says, normal) if "ValueError" in r.says else r for r in ex.requirements])
    assert any("makes the reference raise it" in p for p in requirements.problems(broken))
