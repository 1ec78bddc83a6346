"""The notebooks and the package agree: one source, generated copies in step, metadata intact."""
import dataclasses
import json

import pytest

from grader import REPOSITORY
from grader.authoring import colab_cell_source
from grader.build import (COURSE, LAUNCH_LINK, README, SOLUTIONS, badges, build_all, chapter_exercises_or_none,
                          exercise_headers, header_text, readme_with_repository, stale_headers)
from grader.engine import all_exercises
from grader.notebook import grade_id

EXERCISES = all_exercises()
CHAPTERS = sorted({ex.chapter for ex in EXERCISES.values()})


def notebook_for(chapter, folder):
    found = sorted(folder.glob(f"{chapter}_*.ipynb"))
    assert len(found) == 1, f"expected one notebook for chapter {chapter} in {folder}"
    return json.loads(found[0].read_text())


def test_generated_files_are_in_step_with_solutions():
    """course/ and grader/reference/ are generated from solutions/: edit the solution
    notebook, then run `grader build`. A stale copy would grade against old answers."""
    assert build_all(check_only=True) == []


@pytest.mark.parametrize("chapter", CHAPTERS)
@pytest.mark.parametrize("folder", [SOLUTIONS, COURSE], ids=["solutions", "course"])
def test_every_exercise_has_its_cells(chapter, folder):
    """Each exercise has a solution cell (grade_id = name) and a locked test cell with the
    exercise's points; nbgrader grades by these ids, and `grader check` finds cells by them."""
    nb = notebook_for(chapter, folder)
    cells = {grade_id(c): c for c in nb["cells"] if grade_id(c)}
    for ex in (e for e in EXERCISES.values() if e.chapter == chapter):
        assert ex.name in cells, f"no cell with grade_id {ex.name!r}"
        assert cells[ex.name]["metadata"]["nbgrader"]["solution"] is True
        test = cells.get(f"test_{ex.name}")
        assert test is not None, f"no test cell test_{ex.name}"
        meta = test["metadata"]["nbgrader"]
        assert meta["grade"] and meta["locked"] and meta["points"] == ex.points


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_student_notebook_holds_no_solution(chapter):
    """The released notebook must not leak a solution, nor outputs computed with one."""
    nb = notebook_for(chapter, COURSE)
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        assert "BEGIN SOLUTION" not in source
        assert not cell.get("outputs")
    stubs = sum("raise NotImplementedError()" in "".join(c["source"]) for c in nb["cells"])
    assert stubs >= sum(ex.chapter == chapter for ex in EXERCISES.values())


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_student_notebook_opens_on_colab_and_binder(chapter):
    """Each released notebook carries launch badges for itself, and its first code cell
    installs the course package when (and only when) it runs on Colab; the data loaders fetch
    the bundled data there on first use."""
    nb = notebook_for(chapter, COURSE)
    name = next(COURSE.glob(f"{chapter}_*.ipynb")).name
    top = "".join(nb["cells"][0]["source"])
    assert "colab.research.google.com/github/" in top and f"/course/{name}" in top and "mybinder.org" in top
    first_code = "".join(next(c for c in nb["cells"] if c["cell_type"] == "code")["source"])
    assert first_code == colab_cell_source()
    assert top == badges(name)


@pytest.mark.parametrize("chapter", CHAPTERS)
@pytest.mark.parametrize("folder", [SOLUTIONS, COURSE], ids=["solutions", "course"])
def test_every_exercise_has_a_fresh_header(chapter, folder):
    """Right above each exercise cell, a generated header shows the exercise's points,
    difficulty and time, and its known mistakes' hints: in the learner's copy and in the
    nbgrader source alike. Changing an `Exercise` (points, a new Mistake) without running
    `grader build` leaves the header telling the learner something false."""
    nb = notebook_for(chapter, folder)
    exercises = [ex for ex in EXERCISES.values() if ex.chapter == chapter]
    assert stale_headers(nb, exercises) == [], "stale exercise headers: run `grader build`"


def test_a_stale_header_is_caught():
    """The header check above must be able to fail: on a header whose points, hints or place
    no longer match the Exercise."""
    ex = EXERCISES["03.backprop"]
    nb = notebook_for("03", SOLUTIONS)
    assert stale_headers(nb, [ex]) == []
    assert stale_headers(nb, [dataclasses.replace(ex, points=ex.points + 1)]) == [ex.id]
    assert stale_headers(nb, [dataclasses.replace(ex, mistakes=ex.mistakes[:-1])]) == [ex.id]
    at = next(i for i, c in enumerate(nb["cells"]) if grade_id(c) == ex.name)
    nb["cells"].insert(at, nb["cells"].pop(at - 1) | {"id": "somewhere-else"})
    assert stale_headers(nb, [ex]) == [ex.id]
    nb = exercise_headers(nb, [ex])  # the build repairs it
    assert stale_headers(nb, [ex]) == []
    others = [e for e in EXERCISES.values() if e.chapter == "03" and e is not ex]
    nb = exercise_headers(nb, others)  # an exercise renamed or removed: its header goes too
    assert not any(c.get("id") == f"header-{ex.name}" for c in nb["cells"])
    assert stale_headers(nb, others) == []


def test_header_says_points_difficulty_time_and_every_hint():
    """What the header must show (issue 18): points, difficulty, minutes, and each known
    mistake's hint, collapsed, so help does not require failing first."""
    for ex in EXERCISES.values():
        assert ex.difficulty in ("easy", "medium", "hard") and ex.minutes > 0, ex.id
        text = header_text(ex)
        first = text.splitlines()[0]
        assert f"{ex.points} point" in first and ex.difficulty in first and f"{ex.minutes} min" in first
        assert "<details>" in text and "</details>" in text
        assert text.count("\n- ") == len(ex.mistakes) >= 2, ex.id
    hint = header_text(EXERCISES["03.quadratic_cost"])
    assert r"0.5\*||a - y||^2" in hint, "markdown must not turn a hint's * into italics"


def test_headers_cover_a_chapter_without_checks_yet():
    """A chapter being written (a solution notebook, no grader/exercises/chNN.py yet) builds
    without headers instead of failing; once its module exists, the same code adds them."""
    assert chapter_exercises_or_none("99") == []


def test_build_gives_a_new_chapter_its_headers(tmp_path, monkeypatch):
    """Chapters are being added (13, 14, ...): `grader build` must give any chapter with an
    exercises module its headers without being told, keep them fresh when the Exercise
    changes, and leave an up-to-date chapter's files alone."""
    import sys
    import types

    import nbformat

    from grader import authoring, build
    from grader.engine import Exercise, Mistake

    for name, path in [("ROOT", tmp_path), ("SOLUTIONS", tmp_path / "solutions"),
                       ("COURSE", tmp_path / "course"), ("REFERENCE", tmp_path / "grader" / "reference")]:
        monkeypatch.setattr(build, name, path)
    monkeypatch.setattr(build, "README", tmp_path / "README.md")
    (tmp_path / "README.md").write_text("# a course\n")
    cells = [authoring.markdown("# 98 · A new chapter"),
             authoring.code(authoring.colab_cell_source()),
             authoring.exercise("double", "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"),
             authoring.test("double", points=1)]
    (tmp_path / "solutions").mkdir()
    nbformat.write(authoring.notebook(cells, "98", "A new chapter"), tmp_path / "solutions" / "98_new.ipynb")
    module = types.ModuleType("grader.exercises.ch98")
    module.EXERCISES = [Exercise(id="98.double", points=1, difficulty="easy", minutes=5, cases=[], mistakes=[
        Mistake("added instead of doubled", "x + 2 is not 2 * x.", lambda x: x + 2),
        Mistake("squared", "x ** 2 equals 2 * x only at 0 and 2.", lambda x: x ** 2)])]
    monkeypatch.setitem(sys.modules, "grader.exercises.ch98", module)

    assert sorted(build.build_all()) == ["course/98_new.ipynb", "grader/reference/ch98.py", "solutions/98_new.ipynb"]
    for folder in ("solutions", "course"):
        nb = json.loads((tmp_path / folder / "98_new.ipynb").read_text())
        assert stale_headers(nb, module.EXERCISES) == [], folder
    assert build.build_all() == []
    module.EXERCISES[0].points = 2
    assert sorted(build.build_all(check_only=True)) == ["course/98_new.ipynb", "solutions/98_new.ipynb"]


def test_the_colab_cell_installs_with_pct_pip_from_the_one_repository_setting():
    """`!pip` installs into whatever `pip` is first on PATH, which need not be the kernel's
    environment; `%pip` installs into the running kernel's. The address is grader.REPOSITORY."""
    source = colab_cell_source("someone/fork")
    assert '    %pip install -q "mnist-to-gpt @ git+https://github.com/someone/fork"' in source
    assert "!pip" not in source
    assert REPOSITORY in colab_cell_source()


def test_every_launch_link_and_the_data_fallback_use_grader_repository():
    """A fork changes one line, grader.REPOSITORY, runs `grader build`, and every badge, Binder
    link, Colab install and the bundled-data fallback point at the fork."""
    from grader.data.paths import BUNDLED_BASE_URL
    assert f"/{REPOSITORY}/" in BUNDLED_BASE_URL
    readme = README.read_text()
    links = LAUNCH_LINK.findall(readme)
    assert len(links) >= 2, "the README has a Colab and a Binder badge"
    assert readme_with_repository(readme) == readme
    assert f"github/{REPOSITORY}/blob/main/course/" in readme and f"gh/{REPOSITORY}/main" in readme
    moved = readme_with_repository(readme, "someone/fork")
    assert REPOSITORY not in "".join(LAUNCH_LINK.findall(moved)) and "gh/someone/fork/main" in moved
    assert "`grader/__init__.py`" in readme and "REPOSITORY" in readme, "the README tells forks where"


TRAINING_CHAPTERS = [c for c in CHAPTERS if int(c) >= 10]


@pytest.mark.parametrize("chapter", TRAINING_CHAPTERS)
def test_training_chapters_pick_their_device_once(chapter):
    """From chapter 10 on, notebooks train or generate: on Colab's GPU they must use it. Each
    picks its device once, in its imports cell (printed, COURSE_DEVICE overrides), and moves
    its model there; the CPU is still what the checks use (tests/test_device.py)."""
    nb = notebook_for(chapter, SOLUTIONS)
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    assert "device = pick_device()" in code[1], "the second code cell (imports) picks the device"
    assert sum("device = pick_device()" in c for c in code) == 1, "one choice per notebook"
    assert any(".to(device)" in c for c in code), "the model and data move to the device"


@pytest.mark.parametrize("source, metadata, problem", [
    ("def f():\n    ### BEGIN SOLUTION\n    return 1", True, "BEGIN SOLUTION without its ### END"),
    ("def f():\n    return 1\n    ### END SOLUTION", True, "END SOLUTION without its ### BEGIN"),
    ("def f():\n    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n"
     "    ### END SOLUTION", True, "inside another region"),
    ("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION", False, "without solution metadata"),
])
def test_build_stops_on_a_broken_solution_region(tmp_path, monkeypatch, source, metadata, problem):
    """An unclosed region used to stay, solution and all, in the student notebook, caught only by
    a later test; nested regions or a region in a cell nbgrader does not treat as a solution
    are as unsound. `grader build` stops on each, naming the notebook and the cell."""
    import nbformat

    from grader import authoring, build

    for name, path in [("ROOT", tmp_path), ("SOLUTIONS", tmp_path / "solutions"),
                       ("COURSE", tmp_path / "course"), ("REFERENCE", tmp_path / "grader" / "reference")]:
        monkeypatch.setattr(build, name, path)
    cell = authoring.exercise("f", source) if metadata else authoring.code(source)
    (tmp_path / "solutions").mkdir()
    cells = [authoring.markdown("# 98 · Broken"), authoring.code(authoring.colab_cell_source()), cell]
    nbformat.write(authoring.notebook(cells, "98", "Broken"),
                   tmp_path / "solutions" / "98_broken.ipynb")
    with pytest.raises(build.BuildError, match=f"solutions/98_broken.ipynb, cell 2 .*{problem}"):
        build.build_all(check_only=True)


@pytest.mark.parametrize("first, problem", [
    ("import numpy as np", "cell 1 .*the first code cell must be the Colab cell"),
    ("COLAB", "cell 2 .*line 2: "),
])
def test_build_names_the_cell_of_a_missing_colab_cell_or_a_syntax_error(tmp_path, monkeypatch, first, problem):
    """Every build step stops on bad input with the notebook and the cell named: a notebook whose
    first code cell is not the Colab cell (the build would rewrite the wrong cell), and a cell
    that is not Python (the reference module could not be extracted)."""
    import nbformat

    from grader import authoring, build

    for name, path in [("ROOT", tmp_path), ("SOLUTIONS", tmp_path / "solutions"),
                       ("COURSE", tmp_path / "course"), ("REFERENCE", tmp_path / "grader" / "reference")]:
        monkeypatch.setattr(build, name, path)
    first_cell = authoring.code(authoring.colab_cell_source() if first == "COLAB" else first)
    cells = [authoring.markdown("# 98 · Broken"), first_cell, authoring.code("def f():\n    return (1")]
    (tmp_path / "solutions").mkdir()
    nbformat.write(authoring.notebook(cells, "98", "Broken"), tmp_path / "solutions" / "98_broken.ipynb")
    with pytest.raises(build.BuildError, match=f"solutions/98_broken.ipynb, {problem}"):
        build.build_all(check_only=True)
