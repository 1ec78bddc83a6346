"""nbgrader, driven the way an instructor drives it, on the course's own notebooks.

The course promises instructors that `solutions/` is an nbgrader source folder as it stands,
and that a grade cannot be had without doing the work. These tests run the README's
instructor commands word for word (read from the README itself, after the environment
activation it tells instructors to do, with no PATH fix of ours), place submissions between
`generate_assignment` and `autograde`, and check every score in nbgrader's `grades.csv` and in
`grader grade`'s CSV: the reference gets full marks, the released stub 0, and every cheating
submission of tests/cheats.py 0. A control run on a *stock* nbgrader configuration shows that
the kernel cheats do get full marks there, so the tests that they score 0 here can fail.
"""
import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.sandbox import bwrap_problem
from tests import cheats

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "01_mnist_as_numbers.ipynb"
ASSIGNMENT = "01_mnist_as_numbers"
pytestmark = pytest.mark.slow
ACTIVATE = Path(sys.prefix) / "bin" / "activate"
SANDBOX = bwrap_problem()
needs_sandbox = pytest.mark.skipif(SANDBOX is not None, reason=f"no sandbox here: {SANDBOX}")


def nbgrader(course, *args):
    """nbgrader run from inside the activated environment, as the README says."""
    proc = subprocess.run(["bash", "-c", f"source {ACTIVATE} && nbgrader " + " ".join(args)], cwd=course,
                          env=_env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _env():
    env = dict(os.environ)
    env["GRADER_HIDDEN_SECRET"] = "the tests' secret"
    if SANDBOX is not None:   # the cheats that need the sandbox are skipped, the rest still runs
        env["GRADER_SANDBOX"] = "auto"
    return env


def readme_commands() -> tuple[list[str], list[str]]:
    """The README's instructor block, split where submissions are collected. The install
    lines (pip, apt-get) are the environment these tests run in, so they are not rerun."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- instructor-commands -->\n```bash\n(.*?)```", text, re.S).group(1)
    before, after = block.split("# collect submissions", 1)
    keep = lambda lines: [l.split("  #")[0].strip() for l in lines.splitlines()  # noqa: E731
                          if l.strip() and not l.startswith(("python3 -m venv", "sudo apt-get", "#"))]
    return keep(before), keep(after.split("\n", 1)[1])


def run_lines(lines, cwd):
    script = "set -e\n" + "\n".join(l.replace("source .venv/bin/activate", f"source {ACTIVATE}") for l in lines)
    proc = subprocess.run(["bash", "-c", script], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=900)
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


def one_mistake(nb):
    """The reference with to_vectors' known mistake "forgot to divide by 255"."""
    for cell in nb["cells"]:
        if grade_id(cell) == "to_vectors":
            cell["source"] = "def to_vectors(images):\n    return images.reshape(len(images), -1).astype(np.float64)\n"
    return nb


def submit(course, student, nb):
    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / NOTEBOOK).write_text(json.dumps(nb))


def read_scores(course):
    with open(course / "grades.csv") as f:
        return {row["student_id"]: (float(row["score"]), float(row["max_score"])) for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    if not ACTIVATE.exists():
        pytest.skip(f"the tests do not run in a virtual environment ({ACTIVATE} missing)")
    clone = tmp_path_factory.mktemp("clone")   # what the README's commands need of a fresh clone
    shutil.copy(ROOT / "nbgrader_config.py", clone)
    shutil.copytree(ROOT / "solutions", clone / "solutions")
    before, after = readme_commands()
    run_lines(before, clone)
    course = clone / "my-course"
    released = json.loads((course / "release" / ASSIGNMENT / NOTEBOOK).read_text())
    reference = json.loads((ROOT / "solutions" / NOTEBOOK).read_text())
    copy = lambda nb: json.loads(json.dumps(nb))  # noqa: E731
    submit(course, "reference", reference)
    submit(course, "stub", released)
    submit(course, "tampered", tamper(copy(released)))
    submit(course, "deleted", delete_tests(copy(released)))
    submit(course, "stripped", strip_metadata(copy(reference)))
    submit(course, "mistake", one_mistake(copy(reference)))
    for cheat in cheats.CHEATS:
        submit(course, cheat.__name__, cheat(released, "01"))
    setup = [l for l in before if l.startswith(("source ", "export ", "cd "))]
    run_lines(setup + after, clone)     # the activation, then autograde, export, grader grade
    with open(course / "scores.csv") as f:
        rows = list(csv.DictReader(f))
    return course, read_scores(course), released, rows


def test_released_notebook_matches_course_folder(graded):
    """nbgrader's own release of solutions/ is what course/ holds (same stubs, same cells)."""
    released = graded[2]
    ours = json.loads((ROOT / "course" / NOTEBOOK).read_text())
    def sources(nb):  # course/ adds one cell: the Colab and Binder launch badges
        return ["".join(c["source"]).strip() for c in nb["cells"] if c.get("id") != "launch-badges"]
    assert sources(released) == sources(ours)


def test_reference_submission_gets_full_marks(graded):
    scores = graded[1]
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
    course, scores = graded[0], graded[1]
    assert scores["stripped"][0] == 0
    path = course / "submitted" / "stripped" / ASSIGNMENT / NOTEBOOK
    proc = subprocess.run([sys.executable, "-m", "grader", "check", str(path), "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["score"] == 6


def test_the_reference_with_one_mistake_loses_that_exercise_only(graded):
    assert graded[1]["mistake"] == (5, 6)


@needs_sandbox
@pytest.mark.parametrize("cheat", cheats.CHEATS, ids=lambda c: c.__name__)
def test_every_cheat_scores_zero_in_nbgrader(graded, cheat):
    """The attack in the cheat's docstring (tests/cheats.py) earns nothing in nbgrader's gradebook."""
    assert graded[1][cheat.__name__] == (0, 6), cheat.__doc__


@needs_sandbox
@pytest.mark.parametrize("cheat", cheats.CHEATS, ids=lambda c: c.__name__)
def test_every_cheat_scores_zero_in_grader_grade(graded, cheat):
    """The same attack earns nothing from `grader grade`, run as the README says."""
    rows = [r for r in graded[3] if r["student"] == cheat.__name__]
    assert len(rows) == 5 and sum(float(r["points"]) for r in rows) == 0, cheat.__doc__


@needs_sandbox
@pytest.mark.parametrize("cheat", cheats.ANSWER_CHEATS, ids=lambda c: c.__name__)
def test_reaching_for_the_answer_is_named_in_one_sentence(graded, cheat):
    """Every exercise of a submission that reaches for the reference says why it earned 0:
    in grader grade's CSV and in the feedback nbgrader keeps (the autograded notebook)."""
    rows = [r for r in graded[3] if r["student"] == cheat.__name__]
    for row in rows:
        assert row["status"] == "forbidden" and row["message"].startswith("0 points: your code tried to ")
        assert row["message"].count(". ") == 0 and row["message"].endswith(".")
    autograded = json.loads((graded[0] / "autograded" / cheat.__name__ / ASSIGNMENT / NOTEBOOK).read_text())
    test_cells = [c for c in autograded["cells"] if grade_id(c).startswith("test_")]
    assert len(test_cells) == 5
    for cell in test_cells:
        text = "".join("".join(o.get("text", "")) for o in cell["outputs"])
        assert "your code tried to" in text and any(o["output_type"] == "error" for o in cell["outputs"])


def test_nbgrader_and_grader_grade_agree(graded):
    """Two ways of grading, one engine: per student, the same total (the stripped notebook
    aside, which nbgrader cannot match to its gradebook; see test_stripped_metadata_trap)."""
    course, scores, _, rows = graded
    totals = {}
    for row in rows:
        totals[row["student"]] = totals.get(row["student"], 0) + float(row["points"] or 0)
    for student, (score, _) in scores.items():
        if student not in ("stripped", "deleted"):
            assert totals[student] == score, student


def test_feedback_shows_the_course_messages(graded):
    """`nbgrader generate_feedback` shows the course's report: the mistake and its hint."""
    course = graded[0]
    nbgrader(course, "generate_feedback", ASSIGNMENT, "--student", "mistake")
    html = next((course / "feedback" / "mistake" / ASSIGNMENT).glob("*.html")).read_text()
    assert "forgot to divide by 255" in html and "divide by 255.0" in html


@pytest.fixture(scope="module")
def stock(tmp_path_factory, graded):
    """The same course on nbgrader's stock autograde (test cells run in the student's kernel)."""
    course = tmp_path_factory.mktemp("stock")
    config = (ROOT / "nbgrader_config.py").read_text()
    config = config.replace("c.Autograde.autograde_preprocessors = autograde_preprocessors()", "")
    assert "autograde_preprocessors()" not in config.split("import autograde_preprocessors")[1]
    (course / "nbgrader_config.py").write_text(config)
    shutil.copytree(graded[0] / "source", course / "source")
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    released = graded[2]
    for cheat in cheats.KERNEL_CHEATS:
        submit(course, cheat.__name__, cheat(released, "01"))
    nbgrader(course, "autograde", ASSIGNMENT, "--create")
    nbgrader(course, "export")
    return read_scores(course)


@pytest.mark.parametrize("cheat", cheats.KERNEL_CHEATS, ids=lambda c: c.__name__)
def test_kernel_cheats_get_full_marks_from_stock_nbgrader(stock, cheat):
    """Control: without the course's plugin these attacks work, so the tests above that they
    score 0 are tests that can fail."""
    assert stock[cheat.__name__] == (6, 6), cheat.__doc__
