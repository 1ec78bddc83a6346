"""`check(...)`: grade a live function or class in the learner's own kernel, inside the
notebook (works on Colab). Instructor grading of a notebook file runs learner code in a child
process instead: grader/out_of_process.py."""
import re

from .engine import ExerciseResult, ReferenceUnavailable, find_exercise, grade_function
from .feedback import format_result


class ExerciseFailed(AssertionError):
    """Raised by `check` when an answer is not right, so nbgrader marks the test cell failed."""


def check(target, fn=None, *, quiet=False, raise_on_failure=True) -> ExerciseResult:
    """Check one exercise and print a short report.

        check(to_vectors)                   # the exercise is found by the function's name
        check("01.to_vectors", my_version)  # or named explicitly

    Raises `NotImplementedError` for a stub and `ExerciseFailed` for a wrong answer (set
    `raise_on_failure=False` to only print); returns the result when the answer is right.
    """
    __tracebackhide__ = True  # IPython and pytest hide this frame from tracebacks
    if fn is None:
        fn = target
        key = getattr(target, "__name__", None)
        if key is None:
            raise TypeError("check() needs the function or class you wrote, e.g. check(to_vectors)")
    else:
        key = target
    try:
        exercise = find_exercise(key)
        result = grade_function(exercise, fn)
    except (ReferenceUnavailable, ModuleNotFoundError) as exc:
        chapter = withheld_chapter(exc)
        if chapter is None:
            raise
        raise ReferenceUnavailable(chapter) from None   # says which chapter, and why it is missing
    if not quiet:
        print(format_result(result))
    if raise_on_failure and not result.passed:
        if result.status == "not_implemented":
            raise NotImplementedError(f"{exercise.id} is not implemented yet")
        raise ExerciseFailed(f"{exercise.id}: {result.message.splitlines()[0] if result.message else result.status}")
    return result


def withheld_chapter(exc) -> str | None:
    """The chapter whose reference `exc` says is missing, or None for another error."""
    if isinstance(exc, ReferenceUnavailable):
        return exc.chapter
    found = re.fullmatch(r"grader\.reference\.ch(\d\d)", getattr(exc, "name", None) or "")
    return found.group(1) if found else None
