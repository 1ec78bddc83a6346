"""Time to grade a class: 100 chapter-01 submissions with `grader grade --jobs 2`.

    python benchmarks/grade_class.py [--students 100] [--jobs 2]

The class is a mix: reference answers, untouched stubs, one known mistake each, and a few
broken notebooks, in nbgrader's submitted/<student>/<assignment>/ layout.
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "submitted"
        make_class(root, args.students)
        start = time.perf_counter()
        with open(Path(tmp) / "log", "w") as log:
            graded = grade_folder(root, Path(tmp) / "scores.csv", jobs=args.jobs, out=log)
        seconds = time.perf_counter() - start
    print(f"graded {graded} submissions of chapter 01 with --jobs {args.jobs} in {seconds:.1f} s "
          f"({seconds / graded:.2f} s per submission)")


if __name__ == "__main__":
    sys.exit(main())
