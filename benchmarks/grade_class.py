"""Time to grade a class: 100 chapter-01 submissions, on three engines, side by side.

    python benchmarks/grade_class.py [--students 100] [--jobs 2] [--engines grade,gradescope,nbgrader]

- grade: `grader grade --jobs N` (one machine, N notebooks at once);
- gradescope: `run_autograder` from `grader gradescope 01`, once per submission as Gradescope
  runs it (a fresh process each time; Gradescope adds its container start, not measured here);
- nbgrader: `nbgrader autograde` with the course's nbgrader_config.py (the course's grader out of
  process, in the sandbox), after `generate_assignment`.

The class is a mix: reference answers, untouched stubs, one known mistake each, and a few
broken notebooks, in nbgrader's submitted/<student>/<assignment>/ layout. docs/scaling.md
extrapolates these numbers to 5,000 students x 14 chapters.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

from grader.bulk import grade_folder
from grader.engine import chapter_exercises

ROOT = Path(__file__).resolve().parent.parent
NB = "01_mnist_as_numbers.ipynb"


def make_class(root: Path, students: int):
    solution = json.loads((ROOT / "solutions" / NB).read_text())
    stub = (ROOT / "course" / NB).read_text()
    mistakes = [(ex, m) for ex in chapter_exercises("01") for m in ex.mistakes]
    for i in range(students):
        folder = root / f"student{i:03d}" / "01_mnist_as_numbers"
        folder.mkdir(parents=True)
        kind = i % 10
        if kind < 4:
            text = json.dumps(solution)
        elif kind < 6:
            text = stub
        elif kind == 9:
            text = "{broken"
        else:
            ex, _ = mistakes[i % len(mistakes)]
            nb = json.loads(json.dumps(solution))
            for cell in nb["cells"]:  # break one exercise: its body just returns None
                if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == ex.name:
                    source = "".join(cell["source"])
                    cell["source"] = source.split("### BEGIN SOLUTION")[0] + "return None\n"
            text = json.dumps(nb)
        (folder / NB).write_text(text)


SECRET = "the benchmark's secret"


def time_grade(tmp: Path, root: Path, jobs: int) -> tuple[float, int]:
    start = time.perf_counter()
    with open(tmp / "log", "w") as log:
        graded = grade_folder(root, tmp / "scores.csv", jobs=jobs, out=log)
    return time.perf_counter() - start, graded


def time_gradescope(tmp: Path, root: Path) -> tuple[float, int]:
    from grader.gradescope import build, unpack
    ag = unpack(build(["01"], tmp / "autograder.zip", secret=SECRET), tmp / "autograder")
    env = {**os.environ, "AUTOGRADER_ROOT": str(ag), "AUTOGRADER_VENV": sys.prefix,
           "PYTHONPATH": str(ag / "source" / "course")}
    notebooks = sorted(root.rglob("*.ipynb"))
    start = time.perf_counter()
    for notebook in tqdm(notebooks, desc="run_autograder", leave=False):
        for folder in ("submission", "results"):
            shutil.rmtree(ag / folder)
            (ag / folder).mkdir()
        shutil.copy(notebook, ag / "submission" / NB)
        subprocess.run([str(ag / "run_autograder")], env=env, check=True, capture_output=True)
        json.loads((ag / "results" / "results.json").read_text())
    return time.perf_counter() - start, len(notebooks)


def time_nbgrader(tmp: Path, root: Path) -> tuple[float, int]:
    course = tmp / "course"
    (course / "source" / "01_mnist_as_numbers").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copy(ROOT / "solutions" / NB, course / "source" / "01_mnist_as_numbers")
    shutil.copytree(root, course / "submitted")
    nbgrader = Path(sys.prefix) / "bin" / "nbgrader"
    env = {**os.environ, "GRADER_HIDDEN_SECRET": SECRET,
           "PATH": str(Path(sys.prefix) / "bin") + os.pathsep + os.environ["PATH"]}
    subprocess.run([str(nbgrader), "generate_assignment", "01_mnist_as_numbers"], cwd=course, env=env,
                   check=True, capture_output=True)
    start = time.perf_counter()
    # exit status 1 is expected: the broken notebooks of the class are reported as failures
    subprocess.run([str(nbgrader), "autograde", "01_mnist_as_numbers", "--create"], cwd=course, env=env,
                   capture_output=True)
    seconds = time.perf_counter() - start
    return seconds, len(list((course / "autograded").rglob("*.ipynb")))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--engines", default="grade,gradescope,nbgrader")
    args = parser.parse_args()
    engines = {"grade": lambda t, r: time_grade(t, r, args.jobs),
               "gradescope": time_gradescope, "nbgrader": time_nbgrader}
    labels = {"grade": f"grader grade --jobs {args.jobs}", "gradescope": "Gradescope run_autograder, one at a time",
              "nbgrader": "nbgrader autograde (course config)"}
    for name in args.engines.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "submitted"
            make_class(root, args.students)
            seconds, graded = engines[name](Path(tmp), root)
        print(f"{labels[name]:<42} {args.students} submissions of chapter 01 ({graded} gradable) in "
              f"{seconds:7.1f} s = {seconds / args.students:.2f} s per submission", flush=True)


if __name__ == "__main__":
    sys.exit(main())
