"""Reading a learner's notebook: which cell holds which exercise, and which code to run.

The grader never runs a notebook top to bottom (training loops would take minutes). It runs
only *definitions*: top-level imports, `def`s, `class`es and assignments of literal
constants, from every code cell in notebook order. Exercise cells are found by nbgrader's
`grade_id`; when a cell lost its metadata, by the name it defines.
"""
import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path



class NotebookError(Exception):
    """The notebook cannot be read at all; the message is one sentence for the learner."""


def read_notebook(path) -> dict:
    """The notebook as plain JSON (no nbformat import: it costs seconds per process)."""
    path = Path(path)
    if not path.is_file():
        raise NotebookError(f"{path} does not exist.")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise NotebookError(f"{path} is not a notebook: it is not UTF-8 text.") from None
    except json.JSONDecodeError as exc:
        raise NotebookError(f"{path} is not a valid notebook: its JSON is broken at line {exc.lineno} "
                            "(restore it from a checkpoint or re-download it).") from None
    if not isinstance(raw, dict) or "cells" not in raw:
        raise NotebookError(f"{path} is not a Jupyter notebook (no list of cells).")
    if raw.get("nbformat") != 4:
        raise NotebookError(f"{path} is an nbformat {raw.get('nbformat')} notebook; the grader reads "
                            "nbformat 4 (open it in JupyterLab and save it again).")
    cells = raw["cells"]
    if not isinstance(cells, list) or not all(isinstance(c, dict) for c in cells):
        raise NotebookError(f"{path} is not a valid notebook: its cells are not a list of cells.")
    for cell in cells:  # nbformat stores sources as a string or a list of lines
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(map(str, cell["source"]))
        cell.setdefault("source", "")
        cell.setdefault("metadata", {})
    return raw


def grade_id(cell) -> str | None:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta.get("grade_id") if isinstance(meta, dict) else None


def python_source(cell_source: str) -> str:
    """Cell source as plain Python: IPython magics (`%matplotlib`, `!pip`) become no-ops."""
    lines = []
    for line in cell_source.splitlines():
        stripped = line.lstrip()
        lines.append(line[: len(line) - len(stripped)] + "pass  # " + stripped
                     if stripped.startswith(("%", "!")) else line)
    return "\n".join(lines)


def _is_literal(node) -> bool:
    try:
        ast.literal_eval(node)
        return True
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False


def is_definition(stmt: ast.stmt) -> bool:
    if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    if isinstance(stmt, ast.Assign | ast.AnnAssign) and stmt.value is not None:
        return _is_literal(stmt.value)
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)  # docstrings


def statement_source(lines: list[str], stmt: ast.stmt) -> str:
    first = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", [])])
    return "\n".join(lines[first - 1: stmt.end_lineno])


def definitions(source: str) -> str:
    """Only the definition statements of `source` (raises SyntaxError if it does not parse)."""
    source = python_source(source)
    tree = ast.parse(source)
    lines = source.splitlines()
    return "\n\n".join(statement_source(lines, s) for s in tree.body if is_definition(s))


def defined_names(source: str) -> set[str]:
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:  # still find `def name(` so the learner hears about the syntax error
        return set(re.findall(r"^(?:def|class)\s+(\w+)", source, flags=re.M))
    return {s.name for s in tree.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


@dataclass
class CodeCell:
    index: int                 # position among all cells
    source: str                # definitions only ("" if the cell does not parse)
    exercise: str | None       # exercise id this cell holds
    syntax_error: str | None   # "SyntaxError: ... (line N)" when the cell does not parse


def code_cells(nb, exercises) -> tuple[list[CodeCell], dict[str, str]]:
    """The notebook's code cells as definitions, each tagged with the exercise it holds, and
    notes about how exercises were found (e.g. located by name because metadata was lost)."""
    by_name = {ex.name: ex.id for ex in exercises}
    cells, found, notes = [], {}, {}
    for i, cell in enumerate(nb["cells"]):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        gid = grade_id(cell)
        try:
            defs, error = definitions(source), None
        except SyntaxError as exc:
            defs, error = "", f"SyntaxError: {exc.msg} (line {exc.lineno})"
        ex_id = by_name.get(gid)
        if ex_id and ex_id in found:
            notes[ex_id] = f"found more than one cell with grade_id '{gid}'; graded the last one"
            cells[found[ex_id]].exercise = None
        if ex_id:
            found[ex_id] = len(cells)
        cells.append(CodeCell(i, defs, ex_id, error))
    # Fallback for cells whose nbgrader metadata was stripped: the last cell defining the name.
    for name, ex_id in by_name.items():
        if ex_id in found:
            continue
        for pos in range(len(cells) - 1, -1, -1):
            cell = cells[pos]
            if cell.exercise is None and name in defined_names(nb["cells"][cell.index]["source"]):
                cell.exercise, found[ex_id] = ex_id, pos
                notes[ex_id] = "found by name (the cell's nbgrader metadata is missing)"
                break
    return cells, notes


def notebook_chapter(path, nb) -> str | None:
    """"NN" from a file name like `01_mnist_as_numbers.ipynb`, else from the metadata."""
    stem = Path(path).name
    if len(stem) > 2 and stem[:2].isdigit() and stem[2] in "_-":
        return stem[:2]
    return nb.get("metadata", {}).get("course", {}).get("chapter")
