"""Hidden cases: every exercise has some, they are right, and they catch answers tuned to the public inputs.

Why this exists: instructor grading's promise is that an answer that only reproduces the
notebook's public cases does not score (docs/threat-model.md). That holds only if every
exercise has hidden cases, if those cases pass every correct answer (the reference and the
alternatives written differently: a hidden case that fails honest work is worse than none),
if the known mistakes still fail on them, and if they can travel to the sandbox (their `run`
named, their inputs sent as data). These tests check all of that in this process, quickly;
one test grades a notebook end to end in the sandbox and reads its report.
"""
import ast
import base64
import copy
import dataclasses
import importlib
import inspect
import json
import pickle
import zlib
from pathlib import Path

import pytest

from tests.alternatives import alternatives

from grader import engine
from grader.engine import HIDDEN_CASE_FAILED, Exercise, all_exercises, grade_function
from grader.hidden import SECRET_VARIABLE, hidden_cases, with_hidden
from grader.out_of_process import _hidden_program, grade_notebook, grade_submission
from grader.sandbox import bwrap_problem
from grader import values
from grader.withhold import without_mistake_code

SECRET = "the tests' secret"
EXERCISES = all_exercises()
CHAPTERS = sorted({ex.chapter for ex in EXERCISES.values()})


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv(SECRET_VARIABLE, SECRET)




def only_hidden(exercise: Exercise) -> Exercise:
    """The exercise with its hidden cases alone, so a verdict is about them only."""
    return dataclasses.replace(exercise, cases=hidden_cases(exercise))


# Exercises without hidden cases, and why. A function of no arguments has one right answer: an
# answer that returns it stored is a correct answer, so there is nothing a hidden input could catch.
NO_HIDDEN = {
    "13.bytes_to_unicode": "takes no arguments",
}


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_every_exercise_has_a_hidden_case(exercise_id):
    """Issue 14: an answer tuned to the public inputs must fail somewhere, in every chapter."""
    if exercise_id in NO_HIDDEN:
        assert not inspect.signature(EXERCISES[exercise_id].reference()).parameters
        pytest.skip(NO_HIDDEN[exercise_id])
    cases = hidden_cases(EXERCISES[exercise_id])
    assert cases, f"{exercise_id} has no hidden case in grader/hidden/ch{exercise_id[:2]}.py"
    for case in cases:
        assert case.name.startswith("hidden case: ") and case.seed is not None


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_hidden_cases_can_travel_to_the_sandbox(exercise_id):
    """The sandbox receives a hidden case's inputs as a pickle, and its `run` as the number of the
    public case whose run it reuses, or as a name looked up in the chapter module as staged there
    (grader/withhold.py drops private helpers that only the mistakes use): a `run` that cannot
    be sent, or that is gone from the staged module, would fail the reference itself under
    instructor grading."""
    exercise = with_hidden(EXERCISES[exercise_id])
    program = _hidden_program(exercise)
    assert len(program) == len(hidden_cases(exercise))
    for item in program:
        pickle.loads(base64.b64decode(item["args"]))
        if item.get("run_of_case") is not None:
            assert item["run_of_case"] < len(EXERCISES[exercise_id].cases)
        elif item.get("run"):
            module, qualname = item["run"].split(":")
            staged = ast.parse(without_mistake_code(inspect.getsource(importlib.import_module(module))))
            names = {n.name for n in staged.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))} | {
                t.id for n in staged.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
            assert qualname.split(".")[0] in names, (
                f"{item['name']}: its run {item['run']} is not in the chapter module the sandbox holds")


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_reference_and_alternatives_pass_the_hidden_cases(exercise_id):
    """A hidden case that fails a correct answer takes points from honest work."""
    exercise = with_hidden(EXERCISES[exercise_id])
    for answer in [exercise.reference(), *alternatives(exercise_id)]:
        result = grade_function(exercise, answer)
        assert result.passed, f"{getattr(answer, '__qualname__', answer)}: {result.status} {result.message}"


MISTAKES = [(ex.id, m.name) for ex in EXERCISES.values() for m in ex.mistakes]


@pytest.mark.parametrize("exercise_id,mistake_name", MISTAKES)
def test_known_mistakes_fail_the_hidden_cases_too(exercise_id, mistake_name):
    """The hidden cases are real tests, not only other inputs: each known mistake fails on them
    alone, so that a student whose answer makes it cannot pass them by luck of the public inputs
    (where a mistake shows only at an edge, a hidden case has that edge too)."""
    if exercise_id in NO_HIDDEN:
        pytest.skip(NO_HIDDEN[exercise_id])
    exercise = EXERCISES[exercise_id]
    mistake = next(m for m in exercise.mistakes if m.name == mistake_name)
    result = grade_function(only_hidden(exercise), mistake.fn)
    assert not result.passed, f"{mistake_name} passes every hidden case of {exercise_id}"


# ---------------------------------------------------------------- answers tuned to the public inputs

def _key(args, kwargs) -> int:
    """A fingerprint of a call's arguments (tensors and arrays by their bytes). `values.encode`,
    not a bare `encode`: while an answer is graded, the engine binds the chapter's other exercise
    names in the answer's module (chapter 05 has an `encode`) to the course's versions."""
    try:
        text = values.encode(values.normalize((args, kwargs)))
    except (TypeError, ValueError):
        text = repr((args, kwargs))
    return zlib.crc32(text.encode())


def tuned_to_public(exercise: Exercise):
    """An answer that has learnt the public cases by heart: the reference is called only on the
    public inputs, here, and what it returned is looked up by the arguments' fingerprint; on any
    other arguments it returns what it returned on the first public call."""
    reference = exercise.reference()
    table, first = {}, []

    def recorder(*args, **kwargs):
        out = reference(*args, **kwargs)
        table[_key(args, kwargs)] = out
        first.append(out)
        return out

    assert grade_function(exercise, recorder).passed

    def tuned(*args, **kwargs):
        return copy.deepcopy(table.get(_key(args, kwargs), first[0]))
    return tuned


def _function_exercises(chapter):
    return [ex for ex in EXERCISES.values()
            if ex.chapter == chapter and ex.id not in NO_HIDDEN and not inspect.isclass(ex.reference())]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_an_answer_tuned_to_the_public_inputs_fails_a_hidden_case(chapter):
    """The attack hidden cases exist for, in every chapter: right on every public case, wrong
    elsewhere. It passes `check` and fails instructor grading, on a case named as hidden."""
    caught = []
    for exercise in _function_exercises(chapter):
        tuned = tuned_to_public(exercise)
        if not grade_function(exercise, tuned).passed:
            continue   # it does not even fool the public cases (a random draw inside the check)
        result = grade_function(with_hidden(exercise), tuned)
        assert not result.passed, f"{exercise.id}: the tuned answer passes the hidden cases too"
        assert result.cases[-1].name.startswith("hidden case: "), result.message
        if result.status == "failed":   # no value of the hidden case is shown: it would tell its inputs
            assert HIDDEN_CASE_FAILED in result.message, result.message
        caught.append(exercise.id)
    if not caught:   # chapter 11: its public cases check gradients and calls a replay cannot fake
        pytest.skip(f"no answer tuned to chapter {chapter}'s public inputs passes its public cases")


# ---------------------------------------------------------------- end to end, in the sandbox

ROOT = Path(__file__).resolve().parent.parent


def _tuned_cell(exercise: Exercise) -> str:
    """A notebook cell defining `exercise`'s function as a lookup of the public cases: their
    inputs and the reference's outputs written into the source as lists, zeros otherwise."""
    public = []
    for i in range(len(exercise.cases)):
        args = engine.make_inputs(exercise, i)
        public.append(([a.tolist() for a in args], exercise.reference()(*args).tolist()))
    return (f"import torch\n\n_PUBLIC = {public!r}\n\n\n"
            f"def {exercise.name}(*args):\n"
            "    for inputs, output in _PUBLIC:\n"
            "        if all(a.shape == torch.tensor(b).shape and torch.equal(a, torch.tensor(b)) "
            "for a, b in zip(args, inputs)):\n"
            "            return torch.tensor(output)\n"
            "    return torch.zeros(args[0].shape[:-1] + args[1].shape[-2:-1])\n")


@pytest.mark.slow
@pytest.mark.skipif(bwrap_problem() is not None, reason=f"no sandbox here: {bwrap_problem()}")
def test_a_tuned_answer_fails_in_the_sandbox_on_a_hidden_case_named_by_its_description(tmp_path):
    """Chapter 07 graded as an instructor grades it: the tuned answer passes the public cases
    (`grader check`) and fails instructor grading on a hidden case, named by its description;
    the report shows neither the hidden inputs nor any code of grader/hidden."""
    exercise = EXERCISES["07.attention_scores"]
    source = ROOT / "solutions" / "07_attention.ipynb"
    nb = json.loads(source.read_text())
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == exercise.name:
            cell["source"] = _tuned_cell(exercise)
    path = tmp_path / source.name
    path.write_text(json.dumps(nb))

    assert grade_notebook(path).results[0].passed        # the control: public cases only
    report = grade_submission(path, sandbox="bwrap")
    results = {r.id: r for r in report.results}
    text = results[exercise.id].message
    assert results[exercise.id].status == "failed"
    names = [case.name for case in hidden_cases(exercise)]
    assert any(f"case '{name}'" in text for name in names), text
    hidden = with_hidden(exercise)
    for i in range(len(exercise.cases), len(hidden.cases)):
        for value in engine.make_inputs(hidden, i)[0].flatten()[:50].tolist():
            assert f"{value:.6g}" not in text, f"the report shows the hidden input {value:.6g}"
    code = (ROOT / "grader" / "hidden" / "ch07.py").read_text().splitlines()
    for line in code:
        line = line.strip()
        if len(line) > 12 and '"' not in line and not line.startswith("#"):
            assert line not in text, f"the report shows grader/hidden's code: {line}"
    assert "lambda" not in text and "rng" not in text
