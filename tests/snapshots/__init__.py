"""Frozen expected values: what each chapter's reference returns on every public case.

The exercise tests compare the learner with the reference, so they cannot see an edit to a
solution that changes its numbers. `tests/test_snapshots.py` compares the reference with the
values stored here, exactly. After a deliberate change to a solution (or to a case's inputs),
regenerate the chapter's file and commit it with the change:

    PYTHONPATH=$PWD python -m tests.snapshots 09        # or no argument: every chapter

One JSON file per chapter, `chNN.json`: {exercise id: [case 0, case 1, ...]}. A case is the
reference's outcome in the encoding `grader student-build` stores (grader.out_of_process._encode_outcome),
without its time; a value or inputs_after longer than LARGE characters is stored as the SHA-256
of that encoding (`value_sha256`), which is just as exact and keeps the files small.
"""
import hashlib
import json
from pathlib import Path

from grader.engine import all_exercises, run_case
from grader.out_of_process import _encode_outcome

FOLDER = Path(__file__).resolve().parent
LARGE = 2000
PARTS = ("value", "inputs_after")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def encoded_outcome(exercise, index, fn) -> dict:
    """Case `index` of `exercise` run on `fn`, encoded as it is stored (large parts in full)."""
    outcome = _encode_outcome(run_case(exercise, index, fn), 1 << 30)
    return outcome


def shrink(outcome: dict) -> dict:
    outcome = dict(outcome)
    for part in PARTS:
        if outcome.get(part) is not None and len(outcome[part]) > LARGE:
            outcome[f"{part}_sha256"] = sha256(outcome.pop(part))
    return outcome


def path(chapter: str) -> Path:
    return FOLDER / f"ch{chapter}.json"


def stored(exercise) -> list | None:
    """The stored cases of `exercise`, or None when its chapter has no snapshot of it."""
    file = path(exercise.chapter)
    return json.loads(file.read_text()).get(exercise.id) if file.exists() else None


def write(chapter: str):
    exercises = {ex_id: ex for ex_id, ex in all_exercises().items() if ex.chapter == chapter}
    data = {ex_id: [shrink(encoded_outcome(ex, i, ex.reference())) for i in range(len(ex.cases))]
            for ex_id, ex in sorted(exercises.items())}
    path(chapter).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"{path(chapter).name}: {len(data)} exercises, {path(chapter).stat().st_size / 1024:.0f} KiB")


def main(chapters):
    for chapter in chapters or sorted({ex.chapter for ex in all_exercises().values()}):
        write(chapter)
