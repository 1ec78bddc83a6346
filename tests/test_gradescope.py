"""`grader gradescope`: the autograder zip, run here the way Gradescope runs it.

Each test unpacks the zip into a temporary root laid out like Gradescope's container
(`source/`, `submission/`, `results/`), runs `run_autograder` on one submission, validates
`results.json` against docs/gradescope-results.schema.json and checks the scores: a zip that
writes results Gradescope cannot read, or scores a stub, a wrong answer or a forgery, fails here.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from grader.gradescope import BuildError, build, unpack
from tests.cheats import tuned_to_public

ROOT = Path(__file__).resolve().parent.parent
NB = "01_mnist_as_numbers.ipynb"
SCHEMA = json.loads((ROOT / "docs" / "gradescope-results.schema.json").read_text())


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory):
    return build(["01"], tmp_path_factory.mktemp("zip") / "autograder.zip", secret="test secret")


def run_autograder(zip_path, tmp_path, notebook_text, name=NB):
    """Unpack, submit one notebook, run run_autograder with this test's Python; return results.json."""
    root = unpack(zip_path, tmp_path / "autograder")
    (root / "submission" / name).write_text(notebook_text)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_VENV": sys.prefix,
           # the package from the zip, not this checkout: the zip must be complete on its own
           "PYTHONPATH": str(root / "source" / "course")}
    env.pop("GRADER_HIDDEN_SECRET", None)
    done = subprocess.run([str(root / "run_autograder")], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    return results


def by_name(results):
    return {t["name"]: t for t in results["tests"]}


def solution():
    return (ROOT / "solutions" / NB).read_text()


def test_the_reference_gets_full_marks_and_every_exercise_is_a_test(autograder_zip, tmp_path):
    """Full marks for the reference; one test per exercise carrying its points (6 in all)."""
    results = run_autograder(autograder_zip, tmp_path, solution())
    assert results["score"] == 6
    assert sum(t["max_score"] for t in results["tests"]) == 6
    tests = by_name(results)
    assert tests["01.pairwise_sq_distances (all cases, hidden ones included)"]["max_score"] == 2
    assert {t["visibility"] for t in results["tests"]} == {"visible", "after_published"}


def test_the_stub_scores_zero_and_says_what_to_do(autograder_zip, tmp_path):
    """The released notebook, untouched, earns nothing; the visible output says why."""
    results = run_autograder(autograder_zip, tmp_path, (ROOT / "course" / NB).read_text())
    assert results["score"] == 0
    assert "not implemented yet" in by_name(results)["01.one_hot (public cases)"]["output"]


def test_a_wrong_answer_loses_its_points_with_the_mistake_named(autograder_zip, tmp_path):
    """one_hot transposed: 5 of 6, and the visible message names the known mistake."""
    nb = json.loads(solution())
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "one_hot":
            cell["source"] = "def one_hot(labels, num_classes=10):\n    return np.eye(num_classes)[labels].T\n"
    results = run_autograder(autograder_zip, tmp_path, json.dumps(nb))
    assert results["score"] == 5
    tests = by_name(results)
    assert tests["01.one_hot (all cases, hidden ones included)"]["score"] == 0
    assert "scores 0" in tests["01.one_hot (public cases)"]["output"]


def test_answers_tuned_to_the_public_cases_fail_only_where_students_cannot_see_yet(autograder_zip, tmp_path):
    """Right on the notebook's inputs only: the visible tests say the public cases pass, the
    after_published tests (hidden cases) give 0. Before grades are published nothing visible
    tells the student which hidden inputs failed."""
    stub = json.loads((ROOT / "course" / NB).read_text())
    results = run_autograder(autograder_zip, tmp_path, json.dumps(tuned_to_public(stub, "01")))
    assert results["score"] == 0
    for test in results["tests"]:
        if test["visibility"] == "visible":
            assert test["output"].startswith("public cases: passed"), test
            assert "hidden" not in test["output"]
        else:
            assert test["visibility"] == "after_published" and test["score"] == 0


def test_a_hostile_submission_cannot_forge_results_or_read_the_secret(autograder_zip, tmp_path):
    """Learner code that overwrites results.json with full marks and copies the secret and the
    course's reference into its answer: results.json is the grader's, written last, and the
    answer scores 0 (the sandbox hides the zip; where there is none, the guard refuses the reference)."""
    root = tmp_path / "autograder"
    forged = json.dumps({"score": 100, "tests": []})
    attack = (
        "import os\n"
        f"for p in [{str(root / 'results' / 'results.json')!r}, '/autograder/results/results.json']:\n"
        "    try:\n"
        "        os.makedirs(os.path.dirname(p), exist_ok=True); open(p, 'w').write(" + repr(forged) + ")\n"
        "    except OSError:\n"
        "        pass\n"
        "try:\n"
        f"    SECRET = open({str(root / 'source' / 'secret')!r}).read()\n"
        "except OSError:\n"
        "    SECRET = None\n"
        "def one_hot(labels, num_classes=10):\n"
        "    from grader.reference.ch01 import one_hot as answer\n"
        "    return answer(labels, num_classes)\n"
    )
    nb = json.loads((ROOT / "course" / NB).read_text())
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "one_hot":
            cell["source"] = attack
    results = run_autograder(autograder_zip, tmp_path, json.dumps(nb))
    assert results["score"] == 0
    assert "tests" in results and len(results["tests"]) == 10
    assert by_name(results)["01.one_hot (all cases, hidden ones included)"]["score"] == 0


def test_a_missing_or_unreadable_notebook_is_a_zero_with_a_reason(autograder_zip, tmp_path):
    """A wrong upload must still give Gradescope a valid results.json that says what went wrong."""
    results = run_autograder(autograder_zip, tmp_path, "{ not json", name=NB)
    assert results["score"] == 0 and results["tests"]
    assert NB in results["output"]
    results = run_autograder(autograder_zip, tmp_path / "2", "hello", name="notes.txt")
    assert results["score"] == 0 and "no notebook of chapter 01" in results["output"]


def test_the_build_refuses_without_a_secret_or_an_unknown_chapter(tmp_path, monkeypatch):
    """Without GRADER_HIDDEN_SECRET the hidden inputs would be guessable from the public repository."""
    monkeypatch.delenv("GRADER_HIDDEN_SECRET", raising=False)
    with pytest.raises(BuildError, match="GRADER_HIDDEN_SECRET"):
        build(["01"], tmp_path / "a.zip")
    with pytest.raises(BuildError, match="no chapter 99"):
        build(["99"], tmp_path / "a.zip", secret="x")


@pytest.mark.slow
def test_setup_sh_installs_a_working_autograder_into_a_fresh_venv(autograder_zip, tmp_path):
    """setup.sh, run as Gradescope runs it, into a new venv: afterwards run_autograder grades the
    reference with that venv alone. The venv sees this machine's site-packages (for torch and
    numpy: no download in CI); the course itself is installed from the zip."""
    root = unpack(autograder_zip, tmp_path / "autograder")
    venv = tmp_path / "venv"
    base = Path(sys.base_prefix) / "bin" / "python3"
    env = {**os.environ, "AUTOGRADER_SOURCE": str(root / "source"), "AUTOGRADER_VENV": str(venv),
           "AUTOGRADER_PYTHON": str(base), "AUTOGRADER_VENV_ARGS": "--system-site-packages",
           "AUTOGRADER_PIP_ARGS": "--no-deps --no-build-isolation", "AUTOGRADER_APT": "0",
           "PYTHONPATH": os.pathsep.join(p for p in sys.path if p.endswith("site-packages"))}
    done = subprocess.run(["bash", str(root / "source" / "setup.sh")], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import grader; print(grader.__file__)"],
                           env=env, capture_output=True, text=True, cwd=tmp_path).stdout
    assert str(venv) in where, f"grader was imported from {where}, not from the new venv"
    shutil.copyfile(ROOT / "solutions" / NB, root / "submission" / NB)
    env = {k: v for k, v in env.items() if k != "PYTHONPATH"}
    env.update(AUTOGRADER_ROOT=str(root), PYTHONPATH=os.pathsep.join(
        p for p in sys.path if p.endswith("site-packages")))
    done = subprocess.run([str(root / "run_autograder")], env=env, capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, SCHEMA)
    assert results["score"] == 6
