"""The reference against frozen expected values (tests/snapshots/), to within float rounding.

Every other exercise test compares an answer with the reference on the same inputs, so an edit
to a solution that changes its numbers (or to a case's inputs) would pass unnoticed. This one
fails then, and says how to regenerate the snapshot when the change is meant. Floats are
compared to within the rounding that differs between CPUs (tests/snapshots/__init__.py): the
first, bit-for-bit version failed 22 exercises on another machine than the one that wrote it.
"""
import pytest

from grader.engine import all_exercises
from tests import snapshots

EXERCISES = all_exercises()


def difference(exercise, index, fn, want):
    """None when `fn` gives the stored case, else what differs."""
    got = snapshots.outcome(exercise, index, fn)
    if (got["error"], got["not_implemented"]) != (want["error"], want["not_implemented"]):
        return f"error={got['error']!r}, the snapshot has {want['error']!r}"
    for part in snapshots.PARTS:
        problem = snapshots.difference(got[part], want[part], where=part)
        if problem:
            return problem
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


@pytest.mark.parametrize("exercise_id, index, factor, stored_as", [
    ("04.softmax", 0, 1 + 1e-7, "values"),                 # float64, stored whole
    ("01.pairwise_sq_distances", 2, 1 + 1e-7, "samples"),  # float64, a large array: sums and samples
    ("09.LayerNorm", 0, 1 + 1e-4, "samples"),              # a float32 tensor
])
def test_a_changed_reference_fails_its_snapshot(exercise_id, index, factor, stored_as):
    """The comparison can fail, for a value stored whole and for one stored as sums and samples:
    a reference whose numbers move by more than rounding (the 7th digit of a float64, the 4th of
    a float32) is caught."""
    ex = EXERCISES[exercise_id]
    want = snapshots.stored(ex)[index]
    assert difference(ex, index, ex.reference(), want) is None
    if isinstance(ex.reference(), type):
        class Moved(ex.reference()):
            def forward(self, *args):
                return super().forward(*args) * factor
        assert difference(ex, index, Moved, want) is not None
    else:
        assert difference(ex, index, lambda *args: ex.reference()(*args) * factor, want) is not None
    assert f"'{stored_as}'" in str(want["value"]), "the case does not test what its comment says"


def test_rounding_between_machines_is_not_a_difference():
    """What another CPU gives: every float moved by a few units of its last digits."""
    import numpy as np
    from grader.values import TensorValue
    for value, dtype, ulps in ((np.linspace(-3, 5, 1000), np.float64, 1e-14), (np.linspace(-3, 5, 10), np.float64, 1e-14),
                               (np.linspace(-3, 5, 1000), np.float32, 1e-6), (np.linspace(-3, 5, 10), np.float32, 1e-6)):
        a = value.astype(dtype)
        b = (a * (1 + ulps)).astype(dtype)
        assert snapshots.difference(snapshots.fingerprint(b), snapshots.fingerprint(a)) is None
        assert snapshots.difference(snapshots.fingerprint(TensorValue(b, "torch.float32")),
                                    snapshots.fingerprint(TensorValue(a, "torch.float32"))) is None
        assert snapshots.difference(snapshots.fingerprint(a * 1.01), snapshots.fingerprint(a)) is not None
