"""`grader grade`: a whole class at once, where one broken submission must never stop the batch."""
import csv
import json
import subprocess
import sys
from pathlib import Path

from grader.bulk import grade_folder

ROOT = Path(__file__).resolve().parent.parent
NB = "01_mnist_as_numbers.ipynb"


def make_class(root: Path):
    """nbgrader's layout: submitted/<student>/<assignment>/<notebook>."""
    def put(student, text):
        folder = root / student / "01_mnist_as_numbers"
        folder.mkdir(parents=True)
        (folder / NB).write_text(text)
    put("ada", (ROOT / "solutions" / NB).read_text())
    put("bob", (ROOT / "course" / NB).read_text())
    put("cy", "{ this is not json")
    wrong = json.loads((ROOT / "solutions" / NB).read_text())
    for cell in wrong["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "one_hot":
            cell["source"] = "def one_hot(labels, num_classes=10):\n    return np.eye(num_classes)[labels].T\n"
    put("dee", json.dumps(wrong))


def read(csv_path):
    with open(csv_path, newline="") as f:
        return list(csv.DictReader(f))


def scores(rows):
    totals = {}
    for r in rows:
        totals[r["student"]] = totals.get(r["student"], 0) + float(r["points"])
    return totals


def test_a_class_is_graded_into_one_row_per_student_and_exercise(tmp_path):
    make_class(tmp_path / "submitted")
    out = tmp_path / "scores.csv"
    graded = grade_folder(tmp_path / "submitted", out, jobs=2)
    rows = read(out)
    assert graded == 4
    assert scores(rows) == {"ada": 6, "bob": 0, "cy": 0, "dee": 5}
    assert [r["status"] for r in rows if r["student"] == "cy"] == ["unreadable"]
    assert sum(r["student"] == "ada" for r in rows) == 5


def test_grading_resumes_where_it_stopped(tmp_path):
    """After an interruption (here: a CSV holding only some notebooks, plus a half-written
    last line), the same command grades only what is missing, and a changed submission again."""
    make_class(tmp_path / "submitted")
    out = tmp_path / "scores.csv"
    grade_folder(tmp_path / "submitted", out, jobs=1)
    rows = read(out)
    kept = [r for r in rows if r["student"] in ("ada", "cy")]
    with open(out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept)
        f.write("bob,01_mnist_as_numbers/01_mnist_as_n")  # cut off mid-row
    assert grade_folder(tmp_path / "submitted", out, jobs=2) == 2
    assert scores(read(out)) == {"ada": 6, "bob": 0, "cy": 0, "dee": 5}
    assert grade_folder(tmp_path / "submitted", out, jobs=2) == 0
    (tmp_path / "submitted" / "ada" / "01_mnist_as_numbers" / NB).write_text(
        (ROOT / "course" / NB).read_text())  # ada resubmits
    assert grade_folder(tmp_path / "submitted", out, jobs=2) == 1


def test_command_line(tmp_path):
    make_class(tmp_path / "submitted")
    proc = subprocess.run([sys.executable, "-m", "grader", "grade", str(tmp_path / "submitted"),
                           "--csv", str(tmp_path / "s.csv"), "--jobs", "2"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "[4/4]" in proc.stderr
    assert len(read(tmp_path / "s.csv")) == 5 + 5 + 1 + 5
