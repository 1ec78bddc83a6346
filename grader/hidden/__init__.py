"""Hidden cases: further inputs (other seeds and shapes) that only instructor grading runs.

`grader/hidden/chNN.py` defines `HIDDEN = {"NN.name": [Case(...), ...]}`. The student
install (`grader student-build`) leaves this folder out, and the sandbox that runs learner
code during instructor grading does not contain it: the grading process builds a hidden
case's inputs and sends them as data. So a hidden case's `run`, if set, must be one the
sandbox has: the run of one of the exercise's public cases (sent as that case's number), or a
function or top-level name of the chapter's `grader.exercises` module (sent by name). Its
`compare` runs in the grading process.

The repository is public, so these definitions are too. What a student cannot know is the
seed: every hidden case draws its inputs from a seed mixed with the instructor's secret,
`GRADER_HIDDEN_SECRET` (set it in nbgrader_config.py or the environment before grading).
An answer tuned to the public inputs, or to the hidden inputs of another secret, fails.
"""
import dataclasses
import importlib
import os
import zlib

from ..engine import Case, Exercise

SECRET_VARIABLE = "GRADER_HIDDEN_SECRET"


def hidden_cases(exercise: Exercise) -> list:
    """The exercise's hidden cases, each seeded from the instructor's secret."""
    try:
        module = importlib.import_module(f"grader.hidden.ch{exercise.chapter}")
    except ModuleNotFoundError:
        return []
    secret = os.environ.get(SECRET_VARIABLE, "")
    cases = []
    for i, case in enumerate(module.HIDDEN.get(exercise.id, [])):
        seed = zlib.crc32(f"{secret}/{exercise.id}/hidden#{i}".encode())
        cases.append(dataclasses.replace(case, name=f"hidden case: {case.name}", seed=seed))
    return cases


def with_hidden(exercise: Exercise) -> Exercise:
    """The exercise with its hidden cases after the public ones."""
    return dataclasses.replace(exercise, cases=list(exercise.cases) + hidden_cases(exercise))


def like(exercise, i, name, inputs):
    """A hidden case that runs and compares as the exercise's public case `i` does (its very
    `run` and `compare` objects, so the sandbox gets the run by case number)."""
    case = exercise.cases[i]
    return Case(name, inputs, run=case.run, compare=case.compare)
