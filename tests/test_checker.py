"""`check(...)` in the notebook: the learner's first and most frequent contact with the grader."""
import dataclasses

import numpy as np
import pytest

from grader import ExerciseFailed, check
from grader.engine import find_exercise, grade_function


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
