"""Every grader check, proven able to fail and able to pass.

A check that cannot fail is worse than none: it tells a learner a wrong answer is right.
So for every exercise of the course these tests show that the engine
- passes the reference solution,
- passes a correct answer written differently (tests/alternatives/chNN.py),
- reports the released stub as `not_implemented`,
- fails every known mistake *and names it* (the hint the learner sees).
"""

import pytest

from tests.alternatives import alternatives

from grader.engine import all_exercises, grade_function

EXERCISES = all_exercises()
MISTAKES = [(ex.id, m.name) for ex in EXERCISES.values() for m in ex.mistakes]




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


def test_a_known_mistake_that_raises_is_named_by_its_exception():
    """A mistake can show as an exception (a shape error from a wrong transpose): when the
    learner's code raises what a known mistake raises on the same case, the report names it;
    a different exception is reported as it is, with no guessed name."""
    import dataclasses

    from grader.engine import Mistake

    def wrong_axis(*args):
        raise IndexError("Dimension out of range (expected to be in range of [-2, 1], but got 2)")

    ex = dataclasses.replace(EXERCISES["01.one_hot"],
                             mistakes=[Mistake("summed over the wrong axis", "use axis=1.", wrong_axis)])
    same = grade_function(ex, lambda *args: wrong_axis())
    assert same.status == "error" and same.mistake == "summed over the wrong axis"
    assert "use axis=1." in same.message

    def other(*args):
        raise ValueError("something else")
    different = grade_function(ex, other)
    assert different.status == "error" and different.mistake is None
    assert "This looks like a known mistake" not in different.message


def test_a_known_mistake_that_changes_the_input_is_named():
    """Sorting the labels in place (say) changes the caller's array: when the learner changes
    the arguments exactly as a known mistake does, the report names that mistake."""
    import dataclasses

    from grader.engine import Mistake
    from grader.reference.ch01 import one_hot

    def sorts_in_place(labels, *rest):
        labels.sort()
        return one_hot(labels, *rest)

    ex = dataclasses.replace(EXERCISES["01.one_hot"],
                             mistakes=[Mistake("sorted the labels in place", "work on a copy.", sorts_in_place)])

    def learner(labels, *rest):          # the same mistake, written differently
        labels[:] = sorted(labels.tolist())
        return one_hot(labels, *rest)
    same = grade_function(ex, learner)
    assert same.status == "failed" and same.mistake == "sorted the labels in place", same.message
    assert "changed its argument #1" in same.message

    def zeroes_in_place(labels, *rest):
        labels[:] = 0
        return one_hot(labels, *rest)
    different = grade_function(ex, zeroes_in_place)
    assert different.status == "failed" and different.mistake is None


def test_exercise_names_are_unique_across_the_course():
    """`check(encode)` finds its exercise by the function's name alone: were chapters 05 and 13
    both to call an exercise `encode`, a learner's BPE encoder would be graded as chapter 05's
    character encoder, silently. So a name may be used by one exercise only."""
    seen = {}
    for ex in EXERCISES.values():
        assert ex.name not in seen, f"{ex.id} and {seen[ex.name]} share the name {ex.name!r}"
        seen[ex.name] = ex.id


def test_no_chapter_module_imports_another_chapter_module():
    """Code that two chapters need lives in grader/exercises/common.py. A helper that lives in one
    chapter and is imported by another ties the two together: editing chapter 05's checks must not
    change chapter 08's. Read as syntax, so that a lazy import inside a function counts too."""
    import ast
    import pathlib
    import re

    folder = pathlib.Path(__file__).resolve().parent.parent / "grader" / "exercises"
    chapter = re.compile(r"(^|\.)ch\d\d($|\.)")
    offenders = []
    for path in sorted(folder.glob("ch[0-9][0-9].py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module or ''}.{a.name}" for a in node.names]
                # `from . import ch05` or `from .ch05 import x`; grader.reference.chNN is allowed
                if node.level == 1 and any(chapter.search(n) for n in names):
                    offenders.append(f"{path.name}:{node.lineno}")
            elif isinstance(node, ast.Import):
                if any(a.name.startswith("grader.exercises.ch") for a in node.names):
                    offenders.append(f"{path.name}:{node.lineno}")
    assert not offenders, (f"a chapter's checks import another chapter's: {offenders}; "
                           "move the shared code to grader/exercises/common.py")


def test_a_fail_names_its_mistake_by_the_object():
    """`Fail(..., mistake=X)` takes the Mistake object, so a misspelt mistake is a NameError (and
    a pyflakes warning) instead of a string that silently matches nothing. The engine refuses a
    string; this test shows it does so loudly."""
    from grader.compare import Fail
    from grader.engine import Case, Exercise, Mistake, judge_case, run_case

    wrong = Mistake("off by one", "add one.", lambda x: x)
    exercise = Exercise(id="98.plus_one", points=1, difficulty="easy", minutes=1,
                        cases=[Case("one number", lambda rng: (1,))], mistakes=[wrong],
                        compare=lambda got, expected, args: None if got == expected else Fail("no", mistake="off by one"))
    got, expected = run_case(exercise, 0, lambda x: x), run_case(exercise, 0, lambda x: x + 1)
    with pytest.raises(TypeError, match="Mistake object"):
        judge_case(exercise, 0, got, expected)
    exercise.compare = lambda got, expected, args: None if got == expected else Fail("no", mistake=wrong)
    assert judge_case(exercise, 0, got, expected).mistake == "off by one"


def test_a_failed_case_says_why_it_exists():
    """`Case.why` is written for the learner: a failing case's message ends with it."""
    from grader.engine import Case, Exercise, judge_case, run_case

    exercise = Exercise(id="98.plus_one", points=1, difficulty="easy", minutes=1,
                        cases=[Case("zero", lambda rng: (0,), why="zero is where an off-by-one shows")])
    got, expected = run_case(exercise, 0, lambda x: x), run_case(exercise, 0, lambda x: x + 1)
    assert "(why this case: zero is where an off-by-one shows)" in judge_case(exercise, 0, got, expected).message
    assert judge_case(exercise, 0, expected, expected).passed


def test_a_misspelt_variant_is_an_error_when_the_checks_are_imported():
    """A known mistake is the reference-like function with one behaviour switched off,
    `variant(_GPT, positions=False)`. A misspelt behaviour must stop the import, not make a
    "mistake" that quietly equals the reference (as a `mistake="no_pso"` string did)."""
    from grader.exercises.common import variant

    def embed(x, positions=True):
        return x + 1 if positions else x

    with pytest.raises(TypeError, match="positons"):
        variant(embed, positons=False)
    assert variant(embed, positions=False)(1) == 1 and embed(1) == 2
