"""`grader classroom`: a GitHub Classroom template repository, checked here without GitHub.

The workflow must parse, use only the inputs the two Classroom actions declare (a misspelt
input is silently ignored by Actions, and that step would grade nothing), and each step's
command, run in a fresh clone of the generated repository with the wheel it ships, must give
full marks to the reference, 0 to the stub and exactly the points of the exercises that are right.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from grader.classroom import COMMAND_GRADER, REPORTER, build
from grader.engine import chapter_exercises

ROOT = Path(__file__).resolve().parent.parent
NB = "01_mnist_as_numbers.ipynb"
# From the actions' own documentation (their action.yml / README "Inputs" tables).
DECLARED = {COMMAND_GRADER: ({"test-name", "command"}, {"test-name", "setup-command", "command", "timeout", "max-score"}),
            REPORTER: ({"runners"}, {"runners"})}


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    out = tmp_path_factory.mktemp("classroom") / "template"
    build(["01"], out)   # the wheel withholds chapter 01's reference and every later one
    return out


@pytest.fixture(scope="module")
def installed(template, tmp_path_factory):
    """The shipped wheel, installed (without its dependencies, which this venv has) on its own."""
    site = tmp_path_factory.mktemp("site")
    [wheel] = (template / "dist").glob("*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(wheel)],
                   check=True)
    return site


def steps(template):
    workflow = yaml.safe_load((template / ".github" / "workflows" / "classroom.yml").read_text())
    return workflow, workflow["jobs"]["run-autograding-tests"]["steps"]


def test_the_workflow_parses_and_every_step_has_the_inputs_its_action_declares(template):
    """One command-grader step per exercise (max-score = its points, a timeout), then the
    reporter, which names every step in `runners` and gets each one's result as <ID>_RESULTS."""
    workflow, all_steps = steps(template)
    assert set(workflow["on"]) >= {"push"}
    graders = [s for s in all_steps if s.get("uses") == COMMAND_GRADER]
    assert [s["with"]["test-name"] for s in graders] == [ex.id for ex in chapter_exercises("01")]
    assert [s["with"]["max-score"] for s in graders] == [ex.points for ex in chapter_exercises("01")]
    for step in all_steps:
        if step.get("uses") in DECLARED:
            required, allowed = DECLARED[step["uses"]]
            assert required <= set(step["with"]) <= allowed, step
    for step in graders:
        assert 0 < step["with"]["timeout"] <= 360   # minutes; the action's maximum is 6 hours
    [reporter] = [s for s in all_steps if s.get("uses") == REPORTER]
    assert reporter["with"]["runners"].split(",") == [s["id"] for s in graders]
    assert reporter["env"] == {f"{s['id'].upper()}_RESULTS": "${{steps.%s.outputs.result}}" % s["id"] for s in graders}
    assert all_steps[-1] is reporter


def classroom_score(template, installed, tmp_path, notebook_text):
    """Clone the template, commit the student's notebook, run every grading step's command as
    the runner would (in the clone, `grader` from the shipped wheel); the score the reporter sums."""
    repo = tmp_path / "repo"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]
    origin = tmp_path / "origin"
    shutil.copytree(template, origin)
    subprocess.run(git + ["init", "-q"], cwd=origin, check=True)
    subprocess.run(git + ["add", "-A"], cwd=origin, check=True)
    subprocess.run(git + ["commit", "-qm", "template"], cwd=origin, check=True)
    subprocess.run(["git", "clone", "-q", str(origin), str(repo)], check=True)
    (repo / NB).write_text(notebook_text)
    env = {**os.environ, "PYTHONPATH": str(installed),
           "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]}
    score = 0
    for step in steps(repo)[1]:
        if step.get("uses") == COMMAND_GRADER:
            done = subprocess.run(step["with"]["command"], shell=True, cwd=repo, env=env, capture_output=True,
                                  text=True, timeout=60 * step["with"]["timeout"])
            assert done.returncode in (0, 1), done.stderr[-2000:]
            score += step["with"]["max-score"] if done.returncode == 0 else 0
    return score


def test_the_reference_gets_full_marks(template, installed, tmp_path):
    assert classroom_score(template, installed, tmp_path, (ROOT / "solutions" / NB).read_text()) == 6


def test_the_stub_gets_nothing(template, installed, tmp_path):
    assert classroom_score(template, installed, tmp_path, (template / NB).read_text()) == 0


def test_some_exercises_right_get_exactly_their_points(template, installed, tmp_path):
    """The reference for to_vectors and pairwise_sq_distances (1 + 2 points), the stub elsewhere."""
    stub = json.loads((template / NB).read_text())
    solution = {c["metadata"]["nbgrader"]["grade_id"]: c["source"]
                for c in json.loads((ROOT / "solutions" / NB).read_text())["cells"]
                if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")}
    for cell in stub["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") in ("to_vectors", "pairwise_sq_distances"):
            cell["source"] = solution[cell["metadata"]["nbgrader"]["grade_id"]]
    assert classroom_score(template, installed, tmp_path, json.dumps(stub)) == 3


def test_check_exercise_names_the_exercises_when_the_id_is_wrong(template):
    """`grader check NB --exercise typo` must not exit 0 (the step would award its points)."""
    done = subprocess.run([sys.executable, "-m", "grader", "check", str(template / NB), "--exercise", "01.onehot"],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2
    assert "01.one_hot" in done.stderr


def test_the_template_holds_no_answer_of_the_assigned_chapter(template):
    """The template repository is the student's: its wheel must not hold chapter 01's reference
    (the checks use the outcomes stored in the wheel instead)."""
    import zipfile
    [wheel] = (template / "dist").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "grader/expected/ch01.py" in names
    assert not [n for n in names if n.startswith("grader/reference/ch") or n.startswith("grader/hidden/")], names
