"""GitHub Classroom: `grader classroom 01 02 -o DIR` writes an assignment's template repository.

    DIR/.github/workflows/classroom.yml   one autograding step per exercise, then the reporter
    DIR/NN_*.ipynb                        the student notebooks
    DIR/dist/mnist_to_gpt-*.whl           the student install (`grader student-build`), which the
                                          workflow installs before grading

Each exercise is a step of the action `classroom-resources/autograding-command-grader@v1`
(inputs: test-name, setup-command, command, timeout in minutes, max-score), whose command is
`grader check NB --exercise ID`: exit 0 only when that exercise passes, so the step earns
`max-score` (the exercise's points) or nothing. `classroom-resources/autograding-grading-reporter@v1`
then collects each step's `result` output, passed to it as the environment variable
`<STEP ID>_RESULTS`, for the steps named in `runners`.

What this cannot guarantee: the student owns the repository and the runner. They can edit the
workflow, the wheel or the notebook's checks, and nothing here is secret (no hidden cases: the
secret would have to live in their repository). Classroom grades are feedback; graded courses
use Gradescope (`grader gradescope`) or nbgrader (README, "For instructors").
"""
import re
import shutil
import tempfile
from pathlib import Path

COMMAND_GRADER = "classroom-resources/autograding-command-grader@v1"
REPORTER = "classroom-resources/autograding-grading-reporter@v1"
TIMEOUT_MINUTES = 10   # per exercise: start-up (torch imports) plus the exercise's cases, on a slow runner


def step_id(exercise_id: str) -> str:
    """`01.one_hot` -> `ex01-one-hot` (step ids: letters, digits, `-` and `_`, starting with a letter)."""
    return "ex" + re.sub(r"[^A-Za-z0-9-]", "-", exercise_id.replace(".", "-").replace("_", "-"))


def workflow(notebooks: dict) -> dict:
    """The workflow, as data: `notebooks` maps a notebook's file name to its exercises."""
    steps = [{"name": "Check out the submission", "uses": "actions/checkout@v4"},
             {"name": "Set up Python", "uses": "actions/setup-python@v5", "with": {"python-version": "3.11"}},
             {"name": "Install the course", "run": "python -m pip install --quiet dist/*.whl"}]
    ids = []
    for notebook, exercises in notebooks.items():
        for ex in exercises:
            ids.append(step_id(ex.id))
            steps.append({"name": ex.id, "id": ids[-1], "uses": COMMAND_GRADER, "with": {
                "test-name": ex.id,
                "command": f"grader check {notebook} --exercise {ex.id}",
                "timeout": TIMEOUT_MINUTES,
                "max-score": ex.points}})
    steps.append({"name": "Autograding Reporter", "uses": REPORTER,
                  "env": {f"{i.upper()}_RESULTS": "${{steps.%s.outputs.result}}" % i for i in ids},
                  "with": {"runners": ",".join(ids)}})
    return {"name": "Autograding Tests", "on": ["push", "repository_dispatch"],
            "permissions": {"checks": "write", "actions": "read", "contents": "read"},
            "jobs": {"run-autograding-tests": {
                "runs-on": "ubuntu-latest",
                "if": "github.actor != 'github-classroom[bot]'",
                "steps": steps}}}


def build(chapters, out, release=None) -> Path:
    """Write the template repository for `chapters` into `out`. The wheel is the student install
    (`grader student-build`) holding the references of `release`, by default the chapters before
    the first assigned one: never the assigned chapters' own (their checks use stored outcomes)."""
    import yaml
    from .engine import chapter_exercises, chapter_modules
    from .student import build as student_build
    chapters = [c.zfill(2) for c in chapters]
    if release is None:
        release = [m[2:] for m in chapter_modules() if m[2:] < min(chapters)]
    out = Path(out)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = student_build(tuple(sorted(set(release))), Path(tmp), say=lambda text: None)
        (out / "dist").mkdir(parents=True, exist_ok=True)
        shutil.copy2(wheel, out / "dist" / wheel.name)
        notebooks = {}
        for chapter in chapters:
            [path] = sorted((Path(tmp) / "course").glob(f"{chapter}_*.ipynb"))
            shutil.copy2(path, out / path.name)
            notebooks[path.name] = chapter_exercises(chapter)
    target = out / ".github" / "workflows" / "classroom.yml"
    target.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(workflow(notebooks), sort_keys=False, width=120)
    target.write_text("# Written by `grader classroom`: one step per exercise; edit the chapters, not this file.\n" + text)
    return target
