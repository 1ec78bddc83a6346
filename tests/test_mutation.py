"""benchmarks/mutation.py, the mutation-testing driver, does what its score relies on.

The benchmark itself takes minutes per chapter and is not part of the test run; these tests
keep its foundations honest in seconds: mutants come out the same on every run with ids that an
unrelated edit does not change (the equivalence records in tests/mutants/ are keyed by them), a
mutant that must die is killed while the unchanged reference, run the same way, passes, and
every equivalence record still names a mutant that exists and says why it is equivalent.
"""
import ast
import importlib.util
import json
from pathlib import Path

from grader.engine import find_exercise

ROOT = Path(__file__).resolve().parents[1]


def load_driver():
    spec = importlib.util.spec_from_file_location("mutation_driver", ROOT / "benchmarks" / "mutation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


mutation = load_driver()

PAIRWISE = '''def pairwise_sq_distances(A, B):
    """(n, d) and (m, d) -> (n, m) squared Euclidean distances, never negative."""
    sq = (A ** 2).sum(axis=1)[:, None] - 2.0 * A @ B.T + (B ** 2).sum(axis=1)[None, :]
    return np.maximum(sq, 0.0)
'''


def test_generation_is_deterministic_and_ids_are_unique():
    """Two runs give the same mutants in the same order; no two mutants share an id (an
    equivalence record must name exactly one)."""
    ex = find_exercise("01.pairwise_sq_distances")
    first, _ = mutation.exercise_mutants(ex)
    second, _ = mutation.exercise_mutants(ex)
    assert [(m.id, m.source) for m in first] == [(m.id, m.source) for m in second]
    assert len({m.id for m in first}) == len(first)
    assert len({m.source for m in first}) == len(first), "two mutants are the same program"
    assert len(first) > 10


def test_ids_survive_unrelated_edits():
    """A statement added above, a comment, a blank line and a new line number leave every
    existing mutant's id unchanged, so the records in tests/mutants/ do not go stale."""
    before = {m.id: m.description for m in mutation.generate("01.pairwise_sq_distances", PAIRWISE, ["np"])}
    edited = PAIRWISE.replace('    sq = ', '    n = len(A)  # unrelated\n\n    sq = ')
    after = {m.id for m in mutation.generate("01.pairwise_sq_distances", edited, ["np"], first_line=40)}
    assert set(before) <= after, [before[i] for i in set(before) - after]


def test_every_mutant_compiles_and_differs_from_the_reference():
    """Each mutant is valid Python, defines the exercise's name, and is not the reference
    written differently (the unparsed unchanged source)."""
    ex = find_exercise("01.one_hot")
    mutants, _ = mutation.exercise_mutants(ex)
    identity = mutation.identity_source(ex)
    for m in mutants:
        tree = ast.parse(m.source)
        assert tree.body[0].name == "one_hot"
        assert m.source != identity


def test_operators_cover_the_examples_of_the_issue():
    """The mutants the issue names by example are generated: a dropped `.transpose(1, 2)` and
    `.contiguous()`, `[:-1]` -> `[:]`, `range(n)` -> `range(n - 1)`, `+=` -> `=`, `break` ->
    `continue`, a dropped keyword argument, `-1` -> `-2`, `f(a, b)` -> `f(b, a)` (but not `transpose(2, 1)`: the same swap)."""
    source = '''def f(x, n):
    total = 0
    for i in range(n):
        if i > 3:
            break
        total += x[:-1].contiguous().view(-1).sum(dim=0)
    return x.view(2, 3).transpose(1, 2), total
'''
    got = {m.mutated for m in mutation.generate("00.f", source)} | \
        {m.description.split(" -> ")[1] for m in mutation.generate("00.f", source)}
    for expected in ("x.view(2, 3)", "x[:-1].view(-1)", "x[:]", "range(n - 1)", "continue",
                     "total = x[:-1].contiguous().view(-1).sum(dim=0)",
                     "`x[:-1].contiguous().view(-1).sum()`", "`x[:-1].contiguous().view(-2)`",
                     "i >= 3", "x.view(3, 2)"):
        assert any(expected.strip("`") in g for g in got), f"no mutant gives {expected}"
    assert not any("transpose(2, 1)" in g for g in got), "transpose(1, 2) and (2, 1) are the same call"


def grade(ex, source):
    module = mutation._module_of(ex.reference())
    pool = mutation.Pool(jobs=1)
    verdicts = dict(pool.submit("m", ex, source, module, ex.time_limit * 3 + 5))
    verdicts.update(pool.drain())
    return verdicts["m"]["status"]


def test_the_reference_passes_and_a_wrong_sign_is_killed():
    """Run as every mutant is (unparsed, executed in a copy of the reference module's namespace,
    graded in a forked child), the unchanged reference passes; `+` -> `-` in the squared
    distances (||a||^2 - 2a.b - ||b||^2) fails."""
    ex = find_exercise("01.pairwise_sq_distances")
    assert grade(ex, mutation.identity_source(ex)) == "passed"
    mutants, _ = mutation.exercise_mutants(ex)
    minus = [m for m in mutants if m.operator == "arithmetic"
             and m.original.endswith("+ (B ** 2).sum(axis=1)[None, :]")
             and m.mutated.endswith("- (B ** 2).sum(axis=1)[None, :]")]
    assert len(minus) == 1
    assert grade(ex, minus[0].source) == "failed"


def test_a_mutant_that_hangs_or_crashes_counts_as_killed():
    """The parent's wall-clock limit ends an endless loop in C (which the grader's own alarm
    cannot interrupt), and a child that dies without a verdict is a crash, not a pass."""
    ex = find_exercise("01.to_vectors")
    module = mutation._module_of(ex.reference())
    pool = mutation.Pool(jobs=2)
    hang = "def to_vectors(images):\n    import time\n    while True:\n        time.sleep(10)\n"
    die = "def to_vectors(images):\n    import os\n    os._exit(7)\n"
    verdicts = dict(pool.submit("hang", ex, hang, module, 1.0))
    verdicts.update(pool.submit("die", ex, die, module, 30))
    verdicts.update(pool.drain())
    assert verdicts["die"]["status"] == "crashed"
    assert verdicts["hang"]["status"] in ("timeout", "crashed")


def test_equivalence_records_name_existing_mutants_with_a_reason():
    """Every record in tests/mutants/chNN.json names a mutant that the current reference still
    produces, quotes its change, and says in one line why it is equivalent. A record left behind
    by an edit of the reference is stale and fails here (`benchmarks/mutation.py --stale` lists them)."""
    files = sorted((ROOT / "tests" / "mutants").glob("ch*.json"))
    assert files, "tests/mutants/ holds the equivalence records"
    for path in files:
        records = json.loads(path.read_text())
        for exercise_id, mutants in records.items():
            assert exercise_id.startswith(path.stem[2:] + "."), f"{path.name}: {exercise_id} is another chapter's"
            for mutant_id, record in mutants.items():
                assert set(record) == {"change", "why"}, f"{path.name} {mutant_id}: keys change and why"
                assert record["why"].strip() and "\n" not in record["why"], f"{path.name} {mutant_id}: one-line why"
    assert mutation.stale_records() == []


def test_equivalence_record_of_a_vanished_mutant_is_stale(tmp_path, monkeypatch):
    """The stale check itself can fail: a record with an id no mutant has is reported."""
    (tmp_path / "ch01.json").write_text(json.dumps(
        {"01.to_vectors": {"0000000000": {"change": "line 1: `a` -> `b`", "why": "gone"}}}))
    monkeypatch.setattr(mutation, "MUTANTS_DIR", tmp_path)
    assert [p[2] for p in mutation.stale_records()] == ["0000000000"]


def test_remembered_reference_outcomes_give_the_same_verdicts(monkeypatch):
    """The driver computes each case's expected outcome once, before the forks; with that cache
    the unchanged reference still passes and the wrong sign still fails (and the cache is used)."""
    from grader import engine
    monkeypatch.setattr(engine, "expected_outcome", engine.expected_outcome)
    monkeypatch.setattr(mutation, "_EXPECTED", {})
    mutation.remember_expected_outcomes()
    ex = find_exercise("01.pairwise_sq_distances")
    assert engine.grade_function(ex, ex.reference()).passed       # fills the cache
    assert len(mutation._EXPECTED) == len(ex.cases)
    minus = next(m for m in mutation.exercise_mutants(ex)[0]
                 if m.operator == "arithmetic" and m.mutated.endswith("- (B ** 2).sum(axis=1)[None, :]"))
    assert grade(ex, mutation.identity_source(ex)) == "passed"
    assert grade(ex, minus.source) == "failed"


def test_rescore_applies_todays_records_to_an_earlier_run(tmp_path, monkeypatch, capsys):
    """--rescore recounts an earlier --json run: a survivor recorded since then counts as
    equivalent, and the score is killed / (mutants - equivalent)."""
    (tmp_path / "ch01.json").write_text(json.dumps(
        {"01.one_hot": {"bbbbbbbbbb": {"change": "line 1: `a` -> `b`", "why": "same"}}}))
    monkeypatch.setattr(mutation, "MUTANTS_DIR", tmp_path)
    run = {"chapters": [{"chapter": "01", "total": 4, "mutants": 4, "seconds": 1.0}],
           "mutants": [{"id": i, "exercise": "01.one_hot", "status": s} for i, s in
                       (("aaaaaaaaaa", "failed"), ("bbbbbbbbbb", "passed"), ("cccccccccc", "passed"),
                        ("dddddddddd", "timeout"))]}
    (tmp_path / "run.json").write_text(json.dumps(run))
    assert mutation.main(["--rescore", str(tmp_path / "run.json")]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("01"))
    assert row.split()[:6] == ["01", "4", "2", "1", "1", "66.7%"], row
