"""The grading engine: one place that decides whether an answer is right.

An `Exercise` is a list of seeded `Case`s. Running a case means building its inputs from a
seed, calling the learner's function (or class) on a copy of them, and reducing what comes
back to plain data (`values.normalize`): an `Outcome`. That part may run inside the
notebook (`check`) or in a separate, disposable process (`grader check`). Judging the
outcomes, `evaluate`, always runs on the trusted side: it recomputes the expected result
with the reference solution, compares, and when an answer is wrong, tries the exercise's
known mistakes on the same inputs to name the one the learner made.
"""
import contextlib
import copy
import dis
import importlib
import pkgutil
import signal
import sys
import threading
import traceback
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .compare import Fail, close, compare_values
from .error_hints import hint_for
from .values import normalize


@dataclass
class Case:
    """One test of an exercise. `inputs(rng)` builds the positional arguments from a seeded
    numpy Generator; `run(fn, args)` calls the function under test (default `fn(*args)`);
    `compare` overrides the exercise's comparator; `why` says what the case is for.

    A run may carry a `prepare(args) -> args` attribute: the inputs pass through it where they
    are built, in the grading process, which may use the reference there (a module check takes
    the reference's weights, as data). The run itself executes beside learner code, where the
    reference of an unreleased chapter is absent (grader/sandbox.py, grader/student.py)."""
    name: str
    inputs: Callable[[np.random.Generator], tuple]
    run: Callable[[Any, tuple], Any] | None = None
    compare: Callable | None = None
    why: str = ""
    seed: int | None = None      # hidden cases only: set from the instructor's secret


@dataclass
class Mistake:
    """A known wrong answer: its name, the hint shown when it is recognised, and a function
    that makes exactly that mistake (so the tests can prove the grader catches it)."""
    name: str
    hint: str
    fn: Callable


class Requirement:
    """One behaviour the notebook's instructions ask of an exercise, and the cases that enforce it.

        Requirement("must raise ValueError when k > n", "k larger than n")
        Requirement("A picture of the heads", not_checked="a figure, not a behaviour")

    `says` quotes the exercise's instructions in the notebook (its section's text and its stub;
    tests/test_requirements.py checks the quote is there). `by` names the exercise's cases that
    enforce it, or "pure" for "leaves its arguments unchanged" (Exercise.pure). A sentence that
    looks like an instruction but asks nothing gradable is listed with `not_checked`, the reason.
    `python -m tests.requirements` prints every exercise's table for a reviewer."""

    def __init__(self, says: str, *by: str, not_checked: str = ""):
        self.says, self.by, self.not_checked = says, by, not_checked

    def __repr__(self):
        return f"Requirement({self.says!r}, {', '.join(map(repr, self.by)) or self.not_checked!r})"


@dataclass
class Exercise:
    id: str                      # "NN.name"
    points: int
    difficulty: str              # "easy" | "medium" | "hard"
    minutes: int                 # a fair time estimate for a learner
    cases: list[Case]
    compare: Callable = field(default_factory=close)
    mistakes: list[Mistake] = field(default_factory=list)
    pure: bool = False           # must leave its arguments unchanged
    time_limit: float = 10.0     # seconds for all cases together
    run: Callable[[Any, tuple], Any] | None = None   # every case's run, unless the case has its own
    requirements: list[Requirement] = field(default_factory=list)

    @property
    def chapter(self) -> str:
        return self.id.split(".")[0]

    @property
    def name(self) -> str:
        return self.id.split(".", 1)[1]

    def reference(self):
        """The reference solution. Raises ReferenceUnavailable in a student install built
        without this chapter's reference (see grader/student.py)."""
        return getattr(reference_module(self.chapter), self.name)


class ReferenceUnavailable(LookupError):
    """This install, or this process, has no reference for the chapter; the engine uses stored
    inputs and outcomes where there are some. Never the learner's fault: run_case lets it through."""

    def __init__(self, chapter: str):
        super().__init__(chapter)
        self.chapter = chapter

    def __str__(self):
        return (f"chapter {self.chapter}'s reference is not in this install (a student install withholds "
                "the chapters not yet released)")


_references_noted: list[set] = []


def reference_module(chapter: str):
    """`grader.reference.chNN`. Raises ReferenceUnavailable where it is withheld."""
    for noted in _references_noted:
        noted.add(chapter)
    try:
        return importlib.import_module(f"grader.reference.ch{chapter}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("grader.reference"):
            raise ReferenceUnavailable(chapter) from None
        raise


@contextlib.contextmanager
def references_used():
    """The set of chapters whose reference the block asked for (through reference_module)."""
    noted = set()
    _references_noted.append(noted)
    try:
        yield noted
    finally:
        _references_noted.remove(noted)


@dataclass
class Outcome:
    """What happened when one case ran: a normalized value, or why there is none."""
    value: Any = None
    error: str | None = None          # "ValueError: ..." raised by the code under test
    not_implemented: bool = False
    inputs_after: Any = None          # normalized arguments after the call (pure exercises)


@dataclass
class CaseResult:
    name: str
    passed: bool
    message: str = ""
    mistake: str | None = None


@dataclass
class ExerciseResult:
    id: str
    status: str
    points: float
    max_points: float
    message: str = ""
    mistake: str | None = None        # the known mistake recognised, if any
    cases: list[CaseResult] = field(default_factory=list)
    note: str = ""                    # said even when it passed (a pass that needed the course's pieces)

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def _ipython_display_(self):
        """`check(...)` has printed the report already; a notebook shows nothing more."""

    def to_json(self) -> dict:
        return {"id": self.id, "status": self.status, "points": self.points,
                "max_points": self.max_points, "message": self.message, "mistake": self.mistake}


# ---------------------------------------------------------------- the registry

def chapter_modules() -> list[str]:
    """Names of the exercise modules, `chNN`, in course order."""
    from . import exercises
    return sorted(i.name for i in pkgutil.iter_modules(exercises.__path__) if i.name.startswith("ch"))


def chapter_exercises(chapter: str) -> list[Exercise]:
    """The exercises of chapter "NN" (imports only that chapter's module)."""
    module = importlib.import_module(f"grader.exercises.ch{chapter}")
    return list(module.EXERCISES)


def all_exercises() -> dict[str, Exercise]:
    """Every exercise of the course, by id."""
    return {ex.id: ex for name in chapter_modules() for ex in chapter_exercises(name[2:])}


def find_exercise(key: str) -> Exercise:
    """By id ("01.to_vectors") or by name ("to_vectors"); names are unique in the course.
    Chapters are imported in order and only as far as needed, so checking a chapter-01
    answer never pays for importing torch."""
    chapter = key.split(".")[0] if "." in key else None
    for module in chapter_modules():
        if chapter and module != f"ch{chapter}":
            continue
        for ex in chapter_exercises(module[2:]):
            if key in (ex.id, ex.name):
                return ex
    raise KeyError(f"no exercise called {key!r}; exercises are named like '01.to_vectors'")


# ---------------------------------------------------------------- running one case

class GradingTimeout(BaseException):
    """Raised inside learner code at the time limit; a BaseException so `except Exception`
    in that code cannot swallow it."""


def case_seed(exercise_id: str, index: int) -> int:
    return zlib.crc32(f"{exercise_id}#{index}".encode())


def seed_everything(seed: int):
    """Seed torch too when it is loaded, so a reference and a learner's module built in
    `run` start from the same random state."""
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)


def make_inputs(exercise: Exercise, index: int) -> tuple:
    """Case `index`'s arguments: built from its seed and prepared for its run (see Case), or,
    where they need a reference this install withholds, as `grader student-build` stored them."""
    seed = case_seed(exercise.id, index)
    seed_everything(seed)
    case = exercise.cases[index]
    prepare = getattr(case.run or exercise.run, "prepare", None)
    try:
        with on_the_cpu():
            args = case.inputs(np.random.default_rng(seed if case.seed is None else case.seed))
            args = args if isinstance(args, tuple) else (args,)
            return prepare(args) if prepare else args
    except ReferenceUnavailable:
        stored = _stored(exercise)
        if stored is None or index >= len(stored.get("inputs", ())) or stored["inputs"][index] is None:
            raise
        return copy_args(stored["inputs"][index])


def _describe_exception(exc: BaseException) -> str:
    """`Type: message`, plus the innermost line of the learner's own code when there is one."""
    text = f"{type(exc).__name__}: {exc}".strip()
    frames = [f for f in traceback.extract_tb(exc.__traceback__)  # the learner's frames only
              if not f.filename.startswith(_PACKAGE_DIR) and "site-packages" not in f.filename
              and not f.filename.startswith(_STDLIB_DIR)]
    if frames:
        f = frames[-1]
        where = "a notebook cell" if f.filename.startswith("<") else f.filename
        text += f"\n    (in {where}, line {f.lineno}: {f.line})" if f.line else f"\n    (line {f.lineno})"
    return text


_PACKAGE_DIR = __file__.rsplit("/", 1)[0]
_STDLIB_DIR = traceback.__file__.rsplit("/", 1)[0]


@contextlib.contextmanager
def one_torch_thread():
    """Test inputs are tiny: on a busy 2-core machine torch's thread pool makes them 10x slower.
    Every case runs on one thread, the learner's, the reference's and each known mistake's."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def on_the_cpu():
    """Cases run on the CPU even when the notebook made another device torch's default
    (`torch.set_default_device("cuda")`): the same verdict on every machine. Results on any
    device are fine; `normalize` copies them to the CPU before they are compared."""
    torch = sys.modules.get("torch")
    default = getattr(torch, "get_default_device", None) if torch is not None else None
    if default is None or default().type == "cpu":
        yield
        return
    with torch.device("cpu"):
        yield


def copy_args(args):
    """A deep copy of a case's arguments, for the learner's call. torch.Generator objects are
    copied by their state: torch < 2.4 cannot deep-copy them."""
    torch = sys.modules.get("torch")
    memo = {}

    def twin_generators(value):
        if isinstance(value, (tuple, list)):
            for v in value:
                twin_generators(v)
        elif isinstance(value, dict):
            for v in value.values():
                twin_generators(v)
        elif torch is not None and isinstance(value, torch.Generator) and id(value) not in memo:
            twin = torch.Generator(device=value.device)
            twin.set_state(value.get_state())
            memo[id(value)] = twin

    twin_generators(args)
    return copy.deepcopy(args, memo)


def run_case(exercise: Exercise, index: int, fn, args: tuple | None = None) -> Outcome:
    """Run case `index` of `exercise` on `fn`; learner errors become part of the Outcome.
    `args`: the case's inputs when the caller built them (hidden cases: the grading process
    builds them and sends them to the process that runs the learner's code)."""
    case = exercise.cases[index]
    args = make_inputs(exercise, index) if args is None else args
    call_args = copy_args(args)
    seed_everything(case_seed(exercise.id, index) + 1)
    try:
        with one_torch_thread(), on_the_cpu():
            run = case.run or exercise.run
            out = run(fn, call_args) if run else fn(*call_args)
        value = normalize(out)
    except NotImplementedError:
        return Outcome(not_implemented=True)
    except (GradingTimeout, ReferenceUnavailable):
        raise
    except (Exception, SystemExit) as exc:   # SystemExit: a stray sys.exit() in learner code
        return Outcome(error=_describe_exception(exc))
    after = normalize(call_args) if exercise.pure else None
    return Outcome(value=value, inputs_after=after)


class time_limit:
    """Interrupt the block after `seconds` (main thread on Unix only; elsewhere no limit)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.active = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()

    def _raise(self, signum, frame):
        raise GradingTimeout()

    def __enter__(self):
        if self.active:
            self.previous = signal.signal(signal.SIGALRM, self._raise)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc):
        if self.active:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
        return False


def run_cases(exercise: Exercise, fn) -> list[Outcome]:
    """All cases, in this process, stopping at the first one that is not implemented."""
    outcomes = []
    for i in range(len(exercise.cases)):
        outcome = run_case(exercise, i, fn)
        outcomes.append(outcome)
        if outcome.not_implemented:
            break
    return outcomes


# ---------------------------------------------------------------- judging

def _stored(exercise: Exercise) -> dict | None:
    """Outcomes stored by `grader student-build` for a chapter whose reference is withheld."""
    try:
        module = importlib.import_module(f"grader.expected.ch{exercise.chapter}")
    except ModuleNotFoundError:
        return None
    return module.outcomes().get(exercise.id)


def expected_outcome(exercise: Exercise, index: int) -> Outcome:
    """What the reference returns on case `index`: computed, or stored where it is withheld."""
    try:
        reference = exercise.reference()
    except ReferenceUnavailable:
        stored = _stored(exercise)
        if stored is None or index >= len(stored["cases"]):
            raise
        return stored["cases"][index]
    return run_case(exercise, index, reference)


def mistake_outcome(exercise: Exercise, index: int, mistake: Mistake) -> Outcome:
    """What a known mistake returns on case `index`. Mistakes are built on the reference in
    some chapters, so a student install uses the stored outcome where there is one."""
    stored = _stored(exercise)
    if stored is not None and mistake.name in stored["mistakes"] and index < len(stored["cases"]):
        return stored["mistakes"][mistake.name][index]
    return run_case(exercise, index, mistake.fn)


def _recognise_mistake(exercise: Exercise, index: int, got) -> Mistake | None:
    """The known mistake whose output equals the learner's on this case, if any."""
    case = exercise.cases[index]
    compare = case.compare or exercise.compare
    for mistake in exercise.mistakes:
        theirs = mistake_outcome(exercise, index, mistake)
        if theirs.error is None and not theirs.not_implemented:
            if compare(got, theirs.value, normalize(make_inputs(exercise, index))) is None:
                return mistake
    return None


def _recognise_raised(exercise: Exercise, index: int, error: str) -> Mistake | None:
    """The known mistake that raises the learner's exception (same type and message) on this
    case, if any. Only the first line counts: the second says where in the code it was raised."""
    first_line = error.split("\n", 1)[0]
    for mistake in exercise.mistakes:
        theirs = mistake_outcome(exercise, index, mistake)
        if theirs.error is not None and theirs.error.split("\n", 1)[0] == first_line:
            return mistake
    return None


def _recognise_mutation(exercise: Exercise, index: int, inputs_after) -> Mistake | None:
    """The known mistake that changes the arguments exactly as the learner's code did."""
    for mistake in exercise.mistakes:
        theirs = mistake_outcome(exercise, index, mistake)
        if theirs.error is None and theirs.inputs_after is not None and \
                compare_values(inputs_after, theirs.inputs_after, rtol=0, atol=0) is None:
            return mistake
    return None


def _named_mistake(exercise: Exercise, named: Mistake | None) -> Mistake | None:
    """The exercise's mistake that a comparator's Fail names: that object, or the exercise's own
    mistake of that name when a comparator is shared by two exercises."""
    if named is None:
        return None
    if not isinstance(named, Mistake):
        raise TypeError(f"Fail(mistake=...) takes a Mistake object, got {named!r}: "
                        "bind the Mistake to a name and pass that")
    return next((m for m in exercise.mistakes if m is named), None) or \
        next((m for m in exercise.mistakes if m.name == named.name), None)


def failed_case(case: Case, message: str, mistake: Mistake | None) -> CaseResult:
    """A failed case's result: the message, why the case exists, and the known mistake's hint."""
    if case.why:
        message += f"\n    (why this case: {case.why})"
    if mistake:
        message += f"\nThis looks like a known mistake, {mistake.name}: {mistake.hint}"
    return CaseResult(case.name, False, message, mistake.name if mistake else None)


def judge_case(exercise: Exercise, index: int, outcome: Outcome, expected: Outcome) -> CaseResult:
    case = exercise.cases[index]
    args = normalize(make_inputs(exercise, index))
    if exercise.pure and outcome.inputs_after is not None:
        for i, (before, after) in enumerate(zip(args, outcome.inputs_after)):
            if compare_values(after, before, rtol=0, atol=0) is not None:
                message = (f"your function changed its argument #{i + 1}; "
                           "it must leave its inputs unchanged (work on a copy)")
                return failed_case(case, message, _recognise_mutation(exercise, index, outcome.inputs_after))
    compare = case.compare or exercise.compare
    fail = compare(outcome.value, expected.value, args)
    if fail is None:
        return CaseResult(case.name, True)
    if isinstance(fail, str):
        fail = Fail(fail)
    named = _named_mistake(exercise, fail.mistake)
    if named is not None and not _same_symptom(exercise, index, named, fail, expected, args):
        named = None     # the comparator's guess; the mistake itself would fail otherwise here
    mistake = named or _recognise_mistake(exercise, index, outcome.value)
    return failed_case(case, fail.message if case.seed is None else HIDDEN_CASE_FAILED, mistake)


# A hidden case's expected values would show its inputs (chapter 13's bytes_to_text returns its
# input decoded), and a student who sees them could tune the next submission to them.
HIDDEN_CASE_FAILED = ("your answer passes the notebook's cases but not this hidden one, whose inputs and "
                      "expected values are not shown: it tries other seeds and sizes, so look for what your "
                      "code assumes about its inputs (a size, a seed, a value seen in the notebook)")


def _same_symptom(exercise: Exercise, index: int, mistake: Mistake, fail: Fail, expected: Outcome, args) -> bool:
    """Whether the known mistake, run on this case, fails it with the same message as the
    learner's answer: a comparator that names a mistake is trusted only then."""
    theirs = mistake_outcome(exercise, index, mistake)
    if theirs.error is not None or theirs.not_implemented:
        return False
    compare = exercise.cases[index].compare or exercise.compare
    their_fail = compare(theirs.value, expected.value, args)
    their_fail = Fail(their_fail) if isinstance(their_fail, str) else their_fail
    return their_fail is not None and their_fail.message == fail.message


def evaluate(exercise: Exercise, outcomes: list[Outcome]) -> ExerciseResult:
    """Judge the outcomes of one exercise's cases against the reference solution."""
    result = ExerciseResult(exercise.id, "passed", 0, exercise.points)
    for i, outcome in enumerate(outcomes):
        case = exercise.cases[i]
        name = case.name
        if outcome.not_implemented:
            result.status = "not_implemented"
            result.message = "not implemented yet: replace `raise NotImplementedError()` with your code"
            return result
        if outcome.error is not None:
            message = f"your code raised {outcome.error}"
            known = _recognise_raised(exercise, i, outcome.error)
            if known is None and hint_for(outcome.error):
                message += f"\nWhat this usually means here: {hint_for(outcome.error)}"
            failed = failed_case(case, message, known)
            result.cases.append(failed)
            result.status, result.mistake = "error", failed.mistake
            result.message = f"case '{name}': {failed.message}"
            return result
        expected = expected_outcome(exercise, i)
        if expected.error:  # a bug in the course, not in the learner's answer
            raise RuntimeError(f"reference solution of {exercise.id} failed on '{name}': {expected.error}")
        verdict = judge_case(exercise, i, outcome, expected)
        result.cases.append(verdict)
        if not verdict.passed:
            result.status, result.mistake = "failed", verdict.mistake
            result.message = f"case '{name}': {verdict.message}"
            return result
    if len(outcomes) < len(exercise.cases):
        result.status, result.message = "error", "not every case ran"
        return result
    result.points = exercise.points
    return result


def _code_of(target) -> list:
    if hasattr(target, "__code__"):
        return [target.__code__]
    if isinstance(target, type):
        return [v.__code__ for v in vars(target).values() if hasattr(v, "__code__")]
    return []


def globals_used(target, namespace: dict) -> set[str]:
    """Global names the code of a function or class looks up (its methods, nested functions),
    and those of the namespace's own functions and classes it calls, transitively: a learner's
    helper that calls `pairwise_sq_distances` counts as calling it."""
    names, seen, todo = set(), set(), [target]
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        codes = _code_of(obj)
        while codes:
            code = codes.pop()
            for ins in dis.get_instructions(code):
                if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME") and ins.argval not in names:
                    names.add(ins.argval)
                    value = namespace.get(ins.argval)
                    if getattr(value, "__globals__", None) is namespace or \
                            isinstance(value, type) and value.__module__ == namespace.get("__name__"):
                        todo.append(value)
            codes.extend(c for c in code.co_consts if hasattr(c, "co_code"))
    return names


def siblings_used(exercise: Exercise, fn, namespace) -> list[Exercise]:
    """The chapter's other exercises that `fn` calls by name (defined by the learner or not)."""
    if not isinstance(namespace, dict):
        return []
    used = globals_used(fn, namespace)
    return [other for other in chapter_exercises(exercise.chapter)
            if other.id != exercise.id and other.name in used]


@contextlib.contextmanager
def others_as_references(exercise: Exercise, namespace, only: list[Exercise] | None = None):
    """While `exercise` runs, the chapter's other exercise names in the learner's namespace
    (or only those in `only`) are bound to their reference versions: a wrong or missing
    `pairwise_sq_distances` never costs the learner `nearest_centroid_predict`, which calls
    it. Restored afterwards."""
    if not isinstance(namespace, dict):
        yield
        return
    missing = object()
    saved = {}
    for other in chapter_exercises(exercise.chapter) if only is None else only:
        if other.id != exercise.id:
            try:
                reference = other.reference()
            except ReferenceUnavailable:  # withheld (a student install, instructor grading)
                continue
            saved[other.name] = namespace.get(other.name, missing)
            namespace[other.name] = reference
    try:
        yield sorted(saved)        # the names bound to the course's versions
    finally:
        for name, value in saved.items():
            if value is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = value


def learner_namespace(fn):
    """The globals a learner's function or class looks its helpers up in."""
    if hasattr(fn, "__globals__"):
        return fn.__globals__
    module = sys.modules.get(getattr(fn, "__module__", None) or "")
    return getattr(module, "__dict__", None)


def _graded(exercise: Exercise, fn, swap: list[Exercise]) -> ExerciseResult:
    try:
        with time_limit(exercise.time_limit), others_as_references(exercise, learner_namespace(fn), swap):
            outcomes = run_cases(exercise, fn)
    except GradingTimeout:
        return ExerciseResult(exercise.id, "timeout", 0, exercise.points,
                              f"took longer than {exercise.time_limit:g} s: is there an endless loop?")
    return evaluate(exercise, outcomes)


def grade_function(exercise: Exercise, fn) -> ExerciseResult:
    """Run and judge in this process (the notebook's `check`, and the project's tests).

    First with the learner's own versions of the chapter's other exercises that `fn` calls, so
    that a pass means their own code works together. If that fails, again with the course's
    versions of those: a wrong `merge_heads` must not cost `MultiHeadAttention` its points, but
    the report then says, in its note, that the pass needed the course's pieces."""
    own = _graded(exercise, fn, swap=[])
    siblings = [] if own.passed else siblings_used(exercise, fn, learner_namespace(fn))
    if not siblings:
        return own
    helped = _graded(exercise, fn, swap=siblings)
    if helped.passed:
        namespace = learner_namespace(fn)
        wrong = [s for s in siblings if s.name not in namespace
                 or not _graded(s, namespace[s.name], swap=[]).passed] or siblings
        names = ", ".join(f"`{s.name}`" for s in wrong)
        it = "it" if len(wrong) == 1 else "them"
        helped.note = (f"right with the course's {names} in place of yours, which "
                       f"{'does' if len(wrong) == 1 else 'do'} not pass {'its' if len(wrong) == 1 else 'their'} "
                       f"own check yet: fix {it} too, or the cells below that use your `{exercise.name}` will go wrong.")
    return helped
