"""Cheating submissions of a chapter notebook, one kind per function, for the trust tests.

Each cheat takes the released (stub) notebook of a chapter and returns a copy in which every
exercise is "answered" by the attack it is named after; none does the work. The attacks are
those an instructor must be able to rule out (README, "For instructors"; docs/threat-model.md):

- getting the course's own answer: importing it, opening it by path, walking the installed
  package for it, reading `solutions/` from the clone, exec-ing a copy of its source;
- faking the verdict inside the notebook's kernel: a `check` of one's own, a patched grader,
  patched numpy, an IPython exception hook that swallows every failure, edited test cells;
- answers tuned to the public cases: right on the notebook's inputs, wrong on any other.

`KERNEL_CHEATS` are the ones that stock nbgrader (test cells run in the student's kernel)
awards full marks: the tests prove that on a stock configuration, so those tests can fail.
"""
import copy
import inspect
import zlib
from pathlib import Path

import numpy as np

from grader.engine import chapter_exercises, make_inputs

ROOT = Path(__file__).resolve().parent.parent


def grade_id(cell):
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta.get("grade_id", "") if isinstance(meta, dict) else ""


def _answer_all(nb, chapter, body):
    """Every exercise cell replaced by `body(name)`."""
    nb = copy.deepcopy(nb)
    names = {ex.name for ex in chapter_exercises(chapter)}
    for cell in nb["cells"]:
        if grade_id(cell) in names:
            cell["source"] = body(grade_id(cell))
    return nb


def _with_cell(nb, source):
    """A new, unlocked cell right after the set-up cell that imports `check`."""
    nb = copy.deepcopy(nb)
    at = next(i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and "import" in "".join(c["source"])
              and "check" in "".join(c["source"]))
    nb["cells"].insert(at + 1, {"cell_type": "code", "metadata": {}, "source": source, "outputs": [],
                                "execution_count": None})
    return nb


def wrong(name):
    return f"def {name}(*args, **kwargs):\n    return None\n"


# ---------------------------------------------------------------- getting the course's answer

def import_answers(nb, chapter):
    """The one-liner: the course ships its answers, so import them."""
    return _answer_all(nb, chapter, lambda name: f"from grader.reference.ch{chapter} import {name}\n")


def import_at_call_time(nb, chapter):
    """The import hidden inside the function, so it happens only when the grader calls it."""
    return _answer_all(nb, chapter, lambda name: (
        f"import importlib\n\ndef {name}(*args, **kwargs):\n"
        f"    return getattr(importlib.import_module('grader.reference.ch{chapter}'), '{name}')(*args, **kwargs)\n"))


def open_by_path(nb, chapter):
    """No import: read the reference's file next to the installed package and exec it."""
    return _answer_all(nb, chapter, lambda name: (
        f"import os, grader\n\ndef {name}(*args, **kwargs):\n    ns = {{}}\n"
        f"    path = os.path.join(os.path.dirname(grader.__file__), 'reference', 'ch{chapter}.py')\n"
        f"    exec(open(path).read(), ns)\n    return ns['{name}'](*args, **kwargs)\n"))


def walk_package(nb, chapter):
    """Search the installed package (and everything next to it) for any file defining the name."""
    return _answer_all(nb, chapter, lambda name: (
        f"import os, grader\n\ndef {name}(*args, **kwargs):\n"
        f"    top = os.path.dirname(os.path.dirname(grader.__file__))\n"
        f"    for folder, _, files in os.walk(top):\n"
        f"        for f in files:\n"
        f"            if f.endswith('.py') and 'ch{chapter}' in f and 'exercises' not in folder:\n"
        f"                ns = {{}}\n"
        f"                try:\n"
        f"                    exec(open(os.path.join(folder, f)).read(), ns)\n"
        f"                except Exception:\n"
        f"                    continue\n"
        f"                if '{name}' in ns:\n"
        f"                    return ns['{name}'](*args, **kwargs)\n"
        f"    return None\n"))


def read_solutions(nb, chapter):
    """The clone has solutions/: find it above the package or the working folder, exec its cells."""
    return _answer_all(nb, chapter, lambda name: (
        f"import glob, json, os, grader\n\ndef {name}(*args, **kwargs):\n"
        f"    starts = [os.path.dirname(grader.__file__), os.getcwd(), {str(ROOT)!r}]\n"
        f"    for start in starts:\n"
        f"        for up in range(6):\n"
        f"            folder = os.path.join(start, *['..'] * up, 'solutions')\n"
        f"            for path in glob.glob(os.path.join(folder, '{chapter}_*.ipynb')):\n"
        f"                ns = {{}}\n"
        f"                for cell in json.load(open(path))['cells']:\n"
        f"                    if cell['cell_type'] == 'code':\n"
        f"                        try:\n"
        f"                            exec(''.join(cell['source']), ns)\n"
        f"                        except Exception:\n"
        f"                            pass\n"
        f"                if '{name}' in ns:\n"
        f"                    return ns['{name}'](*args, **kwargs)\n"
        f"    return None\n"))


def exec_copy(nb, chapter):
    """Take the reference's source text (inspect) and exec a copy of it, so no import is used
    for the answer itself."""
    return _answer_all(nb, chapter, lambda name: (
        f"import importlib, inspect\n\ndef {name}(*args, **kwargs):\n"
        f"    source = inspect.getsource(importlib.import_module('grader.reference.ch{chapter}'))\n"
        f"    ns = {{}}\n    exec(compile(source, 'copy.py', 'exec'), ns)\n"
        f"    return ns['{name}'](*args, **kwargs)\n"))


# ---------------------------------------------------------------- faking the verdict in the kernel

def shadow_check(nb, chapter):
    """A `check` of one's own, defined after the course's import: every test cell calls it."""
    return _with_cell(_answer_all(nb, chapter, wrong), "def check(*args, **kwargs):\n    return None\n")


def patch_grader(nb, chapter):
    """Patch the engine so every verdict is a pass."""
    return _with_cell(_answer_all(nb, chapter, wrong), (
        "import grader.engine\n"
        "grader.engine.evaluate = lambda exercise, outcomes: grader.engine.ExerciseResult(\n"
        "    exercise.id, 'passed', exercise.points, exercise.points)\n"))


def patch_numpy(nb, chapter):
    """Make numpy's comparisons agree with anything, and answer with zeros."""
    return _with_cell(_answer_all(nb, chapter, lambda name: f"def {name}(*args, **kwargs):\n    return 0\n"), (
        "import numpy as np\n"
        "np.allclose = lambda *a, **k: True\n"
        "np.array_equal = lambda *a, **k: True\n"
        "np.isclose = lambda a, b, *r, **k: np.ones(np.broadcast(a, b).shape, bool)\n"
        "np.testing.assert_allclose = lambda *a, **k: None\n"))


def exception_hook(nb, chapter):
    """IPython hooked so that no later cell can fail: an exception handler that shows nothing,
    and an input transformer that wraps every cell in `try: ... except BaseException: pass`
    (the handler alone is not enough: the kernel still reports the cell as failed)."""
    return _with_cell(_answer_all(nb, chapter, wrong), (
        "def _swallow(lines):\n"
        "    return ['try:\\n'] + ['    ' + line for line in lines] + ['\\nexcept BaseException:\\n    pass\\n']\n"
        "get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)\n"
        "get_ipython().input_transformers_post.append(_swallow)\n"))


def edited_tests(nb, chapter):
    """The locked test cells edited to do nothing."""
    nb = copy.deepcopy(_answer_all(nb, chapter, wrong))
    for cell in nb["cells"]:
        if grade_id(cell).startswith("test_"):
            cell["source"] = "pass"
    return nb


# ---------------------------------------------------------------- tuned to the public cases

def _key(args):
    return zlib.crc32(b"".join(np.ascontiguousarray(a).tobytes() if isinstance(a, np.ndarray) else repr(a).encode()
                               for a in args))


def tuned_to_public(nb, chapter):
    """Right on exactly the notebook's public inputs (recognised by a hash of their bytes; the
    right answer comes from a correct implementation pasted in), nothing on any other input."""
    alternatives = inspect.getsource(__import__(f"tests.alternatives.ch{chapter}", fromlist=["x"]))
    keys = {ex.name: tuple(_key(make_inputs(ex, i)) for i in range(len(ex.cases))) for ex in chapter_exercises(chapter)}
    helper = (f"import zlib\nimport numpy as np\n\n_RIGHT = {alternatives!r}\n_PUBLIC = {keys!r}\n\n\n"
              "def _key(args):\n"
              "    return zlib.crc32(b''.join(np.ascontiguousarray(a).tobytes() if isinstance(a, np.ndarray) "
              "else repr(a).encode() for a in args))\n")
    body = lambda name: (  # noqa: E731
        f"def {name}(*args):\n    if _key(args) in _PUBLIC[{name!r}]:\n        ns = {{}}\n"
        f"        exec(_RIGHT, ns)\n        return ns[{name!r}](*args)\n    return None\n")
    return _with_cell(_answer_all(nb, chapter, body), helper)


ANSWER_CHEATS = [import_answers, import_at_call_time, open_by_path, walk_package, read_solutions, exec_copy]
KERNEL_CHEATS = [shadow_check, patch_grader, exception_hook]
CHEATS = ANSWER_CHEATS + KERNEL_CHEATS + [patch_numpy, edited_tests, tuned_to_public]


def course_helpers(nb, chapter):
    """No reference at all: the exercise module's own helpers for its known mistakes include a
    correct distance (`_sq`, for "argmax instead of argmin"); import it from there."""
    assert chapter == "01"
    answers = {"pairwise_sq_distances": "from grader.exercises.ch01 import _sq as pairwise_sq_distances\n",
               "nearest_centroid_predict": ("from grader.exercises.ch01 import _sq\n\n"
                                            "def nearest_centroid_predict(X, centroids):\n"
                                            "    return _sq(X, centroids).argmin(axis=1)\n")}
    return _answer_all(nb, chapter, lambda name: answers.get(name, wrong(name)))


CHEATS.append(course_helpers)
