"""`grader grade SUBMISSIONS_DIR --csv scores.csv`: grade a whole class.

Every notebook under the folder is graded with `out_of_process.grade_notebook` (each in its own
disposable child process), `--jobs` at a time. Layouts:

    SUBMISSIONS_DIR/<student>/<anything>/<notebook>.ipynb   (nbgrader's submitted/ layout)
    SUBMISSIONS_DIR/<student>/<notebook>.ipynb
    SUBMISSIONS_DIR/<notebook>.ipynb                          (the student is the file's stem)

Grading is instructor grading: the hidden cases run too, and learner code runs in the sandbox
(grader/sandbox.py). One CSV row per student, notebook and exercise; a notebook that cannot be read is one row with
status `unreadable`, never a stopped batch. Rows are appended and flushed as each notebook
finishes, and each row carries the notebook's SHA-256: run the same command again after an
interruption and it grades only what is not in the CSV yet (or what changed since).
"""
import csv
import hashlib
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from .notebook import NotebookError
from .out_of_process import Limits, Trust, grade_notebook

COLUMNS = ["student", "notebook", "exercise", "status", "points", "max_points", "message", "notebook_sha256"]


def find_submissions(root: Path) -> list[tuple[str, Path]]:
    found = []
    for path in sorted(root.rglob("*.ipynb")):
        parts = path.relative_to(root).parts
        if ".ipynb_checkpoints" in parts:
            continue
        student = parts[0] if len(parts) > 1 else path.stem
        found.append((student, path))
    return found


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _valid(row) -> bool:
    return len(row.get("notebook_sha256") or "") == 64 and row.get("status") is not None


def already_graded(csv_path: Path) -> set[tuple[str, str, str]]:
    """(student, notebook, sha256) of every notebook with rows in the CSV. A row cut off by an
    interruption is dropped from the file (atomically), so that notebook is graded again."""
    if not csv_path.exists() or csv_path.stat().st_size == 0:
        return set()
    with open(csv_path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    valid = [r for r in rows if _valid(r)]
    if len(valid) < len(rows) or not csv_path.read_bytes().endswith(b"\n"):
        partial = csv_path.with_suffix(csv_path.suffix + ".partial")
        with open(partial, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(valid)
        partial.replace(csv_path)
    return {(r["student"], r["notebook"], r["notebook_sha256"]) for r in valid}


def grade_one(student: str, path: Path, root: Path, limits: Limits, trust: Trust | None = None) -> list[dict]:
    relative = str(path.relative_to(root))
    digest = sha256(path)
    base = {"student": student, "notebook": relative, "notebook_sha256": digest}
    try:
        report = grade_notebook(path, limits, trust or Trust.instructor())
    except NotebookError as exc:
        return [{**base, "exercise": "", "status": "unreadable", "points": 0, "max_points": "", "message": str(exc)}]
    except Exception as exc:  # a bug of ours must not stop the batch either
        return [{**base, "exercise": "", "status": "grader_error", "points": 0, "max_points": "",
                 "message": f"{type(exc).__name__}: {exc}"}]
    return [{**base, "exercise": r.id, "status": r.status, "points": r.points, "max_points": r.max_points,
             "message": r.message.splitlines()[0] if r.message else ""} for r in report.results]


def grade_folder(root, csv_path, jobs=2, limits: Limits | None = None, out=sys.stderr,
                 trust: Trust | None = None) -> int:
    """Grade every submission under `root` into `csv_path`; returns how many were graded now.
    Instructor grading (hidden cases, the sandbox) unless `trust` says otherwise."""
    from .sandbox import bwrap_problem, resolve_mode
    root, csv_path = Path(root), Path(csv_path)
    limits = limits or Limits()
    trust = trust or Trust.instructor()
    if trust.sandbox != "none" and resolve_mode(trust.sandbox) == "none":
        print(f"warning: grading WITHOUT a sandbox ({bwrap_problem()}): learner code can read "
              "what this user can read", file=out)
    submissions = find_submissions(root)
    done = already_graded(csv_path)
    todo = [(s, p) for s, p in submissions if (s, str(p.relative_to(root)), sha256(p)) not in done]
    print(f"{len(submissions)} notebooks under {root}: {len(submissions) - len(todo)} already in {csv_path}, "
          f"{len(todo)} to grade with {jobs} jobs", file=out)
    new_file = not csv_path.exists() or csv_path.stat().st_size == 0
    start = time.monotonic()
    with open(csv_path, "a", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        if new_file:
            writer.writeheader()
        pool = ThreadPoolExecutor(max_workers=max(1, jobs))  # each job waits on its own child process
        futures = {pool.submit(grade_one, s, p, root, limits, trust): (s, p) for s, p in todo}
        try:
            for n, future in enumerate(as_completed(futures), 1):
                student, path = futures[future]
                rows = future.result()
                writer.writerows(rows)  # only this thread writes
                f.flush()
                print(f"[{n}/{len(todo)}] {student}: {path.name} {_summary(rows)}  "
                      f"({time.monotonic() - start:.0f} s)", file=out)
        except KeyboardInterrupt:
            pool.shutdown(wait=True, cancel_futures=True)
            print("interrupted: what is graded is in the CSV; run the same command to resume", file=out)
            raise
        pool.shutdown()
    return len(todo)


def _summary(rows) -> str:
    if rows[0]["status"] in ("unreadable", "grader_error"):
        return rows[0]["status"]
    return f"{sum(float(r['points']) for r in rows):g}/{sum(float(r['max_points']) for r in rows):g}"
