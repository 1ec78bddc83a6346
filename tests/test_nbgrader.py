"""nbgrader, driven the way an instructor drives it, on the course's own notebooks.

The course promises instructors that `solutions/` is an nbgrader source folder as it stands.
These tests build a course directory, run `nbgrader generate_assignment`, place submissions,
run `nbgrader autograde` and `nbgrader export`, and check every score, including the
submissions that fall into nbgrader's known traps (see README, "For instructors").
"""
import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "01_mnist_as_numbers.ipynb"
ASSIGNMENT = "01_mnist_as_numbers"
pytestmark = pytest.mark.slow


def nbgrader(course, *args):
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")  # nbgrader runs `alembic`
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def grade_id(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")


def tamper(nb):
    """A student 'fixes' the tests: every locked test cell just passes."""
    for cell in nb["cells"]:
        if grade_id(cell).startswith("test_"):
            cell["source"] = "pass"
    return nb


def delete_tests(nb):
    nb["cells"] = [c for c in nb["cells"] if not grade_id(c).startswith("test_")]
    return nb


def strip_metadata(nb):
    for cell in nb["cells"]:
        cell["metadata"] = {}
    return nb


def submit(course, student, nb):
    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / NOTEBOOK).write_text(json.dumps(nb))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    (course / "source" / ASSIGNMENT).mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / NOTEBOOK, course / "source" / ASSIGNMENT)
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    released = json.loads((course / "release" / ASSIGNMENT / NOTEBOOK).read_text())
    reference = json.loads((ROOT / "solutions" / NOTEBOOK).read_text())
    submit(course, "reference", reference)
    submit(course, "stub", released)
    submit(course, "tampered", tamper(json.loads(json.dumps(released))))
    submit(course, "deleted", delete_tests(json.loads(json.dumps(released))))
    submit(course, "stripped", strip_metadata(json.loads(json.dumps(reference))))
    nbgrader(course, "autograde", ASSIGNMENT, "--create")
    nbgrader(course, "export")
    with open(course / "grades.csv") as f:
        scores = {row["student_id"]: (float(row["score"]), float(row["max_score"])) for row in csv.DictReader(f)}
    return course, scores, released


def test_released_notebook_matches_course_folder(graded):
    """nbgrader's own release of solutions/ is what course/ holds (same stubs, same cells)."""
    _, _, released = graded
    ours = json.loads((ROOT / "course" / NOTEBOOK).read_text())
    def sources(nb):  # course/ adds one cell: the Colab and Binder launch badges
        return ["".join(c["source"]).strip() for c in nb["cells"] if c.get("id") != "launch-badges"]
    assert sources(released) == sources(ours)


def test_reference_submission_gets_full_marks(graded):
    _, scores, _ = graded
    score, max_score = scores["reference"]
    assert max_score == 6 and score == max_score


def test_released_stub_scores_zero(graded):
    assert graded[1]["stub"][0] == 0


def test_tampered_test_cells_are_restored(graded):
    """Locked cells are overwritten from the gradebook, so editing a test earns nothing."""
    assert graded[1]["tampered"][0] == 0


def test_deleted_test_cells_earn_nothing(graded):
    assert graded[1]["deleted"][0] == 0


def test_stripped_metadata_trap(graded):
    """nbgrader's known trap: a notebook whose metadata was stripped scores 0 *silently*,
    even though every answer is right. `grader check` finds the cells by name and gives the
    marks the answers deserve; the README tells instructors to run it on such notebooks."""
    course, scores, _ = graded
    assert scores["stripped"][0] == 0
    path = course / "submitted" / "stripped" / ASSIGNMENT / NOTEBOOK
    proc = subprocess.run([sys.executable, "-m", "grader", "check", str(path), "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["score"] == 6
