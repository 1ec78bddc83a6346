"""How long does checking an answer take? (aims: under 1 s per in-notebook check, under 10 s
for `grader check` on a whole chapter, under 2 s median for instructor grading of one
chapter-01 submission out of process).

    python benchmarks/grader_speed.py [CHAPTER ...]      # default: 01

Prints, per exercise, the median time of `check(reference)` in this process (what a learner
waits for in the notebook, after the first import), then the wall time of
`grader check solutions/NN_*.ipynb` as a fresh process (what a terminal user waits for), then
the median of 7 `out_of_process.grade_submission` calls on the same notebook in this process: public
and hidden cases, learner code in a child inside the sandbox (what `grader grade` and the
nbgrader plugin pay per submission, once the sandbox's package copy is staged).
"""
import statistics
import subprocess
import sys
import time
from pathlib import Path

from grader.engine import chapter_exercises, grade_function

ROOT = Path(__file__).resolve().parent.parent


def time_in_process(exercise, repeats=5):
    reference = exercise.reference()
    grade_function(exercise, reference)  # warm-up: imports, caches
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = grade_function(exercise, reference)
        times.append(time.perf_counter() - start)
    assert result.passed, result.message
    return statistics.median(times)


def time_cli(notebook):
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "grader", "check", str(notebook), "--json"],
                          capture_output=True, text=True)
    return time.perf_counter() - start, proc.returncode


def time_instructor(notebook, repeats=7):
    from grader.out_of_process import grade_submission
    report = grade_submission(notebook)  # warm-up: stages the sandbox's copy of the package
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        report = grade_submission(notebook)
        times.append(time.perf_counter() - start)
    assert report.score == report.max_score, report.to_json()
    return statistics.median(times), report.sandbox


def main(chapters):
    for chapter in chapters:
        print(f"chapter {chapter}: in-notebook check(...) per exercise (median of 5)")
        for ex in chapter_exercises(chapter):
            seconds = time_in_process(ex)
            print(f"  {ex.id:<40} {seconds * 1000:8.1f} ms   {'ok' if seconds < 1 else 'SLOWER THAN 1 s'}")
        notebook = next((ROOT / "solutions").glob(f"{chapter}_*.ipynb"))
        seconds, code = time_cli(notebook)
        print(f"  grader check {notebook.relative_to(ROOT)}: {seconds:.2f} s (exit {code})  "
              f"{'ok' if seconds < 10 else 'SLOWER THAN 10 s'}")
        if chapter == "01":
            seconds, sandbox = time_instructor(notebook)
            print(f"  instructor grading out of process (hidden cases, sandbox: {sandbox}), median of 7: "
                  f"{seconds:.2f} s  {'ok' if seconds < 2 else 'SLOWER THAN 2 s'}")
        print()


if __name__ == "__main__":
    main(sys.argv[1:] or ["01"])
