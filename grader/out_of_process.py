"""Grading a notebook file out of process: learner code runs in a disposable child process
(the learner's own `check(...)` in a notebook runs in its kernel instead: grader/in_notebook.py).

The parent (this module's `grade_notebook`) reads the notebook, sends the child the
definitions of every code cell, and waits for one line of JSON per event. The child
(`python -m grader.out_of_process`) executes the definitions in notebook order and, right after an
exercise's cell, runs that exercise's cases on what the cell defined. It sends back only
data (`values.encode`). All judging happens here, in the parent, with `engine.evaluate`:
the learner's code never shares a process with the comparison.

A child that runs past an exercise's time limit, dies, or exits is killed and replaced by a
new one that goes on with the remaining exercises, so one broken exercise never costs the
learner the others.
"""
import base64
import contextlib
import json
import os
import pickle
import select
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import sandbox as sandboxing
from .engine import Exercise, ExerciseResult, Outcome, chapter_exercises, evaluate, make_inputs
from .notebook import NotebookError, code_cells, grade_id, notebook_chapter, read_notebook
from .values import decode, encode

STARTUP_SECONDS = 60.0   # imports in the notebook's set-up cells (torch alone takes seconds)


@dataclass
class Limits:
    """Limits for the child process that runs learner code. The defaults suit the course's
    exercises on a modest laptop; override them with `grader check --time-scale 3` (a slow or
    busy machine) or `--memory-mb`.

    - time: each exercise's own `time_limit` (wall clock, all its cases) x `time_scale`;
    - memory: `memory_mb` of data (RLIMIT_DATA): past it, allocations raise MemoryError;
    - CPU: the sum of the time limits plus start-up, x 2 (RLIMIT_CPU), a backstop for code
      that escapes the wall-clock watch by forking;
    - output: whatever learner code prints is discarded (the report says what matters), so
      printing megabytes costs nothing but time.
    """
    time_scale: float = 1.0
    memory_mb: int = 4096
    max_result_mb: int = 64      # a result larger than this is an error, not a 1 GB message


@dataclass
class NotebookReport:
    notebook: str
    results: list[ExerciseResult] = field(default_factory=list)
    notes: dict = field(default_factory=dict)
    sandbox: str = "none"        # "bwrap" when learner code ran inside bubblewrap
    hidden: bool = False         # whether the hidden cases ran (instructor grading)

    @property
    def score(self) -> float:
        return sum(r.points for r in self.results)

    @property
    def max_score(self) -> float:
        return sum(r.max_points for r in self.results)

    def to_json(self) -> dict:
        exercises = []
        for r in self.results:
            item = r.to_json()
            note = "; ".join(filter(None, [self.notes.get(r.id), r.note]))
            if note:
                item["note"] = note
            exercises.append(item)
        return {"notebook": self.notebook, "score": self.score, "max_score": self.max_score,
                "sandbox": self.sandbox, "hidden_cases": self.hidden, "exercises": exercises}


def _infer_chapter(nb) -> str | None:
    from .engine import all_exercises
    names = {grade_id(c) for c in nb["cells"]} - {None}
    chapters = [ex.chapter for ex in all_exercises().values() if ex.name in names]
    return max(set(chapters), key=chapters.count) if chapters else None


@dataclass
class Trust:
    """How a notebook is graded. The default is the self-learner's `grader check`: public cases,
    child process, no sandbox. `Trust.instructor()` is instructor grading: the hidden cases run
    too, and learner code runs in the sandbox (grader/sandbox.py) that holds no reference of the
    chapters not in `released` (default: the chapters before the graded one)."""
    hidden: bool = False
    sandbox: str = "none"            # "auto", "bwrap" or "none" (see sandbox.resolve_mode)
    released: tuple | None = None    # chapters ("01", ...) whose reference learner code may use

    @classmethod
    def instructor(cls, sandbox="auto", released=None):
        return cls(hidden=True, sandbox=sandbox, released=released)

    def released_for(self, chapter: str) -> frozenset:
        if self.released is not None:
            return frozenset(self.released) - {chapter}
        from .engine import chapter_modules
        return frozenset(m[2:] for m in chapter_modules() if m[2:] < chapter)


def grade_submission(path, limits: Limits | None = None, sandbox: str = "auto", released=None) -> NotebookReport:
    """Instructor grading of one notebook file: the public and the hidden cases, learner code in
    the sandbox. The entry point for integrations (nbgrader, and any other): returns a
    NotebookReport (`.results`: one ExerciseResult per exercise; `.to_json()`). Raises
    NotebookError when the file is not a readable course notebook, and
    sandbox.SandboxUnavailable when `sandbox="bwrap"` and bwrap cannot run."""
    return grade_notebook(path, limits, Trust.instructor(sandbox, released))


def grade_notebook(path, limits: Limits | None = None, trust: Trust | None = None) -> NotebookReport:
    """Grade every exercise of the notebook's chapter. Raises NotebookError if unreadable."""
    limits = limits or Limits()
    trust = trust or Trust()
    mode = sandboxing.resolve_mode(trust.sandbox)
    nb = read_notebook(path)
    chapter = notebook_chapter(path, nb) or _infer_chapter(nb)
    try:
        exercises = chapter_exercises(chapter) if chapter else []
    except ModuleNotFoundError:
        exercises = []
    if not exercises:
        raise NotebookError(f"{path} is not one of the course's notebooks (no exercises found for it).")
    if trust.hidden:
        from .hidden import with_hidden
        exercises = [with_hidden(ex) for ex in exercises]
    released = trust.released_for(chapter)
    cells, notes = code_cells(nb, exercises)
    located = {c.exercise: c for c in cells if c.exercise}
    results: dict[str, ExerciseResult] = {}
    for ex in exercises:
        cell = located.get(ex.id)
        if cell is None:
            results[ex.id] = ExerciseResult(ex.id, "missing", 0, ex.points,
                                            f"no cell defines `{ex.name}` (was the exercise cell deleted?)")
        elif cell.syntax_error:
            results[ex.id] = ExerciseResult(ex.id, "error", 0, ex.points, f"the cell does not parse: {cell.syntax_error}")
    pending = [ex for ex in exercises if ex.id not in results]
    cwd = Path(path).resolve().parent
    child = _Child(mode, released, guard=trust.hidden or mode == "bwrap")
    while pending:
        done = _run_in_child(cells, pending, limits, cwd, child)
        for ex in list(pending):
            if ex.id in done:
                results[ex.id] = done[ex.id]
                pending.remove(ex)
    for ex in exercises:
        reason = child.forbidden.get(ex.id) or child.forbidden.get(None)
        if reason:   # whatever it scored: the reason names the first attempt
            results[ex.id] = _result(ex, "forbidden", f"0 points: {reason}.")
        elif ex.id in child.unsupported and results[ex.id].status != "passed":
            results[ex.id] = _result(ex, "grader_error", (
                f"the course cannot grade this exercise: its check needs `{child.unsupported[ex.id]}`, "
                "which is withheld from the process running your code (a defect of the course, not of your "
                "answer: please report it; releasing that chapter's reference works around it)"))
    report = NotebookReport(str(path), [results[ex.id] for ex in exercises], notes,
                            sandbox=mode, hidden=trust.hidden)
    return report


@dataclass
class _Child:
    """How the child processes of one notebook run, and what their guard reported."""
    mode: str                     # "bwrap" or "none"
    released: frozenset
    guard: bool
    forbidden: dict = field(default_factory=dict)     # exercise id (None: the whole notebook) -> reason
    unsupported: dict = field(default_factory=dict)   # exercise id -> withheld module the check needed


def _result(ex: Exercise, status: str, message: str) -> ExerciseResult:
    return ExerciseResult(ex.id, status, 0, ex.points, message)


SECRET_VARIABLES = ("GRADER_HIDDEN_SECRET",)


def _child_env(mode: str = "none") -> dict:
    if mode == "bwrap":   # only what the child needs: nothing of the instructor's environment
        env = {k: os.environ[k] for k in ("COURSE_FAST", "LANG", "LC_ALL") if k in os.environ}
    else:
        env = {k: v for k, v in os.environ.items() if k not in SECRET_VARIABLES}
        package_root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = package_root + os.pathsep + env.get("PYTHONPATH", "")
    env["MPLBACKEND"] = "Agg"
    env["PYTHONHASHSEED"] = "0"
    env.setdefault("OMP_NUM_THREADS", "1")   # small test inputs; threads only add noise
    return env


def _public_inputs(ex: Exercise) -> list:
    """The public cases' inputs that need a reference (a module check's weights, see
    engine.Case), pickled, for a process that may not hold that reference (the child; a student
    install stores them); None for the others, which that process builds from their seeds."""
    from .engine import references_used
    sent = []
    for i in range(len(ex.cases)):
        with _FORKS.judging(), references_used() as used:
            args = make_inputs(ex, i)
        sent.append(base64.b64encode(pickle.dumps(args)).decode("ascii") if used else None)
    return sent


def _hidden_program(ex: Exercise) -> list[dict]:
    """The cases past the public ones, for the child: their inputs as data (built here, from
    the instructor's secret), and their `run` named, never sent as code."""
    n_public = len(_public(ex).cases)
    program = []
    for i in range(n_public, len(ex.cases)):
        case = ex.cases[i]
        with _FORKS.judging():
            args = make_inputs(ex, i)
        item = {"name": case.name, "args": base64.b64encode(pickle.dumps(args)).decode("ascii")}
        # A hidden case that reuses a public case's run (often a closure) is sent that case's
        # number: the child has the same exercise, and so the same run.
        same = [j for j in range(n_public) if case.run is not None and ex.cases[j].run is case.run]
        if same:
            item["run_of_case"] = same[0]
        else:
            item["run"] = _function_name(case.run, ex.chapter)
        program.append(item)
    return program


def _public(ex: Exercise) -> Exercise:
    """The exercise as the child knows it: its public cases only."""
    return next(e for e in chapter_exercises(ex.chapter) if e.id == ex.id)


def _function_name(fn, chapter: str) -> str | None:
    """`module:name` under which the child finds a hidden case's run: a function of
    grader.exercises, or a run that a helper made (`module_case(...)`, a closure) bound to a
    top-level name of the chapter's module, the name its public cases use too."""
    if fn is None:
        return None
    module = getattr(fn, "__module__", "") or ""
    if module.startswith("grader.exercises.") and "<" not in fn.__qualname__:
        return f"{module}:{fn.__qualname__}"
    chapter_module = sys.modules.get(f"grader.exercises.ch{chapter}")
    for name, value in (vars(chapter_module).items() if chapter_module else ()):
        if value is fn:
            return f"grader.exercises.ch{chapter}:{name}"
    raise ValueError(f"a hidden case's run must be a function of grader.exercises, or bound to a name "
                     f"in grader/exercises/ch{chapter}.py, not {fn!r}")


def _set_limits(limits: Limits, cpu_seconds: float):
    def apply():
        import resource
        data = limits.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_DATA, (data, data))
        cpu = int(cpu_seconds) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    return apply


def _run_in_child(cells, pending: list[Exercise], limits: Limits, cwd: Path, child: _Child) -> dict[str, ExerciseResult]:
    """Run child processes until each pending exercise has a result or the child stops early.
    Returns the results it could settle (always at least one)."""
    program = {"cells": [{"source": c.source, "exercise": c.exercise} for c in cells],
               "run": [ex.id for ex in pending],
               "hidden": {ex.id: _hidden_program(ex) for ex in pending},
               "inputs": {ex.id: _public_inputs(_public(ex)) for ex in pending},
               "guard": sorted(child.released) if child.guard else None}
    by_id = {ex.id: ex for ex in pending}
    program["max_result_bytes"] = limits.max_result_mb * 1024 * 1024
    cpu_seconds = 2 * (STARTUP_SECONDS + sum(ex.time_limit for ex in pending) * limits.time_scale)
    read_fd, write_fd = os.pipe()
    argv = [sys.executable, "-m", "grader.out_of_process", str(write_fd)]
    env = _child_env(child.mode)
    if child.mode == "bwrap":
        argv, env = sandboxing.command(argv, child.released, env), None
    with _FORKS.forking():   # never fork while another thread is inside OpenBLAS (see _ForkGuard)
        proc = subprocess.Popen(argv,
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                cwd=cwd, env=env, pass_fds=(write_fd,), start_new_session=True,
                                preexec_fn=_set_limits(limits, cpu_seconds))
    os.close(write_fd)
    try:
        proc.stdin.write(json.dumps(program).encode())
        proc.stdin.close()
    except BrokenPipeError:
        pass
    try:
        return _collect(proc, read_fd, by_id, pending, limits, child)
    finally:
        os.close(read_fd)
        try:
            os.killpg(proc.pid, 9)  # the child and anything it started
        except ProcessLookupError:
            pass
        proc.wait()


def _collect(proc, read_fd, by_id, pending, limits, child) -> dict[str, ExerciseResult]:
    results, outcomes, swapped = {}, {}, {}
    current = None
    deadline = time.monotonic() + STARTUP_SECONDS
    buffer = b""
    while True:
        remaining = deadline - time.monotonic()
        ready = select.select([read_fd], [], [], max(remaining, 0))[0] if remaining > 0 else []
        if not ready:
            if current is None:
                return _settle_current(results, by_id, pending, None,
                                       "the notebook's definitions took too long to load")
            ex = by_id[current]
            results[ex.id] = _result(ex, "timeout", f"took longer than {ex.time_limit * limits.time_scale:g} s: "
                                                    "is there an endless loop?")
            return results
        chunk = os.read(read_fd, 1 << 20)
        if not chunk:  # the child is gone: the exercise it was on (or about to start) pays
            proc.wait()
            return _settle_current(results, by_id, pending, current, _death_message(proc.returncode))
        buffer += chunk
        if len(buffer) > MAX_MESSAGE_BYTES:
            return _settle_current(results, by_id, pending, current, "your code sent a result too large to read")
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            try:
                event = json.loads(line)
                kind, ex_id = event["event"], event.get("id")
                if kind == "start":
                    current, outcomes[ex_id] = ex_id, []
                    swapped[ex_id] = [str(name) for name in event.get("swapped", [])]
                    deadline = time.monotonic() + by_id[ex_id].time_limit * limits.time_scale
                elif kind == "outcome":
                    outcomes[ex_id].append(_decode_outcome(event["outcome"]))
                elif kind == "end":
                    with _FORKS.judging():
                        results[ex_id] = evaluate(by_id[ex_id], outcomes[ex_id])
                    if swapped.get(ex_id):
                        results[ex_id].note = ("graded with the course's " + ", ".join(f"`{n}`" for n in swapped[ex_id])
                                               + " in place of yours, so that a mistake there does not cost this exercise")
                    current = None
                    deadline = time.monotonic() + STARTUP_SECONDS
                elif kind in ("error", "missing"):
                    results[ex_id] = _result(by_id[ex_id], kind, str(event["message"]))
                    current = None
                elif kind == "forbidden":   # the first attempt is the reason given
                    child.forbidden.setdefault(ex_id if ex_id in by_id else None, str(event["message"]))
                elif kind == "unsupported":
                    child.unsupported.setdefault(ex_id, str(event["message"]))
                elif kind == "finished":
                    for ex in pending:
                        results.setdefault(ex.id, _result(ex, "missing", f"`{ex.name}` was not defined"))
                    return results
                else:
                    raise ValueError(kind)
            except (ValueError, KeyError, TypeError, AttributeError):
                # Learner code can write to the channel too; nonsense there is its own fault.
                return _settle_current(results, by_id, pending, current,
                                       "your code wrote garbage into the grader's result channel")


MAX_MESSAGE_BYTES = 256 * 1024 * 1024

# `grader grade --jobs N` judges N notebooks from N threads of one process, and each thread
# forks child processes. OpenBLAS shuts its thread pool down when the process forks: a thread in
# the middle of a matrix product then waits forever for workers that are gone (seen here with
# py-spy: a thread spinning in exec_blas for minutes, in chapter 01's reference, and no OpenBLAS
# threads left). So judging (numpy) and forking never overlap. Judgements may run side by side;
# a fork waits until none is running. Learner code still runs in N child processes in parallel.


class _ForkGuard:
    """Many judges or one fork at a time (a readers-writer lock)."""

    def __init__(self):
        self._cond = threading.Condition()
        self._judges = 0

    @contextlib.contextmanager
    def judging(self):
        with self._cond:
            self._judges += 1
        try:
            yield
        finally:
            with self._cond:
                self._judges -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def forking(self):
        with self._cond:   # new judges wait on this lock while the fork runs
            self._cond.wait_for(lambda: self._judges == 0)
            yield


_FORKS = _ForkGuard()


def _settle_current(results, by_id, pending, current, message) -> dict:
    """The child stopped early: the exercise it was on (or about to start) gets `message`;
    the caller starts a new child for the rest."""
    unsettled = [ex for ex in pending if ex.id not in results]
    if unsettled:
        ex = by_id[current] if current in by_id else unsettled[0]
        results[ex.id] = _result(ex, "error", message)
    return results


def _death_message(returncode) -> str:
    if returncode is not None and returncode < 0:
        signal_names = {9: "SIGKILL (out of memory?)", 11: "SIGSEGV", 6: "SIGABRT", 24: "SIGXCPU (CPU time limit)",
                        25: "SIGXFSZ (printed too much)"}
        return f"the process running your code was killed by {signal_names.get(-returncode, f'signal {-returncode}')}"
    return (f"the process running your code exited (code {returncode}) in the middle of a test: "
            "does your code call exit(), sys.exit() or os._exit(), or use too much memory?")


def _decode_outcome(data: dict) -> Outcome:
    return Outcome(value=decode(data["value"]) if data.get("value") is not None else None,
                   error=data.get("error"), not_implemented=bool(data.get("not_implemented")),
                   inputs_after=decode(data["inputs_after"]) if data.get("inputs_after") is not None else None)


# ---------------------------------------------------------------- the child side

class _QuietIPython:
    """Stands in for `get_ipython()` so that magics left in definitions do nothing."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def _child_main(result_fd: int):
    from .engine import siblings_used, find_exercise, others_as_references, run_case
    channel = os.fdopen(result_fd, "w", buffering=1)
    # Learner code writes to fd 1/2 (redirected to a file); only this channel carries results.

    def send(**event):
        channel.write(json.dumps(event) + "\n")
        channel.flush()

    program = json.loads(sys.stdin.read())
    wanted = set(program["run"])
    state = {"current": None}
    guard = None
    if program.get("guard") is not None:
        from .sandbox import install_guard
        guard = install_guard(program["guard"], lambda text: send(event="forbidden", id=state["current"], message=text))
    namespace = {"__name__": "__main__", "get_ipython": _QuietIPython}
    for cell in program["cells"]:
        ex_id = cell["exercise"]
        state["current"] = ex_id
        try:
            exec(compile(cell["source"], "<notebook cell>", "exec"), namespace)
            cell_error = None
        except BaseException as exc:  # noqa: BLE001 - learner code may raise anything, even SystemExit
            cell_error = f"{type(exc).__name__}: {exc}"
        if ex_id not in wanted:
            continue
        wanted.discard(ex_id)
        try:
            exercise = find_exercise(ex_id)
        except ImportError as exc:   # the chapter's checks import a withheld reference
            send(event="unsupported", id=ex_id, message=exc.name or str(exc))
            send(event="error", id=ex_id, message="the course's checks could not be loaded")
            continue
        if cell_error:
            send(event="error", id=ex_id, message=f"running the exercise cell raised {cell_error}")
            continue
        if exercise.name not in namespace:
            send(event="missing", id=ex_id, message=f"the exercise cell does not define `{exercise.name}`")
            continue
        target = namespace[exercise.name]
        if guard:
            from .sandbox import course_code_in
            borrowed = course_code_in(target, namespace)
            if borrowed:
                send(event="forbidden", id=ex_id, message=f"your `{exercise.name}` is the course's own code "
                                                             f"(`{borrowed}`), not an answer of yours")
        hidden = program.get("hidden", {}).get(ex_id, [])
        n_public = len(exercise.cases)
        public_inputs = program.get("inputs", {}).get(ex_id) or [None] * n_public
        exercise = _with_given_cases(exercise, hidden)
        with others_as_references(exercise, namespace, siblings_used(exercise, target, namespace)) as swapped:
            send(event="start", id=ex_id, swapped=swapped)
            for i in range(len(exercise.cases)):
                if guard:
                    guard.misses.clear()
                try:
                    given = hidden[i - n_public]["args"] if i >= n_public else public_inputs[i]
                    args = pickle.loads(base64.b64decode(given)) if given is not None else None
                    outcome = run_case(exercise, i, target, args)
                except BaseException as exc:  # noqa: BLE001 - e.g. KeyboardInterrupt raised by learner code
                    outcome = Outcome(error=f"{type(exc).__name__}: {exc}")
                if guard and guard.misses and outcome.error:   # the course's check, not the answer, failed
                    send(event="unsupported", id=ex_id, message=guard.misses[0])
                send(event="outcome", id=ex_id, outcome=_encode_outcome(outcome, program["max_result_bytes"]))
                if outcome.not_implemented:
                    break
        send(event="end", id=ex_id)
        state["current"] = None
    send(event="finished")


def _with_given_cases(exercise, hidden: list[dict]):
    """The exercise with the hidden cases whose inputs the grading process sent."""
    import dataclasses
    import importlib
    from .engine import Case
    cases = list(exercise.cases)
    for item in hidden:
        run = None
        if item.get("run_of_case") is not None:
            run = exercise.cases[int(item["run_of_case"])].run
        elif item.get("run"):
            module, qualname = item["run"].split(":")
            run = importlib.import_module(module)
            for part in qualname.split("."):
                run = getattr(run, part)
        cases.append(Case(item["name"], inputs=None, run=run))
    return dataclasses.replace(exercise, cases=cases)


def _encode_outcome(outcome: Outcome, max_bytes: int) -> dict:
    data = {"error": outcome.error, "not_implemented": outcome.not_implemented}
    try:
        data["value"] = encode(outcome.value) if outcome.error is None else None
        data["inputs_after"] = encode(outcome.inputs_after) if outcome.inputs_after is not None else None
        size = len(data["value"] or "") + len(data["inputs_after"] or "")
        if size > max_bytes:
            raise ValueError(f"it is {size / 2**20:.0f} MB, more than the {max_bytes / 2**20:.0f} MB a result may be")
    except (TypeError, ValueError) as exc:
        data.update(value=None, inputs_after=None, error=f"the result could not be read: {exc}")
    return data


if __name__ == "__main__":
    _child_main(int(sys.argv[1]))
