"""Gradescope: `grader gradescope 01 02 -o autograder.zip` and the `run_autograder` it ships.

Gradescope builds one image from the zip (running `setup.sh` once, as root, on Ubuntu) and then
starts one container per submission, which runs `run_autograder` with the student's files in
`/autograder/submission/` and reads `/autograder/results/results.json`. The zip holds:

    setup.sh          installs the course's instructor install (this package, with every reference
                      and the hidden cases) and bubblewrap into a venv
    run_autograder    `python -m grader.gradescope`: grades the submission, writes results.json
    course/           the `grader` package and pyproject.toml, installed by setup.sh
    config.json       the chapters this assignment grades
    secret            GRADER_HIDDEN_SECRET at build time (never part of the student install)

results.json (its schema: docs/gradescope-results.schema.json) has, per exercise, one
`visible` test with the public cases' verdict and, where the exercise has hidden cases, one
`after_published` test with the verdict of all cases. The points sit on the test whose verdict
is final, so the hidden outcome is not shown before the instructor publishes grades.

Every path is read from the environment (AUTOGRADER_ROOT, default /autograder), so a test can
lay out a Gradescope-like root in a temporary folder.
"""
import json
import os
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
REPO = PACKAGE.parent

SETUP_SH = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image (Ubuntu; pick a base
# image with Python >= 3.11). It installs the course's instructor install into a venv.
set -euo pipefail
SOURCE="${AUTOGRADER_SOURCE:-/autograder/source}"
VENV="${AUTOGRADER_VENV:-/autograder/venv}"
PYTHON="${AUTOGRADER_PYTHON:-python3}"
if [ "${AUTOGRADER_APT:-1}" = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    # bubblewrap: the sandbox for student code (grading says so where it cannot run)
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv bubblewrap \
        || echo "setup.sh: could not apt-get install python3-venv bubblewrap"
fi
"$PYTHON" -m venv ${AUTOGRADER_VENV_ARGS:-} "$VENV"
"$VENV/bin/pip" install -q ${AUTOGRADER_PIP_ARGS:-} "$SOURCE/course"
"$VENV/bin/python" -c "import grader.gradescope" && echo "setup.sh: course installed in $VENV"
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Gradescope runs this once per submission (working directory /autograder).
ROOT="${AUTOGRADER_ROOT:-/autograder}"
VENV="${AUTOGRADER_VENV:-$ROOT/venv}"
export GRADER_HIDDEN_SECRET="$(cat "${AUTOGRADER_SOURCE:-$ROOT/source}/secret")"
exec "$VENV/bin/python" -m grader.gradescope --root "$ROOT"
"""


class BuildError(Exception):
    pass


def build(chapters, out_zip, secret: str | None = None) -> Path:
    """Write Gradescope's autograder zip for `chapters` ("01", ...)."""
    from .engine import chapter_exercises
    chapters = [c.zfill(2) for c in chapters]
    for chapter in chapters:
        try:
            chapter_exercises(chapter)
        except ModuleNotFoundError:
            raise BuildError(f"the course has no chapter {chapter}") from None
    secret = os.environ.get("GRADER_HIDDEN_SECRET") if secret is None else secret
    if not secret:
        raise BuildError("set GRADER_HIDDEN_SECRET first: the hidden cases' inputs are drawn from it, and "
                         "the zip carries it to Gradescope (students never see the zip)")
    out_zip = Path(out_zip)
    out_zip.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out_zip, "w", zipfile.ZIP_DEFLATED) as z:
        _add(z, "setup.sh", SETUP_SH, executable=True)
        _add(z, "run_autograder", RUN_AUTOGRADER, executable=True)
        _add(z, "config.json", json.dumps({"chapters": chapters}, indent=1) + "\n")
        _add(z, "secret", secret)
        for name in ("pyproject.toml", "README.md"):
            z.write(REPO / name, f"course/{name}")
        for path in sorted(PACKAGE.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                z.write(path, f"course/grader/{path.relative_to(PACKAGE)}")
    return out_zip


def _add(z: zipfile.ZipFile, name: str, text: str, executable=False):
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.external_attr = (0o100755 if executable else 0o100600) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    z.writestr(info, text)


def unpack(zip_path, root) -> Path:
    """Lay the zip out the way Gradescope does: root/source/ holds it, root/run_autograder is a copy
    (for tests and trials; Gradescope does this itself)."""
    root = Path(root)
    source = root / "source"
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(source)
        for info in z.infolist():
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(source / info.filename, mode)
    shutil.copy2(source / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir(exist_ok=True)
    (root / "results").mkdir(exist_ok=True)
    return root


# ---------------------------------------------------------------- grading one submission

def _public_verdict(result) -> tuple[bool, str]:
    """From an instructor result (public cases run first, grading stops at the first failure):
    whether the public cases passed, and what to say about them."""
    hidden_failed = any(not c.passed and c.name.startswith("hidden case:") for c in result.cases)
    if result.passed or hidden_failed:
        return True, "public cases: passed"
    return False, result.message


def results_for(chapter: str, report, error: str | None = None) -> list[dict]:
    """The Gradescope tests of one chapter: from a NotebookReport, or all 0 with `error`."""
    from .engine import chapter_exercises
    from .hidden import hidden_cases
    tests = []
    by_id = {r.id: r for r in report.results} if report else {}
    for ex in chapter_exercises(chapter):
        has_hidden = bool(hidden_cases(ex))
        result = by_id.get(ex.id)
        if result is None:
            tests.append({"name": ex.id, "score": 0, "max_score": ex.points, "output": error or "not graded",
                          "visibility": "visible"})
            continue
        note = report.notes.get(ex.id)
        public_ok, public_text = _public_verdict(result)
        if note:
            public_text += f"\nnote: {note}"
        if not has_hidden:
            tests.append({"name": ex.id, "score": result.points, "max_score": ex.points,
                          "output": result.message or "passed", "visibility": "visible"})
            continue
        tests.append({"name": f"{ex.id} (public cases)", "score": 0, "max_score": 0,
                      "output": public_text + ("" if public_ok else " (this exercise scores 0)"),
                      "visibility": "visible"})
        tests.append({"name": f"{ex.id} (all cases, hidden ones included)", "score": result.points,
                      "max_score": ex.points, "output": result.message or "passed",
                      "visibility": "after_published"})
    return tests


def _find_notebook(chapter: str, submitted: list[Path]):
    from .notebook import NotebookError, notebook_chapter, read_notebook
    for path in submitted:
        try:
            if notebook_chapter(path, read_notebook(path)) == chapter:
                return path
        except NotebookError:
            if path.name[:2] == chapter:
                return path
    return None


def grade_root(root, sandbox="auto") -> dict:
    """Grade root/submission/*.ipynb for the chapters in source/config.json; write and return
    root/results/results.json. The grader's own failure still writes a results.json (score 0,
    the reason in `output`), so Gradescope never shows a bare crash."""
    from .notebook import NotebookError
    from .out_of_process import grade_submission
    from .sandbox import SandboxUnavailable
    root = Path(root)
    start = time.monotonic()
    chapters = json.loads((root / "source" / "config.json").read_text())["chapters"]
    submitted = sorted(p for p in (root / "submission").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    tests, lines, mode = [], [], None
    for chapter in chapters:
        path = _find_notebook(chapter, submitted)
        if path is None:
            error = f"no notebook of chapter {chapter} was submitted (upload the .ipynb file)"
            tests += results_for(chapter, None, error)
            lines.append(error)
            continue
        with tempfile.TemporaryDirectory() as work:   # graded from a copy, not from submission/
            copy = Path(work) / path.name
            shutil.copyfile(path, copy)
            try:
                report = grade_submission(copy, sandbox=sandbox)
            except (NotebookError, SandboxUnavailable) as exc:
                tests += results_for(chapter, None, str(exc))
                lines.append(f"{path.name}: {exc}")
                continue
        mode = report.sandbox
        tests += results_for(chapter, report)
        lines.append(f"{path.name}: graded (public and hidden cases)")
    if mode == "none":
        lines.append("(graded without the bubblewrap sandbox: it could not run in this container)")
    results = {"score": sum(t["score"] for t in tests), "execution_time": round(time.monotonic() - start),
               "output": "\n".join(lines), "stdout_visibility": "hidden", "tests": tests}
    write_results(root, results)
    return results


def write_results(root: Path, results: dict):
    """Written last, atomically, over whatever learner code may have put there."""
    out = Path(root) / "results"
    out.mkdir(parents=True, exist_ok=True)
    partial = out / "results.json.partial"
    partial.write_text(json.dumps(results, indent=1))
    partial.replace(out / "results.json")


def main(argv=None) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog="python -m grader.gradescope")
    parser.add_argument("--root", default=os.environ.get("AUTOGRADER_ROOT", "/autograder"))
    parser.add_argument("--sandbox", default="auto", choices=["auto", "bwrap", "none"])
    args = parser.parse_args(argv)
    try:
        results = grade_root(args.root, args.sandbox)
    except Exception as exc:   # a bug of ours: the student still gets a message, not a blank page
        write_results(Path(args.root), {"score": 0, "output": f"the autograder failed ({type(exc).__name__}: "
                                        f"{exc}); this is the course's fault, tell your instructor", "tests": []})
        raise
    print(json.dumps({"score": results["score"], "tests": len(results["tests"])}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
