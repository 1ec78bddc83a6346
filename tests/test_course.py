"""The notebooks and the package agree: one source, generated copies in step, metadata intact."""
import json

import pytest

from grader import REPOSITORY
from grader.build import (COURSE, LAUNCH_LINK, README, SOLUTIONS, badges, build_all, colab_cell_source,
                          readme_with_repository)
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
