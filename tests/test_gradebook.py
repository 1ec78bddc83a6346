"""`grader grade --gradebook`: the per-student summary an LMS gradebook imports.

One row per student, one column per chapter, in points. The rules that a plain sum of
scores.csv gets wrong are tested one by one: a notebook graded again after a change counts in
its latest version only, a missing chapter is an empty cell (not 0), an unreadable one is 0.
"""
import csv
import subprocess
import sys
from pathlib import Path

from grader.bulk import COLUMNS
from grader.gradebook import summarize
from tests.test_bulk import make_class

ROOT = Path(__file__).resolve().parent.parent


def write_scores(path, rows):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for student, notebook, exercise, points, sha in rows:
            writer.writerow({"student": student, "notebook": notebook, "exercise": exercise,
                             "status": "passed" if points else "failed", "points": points, "max_points": 1,
                             "message": "", "notebook_sha256": sha * 64})


def test_latest_version_best_notebook_missing_chapter_and_unreadable(tmp_path):
    scores = tmp_path / "scores.csv"
    write_scores(scores, [
        ("ada", "ada/01/01_mnist_as_numbers.ipynb", "01.to_vectors", 0, "a"),     # first version
        ("ada", "ada/01/01_mnist_as_numbers.ipynb", "01.to_vectors", 1, "b"),     # graded again
        ("ada", "ada/01/01_mnist_as_numbers.ipynb", "01.one_hot", 1, "b"),
        ("ada", "ada/02/02_feedforward.ipynb", "02.relu", 1, "c"),
        ("bob", "bob/01/01_mnist_as_numbers.ipynb", "", 0, "d"),                   # unreadable
        ("bob", "bob/01/01_copy.ipynb", "01.to_vectors", 1, "e"),                 # a second notebook of 01
    ])
    chapters, book = summarize(scores)
    assert chapters == ["01", "02"]
    assert book["ada"] == {"01": 2, "02": 1}
    assert book["bob"] == {"01": 1}          # the better of its two chapter-01 notebooks; no 02


def test_the_command_writes_one_row_per_student(tmp_path):
    """Through `grader grade`: the class of tests/test_bulk.py (full marks, stub, unreadable, one mistake)."""
    make_class(tmp_path / "submitted")
    done = subprocess.run([sys.executable, "-m", "grader", "grade", str(tmp_path / "submitted"),
                           "--csv", str(tmp_path / "scores.csv"), "--gradebook", str(tmp_path / "book.csv")],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    with open(tmp_path / "book.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["student", "01 (of 6)", "total (of 6)"]
    assert rows[1:] == [["ada", "6", "6"], ["bob", "0", "0"], ["cy", "0", "0"], ["dee", "5", "5"]]
