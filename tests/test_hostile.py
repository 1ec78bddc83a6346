"""`grader check` against hostile and broken submissions.

An autograder is only worth its word: it must never pass a wrong answer, never crash, never
hang, and never let one broken exercise cost the learner the others. Each test takes the
reference notebook of chapter 01, replaces exercise cells with something nasty, and checks
the status of *every* exercise in the JSON report.
"""
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "solutions" / "01_mnist_as_numbers.ipynb"
CORRECT = "passed"


def notebook_with(tmp_path, cells: dict, extra_cells=(), drop=()):
    """The reference notebook with the sources of some exercise cells replaced (by grade_id)."""
    nb = json.loads(SOLUTION.read_text())
    kept = []
    for cell in nb["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in drop:
            continue
        if gid in cells:
            cell["source"] = cells[gid]
        kept.append(cell)
    nb["cells"] = kept + [{"cell_type": "code", "metadata": {}, "source": s, "outputs": [],
                           "execution_count": None} for s in extra_cells]
    path = tmp_path / "01_mnist_as_numbers.ipynb"
    path.write_text(json.dumps(nb))
    return path


def check(path, *extra, timeout=240):
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "grader", "check", str(path), "--json", *extra],
                          capture_output=True, text=True, timeout=timeout)
    report = json.loads(proc.stdout)  # always one JSON object, whatever the notebook did
    statuses = {e["id"].split(".")[1]: e["status"] for e in report["exercises"]}
    return proc.returncode, statuses, report, time.monotonic() - start


def message(report, name):
    return next(e["message"] for e in report["exercises"] if e["id"].endswith(name))


def test_endless_loop_times_out_and_the_rest_is_graded(tmp_path):
    path = notebook_with(tmp_path, {"to_vectors": "def to_vectors(images):\n    while True:\n        pass\n"})
    code, statuses, report, seconds = check(path, "--time-scale", "0.3")
    assert statuses.pop("to_vectors") == "timeout"
    assert set(statuses.values()) == {CORRECT}
    assert code == 1 and seconds < 60


@pytest.mark.parametrize("exit_call", ["sys.exit(0)", "exit()", "os._exit(0)", "os.kill(os.getpid(), 9)"])
def test_exiting_the_process_is_an_error_not_a_pass(tmp_path, exit_call):
    """sys.exit(0) must not look like success, and a dead process must not stop the grading."""
    source = f"import os, sys\ndef one_hot(labels, num_classes=10):\n    {exit_call}\n"
    code, statuses, report, _ = check(notebook_with(tmp_path, {"one_hot": source}))
    assert statuses.pop("one_hot") == "error"
    assert set(statuses.values()) == {CORRECT}
    assert code == 1


def test_running_out_of_memory_is_an_error(tmp_path):
    source = ("def class_means(X, y, num_classes=10):\n    hoard = []\n    while True:\n"
              "        hoard.append(bytearray(10**8))\n")
    code, statuses, report, seconds = check(notebook_with(tmp_path, {"class_means": source}), "--memory-mb", "1000")
    assert statuses.pop("class_means") == "error"
    assert "MemoryError" in message(report, "class_means")
    assert set(statuses.values()) == {CORRECT}


def test_printing_tens_of_megabytes_is_harmless(tmp_path):
    source = ("def to_vectors(images):\n    for _ in range(50):\n        print('x' * 1_000_000)\n"
              "    return images.reshape(len(images), -1) / 255.0\n")
    code, statuses, _, seconds = check(notebook_with(tmp_path, {"to_vectors": source}))
    assert set(statuses.values()) == {CORRECT} and code == 0


def test_patching_numpy_torch_pytest_and_the_grader_cannot_turn_a_wrong_answer_into_a_pass(tmp_path):
    source = '''import numpy as np
import grader.engine, grader.compare, pytest, torch
torch.allclose = torch.equal = lambda *a, **k: True
torch.testing.assert_close = lambda *a, **k: None
pytest.approx = lambda expected, *a, **k: expected
np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, **k: np.ones(np.broadcast(a, b).shape, bool)
np.array_equal = lambda *a, **k: True
grader.compare.compare_values = lambda *a, **k: None
grader.engine.evaluate = lambda *a, **k: None

def to_vectors(images):
    return images.reshape(len(images), -1) * 0.0
'''
    code, statuses, _, _ = check(notebook_with(tmp_path, {"to_vectors": source}))
    assert statuses["to_vectors"] == "failed"
    assert code == 1


def test_objects_that_lie_about_their_values_fail(tmp_path):
    """An ndarray subclass whose ==, -, allclose and __array__ all claim success is still
    compared by the data it holds."""
    source = '''class Agreeable(np.ndarray):
    def __eq__(self, other): return np.ones(np.shape(self), bool)
    def __ne__(self, other): return np.zeros(np.shape(self), bool)
    def __sub__(self, other): return np.zeros(np.shape(self))
    def __array__(self, *args, **kwargs): return np.asarray(pairwise_reference())
    def __array_ufunc__(self, *args, **kwargs): return np.zeros(2)

def pairwise_reference():
    return np.zeros(1)

def one_hot(labels, num_classes=10):
    return np.full((len(labels), num_classes), 0.5).view(Agreeable)
'''
    code, statuses, _, _ = check(notebook_with(tmp_path, {"one_hot": source}))
    assert statuses["one_hot"] == "failed"


def test_writing_into_the_result_channel_is_an_error(tmp_path):
    source = ('import os, sys\ndef class_means(X, y, num_classes=10):\n'
              '    os.write(int(sys.argv[1]), b"{\\"event\\": \\"end\\", \\"id\\": 42}\\nnonsense\\n")\n'
              '    return X[:num_classes]\n')
    code, statuses, _, _ = check(notebook_with(tmp_path, {"class_means": source}))
    assert statuses.pop("class_means") == "error"
    assert set(statuses.values()) == {CORRECT}


def test_syntax_error_costs_only_its_exercise(tmp_path):
    source = "def pairwise_sq_distances(A, B)\n    return 0\n"
    code, statuses, report, _ = check(notebook_with(tmp_path, {"pairwise_sq_distances": source}))
    assert statuses.pop("pairwise_sq_distances") == "error"
    assert "SyntaxError" in message(report, "pairwise_sq_distances")
    assert set(statuses.values()) == {CORRECT}


def test_a_deleted_exercise_cell_is_missing(tmp_path):
    code, statuses, _, _ = check(notebook_with(tmp_path, {}, drop={"nearest_centroid_predict"}))
    # nearest_centroid_predict is also defined nowhere else, so it is missing
    assert statuses.pop("nearest_centroid_predict") == "missing"
    assert set(statuses.values()) == {CORRECT}


def test_a_duplicated_exercise_cell_grades_the_last_copy(tmp_path):
    nb = json.loads(SOLUTION.read_text())
    original = next(c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "one_hot")
    wrong = json.loads(json.dumps(original))
    wrong["source"] = "def one_hot(labels, num_classes=10):\n    return np.eye(num_classes)[labels].T\n"
    nb["cells"].append(wrong)
    path = tmp_path / "01_mnist_as_numbers.ipynb"
    path.write_text(json.dumps(nb))
    code, statuses, report, _ = check(path)
    assert statuses["one_hot"] == "failed"
    item = next(e for e in report["exercises"] if e["id"] == "01.one_hot")
    assert "more than one cell" in item["note"]


def test_keyboard_interrupt_and_base_exceptions_are_errors(tmp_path):
    source = "def to_vectors(images):\n    raise KeyboardInterrupt\n"
    code, statuses, _, _ = check(notebook_with(tmp_path, {"to_vectors": source}))
    assert statuses.pop("to_vectors") == "error"
    assert set(statuses.values()) == {CORRECT}


def test_a_forked_process_left_behind_does_not_hang_the_grader(tmp_path):
    source = ("import os, time\ndef to_vectors(images):\n    if os.fork() == 0:\n        time.sleep(600)\n"
              "    return images.reshape(len(images), -1) / 255.0\n")
    code, statuses, _, seconds = check(notebook_with(tmp_path, {"to_vectors": source}))
    assert statuses["to_vectors"] in ("passed", "error")
    assert seconds < 60


def test_a_top_level_crash_in_a_definition_cell_is_reported(tmp_path):
    """Class bodies run at definition time: an exception there is the exercise's error."""
    source = "class one_hot:\n    raise RuntimeError('boom')\n"
    code, statuses, report, _ = check(notebook_with(tmp_path, {"one_hot": source}))
    assert statuses["one_hot"] == "error" and "boom" in message(report, "one_hot")


@pytest.mark.parametrize("content, reason", [
    ("{not json", "not a valid notebook"),
    ('{"nbformat": 4, "cells": "nope"}', "not a valid notebook"),
    ('[1, 2, 3]', "not a Jupyter notebook"),
    (b"\xff\xfe\x00binary", "not UTF-8"),
])
def test_unreadable_notebooks_exit_2_with_one_sentence(tmp_path, content, reason):
    path = tmp_path / "01_mnist_as_numbers.ipynb"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    proc = subprocess.run([sys.executable, "-m", "grader", "check", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert reason in proc.stderr and proc.stderr.count("\n") == 1


# ---------------------------------------------------------------- instructor grading: the sandbox

from grader.sandbox import bwrap_problem  # noqa: E402

needs_sandbox = pytest.mark.skipif(bwrap_problem() is not None, reason=f"no sandbox here: {bwrap_problem()}")


def instructor(path, *extra, env=None):
    return check(path, "--instructor", "--sandbox", "bwrap", *extra) if env is None else \
        _check_env(path, env, "--instructor", *extra)


def _check_env(path, env, *extra):
    proc = subprocess.run([sys.executable, "-m", "grader", "check", str(path), "--json", *extra],
                          capture_output=True, text=True, timeout=240, env=env)
    return proc.returncode, proc


def raising(name, expression):
    """An exercise answer that reports `expression`, evaluated inside the grading run, as its error."""
    return f"import os, socket\ndef {name}(*args, **kwargs):\n    raise RuntimeError(repr({expression}))\n"


@needs_sandbox
def test_learner_code_does_not_see_the_instructors_secret(tmp_path):
    """The hidden cases' secret seeds them; learner code that could read it could recompute them."""
    import os
    path = notebook_with(tmp_path, {"to_vectors": raising("to_vectors", "os.environ.get('GRADER_HIDDEN_SECRET')")})
    env = {**os.environ, "GRADER_HIDDEN_SECRET": "s3cret-value"}
    proc = subprocess.run([sys.executable, "-m", "grader", "check", str(path), "--json", "--instructor",
                           "--sandbox", "bwrap"], capture_output=True, text=True, timeout=240, env=env)
    report = json.loads(proc.stdout)
    assert report["sandbox"] == "bwrap"
    assert "None" in message(report, "to_vectors") and "s3cret" not in proc.stdout


@needs_sandbox
def test_learner_code_has_no_network(tmp_path):
    """A listening socket on this machine's loopback is unreachable from the sandbox."""
    import socket
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    try:
        source = raising("to_vectors", f"socket.create_connection(('127.0.0.1', {port}), timeout=5)")
        _, statuses, report, _ = instructor(notebook_with(tmp_path, {"to_vectors": source}))
    finally:
        server.close()
    text = message(report, "to_vectors")
    assert statuses["to_vectors"] == "error" and ("unreachable" in text or "refused" in text), text


@needs_sandbox
def test_learner_code_cannot_read_other_submissions(tmp_path):
    """Another student's notebook next to this one, by its absolute path, is not there."""
    other = tmp_path / "other-student.ipynb"
    other.write_text(SOLUTION.read_text())
    source = ("def to_vectors(images):\n"
              f"    return open({str(other)!r}).read()\n")
    _, statuses, report, _ = instructor(notebook_with(tmp_path, {"to_vectors": source}))
    assert statuses["to_vectors"] == "error" and "No such file" in message(report, "to_vectors")


@needs_sandbox
def test_a_failed_hidden_case_is_named_by_its_description_only(tmp_path):
    """An answer right on the public inputs only fails a hidden case; the report names the case
    by its description and shows no code of how its inputs are made, nor the expected values,
    which would tell them."""
    source = ("def one_hot(labels, num_classes=10):\n"
              "    return np.eye(num_classes)[labels] if len(labels) in (7, 1, 6, 10, 8) else np.zeros(3)\n")
    code, statuses, report, _ = instructor(notebook_with(tmp_path, {"one_hot": source}))
    text = message(report, "one_hot")
    assert statuses.pop("one_hot") == "failed" and set(statuses.values()) == {CORRECT}
    assert "case 'hidden case: twenty labels, num_classes=13'" in text
    assert "rng" not in text and "lambda" not in text and "labels(" not in text
    assert "expected values are not shown" in text and "(20, 13)" not in text   # its expected shape
    _, public, _, _ = check(notebook_with(tmp_path, {"one_hot": source}))
    assert public["one_hot"] == CORRECT      # the control: the public cases alone pass it


def test_without_bwrap_instructor_grading_says_so_or_refuses(tmp_path):
    """Where bwrap cannot run: --sandbox bwrap refuses (exit 2, one line saying why); auto
    grades and says in the report that there was no sandbox."""
    import os
    path = notebook_with(tmp_path, {})
    env = {**os.environ, "PATH": str(tmp_path)}      # no bwrap on PATH
    code, proc = _check_env(path, env, "--instructor", "--sandbox", "bwrap")
    assert code == 2 and "bwrap is not installed" in proc.stderr
    code, proc = _check_env(path, env, "--instructor", "--sandbox", "auto")
    report = json.loads(proc.stdout)
    assert code == 0 and report["sandbox"] == "none" and report["hidden_cases"] is True


def test_self_learners_grader_check_is_unchanged(tmp_path):
    """`grader check` without --instructor: public cases only, no sandbox, the reference passes."""
    code, statuses, report, _ = check(notebook_with(tmp_path, {}))
    assert code == 0 and set(statuses.values()) == {CORRECT}
    assert report["sandbox"] == "none" and report["hidden_cases"] is False


@needs_sandbox
def test_importing_torch_in_the_sandbox_is_not_an_attempt_on_the_answers(tmp_path):
    """torch lists its own `.../quantized/reference` folder while importing: the guard must flag
    only the course's folders, or every chapter that imports torch would score 0."""
    notebook = next((ROOT / "solutions").glob("06_*.ipynb"))
    code, statuses, report, _ = check(notebook, "--instructor", "--sandbox", "bwrap")
    assert report["score"] == report["max_score"] and set(statuses.values()) == {CORRECT}
