"""Mutation score of every chapter's checks: how many small wrong versions of each reference
solution the grader rejects (issue 15, point 3).

    python benchmarks/mutation.py [CHAPTERS ...] [--exercise ID ...] [-v] [--survivors]
                                  [--jobs N] [--max-per-exercise N] [--quick-timeout] [--json FILE]
    python benchmarks/mutation.py --stale          # equivalence records whose mutant is gone
    python benchmarks/mutation.py --rescore FILE ...   # earlier --json runs, today's records

`-v` prints a line per exercise; `--survivors` each surviving mutant with its id, its change and
the reference's lines around it, so that an engineer either adds a case that kills it or records
it as equivalent. A survivor on a line that no case runs at all (the reference graded once with a
line tracer) is marked so: there the fix is a case that reaches the line (the explicit branch
behind a `fast` switch, an error path), not a sharper comparison. The chapter lines and the final
table give mutants, killed (and how many by timeout), equivalent, survived, score and seconds.
`--json FILE` writes {"chapters": [those figures], "mutants": [{"id", "exercise", "operator",
"where", "line", "description", "outcome" (killed/equivalent/survived), "status" (the grader's:
passed/failed/error/timeout/crashed...), "line_not_run", "message"}]} for other scripts.

Each mutant is the reference object of one exercise (`exercise.reference()`, a function or a
class from `grader/reference/chNN.py`) with exactly one change: `+` for `-`, `<` for `<=`, a
constant off by one, a keyword argument dropped, `.transpose(1, 2)` removed, a statement replaced
by `pass`, ... (the table `OPERATORS` below). The mutant is executed in a copy of the reference
module's namespace, so it sees the same helpers, and handed to `grader.engine.grade_function`
exactly as a learner's answer is. A mutant the grader passes *survived*: either the checks miss
a wrong answer (add a case) or the change does not change behaviour; that is recorded by hand,
with a one-line reason, in `tests/mutants/chNN.json` (`{"NN.name": {"<id>": {"change": ...,
"why": ...}}}`; not in the grader package, since the descriptions quote reference code). The
score of a chapter is killed / (mutants - equivalent); the target is 95 %. Recording is a
deliberate hand edit: the driver never writes that file. Only syntactic no-ops are never
generated (a slice bound that is already the default, `transpose(1, 2)` as `transpose(2, 1)`).

Why a small driver over Python's `ast` and not mutmut, cosmic-ray or poodle: those tools mutate
files on disk and judge a mutant by the exit code of a whole test suite, while here the unit is
one exercise and the "test suite" is the grader itself: each mutant must be handed to
`grade_function(exercise, obj)` as a learner's answer is (an object in a namespace like the
notebook's), one exercise at a time, in milliseconds, with a verdict (failed, error, timeout) per
mutant. Driving a file-based tool would mean one rewritten reference module and one pytest run
per mutant, the whole chapter's exercises re-graded for a change that concerns one of them, and
no way to tell "the grader rejected it" from "the tests crashed". (mutmut itself installs here,
the PyPI package `mutmut` 3.8.1 downloads fine; it is the model being unsuitable, not its
availability.)

Each mutant runs in a forked child (forked after the imports and a warm-up grading of the
reference, torch on one thread), with its address space capped and a wall-clock limit enforced
by the parent; a child that is killed, crashes or overruns counts as killed. Mutant ids are a
short hash of (exercise, enclosing method, operator, enclosing statement's header, original and
mutated text of the changed node, occurrence of that same change), so they survive unrelated
edits of the reference; line numbers appear only in the human description.
"""
import argparse
import ast
import copy
import dataclasses
import hashlib
import inspect
import json
import os
import resource
import select
import signal
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere: the course package of this tree
    sys.path.insert(0, str(ROOT))

from grader import engine  # noqa: E402
from grader.engine import chapter_exercises, chapter_modules, grade_function  # noqa: E402

MUTANTS_DIR = ROOT / "tests" / "mutants"
TARGET = 95.0


# ---------------------------------------------------------------- the operators
#
# Each operator takes a node (and the generation context) and returns replacement nodes; each
# replacement is one mutant. They never modify `node` itself.

def _new(node, replacement):
    return ast.copy_location(replacement, node)


ARITHMETIC_SWAPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
                    ast.FloorDiv: ast.Mod, ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult,
                    ast.MatMult: ast.Mult}
COMPARE_SWAPS = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
                 ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
                 ast.In: ast.NotIn, ast.NotIn: ast.In}


def arithmetic(node, ctx):
    """`+`<->`-`, `*`<->`/`, `//`<->`%`, `**`->`*`, `@`->`*`, in expressions and in `x += y`."""
    if isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in ARITHMETIC_SWAPS:
        new = copy.copy(node)
        new.op = ARITHMETIC_SWAPS[type(node.op)]()
        return [new]
    return []


def comparison(node, ctx):
    """`<`<->`<=`, `>`<->`>=`, `==`<->`!=`, `is`<->`is not`, `in`<->`not in`, one operator at a time."""
    out = []
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in COMPARE_SWAPS:
                new = copy.copy(node)
                new.ops = list(node.ops)
                new.ops[i] = COMPARE_SWAPS[type(op)]()
                out.append(new)
    return out


def boolean(node, ctx):
    """`and`<->`or`."""
    if isinstance(node, ast.BoolOp):
        new = copy.copy(node)
        new.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        return [new]
    return []


def drop_unary(node, ctx):
    """`not x`, `-x`, `~x` -> `x`."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub, ast.Invert)):
        return [_new(node, copy.deepcopy(node.operand))]
    return []


def number(node, ctx):
    """Integers: n -> n + 1 and n - 1 (so 0 -> 1, 1 -> 0, -1 -> -2); floats: c -> 2c (0.0 -> 1.0)."""
    if not isinstance(node, ast.Constant) or isinstance(node.value, bool):
        return []
    if isinstance(node.value, int):
        values = [node.value + 1, node.value - 1]
    elif isinstance(node.value, float):
        values = [node.value * 2 if node.value else 1.0]
    else:
        return []
    return [_new(node, ast.Constant(v)) for v in values]


def boolean_constant(node, ctx):
    """`True`<->`False`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return [_new(node, ast.Constant(not node.value))]
    return []


def keyword_none(node, ctx):
    """A keyword argument's value -> `None` (`bias=bias` -> `bias=None`)."""
    out = []
    if isinstance(node, ast.Call):
        for i, kw in enumerate(node.keywords):
            if kw.arg is not None and not (isinstance(kw.value, ast.Constant) and kw.value.value is None):
                new = copy.copy(node)
                new.keywords = list(node.keywords)
                new.keywords[i] = ast.keyword(kw.arg, ast.Constant(None))
                out.append(new)
    return out


def drop_keyword(node, ctx):
    """Remove one keyword argument from a call (`softmax(dim=-1)` -> `softmax()`)."""
    out = []
    if isinstance(node, ast.Call):
        for i, kw in enumerate(node.keywords):
            if kw.arg is not None:
                new = copy.copy(node)
                new.keywords = node.keywords[:i] + node.keywords[i + 1:]
                out.append(new)
    return out


def _rooted_in_module(expr, ctx):
    """`np`, `torch.nn`, `F`: an expression whose root name is a module of the namespace."""
    while isinstance(expr, ast.Attribute):
        expr = expr.value
    return isinstance(expr, ast.Name) and expr.id in ctx["modules"]


def drop_method(node, ctx):
    """Drop one method call of a chain: `x.contiguous().view(s)` -> `x.view(s)`, `.detach()` removed.
    Not for module functions (`np.zeros(n)` -> `np` is no learner's mistake)."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
            and not _rooted_in_module(node.func.value, ctx):
        return [_new(node, copy.deepcopy(node.func.value))]
    return []


SYMMETRIC_METHODS = {"transpose", "swapaxes", "swapdims"}   # x.transpose(1, 2) is x.transpose(2, 1)


def swap_arguments(node, ctx):
    """Swap two neighbouring positional arguments of a call (`f(a, b)` -> `f(b, a)`); not the
    two axes of `transpose`, which name the same swap either way round."""
    out = []
    symmetric = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
        and node.func.attr in SYMMETRIC_METHODS and len(node.args) == 2
    if isinstance(node, ast.Call) and not symmetric and not any(isinstance(a, ast.Starred) for a in node.args):
        for i in range(len(node.args) - 1):
            if ast.unparse(node.args[i]) != ast.unparse(node.args[i + 1]):
                new = copy.copy(node)
                new.args = list(node.args)
                new.args[i], new.args[i + 1] = new.args[i + 1], new.args[i]
                out.append(new)
    return out


def to_pass(node, ctx):
    """Replace one statement by `pass` (not docstrings, not `pass` itself)."""
    if isinstance(node, ast.stmt) and not isinstance(node, ast.Pass) and node is not ctx["top"] \
            and not _is_docstring(node):
        return [_new(node, ast.Pass())]
    return []


def augmented_to_plain(node, ctx):
    """`x += y` -> `x = y`."""
    if isinstance(node, ast.AugAssign):
        return [_new(node, ast.Assign([copy.deepcopy(node.target)], copy.deepcopy(node.value)))]
    return []


def slice_bound(node, ctx):
    """Drop one bound of a slice: `[:-1]` -> `[:]`, `[1:]` -> `[:]`, `[::2]` -> `[:]` (not a
    bound that is already the default: `[0::2]` -> `[::2]` is the same slice)."""
    out = []
    if isinstance(node, ast.Slice):
        for name, default in (("lower", 0), ("upper", None), ("step", 1)):
            bound = getattr(node, name)
            if bound is not None and not (isinstance(bound, ast.Constant) and bound.value == default):
                new = copy.copy(node)
                setattr(new, name, None)
                out.append(new)
    return out


def loop_jump(node, ctx):
    """`break`<->`continue`."""
    if isinstance(node, ast.Break):
        return [_new(node, ast.Continue())]
    if isinstance(node, ast.Continue):
        return [_new(node, ast.Break())]
    return []


def range_stop(node, ctx):
    """`range(n)` -> `range(n - 1)`, `range(a, b)` -> `range(a, b - 1)`: one iteration fewer."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range" \
            and 1 <= len(node.args) <= 3 and not any(isinstance(a, ast.Starred) for a in node.args):
        i = 0 if len(node.args) == 1 else 1
        new = copy.copy(node)
        new.args = list(node.args)
        new.args[i] = ast.BinOp(copy.deepcopy(node.args[i]), ast.Sub(), ast.Constant(1))
        return [new]
    return []


OPERATORS = {f.__name__: f for f in (
    arithmetic, comparison, boolean, drop_unary, number, boolean_constant, keyword_none,
    drop_keyword, drop_method, swap_arguments, to_pass, augmented_to_plain, slice_bound,
    loop_jump, range_stop)}


# ---------------------------------------------------------------- generating mutants

def _is_docstring(node):
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) \
        and isinstance(node.value.value, str)


def _header(stmt):
    """A statement without its nested bodies: `if x > 0:` for a whole if-block. The id of a
    mutant inside it then does not change when another line of that block is edited."""
    shallow = copy.copy(stmt)
    for name in ("body", "orelse", "finalbody", "handlers"):
        if getattr(shallow, name, None):
            setattr(shallow, name, [ast.Pass()])
    if isinstance(shallow, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        shallow.decorator_list = []
    return ast.unparse(shallow).split("\n", 1)[0]


def _window(before, after, width=70):
    """The two texts cut to the same window of about `width` characters around their first
    difference, so a long line still shows what changed."""
    before, after = " ".join(before.split()), " ".join(after.split())
    if max(len(before), len(after)) <= width:
        return before, after
    same = next((i for i, (a, b) in enumerate(zip(before, after)) if a != b), min(len(before), len(after)))
    start = max(0, same - width // 3)

    def cut(text):
        piece = text[start:start + width]
        return ("..." if start else "") + piece + ("..." if start + width < len(text) else "")
    return cut(before), cut(after)


@dataclasses.dataclass
class Mutant:
    id: str
    exercise: str
    operator: str
    where: str          # the enclosing def, e.g. "GPT.forward"
    line: int           # line in the reference module's file
    original: str       # the changed node, before and after
    mutated: str
    source: str         # the whole mutated object, as Python source
    shown: tuple = ()   # (before, after) of the enclosing expression, when the node is tiny

    @property
    def description(self):
        before, after = _window(*(self.shown or (self.original, self.mutated)))
        return f"line {self.line}: `{before}` -> `{after}`"


def _replace(parent, old, new):
    """Put `new` where `old` is among `parent`'s fields; return a function that undoes it."""
    for name, value in ast.iter_fields(parent):
        if value is old:
            setattr(parent, name, new)
            return lambda: setattr(parent, name, old)
        if isinstance(value, list):
            for i, item in enumerate(value):
                if item is old:
                    value[i] = new
                    return lambda: value.__setitem__(i, old)
    raise LookupError("node not found in its parent")


def generate(exercise_id, source, modules=(), first_line=1):
    """Every mutant of the object whose source is `source` (one top-level def or class), in a
    fixed order. `modules`: names bound to modules in its namespace (see `drop_method`);
    `first_line`: the line of the file the source starts at (for descriptions only)."""
    tree = ast.parse(source)
    top = tree.body[0]
    parents, where, statement = {}, {}, {}

    def visit(node, path, stmt):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
            child_path = path + [child.name] if isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else path
            child_stmt = child if isinstance(child, ast.stmt) else stmt
            where[child], statement[child] = ".".join(child_path), child_stmt
            visit(child, child_path, child_stmt)

    where[top], statement[top] = top.name, top
    visit(top, [top.name], top)
    docstrings = {id(n.value) for n in parents if _is_docstring(n)}   # their text is not code
    ctx = {"modules": set(modules), "top": top}
    baseline = ast.unparse(tree)
    seen_sources, occurrences, out = {baseline}, {}, []
    for node in [top, *[n for n in ast.walk(top) if n is not top]]:
        if id(node) in docstrings:
            continue
        for name, operator in OPERATORS.items():
            for replacement in operator(node, ctx):
                original, mutated = ast.unparse(node), ast.unparse(replacement)
                if original == mutated:
                    continue
                undo = _replace(parents[node], node, replacement) if node is not top else None
                if undo is None:
                    tree.body[0] = replacement
                try:
                    text = ast.unparse(tree)
                    shown = _shown(node, replacement, parents)
                finally:
                    if undo is None:
                        tree.body[0] = top
                    else:
                        undo()
                if text in seen_sources:   # two operators, one program (0 -> 1 twice, ...)
                    continue
                seen_sources.add(text)
                key = (exercise_id, where[node], name, _header(statement[node]), original, mutated)
                occurrence = occurrences.get(key, 0)
                occurrences[key] = occurrence + 1
                digest = hashlib.sha1(repr((*key, occurrence)).encode()).hexdigest()[:10]
                out.append(Mutant(digest, exercise_id, name, where[node],
                                  first_line - 1 + getattr(node, "lineno", top.lineno),
                                  original, mutated, text, shown))
    return out


def _shown(node, replacement, parents):
    """For a tiny change (`1` -> `2`, `[1:]` -> `[:]`), the smallest enclosing expression that
    says where it is: `reshape(n, -1)` -> `reshape(n, -2)`. Call while `replacement` is in place."""
    if isinstance(node, ast.stmt):  # a whole if-block or def: its first line says which
        header = _header(node)
        return (header + (" ..." if header != ast.unparse(node) else ""), ast.unparse(replacement))
    if len(ast.unparse(replacement)) >= 12:
        return ()
    outer = parents[node]
    while len(ast.unparse(outer)) < 20 and not isinstance(outer, ast.stmt) \
            and not isinstance(parents.get(outer, ast.Pass()), ast.stmt):
        outer = parents[outer]
    show = _header if isinstance(outer, ast.stmt) else ast.unparse   # `self.fast = True` -> `... = False`
    after = show(outer)
    undo = _replace(parents[node], replacement, node)
    try:
        before = show(outer)
    finally:
        undo()
    return (before, after)


def _module_of(obj):
    return sys.modules[obj.__module__]


def exercise_mutants(exercise):
    """The mutants of `exercise`'s reference, and the reference module they run in."""
    obj = exercise.reference()
    module = _module_of(obj)
    lines, first_line = inspect.getsourcelines(obj)
    modules = [k for k, v in vars(module).items() if isinstance(v, types.ModuleType)]
    return generate(exercise.id, "".join(lines), modules, first_line), module


def identity_source(exercise):
    """The reference object's source as the mutants are written (through ast.unparse), unchanged:
    graded first, it proves the harness passes a correct answer."""
    return ast.unparse(ast.parse(inspect.getsource(exercise.reference())))


def reference_tree(exercise):
    """The reference object's own source, parsed, with the line numbers of its file: graded
    with a line tracer, it tells which lines the checks run at all."""
    lines, first_line = inspect.getsourcelines(exercise.reference())
    return ast.increment_lineno(ast.parse("".join(lines)), first_line - 1)


# ---------------------------------------------------------------- grading one mutant

def _filename(exercise):
    return f"<mutant of {exercise.id}>"


def grade_source(exercise, source, module, lines=None, time_limit=None):
    """Grade `source` (the exercise's object, rewritten; text or a parsed tree) as a learner's
    answer: executed in a copy of the reference module's namespace, checked without naming
    mistakes (faster). `lines`: a set that collects the lines of `source` that ran;
    `time_limit`: the grader's limit for all cases, instead of the exercise's own."""
    namespace = dict(vars(module))
    filename = _filename(exercise)
    if lines is not None:
        def tracer(frame, event, arg):
            if frame.f_code.co_filename != filename:
                return None
            lines.add(frame.f_lineno)
            return local

        def local(frame, event, arg):
            if event == "line":
                lines.add(frame.f_lineno)
            return local
        sys.settrace(tracer)
    try:
        exec(compile(source, filename, "exec"), namespace)
        exercise = dataclasses.replace(exercise, mistakes=[], time_limit=time_limit or exercise.time_limit)
        return grade_function(exercise, namespace[exercise.name])
    finally:
        sys.settrace(None)


_EXPECTED = {}


def remember_expected_outcomes():
    """Make the engine compute the reference's outcome of each case once, in the warm-up before
    the forks, instead of once in every child: an exercise that trains a model then costs one
    training per mutant, not two. The reference is seeded and deterministic, so the verdicts
    are the same; each child gets its own copy, so a comparator cannot change the next one's."""
    compute = engine.expected_outcome
    if getattr(compute, "remembers", False):
        return

    def expected_outcome(exercise, index):
        key = (exercise.id, index)
        if key not in _EXPECTED:
            _EXPECTED[key] = compute(exercise, index)
        return copy.deepcopy(_EXPECTED[key])
    expected_outcome.remembers = True
    engine.expected_outcome = expected_outcome


def _memory_cap(extra_bytes):
    """Cap the child's address space at what it maps now plus `extra_bytes`: a mutant that asks
    for a huge tensor gets a MemoryError/RuntimeError (killed) instead of taking the machine."""
    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = vm + extra_bytes
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _child(exercise, source, module, write_fd, memory, trace, time_limit):
    """In the forked child: grade, write one JSON line, exit without cleanup."""
    code = 0
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)  # mutants and tqdm bars must not print
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if memory:
            _memory_cap(memory)
        lines = set() if trace else None
        try:
            result = grade_source(exercise, source, module, lines, time_limit)
            verdict = {"status": result.status, "message": result.message.split("\n", 1)[0][:300]}
            if trace:
                verdict["lines"] = sorted(lines)
        except BaseException as exc:  # a mutant that cannot even be defined, or breaks the engine
            verdict = {"status": "crashed", "message": f"{type(exc).__name__}: {exc}"[:300]}
        os.write(write_fd, (json.dumps(verdict) + "\n").encode())
    except BaseException:
        code = 3
    finally:
        os._exit(code)


class Pool:
    """Up to `jobs` forked children at a time, each with a wall-clock limit."""

    def __init__(self, jobs=1, memory=3 << 30):
        self.jobs, self.memory = jobs, memory
        self.running = {}   # read fd -> (pid, key, deadline, chunks)

    def submit(self, key, exercise, source, module, limit, trace=False, time_limit=None):
        """Fork a child that grades `source`; `limit`: its wall-clock seconds, enforced here.
        A generator: yields (key, verdict) of children that finish while it waits for a slot."""
        while len(self.running) >= self.jobs:
            yield from self._reap(block=True)
        read_fd, write_fd = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            _child(exercise, source, module, write_fd, self.memory, trace, time_limit)
        os.close(write_fd)
        self.running[read_fd] = (pid, key, time.monotonic() + limit, [])

    def drain(self):
        while self.running:
            yield from self._reap(block=True)

    def _reap(self, block):
        """Yield (key, verdict) for each child that finished or overran its limit."""
        now = time.monotonic()
        timeout = max(0.0, min(d for _, _, d, _ in self.running.values()) - now) if block else 0
        readable, _, _ = select.select(list(self.running), [], [], min(timeout, 1.0))
        for fd in readable:
            pid, key, deadline, chunks = self.running[fd]
            data = os.read(fd, 65536)
            if data:
                chunks.append(data)
                continue
            os.close(fd)
            del self.running[fd]
            _, status = os.waitpid(pid, 0)
            try:
                verdict = json.loads(b"".join(chunks).decode())
            except ValueError:
                how = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else \
                    f"exit status {os.waitstatus_to_exitcode(status)}"
                verdict = {"status": "crashed", "message": f"the child died ({how})"}
            yield key, verdict
        now = time.monotonic()
        for fd, (pid, key, deadline, chunks) in list(self.running.items()):
            if now > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                os.close(fd)
                del self.running[fd]
                yield key, {"status": "timeout", "message": "killed by the driver's wall-clock limit"}


# ---------------------------------------------------------------- equivalence records

def load_equivalent(chapter):
    """{exercise id: {mutant id: {"change", "why"}}} from tests/mutants/chNN.json (or {})."""
    path = MUTANTS_DIR / f"ch{chapter}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def stale_records(chapters=None):
    """(chapter, exercise id, mutant id, problem) for every equivalence record that names no
    current mutant, or has no reason. Generation only, no grading."""
    problems = []
    files = sorted(MUTANTS_DIR.glob("ch*.json"))
    for path in files:
        chapter = path.stem[2:]
        if chapters and chapter not in chapters:
            continue
        exercises = {ex.id: ex for ex in chapter_exercises(chapter)}
        for exercise_id, records in json.loads(path.read_text()).items():
            if exercise_id not in exercises:
                problems.append((chapter, exercise_id, "*", "no such exercise"))
                continue
            ids = {m.id for m in exercise_mutants(exercises[exercise_id])[0]}
            for mutant_id, record in records.items():
                if mutant_id not in ids:
                    problems.append((chapter, exercise_id, mutant_id,
                                     f"no such mutant any more ({record.get('change', '?')})"))
                elif not str(record.get("why", "")).strip():
                    problems.append((chapter, exercise_id, mutant_id, "no reason given ('why')"))
    return problems


# ---------------------------------------------------------------- the benchmark

def _sample(mutants, n):
    """A deterministic sample of `n` mutants: the smallest ids (ids are hashes, so this is an
    even spread over operators and lines, and the same sample on every run)."""
    if not n or len(mutants) <= n:
        return mutants
    keep = set(sorted(m.id for m in mutants)[:n])
    return [m for m in mutants if m.id in keep]


def context(mutant, module, around=2):
    """The lines of the reference file around the mutant, the changed one marked."""
    lines = inspect.getsource(module).splitlines()
    lo, hi = max(1, mutant.line - around), min(len(lines), mutant.line + around)
    return "\n".join(f"    {'>' if i == mutant.line else ' '} {i:4d} | {lines[i - 1]}" for i in range(lo, hi + 1))


def run_chapter(chapter, pool, only=None, max_per_exercise=None, verbose=False, quick_timeout=False):
    """Grade every mutant of the chapter's exercises; returns (rows, per-mutant records)."""
    equivalent = load_equivalent(chapter)
    rows, records = [], []
    for exercise in chapter_exercises(chapter):
        if only and exercise.id not in only and exercise.name not in only:
            continue
        start = time.perf_counter()
        mutants, module = exercise_mutants(exercise)
        total = len(mutants)
        mutants = _sample(mutants, max_per_exercise)
        # Warm-up before the forks: lazy imports (torch.optim pulls in torch._dynamo) and caches
        # are paid once here, with time to spare, instead of in every child against its limit.
        warm = grade_function(dataclasses.replace(exercise, time_limit=10 * exercise.time_limit + 60),
                              exercise.reference())
        time_limit = exercise.time_limit
        limit = time_limit * 3 + 5
        row = {"exercise": exercise.id, "total": total, "mutants": len(mutants), "killed": 0,
               "timeouts": 0, "equivalent": 0, "survived": 0, "not_run": 0, "seconds": 0.0,
               "harness_error": None}
        verdicts = {}
        for key, source, trace in [("identity", identity_source(exercise), False),
                                   ("lines", reference_tree(exercise), True)]:
            began = time.perf_counter()
            verdicts.update(pool.submit(key, exercise, source, module, limit, trace, time_limit))
            verdicts.update(pool.drain())
            if key == "identity" and quick_timeout:   # an endless loop costs seconds, not the whole limit
                time_limit = min(time_limit, max(2.0, 20 * (time.perf_counter() - began)))
                limit = time_limit * 3 + 5
        broken = next((v for v in (warm.to_json(), verdicts["identity"], verdicts["lines"])
                       if v["status"] != "passed"), None)
        if broken:   # a busy machine's timeout, or a driver bug: no score is better than a wrong one
            row["harness_error"] = f"the unchanged reference does not pass here: {broken['status']}: {broken['message']}"
            row["seconds"] = time.perf_counter() - start
            rows.append(row)
            print(f"  {exercise.id:<40} skipped: {row['harness_error']}", flush=True)
            continue
        for m in mutants:
            verdicts.update(pool.submit(m.id, exercise, m.source, module, limit, False, time_limit))
        verdicts.update(pool.drain())
        ran = set(verdicts["lines"].get("lines", ()))
        known = equivalent.get(exercise.id, {})
        for m in mutants:
            status = verdicts[m.id]["status"]
            if status != "passed":
                outcome = "killed"
            elif m.id in known:
                outcome = "equivalent"
            else:
                outcome = "survived"
            row[outcome] += 1
            row["timeouts"] += status == "timeout"
            not_run = outcome == "survived" and m.line not in ran
            row["not_run"] += not_run
            records.append({"id": m.id, "exercise": exercise.id, "operator": m.operator,
                            "where": m.where, "line": m.line, "description": m.description,
                            "outcome": outcome, "status": status, "line_not_run": not_run,
                            "message": verdicts[m.id].get("message", ""),
                            "_mutant": m, "_module": module})
        row["seconds"] = time.perf_counter() - start
        rows.append(row)
        if verbose:
            sampled = f" (sampled from {total})" if len(mutants) < total else ""
            timeouts = f" ({row['timeouts']} by timeout)" if row["timeouts"] else ""
            print(f"  {exercise.id:<40} {len(mutants):4d} mutants{sampled}, {row['killed']:4d} killed{timeouts}, "
                  f"{row['equivalent']:3d} equivalent, {row['survived']:3d} survived"
                  f"{f' ({nr} on lines no case runs)' if (nr := row['not_run']) else ''}  "
                  f"({row['seconds']:.1f} s)", flush=True)
    return rows, records


def score(killed, mutants, equivalent):
    live = mutants - equivalent
    return 100.0 * killed / live if live else 100.0


def print_table(summary, max_per_exercise=None):
    print(f"\n{'chapter':<8} {'mutants':>8} {'killed':>7} {'equiv.':>7} {'survived':>9} {'score':>7} {'seconds':>8}")
    for t in summary:
        mark = "ok" if t["score"] >= TARGET else f"below {TARGET:g}%"
        sampled = "*" if t["mutants"] < t["total"] else " "
        print(f"{t['chapter']:<8} {t['mutants']:>7}{sampled} {t['killed']:>7} {t['equivalent']:>7} "
              f"{t['survived']:>9} {t['score']:>6.1f}% {t['seconds']:>8.0f}  {mark}"
              + (f" (skipped: {', '.join(t['skipped'])})" if t.get("skipped") else ""))
    if any(t["mutants"] < t["total"] for t in summary):
        print(f"* sampled: at most {max_per_exercise or '?'} mutants per exercise (--max-per-exercise)")
    print(f"target: at least {TARGET:g}% of non-equivalent mutants killed in every chapter")


def rescore(files):
    """Scores of earlier runs (their --json files) with today's equivalence records, without
    grading anything again: for after recording equivalents."""
    summary = []
    for name in files:
        run = json.loads(Path(name).read_text())
        for chapter in run["chapters"]:
            known = load_equivalent(chapter["chapter"])
            mutants = [m for m in run["mutants"] if m["exercise"].split(".")[0] == chapter["chapter"]]
            killed = sum(m["status"] != "passed" for m in mutants)
            equivalent = sum(m["status"] == "passed" and m["id"] in known.get(m["exercise"], {}) for m in mutants)
            summary.append({**chapter, "killed": killed, "equivalent": equivalent,
                            "survived": len(mutants) - killed - equivalent,
                            "score": score(killed, len(mutants), equivalent)})
    print_table(summary)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapters", nargs="*", help="chapters to run, e.g. 01 09 (default: all)")
    parser.add_argument("--exercise", action="append", default=[], help="only this exercise (id or name); repeatable")
    parser.add_argument("--survivors", action="store_true", help="print every surviving mutant, in context")
    parser.add_argument("--jobs", type=int, default=1, help="children grading at once (default 1)")
    parser.add_argument("--max-per-exercise", type=int, default=None,
                        help="grade a deterministic sample of at most N mutants per exercise")
    parser.add_argument("--quick-timeout", action="store_true",
                        help="limit each mutant to 20x the reference's grading time (at least 2 s) instead of "
                             "the exercise's limit: faster, but a slow correct mutant counts as killed")
    parser.add_argument("--memory-gb", type=float, default=3.0, help="address space a child may add (default 3)")
    parser.add_argument("--json", help="write every mutant (id, exercise, status, description) to FILE")
    parser.add_argument("--stale", action="store_true", help="list equivalence records whose mutant is gone")
    parser.add_argument("--rescore", nargs="+", metavar="FILE",
                        help="print the table of earlier --json runs with today's equivalence records, grading nothing")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per exercise")
    args = parser.parse_args(argv)
    chapters = [c.zfill(2) for c in args.chapters] or [m[2:] for m in chapter_modules()]
    if args.exercise:
        chapters = sorted({e.split(".")[0] for e in args.exercise if "." in e} or chapters)

    if args.rescore:
        return rescore(args.rescore)
    if args.stale:
        problems = stale_records(args.chapters and chapters)
        for chapter, exercise_id, mutant_id, problem in problems:
            print(f"tests/mutants/ch{chapter}.json: {exercise_id} {mutant_id}: {problem}")
        print(f"{len(problems)} stale or incomplete equivalence records")
        return 1 if problems else 0

    import torch  # one thread in the parent before any torch work, so forking is safe
    torch.set_num_threads(1)
    remember_expected_outcomes()
    pool = Pool(args.jobs, int(args.memory_gb * (1 << 30)))
    summary, everything = [], []
    for chapter in chapters:
        start = time.perf_counter()
        print(f"chapter {chapter}", flush=True)
        rows, records = run_chapter(chapter, pool, set(args.exercise), args.max_per_exercise,
                                    args.verbose, args.quick_timeout)
        if not rows:
            continue
        counted = [r for r in rows if not r["harness_error"]]
        total = {k: sum(r[k] for r in counted) for k in
                 ("total", "mutants", "killed", "timeouts", "equivalent", "survived", "not_run")}
        total["skipped"] = [r["exercise"] for r in rows if r["harness_error"]]
        total["seconds"] = time.perf_counter() - start
        total["chapter"] = chapter
        total["score"] = score(total["killed"], total["mutants"], total["equivalent"])
        summary.append(total)
        everything += records
        sampled = f" (a sample of {total['mutants']} of {total['total']})" if total["mutants"] < total["total"] else ""
        skipped = f"; skipped, the reference failing: {', '.join(total['skipped'])}" if total["skipped"] else ""
        print(f"chapter {chapter}: {total['mutants']} mutants{sampled}, {total['killed']} killed "
              f"({total['timeouts']} by timeout), {total['equivalent']} equivalent, {total['survived']} "
              f"survived ({total['not_run']} on lines no case runs): score {total['score']:.1f}% "
              f"({total['seconds']:.0f} s){skipped}", flush=True)
        if args.survivors:
            for r in records:
                if r["outcome"] == "survived":
                    tag = ", a line no case runs" if r["line_not_run"] else ""
                    print(f"  survived {r['id']}  {r['exercise']}  [{r['operator']}, in {r['where']}{tag}]  "
                          f"{r['description']}\n{context(r['_mutant'], r['_module'])}")

    print_table(summary, args.max_per_exercise)
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"chapters": summary,
             "mutants": [{k: v for k, v in r.items() if not k.startswith("_")} for r in everything]},
            indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
