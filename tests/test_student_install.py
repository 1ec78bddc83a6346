"""The student install: built with one command, installed into a fresh venv, no answers inside.

An instructor hands students the wheel `grader student-build` writes. For every chapter not
released, its reference solution must be absent from the environment the wheel is installed
into (not importable, no file, no copy of its code in the package's data), while `check(...)`
still gives the usual feedback there: a pass for a correct answer written differently, the
named mistake and its hint for a known mistake, "not implemented" for the stub. Any set of
chapters can be released: a withheld chapter whose checks build on another withheld one (08 on
07's attention) waits for that release, and says so, in the build and in `check`. A build that
would give an answer away is refused: releasing a chapter whose reference repeats a withheld
one's code (chapter 04's training loop is chapter 03's). The fresh venv gets numpy and torch from this environment (a .pth line), so the
test runs offline; the course's package comes only from the wheel.
"""
import ast
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from grader.engine import chapter_modules

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow
CHAPTERS = [m[2:] for m in chapter_modules()]          # every chapter, 13 and 14 too
RELEASE = "02"            # so that 03 builds on a released chapter, and 08 on a withheld one (07)
WITHHELD = [c for c in CHAPTERS if c != RELEASE]


def grader(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True,
                          timeout=900, **kwargs)


def reference_functions(chapter):  # the same heuristic as grader/withhold.py, kept separate on purpose
    """Each function and class of a chapter's reference -> its lines of code (docstrings,
    comments and signatures aside), stripped."""
    source = (ROOT / "grader" / "reference" / f"ch{chapter}.py").read_text()
    pieces = {}
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            pieces[node.name] = {line.strip() for line in ast.get_source_segment(source, node).splitlines()[1:]
                                 if len(line.strip()) > 25 and not line.strip().startswith(('"""', "#", "def ", "class ", "@"))
                                 and '"""' not in line}
    return pieces


@pytest.fixture(scope="module")
def student_venv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("student")
    proc = grader("student-build", "--release", RELEASE, "--out", str(tmp / "dist"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (tmp / "build-output.txt").write_text(proc.stdout)
    wheel = next((tmp / "dist").glob("mnist_to_gpt-*.whl"))
    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    site = next(env_dir.glob("lib/python*/site-packages"))
    deps = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    (site / "course-deps.pth").write_text("\n".join(deps) + "\n")   # numpy, torch: offline
    python = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                           "--no-index", "-q", str(wheel)], capture_output=True, text=True, env=env, timeout=600)
    if proc.returncode != 0 and "no such option: --python" in proc.stderr:
        pytest.skip("this pip cannot install into another environment (needs pip >= 22.3)")
    assert proc.returncode == 0, proc.stderr
    return tmp, env_dir, python, env


def test_no_reference_code_of_a_withheld_chapter_is_anywhere_in_the_venv(student_venv):
    """Not on disk under its name, and no file of the venv holds half or more of the lines of
    any function of its reference (a single shared line is an idiom, `probs = F.softmax(logits,
    dim=-1)`, not an answer; a one-line answer counts whole). The stored outcomes are data:
    values, never the reference's code. Lines of the released chapter 02 and of the student
    notebooks, which students have anyway, do not count."""
    _, env_dir, _, _ = student_venv
    given = set().union(*reference_functions(RELEASE).values())
    for notebook in (ROOT / "course").glob("[0-9][0-9]_*.ipynb"):
        for cell in json.loads(notebook.read_text())["cells"]:
            given |= {line.strip() for line in "".join(cell["source"]).splitlines()}
    wanted = {c: {name: lines - given for name, lines in reference_functions(c).items()} for c in WITHHELD}
    assert all(wanted.values())
    files = [p for p in env_dir.rglob("*") if p.is_file() and not p.name.endswith(".pth")]
    assert any(p.name == "engine.py" for p in files), "the wheel was not installed"
    for path in files:
        assert not (path.parent.name == "reference" and path.stem in {f"ch{c}" for c in WITHHELD}), path
        assert path.parent.name != "hidden", path
        held = {line.strip() for line in path.read_bytes().decode("utf-8", "replace").splitlines()}
        for chapter, functions in wanted.items():
            for name, lines in functions.items():
                copied = lines & held
                assert not (copied and 2 * len(copied) >= len(lines)), \
                    f"{path} holds chapter {chapter}'s `{name}`: {sorted(copied)[:2]}"


STUDENT_SCRIPT = r'''
import importlib.util, json, sys
import numpy as np
from grader import check, ExerciseFailed
import grader
out = {"package": grader.__file__}
for chapter in ["01", "06", "07", "10", "02"]:
    out["spec" + chapter] = importlib.util.find_spec(f"grader.reference.ch{chapter}") is not None
def to_vectors(images):                      # correct, written differently
    return np.array([im.ravel() for im in images], dtype=np.float64) * (1 / 255)
out["correct"] = check(to_vectors, quiet=True).status
def to_vectors(images):                      # the known mistake "forgot to divide by 255"
    return images.reshape(len(images), -1).astype(np.float64)
result = check(to_vectors, quiet=True, raise_on_failure=False)
out["mistake"], out["hint"] = result.mistake, result.message
def to_vectors(images):
    raise NotImplementedError()
try:
    check(to_vectors, quiet=True)
except NotImplementedError:
    out["stub"] = "not_implemented"
import torch
def sinusoidal_positional_encoding(max_len, d_model):   # the known mistake "base 1000"
    pos = torch.arange(max_len, dtype=torch.float64)[:, None]
    angle = pos / 1000 ** (torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    pe = torch.zeros(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(angle), torch.cos(angle[:, : d_model // 2])
    return pe.float()
result = check(sinusoidal_positional_encoding, quiet=True, raise_on_failure=False)
out["06"] = [result.status, result.mistake]
# An nn.Module exercise: its check loads the reference's weights, stored as data in the wheel.
import torch.nn as nn
class SelfAttentionHead(nn.Module):          # correct, without scaled_dot_product_attention
    scale_by = -1                            # the axis whose size scales the scores
    def __init__(self, d_model, d_head):
        super().__init__()
        self.query, self.key, self.value = (nn.Linear(d_model, d_head, bias=False) for _ in range(3))
    def forward(self, x, mask=None):
        k = self.key(x)
        scores = self.query(x) @ k.transpose(-2, -1) / (k if self.scale_by == -1 else x).shape[-1] ** 0.5
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        return torch.softmax(scores, dim=-1).nan_to_num(0.0) @ self.value(x)
out["07"] = check(SelfAttentionHead, quiet=True).status
SelfAttentionHead.scale_by = "x"             # the known mistake "scaled by sqrt(d_model)"
result = check(SelfAttentionHead, quiet=True, raise_on_failure=False)
out["07 mistake"] = [result.status, result.mistake]
print(json.dumps(out))
'''


def test_check_still_gives_feedback_without_the_reference(student_venv):
    tmp, _, python, env = student_venv
    proc = subprocess.run([str(python), "-c", STUDENT_SCRIPT], cwd=tmp, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert str(tmp) in out["package"]                    # the wheel's grader, not this checkout's
    assert not any(out["spec" + c] for c in ("01", "06", "07", "10")) and out["spec02"]
    assert out["correct"] == "passed"
    assert out["mistake"] == "forgot to divide by 255" and "divide by 255.0" in out["hint"]
    assert out["stub"] == "not_implemented"
    assert out["06"] == ["failed", "base 1000"]
    assert out["07"] == "passed"
    assert out["07 mistake"] == ["failed", "scaled by sqrt(d_model)"]


def test_every_withheld_chapter_is_checked_or_waits_for_the_one_it_builds_on(student_venv):
    '''The build graded each withheld chapter's reference and stub with the staged package
    alone; the chapters that build on a withheld chapter are listed, naming it (chapter 08's
    notebook imports chapter 07's scaled_dot_product_attention).'''
    said = (student_venv[0] / "build-output.txt").read_text()
    assert "note: chapter 08's checks need chapter 07's reference" in said, said
    assert "chapter 03's checks" not in said and "chapter 07's checks" not in said, said


def test_the_student_notebooks_come_with_it(student_venv):
    tmp = student_venv[0]
    names = sorted(p.name for p in (tmp / "dist" / "course").glob("*.ipynb"))
    assert names == sorted(p.name for p in (ROOT / "course").glob("[0-9][0-9]_*.ipynb")) and len(names) >= 12


def test_a_released_reference_that_repeats_a_withheld_one_is_refused(tmp_path):
    """Chapter 08's attention is chapter 07's head with a mask: releasing 08 while withholding
    07 would hand students most of 07's SelfAttentionHead, so the build refuses, naming it."""
    release = ",".join(c for c in CHAPTERS if c != "07")
    proc = grader("student-build", "--release", release, "--out", str(tmp_path / "dist"))
    assert proc.returncode == 1
    assert "grader/reference/ch08.py: chapter 07's `SelfAttentionHead`" in proc.stderr
    assert not (tmp_path / "dist").exists()


@pytest.mark.parametrize("release", ["", "01,02,03", "01,02,03,04,05,06,07,08,09", ",".join(CHAPTERS[:-1])])
def test_releasing_in_course_order_always_builds(tmp_path, release):
    """The way a class goes: chapters released in order, from none at all. Each such build
    works, and the first withheld chapter, the one students are on, never waits for another."""
    proc = grader("student-build", "--release", release, "--out", str(tmp_path / "dist"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    current = next(c for c in CHAPTERS if c not in release.split(","))
    assert f"chapter {current}'s checks need" not in proc.stdout, proc.stdout
