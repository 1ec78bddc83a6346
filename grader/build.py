"""One source for each solution: `solutions/NN_*.ipynb`.

From each solution notebook, `grader build` generates
- `course/NN_*.ipynb`, the learner's notebook: every `### BEGIN SOLUTION` ... `### END SOLUTION`
  region replaced by a stub that raises NotImplementedError (as nbgrader does), outputs cleared;
- `grader/reference/chNN.py`, the reference module the grader compares against and later
  chapters import: the imports and the solution cells' definitions, markers removed.
The project's tests fail when either is out of step with `solutions/`. Each notebook goes
through CHAPTER_STEPS, one small function a step, in order; a step that meets bad input
raises BuildError naming the notebook and the cell.

It also writes, in `solutions/` itself, one generated markdown cell above each exercise cell
(id `header-<name>`): points, difficulty, time estimate and the known mistakes' hints, all
taken from the chapter's `Exercise`s (see "exercise headers" below).

A new chapter's solution notebook is written with the cell helpers of grader/authoring.py.
"""
import ast
import importlib
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from . import REPOSITORY
from .authoring import COLAB_TEST, colab_cell_source, markdown
from .notebook import is_definition, python_source, statement_source

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS, COURSE, REFERENCE = ROOT / "solutions", ROOT / "course", ROOT / "grader" / "reference"

SOLUTION_REGION = re.compile(r"^([ \t]*)### BEGIN SOLUTION[^\n]*\n.*?^[ \t]*### END SOLUTION[^\n]*(\n|$)", re.M | re.S)
STUB = "{indent}# YOUR CODE HERE\n{indent}raise NotImplementedError(){end}"
MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[^\n]*\n?", re.M)


class BuildError(Exception):
    """A solution notebook that the build cannot turn into a sound student notebook."""


def where(origin: str, index: int, cell) -> str:
    """How a BuildError names a cell: "solutions/05_tokens.ipynb, cell 3 (id build_vocab)"."""
    return f"{origin}, cell {index} (id {cell.get('id', '?')})"


# ---------------------------------------------------------------- the build, step by step
#
# `build_all` reads each solution notebook into a `Chapter` and runs CHAPTER_STEPS on it, in
# order. A step is a function of the Chapter: it checks, changes the solution or the student
# notebook, or writes a file, and raises BuildError (naming the file and the cell) on bad input.

_MARKER_LINE = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION", re.M)


@dataclass
class Chapter:
    """One solution notebook on its way through the steps."""
    source: Path                               # solutions/NN_*.ipynb
    solution: nbformat.NotebookNode            # what the build will write back there
    check_only: bool                           # report what would change, write nothing
    changed: list[str]                         # the paths that changed (or would), in order
    student: nbformat.NotebookNode | None = None   # course/NN_*.ipynb, made from `solution`

    @property
    def origin(self) -> str:
        return f"solutions/{self.source.name}"

    @property
    def number(self) -> str:
        return self.source.name[:2]

    def write(self, path: Path, text: str):
        _write_if_changed(path, text, self.check_only, self.changed)


def colab_cell(chapter: Chapter):
    """The first code cell installs the course from grader.REPOSITORY."""
    chapter.solution = with_colab_cell(chapter.solution, origin=chapter.origin)


def solution_regions(chapter: Chapter):
    """Every `### BEGIN SOLUTION` has its `### END SOLUTION`, regions do not nest, and only a
    cell marked as a solution (metadata.nbgrader.solution) holds one: an unclosed region would
    otherwise stay, solution and all, in the student notebook."""
    for index, cell in enumerate(chapter.solution.cells):
        markers = _MARKER_LINE.findall(cell.source)
        if markers and not cell.metadata.get("nbgrader", {}).get("solution", False):
            raise BuildError(f"{where(chapter.origin, index, cell)}: a SOLUTION region in a cell without "
                             "solution metadata (write it with grader.authoring.exercise(...))")
        open_region = False
        for marker in markers:
            if marker == "BEGIN" and open_region:
                raise BuildError(f"{where(chapter.origin, index, cell)}: ### BEGIN SOLUTION inside "
                                 "another region (regions do not nest)")
            if marker == "END" and not open_region:
                raise BuildError(f"{where(chapter.origin, index, cell)}: ### END SOLUTION without its "
                                 "### BEGIN SOLUTION")
            open_region = marker == "BEGIN"
        if open_region:
            raise BuildError(f"{where(chapter.origin, index, cell)}: ### BEGIN SOLUTION without its "
                             "### END SOLUTION")


def reference(chapter: Chapter):
    """grader/reference/chNN.py, written before the headers: the chapter's exercises module
    may import it (and headers are markdown cells, so they never change the reference)."""
    chapter.write(REFERENCE / f"ch{chapter.number}.py", reference_module(chapter.solution, chapter.origin))
    importlib.invalidate_caches()


def headers(chapter: Chapter):
    """A fresh header above each exercise cell (see "exercise headers" below)."""
    chapter.solution = exercise_headers(chapter.solution, chapter_exercises_or_none(chapter.number))


def write_solution(chapter: Chapter):
    chapter.write(chapter.source, nbformat.writes(chapter.solution) + "\n")


def clear_solutions(chapter: Chapter):
    """The student copy starts here: each solution region becomes a stub that raises
    NotImplementedError (as nbgrader does), or "YOUR ANSWER HERE" in a markdown cell."""
    chapter.student = nbformat.from_dict(chapter.solution)  # a copy
    for cell in chapter.student.cells:
        if cell.cell_type == "code":
            cell.source = stub_source(cell.source)
        elif cell.cell_type == "markdown":
            cell.source = SOLUTION_REGION.sub("YOUR ANSWER HERE\n", cell.source)


def clear_outputs(chapter: Chapter):
    for cell in chapter.student.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None


def launch_badges(chapter: Chapter):
    """Colab and Binder badges in a first markdown cell of the student copy."""
    badge_cell = nbformat.v4.new_markdown_cell(badges(chapter.source.name))
    badge_cell.id = "launch-badges"
    chapter.student.cells.insert(0, badge_cell)


def write_student(chapter: Chapter):
    chapter.write(COURSE / chapter.source.name, nbformat.writes(chapter.student) + "\n")


CHAPTER_STEPS = [colab_cell, solution_regions, reference, headers, write_solution,
                 clear_solutions, clear_outputs, launch_badges, write_student]


def build_all(check_only=False) -> list[str]:
    """Regenerate every generated file; return the paths that changed (or would change)."""
    changed = []
    _write_if_changed(README, readme_with_repository(README.read_text(encoding="utf-8")), check_only, changed)
    for source in sorted(SOLUTIONS.glob("[0-9][0-9]_*.ipynb")):
        chapter = Chapter(source, nbformat.read(source, as_version=4), check_only, changed)
        for step in CHAPTER_STEPS:
            step(chapter)
    return changed


def stub_source(source: str) -> str:
    return SOLUTION_REGION.sub(lambda m: STUB.format(indent=m.group(1), end=m.group(2)), source)


def reference_module(nb, origin: str) -> str:
    """The solution cells' definitions, with the imports they use (from any cell)."""
    imports, definitions = [], []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        source = python_source(MARKER.sub("", cell.source))
        lines = source.splitlines()
        is_solution = cell.metadata.get("nbgrader", {}).get("solution", False)
        try:
            tree = ast.parse(source)
        except SyntaxError as error:
            raise BuildError(f"{where(origin, index, cell)}: line {error.lineno}: {error.msg}") from None
        for stmt in tree.body:
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                imports.append(stmt)
            elif is_solution and is_definition(stmt):
                definitions.append(statement_source(lines, stmt))
    used = {n.id for n in ast.walk(ast.parse("\n\n".join(definitions))) if isinstance(n, ast.Name)}
    kept = []
    for stmt in imports:
        # Keep only the names the definitions use: `from ch09 import Block, split_heads` becomes
        # `from ch09 import Block` when nothing here calls split_heads.
        names = [a for a in stmt.names if (a.asname or a.name).split(".")[0] in used]
        if names:
            text = ast.unparse(type(stmt)(**{**stmt.__dict__, "names": names}))
            if text not in kept:
                kept.append(text)
    header = (f'"""Reference solutions, generated by `grader build` from {origin}.\n\n'
              'Do not edit: edit the notebook and run `grader build`."""\n')
    return header + "\n".join(kept) + "\n\n\n" + "\n\n\n".join(definitions) + "\n"


def _write_if_changed(path: Path, text: str, check_only: bool, changed: list):
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        changed.append(str(path.relative_to(ROOT)))
        if not check_only:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")


# ---------------------------------------------------------------- exercise headers
#
# Above every exercise cell, in solutions/ and course/ alike, a generated markdown cell shows the
# exercise's points, difficulty and time estimate, and, collapsed, the hints of the mistakes the
# grader knows, so a stuck learner can get help before failing. Its text comes from the
# `Exercise` in grader/exercises/chNN.py; `grader build` rewrites it, and the tests fail when it
# is stale. Any chapter with an exercises module gets headers; one without gets none.

HEADER_ID = "header-{name}"
GENERATED_HEADER = "exercise header"  # metadata.course.generated of a header cell
_MARKDOWN_SPECIAL = re.compile(r"([\\*_<>\[\]$~#])")


def chapter_exercises_or_none(chapter: str) -> list:
    """The chapter's exercises, or [] for a chapter whose checks are not written yet (or whose
    reference module does not exist yet: `grader build --check` on a brand-new chapter)."""
    from .engine import chapter_exercises
    try:
        return chapter_exercises(chapter)
    except ModuleNotFoundError as exc:
        if exc.name not in (f"{__package__}.exercises.ch{chapter}", f"{__package__}.reference.ch{chapter}"):
            raise
        return []


def _markdown_text(text: str) -> str:
    """Hints are plain text (`0.5*||a - y||^2`, `d_k`): escape what markdown would format,
    except inside `code spans`."""
    parts = text.split("`")
    return "`".join(p if i % 2 else _MARKDOWN_SPECIAL.sub(r"\\\1", p) for i, p in enumerate(parts))


def header_text(ex) -> str:
    points = f"{ex.points} point{'s' if ex.points != 1 else ''}"
    lines = [f"**Exercise `{ex.id}`** · {points} · {ex.difficulty} · about {ex.minutes} min"]
    if ex.mistakes:
        lines += ["", "<details><summary>Stuck? The mistakes the grader knows, and how to fix them "
                      f"({len(ex.mistakes)} hints)</summary>", ""]
        lines += [f"- *{_markdown_text(m.name)}*: {_markdown_text(m.hint)}" for m in ex.mistakes]
        lines += ["", "</details>"]
    return "\n".join(lines)


def header_cell(ex):
    cell = markdown(header_text(ex), cell_id=f"header_{ex.name}")   # locked for nbgrader
    cell.id = HEADER_ID.format(name=ex.name)
    cell.metadata["course"] = {"generated": GENERATED_HEADER}
    return cell


def _is_header(cell) -> bool:
    return cell.get("metadata", {}).get("course", {}).get("generated") == GENERATED_HEADER


def exercise_headers(nb, exercises) -> nbformat.NotebookNode:
    """A copy of `nb` with one fresh header right above each exercise's cell (found by its
    grade_id), old headers removed wherever they were."""
    nb = nbformat.from_dict(nb)
    ids = {HEADER_ID.format(name=ex.name) for ex in exercises}
    # by marker, so the header of a renamed or removed exercise goes too
    nb.cells = [c for c in nb.cells if not _is_header(c) and c.get("id") not in ids]
    for ex in exercises:
        at = next((i for i, c in enumerate(nb.cells)
                   if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == ex.name), None)
        if at is not None:  # a missing exercise cell is reported by tests/test_course.py
            nb.cells.insert(at, header_cell(ex))
    return nb


def stale_headers(nb, exercises) -> list[str]:
    """Ids of the exercises whose header is missing, misplaced or out of date in `nb`."""
    cells = nb["cells"]
    stale = []
    for ex in exercises:
        at = next((i for i, c in enumerate(cells)
                   if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == ex.name), None)
        above = cells[at - 1] if at else {}
        source = "".join(above.get("source", ""))
        if (at is None or above.get("id") != HEADER_ID.format(name=ex.name) or not _is_header(above)
                or source != header_text(ex)):
            stale.append(ex.id)
    return stale


# ---------------------------------------------------------------- the repository address
# grader.REPOSITORY is the one place that names the course's GitHub repository. `grader build`
# writes it into every notebook's Colab cell, the launch badges and the README's links; the
# data loaders' fallback URL reads it directly (grader/data/paths.py).

README = ROOT / "README.md"
# Colab's and Binder's links to this repository (the README links other projects too).
LAUNCH_LINK = re.compile(r"(https://colab\.research\.google\.com/github/|https://mybinder\.org/v2/gh/)"
                         r"[\w.-]+/[\w.-]+")


def is_colab_cell(cell) -> bool:
    return cell.cell_type == "code" and COLAB_TEST in cell.source


def with_colab_cell(nb, repository: str = REPOSITORY, origin: str = "the notebook"):
    """A copy of `nb` whose Colab cell (its first code cell) installs from `repository`."""
    nb = nbformat.from_dict(nb)
    index, first_code = next(((i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"), (None, None))
    if first_code is None:
        raise BuildError(f"{origin}: no code cell; the first must be the Colab cell "
                         "(grader.authoring.colab_cell_source())")
    if not is_colab_cell(first_code):
        raise BuildError(f"{where(origin, index, first_code)}: the first code cell must be the Colab cell "
                         f"(it tests {COLAB_TEST!r}; write it with grader.authoring.colab_cell_source())")
    first_code.source = colab_cell_source(repository)
    return nb


def badges(name: str, repository: str = REPOSITORY) -> str:
    colab = f"https://colab.research.google.com/github/{repository}/blob/main/course/{name}"
    binder = f"https://mybinder.org/v2/gh/{repository}/main?urlpath=lab/tree/course/{name}"
    return (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab}) "
            f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder})")


def readme_with_repository(text: str, repository: str = REPOSITORY) -> str:
    """The README with every Colab and Binder link pointing at `repository`."""
    return LAUNCH_LINK.sub(lambda m: m.group(1) + repository, text)
