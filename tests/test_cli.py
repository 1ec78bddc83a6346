"""`grader check` on notebook files, as a learner or an instructor runs it from a terminal."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "solutions" / "01_mnist_as_numbers.ipynb"
STUDENT = ROOT / "course" / "01_mnist_as_numbers.ipynb"


def grader_check(notebook, *extra):
    proc = subprocess.run([sys.executable, "-m", "grader", "check", str(notebook), "--json", *extra],
                          capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout, proc.stderr


def statuses(stdout):
    report = json.loads(stdout)  # --json prints one JSON object and nothing else
    return {e["id"]: e["status"] for e in report["exercises"]}, report


def edit(notebook, tmp_path, change, name="01_mnist_as_numbers.ipynb"):
    nb = json.loads(Path(notebook).read_text())
    change(nb)
    path = tmp_path / name
    path.write_text(json.dumps(nb))
    return path


def cell_by_id(nb, gid):
    return next(c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == gid)


def test_reference_notebook_passes_everything():
    """The solutions notebook is the reference: full marks, exit 0."""
    code, out, err = grader_check(SOLUTION)
    found, report = statuses(out)
    assert code == 0, err
    assert set(found.values()) == {"passed"} and len(found) == 5
    assert report["score"] == report["max_score"] > 0


def test_student_notebook_passes_nothing():
    """The released stub must not earn a single point; every exercise says not_implemented."""
    code, out, _ = grader_check(STUDENT)
    found, report = statuses(out)
    assert code == 1
    assert set(found.values()) == {"not_implemented"}
    assert report["score"] == 0


def test_stripped_metadata_is_still_graded(tmp_path):
    """A notebook that lost its nbgrader metadata (copied cells, another editor) is graded by
    the names it defines, and says so."""
    def strip(nb):
        for cell in nb["cells"]:
            cell["metadata"] = {}
    code, out, _ = grader_check(edit(SOLUTION, tmp_path, strip))
    found, report = statuses(out)
    assert code == 0 and set(found.values()) == {"passed"}
    assert "found by name" in report["exercises"][0]["note"]


def test_one_wrong_answer_costs_only_that_exercise(tmp_path):
    """A known mistake fails, is named in the JSON report, and leaves the others passing."""
    def break_one_hot(nb):
        cell = cell_by_id(nb, "one_hot")
        cell["source"] = "def one_hot(labels, num_classes=10):\n    return np.eye(num_classes)[labels].T\n"
    code, out, _ = grader_check(edit(SOLUTION, tmp_path, break_one_hot))
    found, report = statuses(out)
    assert code == 1
    assert found.pop("01.one_hot") == "failed"
    assert set(found.values()) == {"passed"}
    item = next(e for e in report["exercises"] if e["id"] == "01.one_hot")
    assert item["mistake"] == "transposed result" and item["points"] == 0


def test_unreadable_notebook_exits_2(tmp_path):
    """Broken JSON is one clear sentence on stderr and exit code 2, not a traceback."""
    path = tmp_path / "01_mnist_as_numbers.ipynb"
    path.write_text('{"cells": [')
    proc = subprocess.run([sys.executable, "-m", "grader", "check", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "not a valid notebook" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("version", [3, 5])
def test_other_nbformat_versions_exit_2(tmp_path, version):
    path = edit(SOLUTION, tmp_path, lambda nb: nb.update(nbformat=version))
    code, out, _ = grader_check(path)
    assert code == 2
    assert f"nbformat {version}" in json.loads(out)["error"]


def test_a_check_graded_with_the_courses_version_of_another_exercise_says_so(tmp_path):
    """Out of process too (issue 15, point 5): a wrong `pairwise_sq_distances` does not cost
    `nearest_centroid_predict`, and its report says in one line whose version was used."""
    def break_distances(nb):
        cell_by_id(nb, "pairwise_sq_distances")["source"] = "def pairwise_sq_distances(A, B):\n    return A @ B.T\n"
    code, out, _ = grader_check(edit(SOLUTION, tmp_path, break_distances))
    found, report = statuses(out)
    assert found["01.pairwise_sq_distances"] == "failed" and found["01.nearest_centroid_predict"] == "passed"
    item = next(e for e in report["exercises"] if e["id"] == "01.nearest_centroid_predict")
    assert "the course's `pairwise_sq_distances` in place of yours" in item["note"]
