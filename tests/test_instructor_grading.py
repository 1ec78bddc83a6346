"""Instructor grading gives every chapter's reference solution full marks.

Why this exists: the trusted path (hidden cases, learner code in the sandbox) was first tried on
chapter 01 only. On the other chapters it scored correct answers 0: the import system listing
`grader/reference` while a notebook cell imported an earlier chapter's reference was taken for
the learner's own listing, the `nn.Module` checks that build their chapter's reference inside the
sandbox could not run there, and chapter 13's tokenizer could not reach the bundled vocabulary.
A grade that fails honest work is as worthless as one that passes a cheat, so every chapter's
solution notebook is graded here exactly as `nbgrader autograde` and `grader grade` do it.
"""
from pathlib import Path

import pytest

from grader.out_of_process import grade_submission

from tests import cheats

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.stem[:2] for p in SOLUTIONS])
def test_reference_gets_full_marks_under_instructor_grading(path):
    report = grade_submission(path, sandbox="auto")
    wrong = [(r.id, r.status, r.message) for r in report.results if r.status != "passed"]
    assert not wrong, wrong
    assert report.score == report.max_score > 0


def test_the_documented_grader_runner_import_still_works():
    """docs/grading-api.md documented `from grader.runner import grade_submission, Limits`
    before the module was named for where learner code runs (grader/out_of_process.py);
    graders written against it must keep working."""
    from grader import out_of_process, runner
    assert (runner.grade_submission, runner.Limits) == (out_of_process.grade_submission, out_of_process.Limits)


COURSE = {p.name[:2]: p for p in (ROOT / "course").glob("[0-9][0-9]_*.ipynb")}


@pytest.mark.parametrize("cheat", [cheats.import_answers, cheats.import_at_call_time], ids=lambda c: c.__name__)
@pytest.mark.parametrize("chapter", sorted(COURSE))
def test_importing_the_chapters_reference_scores_zero_in_every_chapter(tmp_path, chapter, cheat):
    """The attack "import the course's answer" in every chapter, not only chapter 01: every
    exercise's check must run beside learner code without the chapter's own reference (what a
    module check needs from it travels as data), so the import finds nothing and is named.
    Chapter 01's notebook also gets the other cheats in tests/test_nbgrader.py."""
    import nbformat
    path = tmp_path / COURSE[chapter].name
    nbformat.write(nbformat.from_dict(cheat(nbformat.read(COURSE[chapter], as_version=4), chapter)), path)
    report = grade_submission(path, sandbox="auto")
    scored = [(r.id, r.status, r.message[:200]) for r in report.results if r.points or r.status != "forbidden"]
    assert not scored, scored


BORROWED = [   # (chapter, exercise, cell source): the checks' own helpers, used as the answer
    ("08", "causal_mask", "from grader.exercises.common import lower_triangle as causal_mask\n"),
    ("08", "causal_mask", "import grader.exercises.common as course\n\n"
                          "def causal_mask(T):\n    return course.lower_triangle(T)\n"),
    ("12", "KVCache", "from grader.exercises.ch12 import _Cache\n\n\nclass KVCache(_Cache):\n    pass\n"),
]


@pytest.mark.parametrize("chapter, name, source", BORROWED, ids=lambda v: v if len(v) < 20 else None)
def test_an_answer_that_is_the_checks_own_code_scores_zero(tmp_path, chapter, name, source):
    """The checks must be in the sandbox, and some hold a helper that computes an exercise's
    answer (a causal mask for the inputs of chapters 07-08, a working KV cache for chapter 12's
    forward_cached): an answer that is, inherits or calls one earns 0, and the report says so."""
    import nbformat
    nb = nbformat.read(COURSE[chapter], as_version=4)
    for cell in nb.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == name:
            cell.source = source
    path = tmp_path / COURSE[chapter].name
    nbformat.write(nb, path)
    result = next(r for r in grade_submission(path, sandbox="auto").results if r.id == f"{chapter}.{name}")
    assert (result.status, result.points) == ("forbidden", 0), result.message
    assert "is the course's own code" in result.message
