"""What an install without a chapter's reference must also leave out: its mistakes' code.

A chapter's known mistakes are written as functions (`Mistake(name, hint, fn)`), and many are
the reference with one thing switched off, or a correct but slow variant: chapter 01's
"a Python loop over rows" computes the right distances. Where the reference is withheld (the
student install, the sandbox of instructor grading), the exercise module therefore ships
without them: `without_mistake_code` replaces each `Mistake`'s function by `None` and drops
the private helpers (`_name`) that only those functions used. The mistakes' names and hints
stay; their outcomes come from stored data (student install) or are computed by the grading
process, which has the full module (instructor grading).

`reference_leaks` is the check that this worked: it lists the functions of a chapter's reference
whose code a staged package still holds, half their lines or more, verbatim.
"""
import ast
from pathlib import Path


def _is_mistake_call(node) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Mistake"


class _DropMistakeFunctions(ast.NodeTransformer):
    def visit_Call(self, node):
        self.generic_visit(node)
        if _is_mistake_call(node):
            if len(node.args) >= 3:
                node.args[2] = ast.Constant(None)
            node.keywords = [ast.keyword(k.arg, ast.Constant(None)) if k.arg == "fn" else k for k in node.keywords]
        return node


def _defined_names(stmt) -> set:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    if isinstance(stmt, ast.Assign):
        return {t.id for t in stmt.targets if isinstance(t, ast.Name)}
    return set()


def without_mistake_code(source: str) -> str:
    """The exercise module's source with the known mistakes' functions removed (see above)."""
    tree = _DropMistakeFunctions().visit(ast.parse(source))
    while True:   # drop private top-level definitions nothing uses any more, until none is left
        used = {}
        for stmt in tree.body:
            for node in ast.walk(stmt):
                if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Store):
                    used.setdefault(node.id, set()).add(id(stmt))
                elif isinstance(node, ast.Attribute):
                    used.setdefault(node.attr, set()).add(id(stmt))
        unused = [s for s in tree.body if (names := _defined_names(s)) and all(n.startswith("_") for n in names)
                  and not any(used.get(n, set()) - {id(s)} for n in names)]
        if not unused:
            break
        tree.body = [s for s in tree.body if s not in unused]
    return ('"""Generated for an install that withholds this chapter\'s reference: the known mistakes\' '
            'code is left out (grader/withhold.py)."""\n' + ast.unparse(tree) + "\n")


def reference_pieces(reference_source: str) -> dict:
    """Each top-level function and class of a reference module -> its lines of code, stripped
    (docstrings, comments, signatures and lines of 25 characters or fewer aside)."""
    pieces = {}
    for node in ast.parse(reference_source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            lines = set()
            for line in ast.get_source_segment(reference_source, node).splitlines()[1:]:
                line = line.strip()
                if len(line) > 25 and not line.startswith(('"""', "#", "def ", "class ", "@")) \
                        and '"""' not in line:   # signatures: every student notebook shows them
                    lines.add(line)
            pieces[node.name] = lines
    return pieces


def reference_lines(reference_source: str) -> set:
    """The lines of code of a reference module's functions and classes (see reference_pieces)."""
    return set().union(*reference_pieces(reference_source).values())


def shown_lines(notebooks) -> set:
    """Every line, stripped, of the cells of the student notebooks: what an install hands out
    anyway (stubs, given code, instructions, the mistakes' hints in the headers)."""
    import nbformat
    lines = set()
    for notebook in notebooks:
        for cell in nbformat.read(str(notebook), as_version=4).cells:
            for line in cell.source.splitlines():
                lines.add(line.strip().strip("`"))
                lines.update(part.strip() for part in line.split("`")[1::2])   # code quoted in prose
    return lines


def reference_leaks(package: Path, reference_dir: Path, chapters, shown=frozenset()) -> list[str]:
    """'file: chapter NN's `name` (k of its n lines)' for each function or class of a withheld
    chapter's reference whose lines a file of `package` holds, half of them or more.

    A course builds on itself: a later reference repeats single lines of an earlier one
    (`for _ in range(max_new_tokens):` in chapters 10, 12 and 14), and checks use the same idioms,
    so one shared line is no answer; half a function is (a released chapter 04 whose training
    loop is chapter 03's gives 03 away). Lines handed out anyway do not count: those `shown` in
    the student notebooks (shown_lines), and those of the released references of earlier
    chapters (chapter 08's attention is chapter 07's head with a mask)."""
    package = Path(package)
    released = {path.stem[2:]: reference_lines(path.read_text(encoding="utf-8"))
                for path in sorted((package / "grader" / "reference").glob("ch[0-9][0-9].py"))}
    found = []
    files = {path: {line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()}
             for path in sorted(package.rglob("*.py"))}
    for chapter in chapters:
        given = set(shown).union(*(lines for c, lines in released.items() if c < chapter))
        for name, lines in reference_pieces((reference_dir / f"ch{chapter}.py").read_text()).items():
            lines = lines - given
            for path, held in files.items():
                copied = sorted(lines & held)
                if copied and 2 * len(copied) >= len(lines):
                    found.append(f"{path.relative_to(package)}: chapter {chapter}'s `{name}` "
                                 f"({len(copied)} of its {len(lines)} lines, e.g. `{copied[0]}`)")
    return found
