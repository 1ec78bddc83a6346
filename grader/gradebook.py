"""`grader grade ... --csv scores.csv --gradebook gradebook.csv`: the per-student summary.

scores.csv has one row per student, notebook and exercise (and keeps the rows of a notebook's
earlier versions when it is graded again after a change). The gradebook has what an LMS
gradebook imports: one row per student, one column per chapter, points:

    student,01 (of 6),02 (of 9),total (of 15)
    ada,6,9,15
    bob,5,,5

- a chapter's points are those of the student's notebook of that chapter in its latest graded
  version (the last rows for that file); with several notebooks of one chapter, the best;
- an empty cell: nothing of that chapter was submitted (an LMS leaves it ungraded, not 0);
  an unreadable notebook is a 0.
"""
import csv
from pathlib import Path


def chapter_of(row) -> str | None:
    if row["exercise"]:
        return row["exercise"].split(".")[0]
    name = Path(row["notebook"]).name
    return name[:2] if name[:2].isdigit() else None


def summarize(scores_csv) -> tuple[list[str], dict]:
    """(chapters in order, {student: {chapter: points}}) from the per-exercise CSV."""
    with open(scores_csv, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    latest = {}   # (student, notebook) -> sha of its last graded version
    for r in rows:
        latest[r["student"], r["notebook"]] = r["notebook_sha256"]
    per_notebook = {}
    for r in rows:
        key = (r["student"], r["notebook"])
        chapter = chapter_of(r)
        if latest[key] != r["notebook_sha256"] or chapter is None:
            continue
        per_notebook.setdefault((r["student"], chapter, r["notebook"]), 0.0)
        per_notebook[r["student"], chapter, r["notebook"]] += float(r["points"] or 0)
    book: dict = {}
    for (student, chapter, _), points in per_notebook.items():
        cells = book.setdefault(student, {})
        cells[chapter] = max(points, cells.get(chapter, 0.0))
    chapters = sorted({c for cells in book.values() for c in cells})
    return chapters, book


def write(scores_csv, gradebook_csv) -> Path:
    from .engine import chapter_exercises
    chapters, book = summarize(scores_csv)
    maxima = {c: sum(ex.points for ex in chapter_exercises(c)) for c in chapters}
    gradebook_csv = Path(gradebook_csv)
    with open(gradebook_csv, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student"] + [f"{c} (of {maxima[c]:g})" for c in chapters]
                        + [f"total (of {sum(maxima.values()):g})"])
        for student in sorted(book):
            cells = book[student]
            writer.writerow([student] + [f"{cells[c]:g}" if c in cells else "" for c in chapters]
                            + [f"{sum(cells.values()):g}"])
    return gradebook_csv
