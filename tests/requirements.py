"""Every instruction traceable to a case: the checks behind tests/test_requirements.py.

An exercise's instructions are what the learner reads before writing it: the markdown of its
section (from the last heading above the exercise cell) and the stub in the exercise cell, as
the student notebook in course/ shows them. Each `Requirement` of the exercise quotes them and
names the cases that enforce the quoted behaviour (grader/engine.py, `Requirement`).

A test cannot understand prose, so what it enforces is mechanical, and the rest is review:
- each quote is in the instructions, each case it names exists, and each case is named by
  some requirement (a case nobody can say the purpose of is a smell);
- each parameter of the signature is named by a requirement (hyperparameters are instructions);
- each kind of behaviour the issue lists, when the instructions speak of it, has a requirement
  that speaks of it too: errors to raise (and a case on which the reference raises it),
  modes, randomness, arguments left unchanged, dtypes, shapes, edge sizes.

    python -m tests.requirements [NN ...]          the table: exercise, requirement, cases
    python -m tests.requirements --todo [NN ...]   what is missing, per exercise
"""
import ast
import functools
import pathlib
import re
import sys

import nbformat

from grader.engine import all_exercises, chapter_exercises, chapter_modules, expected_outcome

COURSE = pathlib.Path(__file__).resolve().parent.parent / "course"

# A kind of behaviour: the instructions mention it (first pattern) -> a requirement must too.
KINDS = {
    "mode": r"train(ing)?[- ]mode|\.train\(\)|\.eval\(\)|eval(uation)?[- ]mode|\bdropout\b|\btraining=",
    "randomness": r"\bgenerator\b|\bseed|shuffl|reproduc|\brandom(ly)?\b|\bsampl",
    "unchanged": r"unchanged|in[- ]place|must not (change|modify)|without (changing|modifying)|a copy\b",
    "dtype": r"\bdtype\b|float32|float64|int64|uint8|\bint32\b",
    "shape": r"\bshape\b",
    "edge size": r"last batch|shorter|\bempty\b|batch of one|\bT ?= ?1\b|\bsingle\b",
}
ERROR = re.compile(r"\b([A-Z][A-Za-z]*Error)\b")


def normalize(text: str) -> str:
    """Lower case, markdown and LaTeX marks dropped, whitespace collapsed: quotes survive reflowing."""
    text = re.sub(r"[`*_$\\\\]", "", text.lower())
    return re.sub(r"\s+", " ", text).strip()


@functools.cache
def _notebook(chapter: str):
    path = next(COURSE.glob(f"{chapter}_*.ipynb"))
    return nbformat.read(path, as_version=4)


def instructions(exercise) -> tuple[str, str]:
    """(the section's markdown, the exercise cell's stub) the learner reads for `exercise`."""
    cells = _notebook(exercise.chapter).cells
    at = next(i for i, c in enumerate(cells)
              if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade_id") == exercise.name)
    start = max((i for i in range(at) if cells[i].cell_type == "markdown" and cells[i].source.lstrip().startswith("#")),
                default=0)
    markdown = [c.source for c in cells[start:at]
                if c.cell_type == "markdown" and "generated" not in c.metadata.get("course", {})]
    return "\n\n".join(markdown), cells[at].source


def signature_parameters(stub: str, name: str) -> list[str]:
    """The parameters a learner must honour: the function's, or the class's __init__ and forward."""
    tree = ast.parse(stub)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            functions = [node]
        elif isinstance(node, ast.ClassDef) and node.name == name:
            functions = [n for n in node.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")
                         or isinstance(n, ast.FunctionDef) and n.name == "__init__"]
        else:
            continue
        params = []
        for f in functions:
            a = f.args
            for arg in a.posonlyargs + a.args + a.kwonlyargs:
                if arg.arg not in ("self", "cls") and arg.arg not in params:
                    params.append(arg.arg)
        return params
    return []


def problems(exercise) -> list[str]:
    """Everything that keeps this exercise's instructions from being traceable to its cases."""
    markdown, stub = instructions(exercise)
    text = normalize(markdown + "\n" + stub)
    reqs = exercise.requirements
    found = [] if reqs else ["no requirements listed"]
    cases = {c.name for c in exercise.cases}
    for r in reqs:
        if normalize(r.says) not in text:
            found.append(f"not a quote of the instructions: {r.says!r}")
        if not r.by and not r.not_checked:
            found.append(f"neither cases nor a reason it is not checked: {r.says!r}")
        for name in r.by:
            if name == "pure":
                if not exercise.pure:
                    found.append(f"{r.says!r} is enforced by 'pure', but the exercise is not pure=True")
            elif name not in cases:
                found.append(f"{r.says!r} names no case of the exercise: {name!r}")
    cited = {name for r in reqs for name in r.by}
    found += [f"case {c!r} is named by no requirement" for c in sorted(cases - cited)]
    said = [normalize(r.says) for r in reqs]
    for param in signature_parameters(stub, exercise.name):
        if not any(re.search(rf"\b{re.escape(normalize(param))}\b", s) for s in said):
            found.append(f"parameter {param!r} is named by no requirement")
    for kind, pattern in KINDS.items():
        if re.search(pattern, text) and not any(re.search(pattern, s) for s in said):
            found.append(f"the instructions speak of {kind} ({re.search(pattern, text).group(0)!r}); no requirement does")
    for error in sorted(set(ERROR.findall(markdown + stub)) - {"NotImplementedError"}):  # the stub's own
        backing = [r for r in reqs if error in r.says]
        if not backing:
            found.append(f"the instructions mention {error}; no requirement does")
        elif all(r.by or r.not_checked for r in backing) and not any(r.not_checked for r in backing) \
                and not any(_raises(exercise, name, error) for r in backing for name in r.by):
            found.append(f"no case named by the {error} requirement makes the reference raise it")
    return found


def _raises(exercise, case_name: str, error: str) -> bool:
    """Whether the reference raises `error` on the case (or the case reports it by name)."""
    index = next((i for i, c in enumerate(exercise.cases) if c.name == case_name), None)
    if index is None:
        return False
    outcome = expected_outcome(exercise, index)
    return error in (outcome.error or "") or error in repr(outcome.value)


def table(exercises) -> str:
    rows = []
    for ex in exercises:
        for r in ex.requirements:
            enforced = ", ".join(r.by) if r.by else f"(not checked: {r.not_checked})"
            rows.append(f"{ex.id:32} {r.says[:70]:72} {enforced}")
        if not ex.requirements:
            rows.append(f"{ex.id:32} {'(none listed)':72}")
    return "\n".join(rows)


def main(argv):
    todo = "--todo" in argv
    chapters = [a for a in argv if not a.startswith("--")] or [m[2:] for m in chapter_modules()]
    exercises = [ex for ch in chapters for ex in chapter_exercises(ch)]
    if not todo:
        print(table(exercises))
        return 0
    missing = 0
    for ex in exercises:
        for p in problems(ex):
            print(f"{ex.id}: {p}")
            missing += 1
    print(f"{missing} problems in {len(exercises)} exercises")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
