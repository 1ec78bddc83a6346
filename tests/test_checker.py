"""`check(...)` in the notebook: the learner's first and most frequent contact with the grader."""
import dataclasses

import numpy as np
import pytest

from grader import ExerciseFailed, check
from grader.engine import find_exercise, grade_function
from grader.feedback import format_result


def test_a_right_answer_prints_a_tick_per_test(capsys):
    def to_vectors(images):
        return images.reshape(len(images), -1) / 255.0
    result = check(to_vectors)
    out = capsys.readouterr().out
    assert result.passed and out.count("✔") == 1 + len(find_exercise("to_vectors").cases)


def test_a_stub_raises_not_implemented(capsys):
    def one_hot(labels, num_classes=10):
        raise NotImplementedError()
    with pytest.raises(NotImplementedError):
        check(one_hot)
    assert "not implemented yet" in capsys.readouterr().out


def test_a_wrong_answer_raises_and_names_the_mistake(capsys):
    """The report shows expected vs got and the recognised mistake, and the exception makes
    nbgrader's test cell fail."""
    def anything(images):
        return images.reshape(len(images), -1).astype(np.float64)
    with pytest.raises(ExerciseFailed):
        check("01.to_vectors", anything)
    out = capsys.readouterr().out
    assert "expected" in out and "got" in out and "forgot to divide by 255" in out


def test_an_endless_loop_is_stopped():
    """In a notebook an endless loop would hang the check; a timer stops it instead."""
    def to_vectors(images):
        while True:
            pass
    quick = dataclasses.replace(find_exercise("to_vectors"), time_limit=0.5)
    result = grade_function(quick, to_vectors)
    assert result.status == "timeout"


def test_a_wrong_earlier_answer_does_not_cost_a_later_exercise():
    """nearest_centroid_predict calls pairwise_sq_distances; while it is checked, that name
    refers to the reference, so the learner's own mistake there is not counted twice."""
    namespace = {"np": np}
    exec("def pairwise_sq_distances(A, B):\n    return A @ B.T\n"
         "def nearest_centroid_predict(X, C):\n    return pairwise_sq_distances(X, C).argmin(axis=1)\n", namespace)
    result = check(namespace["nearest_centroid_predict"], quiet=True)
    assert result.passed
    assert namespace["pairwise_sq_distances"].__code__.co_filename == "<string>"  # restored


def test_unknown_exercise_name_is_a_clear_error():
    def not_an_exercise():
        pass
    with pytest.raises(KeyError, match="no exercise called 'not_an_exercise'"):
        check(not_an_exercise)


def test_a_pass_that_needed_the_courses_version_of_another_exercise_is_marked_and_names_it():
    """A green tick means the learner's own code works (issue 15, point 5): when only the course's
    `pairwise_sq_distances` makes `nearest_centroid_predict` right, the points are given but the
    report is marked ⚠ and names the piece to fix, so the cells below that use the learner's own
    function do not contradict a tick. A helper of the learner's own in between counts too."""
    namespace = {"np": np}
    exec("def pairwise_sq_distances(A, B):\n    return A @ B.T\n"
         "def dist(A, B):\n    return pairwise_sq_distances(A, B)\n"
         "def nearest_centroid_predict(X, C):\n    return dist(X, C).argmin(axis=1)\n", namespace)
    result = check(namespace["nearest_centroid_predict"], quiet=True)
    assert result.passed and result.points == result.max_points
    assert "`pairwise_sq_distances`" in result.note and "fix it too" in result.note
    assert format_result(result).startswith("⚠ 01.nearest_centroid_predict")


def test_a_pass_with_the_learners_own_pieces_is_a_plain_tick():
    namespace = {"np": np}
    exec("def pairwise_sq_distances(A, B):\n"
         "    return (A**2).sum(1)[:, None] - 2 * A @ B.T + (B**2).sum(1)[None, :]\n"
         "def nearest_centroid_predict(X, C):\n    return pairwise_sq_distances(X, C).argmin(axis=1)\n", namespace)
    result = check(namespace["nearest_centroid_predict"], quiet=True)
    assert result.passed and result.note == ""
    assert format_result(result).startswith("✔ 01.nearest_centroid_predict")


def test_pytorchs_view_after_transpose_error_gets_the_courses_hint():
    """torch's "view size is not compatible" names strides, not the fix; the report adds it."""
    import torch  # noqa: F401 - the exercise is torch's

    def split_heads(x, n_head):
        B, T, C = x.shape
        return x.transpose(1, 2).view(B, n_head, T, C // n_head)
    result = check(split_heads, quiet=True, raise_on_failure=False)
    assert result.status == "error"
    assert ".contiguous().view(...)" in result.message and "What this usually means here" in result.message


def test_close_values_are_printed_with_the_digits_that_tell_them_apart():
    """"expected 0.000999616, got 0.000999616" reads as equal: more digits and the relative difference."""
    from grader.compare import compare_values
    fail = compare_values(np.array([0.000999616]), np.array([0.0009996163]), rtol=1e-9, atol=0)
    assert "expected 0.0009996163, got 0.000999616 " in fail.message
    assert "relative difference of 3.0e-07" in fail.message


def test_a_comparator_names_a_mistake_only_when_the_mistake_fails_the_same_way():
    """A known mistake is named only when it explains the learner's failure, never as a guess: a
    comparator that always blames `M` is believed only when M's own output fails the same way."""
    import dataclasses

    from grader.compare import Fail
    from grader.engine import Case, Exercise, Mistake, grade_function
    blamed = Mistake("off by one", "add one", lambda x: x + 1)

    def compare(got, expected, args):
        return None if np.array_equal(got, expected) else Fail(f"expected {expected}, got {got}", mistake=blamed)
    ex = Exercise("01.to_vectors", 1, "easy", 1, [Case("one", lambda rng: (np.array([1, 2]),))],
                  compare=compare, mistakes=[blamed])
    ex = dataclasses.replace(ex, cases=ex.cases)
    ex.reference = lambda: (lambda x: x)
    assert grade_function(ex, lambda x: x + 1).mistake == "off by one"
    assert grade_function(ex, lambda x: x * 5).mistake is None
