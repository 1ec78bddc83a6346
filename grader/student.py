"""`grader student-build --release 01,02 --out DIR`: the install students of a class get.

It is the package as students install it (a wheel) plus the student notebooks, with the
reference of every chapter not in `--release` left out: not importable, not on disk, not in the
wheel's data, and its exercise module without the known mistakes' code (grader/withhold.py:
many are the reference with one switch). For such a withheld chapter the wheel holds
`grader/expected/chNN.py` instead: the reference's outcomes on the notebook's public cases, each
known mistake's outcomes on the same cases, and the inputs that are made with the reference (a
module check's weights), so `check(...)` gives the same feedback (the named mistake and its
hint) by comparing against stored data (engine.make_inputs, expected_outcome, mistake_outcome).
Hidden cases (grader/hidden/) are never in it.

Before writing the wheel, the build looks for code of a withheld reference left in the staged
package (grader/withhold.py, reference_leaks: half a function's lines or more; refusing, naming
the file, as when a released later reference repeats a withheld one's code), and
grades, with the staged package alone (a separate process that sees nothing of this checkout),
each withheld chapter's reference as a learner's answer, and its stub. A chapter that builds on
another withheld chapter (chapter 08's notebook imports chapter 07's attention) cannot be checked
until that one is released: the build says so and goes on. Any other failure refuses the build.
"""
import contextlib
import io
import json
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

from .engine import chapter_exercises, chapter_modules, run_case
from .out_of_process import _encode_outcome, _public_inputs
from .withhold import reference_leaks, shown_lines, without_mistake_code

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "grader"


class BuildRefused(Exception):
    """The student install would not work: the message names the chapter and what it needs."""


def stored_outcomes_module(chapter: str) -> str:
    """The source of grader/expected/chNN.py: the public cases' outcomes, as data."""
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")   # the references' progress bars and torch's warnings, not the build's
        data = _stored_data(chapter)
    return _module_source(chapter, data)


def _stored_data(chapter: str) -> dict:
    data = {}
    for ex in chapter_exercises(chapter):
        reference = ex.reference()
        cases = [_encode_outcome(run_case(ex, i, reference), 1 << 30) for i in range(len(ex.cases))]
        mistakes = {m.name: [_encode_outcome(run_case(ex, i, m.fn), 1 << 30) for i in range(len(ex.cases))]
                    for m in ex.mistakes}
        data[ex.id] = {"cases": cases, "mistakes": mistakes, "inputs": _public_inputs(ex)}
    return data


def _module_source(chapter: str, data: dict) -> str:
    return (f'"""Stored outcomes of chapter {chapter}\'s public cases (its reference is withheld from this\n'
            'install): what the reference and each known mistake return, and the inputs that are made\n'
            'with the reference (a module check\'s weights). Written by `grader student-build`."""\n'
            "import base64\nimport functools\nimport json\nimport pickle\n\n"
            "from ..out_of_process import _decode_outcome\n\n"
            f"DATA = {json.dumps(json.dumps(data))}\n\n\n"
            "@functools.lru_cache(maxsize=None)\n"
            "def outcomes():\n"
            "    data = json.loads(DATA)\n"
            "    return {ex_id: {\"cases\": [_decode_outcome(o) for o in item[\"cases\"]],\n"
            "                    \"mistakes\": {name: [_decode_outcome(o) for o in runs]\n"
            "                                 for name, runs in item[\"mistakes\"].items()},\n"
            "                    \"inputs\": [None if a is None else pickle.loads(base64.b64decode(a))\n"
            "                               for a in item[\"inputs\"]]}\n"
            "            for ex_id, item in data.items()}\n")


def _stage(release: set, withheld: set, where: Path) -> Path:
    stage = where / "mnist-to-gpt"
    shutil.copytree(PACKAGE, stage / "grader",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "hidden", "expected"))
    for chapter in withheld:
        (stage / "grader" / "reference" / f"ch{chapter}.py").unlink(missing_ok=True)
        module = stage / "grader" / "exercises" / f"ch{chapter}.py"
        module.write_text(without_mistake_code(module.read_text(encoding="utf-8")), encoding="utf-8")
    (stage / "grader" / "expected").mkdir()
    (stage / "grader" / "expected" / "__init__.py").write_text(
        '"""Stored outcomes of the chapters whose reference this student install withholds."""\n')
    for chapter in sorted(withheld):
        (stage / "grader" / "expected" / f"ch{chapter}.py").write_text(stored_outcomes_module(chapter))
    shutil.copy(ROOT / "pyproject.toml", stage)
    shutil.copy(ROOT / "README.md", stage)
    return stage


SELF_TEST = r"""
import json, sys
from grader.engine import ReferenceUnavailable, chapter_exercises, grade_function
from grader.in_notebook import withheld_chapter as needed
def stub(*args, **kwargs):
    raise NotImplementedError()
plan = json.loads(sys.stdin.read())
problems = []
for chapter, source in plan:
    namespace = {"__name__": "__main__"}
    try:   # the reference's code, run as a learner's notebook would run it
        exec(compile(source, f"<chapter {chapter}'s reference>", "exec"), namespace)
        exercises = chapter_exercises(chapter)
    except ImportError as exc:
        problems.append([chapter, None, needed(exc), f"{type(exc).__name__}: {exc}"]); continue
    for ex in exercises:
        for fn, want in ((namespace.get(ex.name), "passed"), (stub, "not_implemented")):
            try:
                result = grade_function(ex, fn)
                status, message = result.status, result.message
            except (ImportError, ReferenceUnavailable) as exc:
                problems.append([chapter, ex.id, needed(exc), f"{type(exc).__name__}: {exc}"]); break
            if status != want:
                problems.append([chapter, ex.id, None, f"{'the reference' if want == 'passed' else 'the stub'} "
                                 f"got {status}: {message[:300]}"]); break
print(json.dumps(problems))
"""


def _self_test(stage: Path, withheld: set) -> list:
    """Grade, with the staged package alone (a process that sees nothing of this checkout but
    the source it is sent), each withheld chapter's reference as a learner's answer, and its
    stub: [chapter, exercise id, chapter whose reference was needed or None, what happened]
    for each that did not pass or was not "not implemented"."""
    plan = [[c, (PACKAGE / "reference" / f"ch{c}.py").read_text(encoding="utf-8")] for c in sorted(withheld)]
    from .data.paths import ENV_VAR, REPO_DATASETS
    data = stage.parent / "data"   # the bundled data (public), where an install keeps its download
    data.mkdir(exist_ok=True)
    if REPO_DATASETS.is_dir() and not (data / "bundled").exists():
        (data / "bundled").symlink_to(REPO_DATASETS)
    proc = subprocess.run([sys.executable, "-c", SELF_TEST], cwd=stage.parent, input=json.dumps(plan),
                          env={"PYTHONPATH": str(stage), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1",
                               "MPLBACKEND": "Agg", ENV_VAR: str(data), "HOME": str(stage.parent)},
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"the student install's self-test crashed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def waits_for(problems, withheld) -> dict:
    """Chapter -> the withheld earlier chapters its checks need (they work once those are
    released); raises BuildRefused for any other problem: the install would not work."""
    waiting, broken = {}, []
    for chapter, exercise, needs, what in problems:
        if needs is not None and needs != chapter and needs in withheld:
            waiting.setdefault(chapter, set()).add(needs)
        else:
            broken.append(f"chapter {chapter}" + (f", {exercise}" if exercise else "") + f": {what}")
    if broken:
        raise BuildRefused("the checks of a withheld chapter do not work without its reference (a defect of "
                           "the course; release that chapter to build anyway): " + "; ".join(broken[:5]))
    return waiting


def build(release, out, say=print) -> Path:
    """Build the student install into `out` (the wheel and course/); returns the wheel's path.
    Raises BuildRefused when a withheld chapter's checks would not work in it, or a released
    reference holds a withheld one's code; `say`s which withheld chapters wait for an earlier one."""
    chapters = {m[2:] for m in chapter_modules()}
    release = {c.zfill(2) for c in release}
    unknown = release - chapters
    if unknown:
        raise BuildRefused(f"no chapter {', '.join(sorted(unknown))} in this course")
    withheld = chapters - release
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="grader-student-") as tmp:
        stage = _stage(release, withheld, Path(tmp))
        leaks = reference_leaks(stage, PACKAGE / "reference", sorted(withheld),
                                shown_lines(sorted((ROOT / "course").glob("[0-9][0-9]_*.ipynb"))))
        if leaks:
            raise BuildRefused("the install would still hold reference code of a withheld chapter: "
                               + "; ".join(leaks[:5]) + ". Release that chapter, or rewrite that code.")
        for chapter, needs in sorted(waits_for(_self_test(stage, withheld), withheld).items()):
            say(f"note: chapter {chapter}'s checks need chapter {', '.join(sorted(needs))}'s reference, withheld here: "
                f"they work in the install you build once {'it is' if len(needs) == 1 else 'they are'} released")
        out.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                               "-q", "-w", str(out), str(stage)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"pip wheel failed:\n{proc.stderr[-2000:]}")
    course = out / "course"
    course.mkdir(exist_ok=True)
    for notebook in sorted((ROOT / "course").glob("[0-9][0-9]_*.ipynb")):
        shutil.copy(notebook, course)
    return next(out.glob("mnist_to_gpt-*.whl"))
