"""The reference against frozen expected values (tests/snapshots/), exactly.

Every other exercise test compares an answer with the reference on the same inputs, so an edit
to a solution that changes its numbers (or to a case's inputs) would pass unnoticed. This one
fails then, and says how to regenerate the snapshot when the change is meant.
"""
import pytest

from grader.compare import compare_values
from grader.engine import all_exercises
from grader.values import decode
from tests import snapshots

EXERCISES = all_exercises()


def difference(exercise, index, fn, want):
    """None when `fn` gives exactly the stored case, else what differs."""
    got = snapshots.encoded_outcome(exercise, index, fn)
    if (got["error"], got["not_implemented"]) != (want["error"], want["not_implemented"]):
        return f"error={got['error']!r}, the snapshot has {want['error']!r}"
    for part in snapshots.PARTS:
        if f"{part}_sha256" in want:
            if got[part] is None or snapshots.sha256(got[part]) != want[f"{part}_sha256"]:
                return f"its {part} is not the stored one (compared by SHA-256)"
        elif got[part] != want[part]:
            if got[part] is None or want[part] is None:
                return f"its {part} is {got[part]!r}, the snapshot's {want[part]!r}"
            fail = compare_values(decode(got[part]), decode(want[part]), rtol=0, atol=0, where=part)
            return fail.message if fail else f"its {part} is encoded differently"
    return None


@pytest.mark.parametrize("exercise_id", sorted(EXERCISES))
def test_reference_matches_its_snapshot(exercise_id):
    """Bit for bit: the snapshot was written by this reference on these inputs."""
    ex = EXERCISES[exercise_id]
    regenerate = f"if the change is meant, run `PYTHONPATH=$PWD python -m tests.snapshots {ex.chapter}`"
    stored = snapshots.stored(ex)
    assert stored is not None, f"no snapshot of {exercise_id}: {regenerate}"
    assert len(stored) == len(ex.cases), f"{exercise_id} has {len(ex.cases)} cases, its snapshot {len(stored)}: {regenerate}"
    for i, (case, want) in enumerate(zip(ex.cases, stored)):
        problem = difference(ex, i, ex.reference(), want)
        assert problem is None, f"{exercise_id}, case {case.name!r}: the reference moved: {problem}; {regenerate}"


@pytest.mark.parametrize("exercise_id, index", [("04.softmax", 0), ("01.pairwise_sq_distances", 0)])
def test_a_changed_reference_fails_its_snapshot(exercise_id, index):
    """The comparison can fail, for a value stored in full and for one stored as a hash: a
    reference that returns numbers off in the 12th digit is caught."""
    ex = EXERCISES[exercise_id]
    want = snapshots.stored(ex)[index]
    assert difference(ex, index, lambda *args: ex.reference()(*args) * (1 + 1e-12), want) is not None
    assert difference(ex, index, ex.reference(), want) is None
