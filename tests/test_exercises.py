"""Every grader check, proven able to fail and able to pass.

A check that cannot fail is worse than none: it tells a learner a wrong answer is right.
So for every exercise of the course these tests show that the engine
- passes the reference solution,
- passes a correct answer written differently (tests/alternatives/chNN.py),
- reports the released stub as `not_implemented`,
- fails every known mistake *and names it* (the hint the learner sees).
"""
import importlib

import pytest

from grader.engine import all_exercises, grade_function

EXERCISES = all_exercises()
MISTAKES = [(ex.id, m.name) for ex in EXERCISES.values() for m in ex.mistakes]


def alternatives(exercise_id):
    chapter = exercise_id.split(".")[0]
    try:
        module = importlib.import_module(f"tests.alternatives.ch{chapter}")
    except ModuleNotFoundError:
        return []
    return module.ALTERNATIVES.get(exercise_id, [])


def stub(*args, **kwargs):
    raise NotImplementedError()


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_reference_passes(exercise_id):
    """The reference solution (generated from solutions/) must get full marks."""
    ex = EXERCISES[exercise_id]
    result = grade_function(ex, ex.reference())
    assert result.passed, result.message
    assert result.points == ex.points


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_alternative_answers_pass(exercise_id):
    """A correct answer need not be the reference's: each alternative must pass too."""
    found = alternatives(exercise_id)
    assert found, f"{exercise_id} has no alternative correct answer in tests/alternatives"
    for fn in found:
        result = grade_function(EXERCISES[exercise_id], fn)
        assert result.passed, f"{fn.__module__}.{fn.__qualname__}: {result.message}"


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_stub_is_not_implemented(exercise_id):
    """The learner's starting point reports 'not implemented', never a pass or a crash."""
    result = grade_function(EXERCISES[exercise_id], stub)
    assert result.status == "not_implemented"
    assert result.points == 0


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_every_exercise_knows_two_mistakes(exercise_id):
    """The curriculum asks for at least two realistic mistakes per exercise."""
    assert len(EXERCISES[exercise_id].mistakes) >= 2


@pytest.mark.parametrize("exercise_id,mistake_name", MISTAKES)
def test_known_mistake_fails_and_is_named(exercise_id, mistake_name):
    """Each known-wrong answer must fail, and the report must name that very mistake."""
    ex = EXERCISES[exercise_id]
    mistake = next(m for m in ex.mistakes if m.name == mistake_name)
    result = grade_function(ex, mistake.fn)
    assert result.status == "failed", f"{mistake_name}: {result.status} {result.message}"
    assert result.points == 0
    assert result.mistake == mistake_name, f"named {result.mistake!r} instead; message: {result.message}"
    assert mistake.hint in result.message


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_exercise_metadata(exercise_id):
    """Points, difficulty and a time estimate are part of every exercise."""
    ex = EXERCISES[exercise_id]
    assert ex.points > 0 and ex.minutes > 0
    assert ex.difficulty in ("easy", "medium", "hard")
    assert len(ex.cases) >= 2
