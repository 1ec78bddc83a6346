"""Where learner code runs during instructor grading, and what it can see there.

Instructor grading (`grader grade`, `grader check --instructor`, the nbgrader plugin) runs the
learner's definitions in a child process (grader/out_of_process.py) started inside bubblewrap
(`bwrap`, Debian's package `bubblewrap`), an existing, audited sandbox. Inside it:

- the file system holds the system's libraries, the Python installation (read-only), and a
  staged copy of the `grader` package *without* the reference of every chapter not released
  (`released`), without those chapters' known mistakes' code (grader/withhold.py), without
  the hidden cases and without stored outcomes; nothing else of the
  host: no `solutions/`, no course or submissions folder, no home directory;
- there is no network (a new, empty network namespace), no other process (a new PID
  namespace) and no capability; the instructor's secret is not in its environment.

What the sandbox guarantees is that learner code *cannot* read what it must not. On top of
that, `install_guard` (run inside the child, before any learner code) notices attempts and
says so: an import of a withheld reference, an `open` or a directory listing of the
package's reference or hidden folders or of anything called `solutions`. The grading process
gives that exercise 0 points with a one-sentence reason. The guard is for the message only;
learner code can dodge it (a renamed path, code compiled under another file name), and then
it still finds nothing, because the files are not there.

Where bwrap cannot run (not installed, or user namespaces disabled), `mode="auto"` grades
without the sandbox and says so in every report (`sandbox: none`), with the guard alone, which
a determined student can get past; `mode="bwrap"` refuses to grade instead.
"""
import atexit
import compileall
import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from .withhold import without_mistake_code

PACKAGE = Path(__file__).resolve().parent
INSIDE = "/grader-sandbox"          # where the staged package appears inside the sandbox
MODES = ("auto", "bwrap", "none")


class SandboxUnavailable(RuntimeError):
    """bwrap was asked for (mode "bwrap") but cannot run here."""


@functools.lru_cache(maxsize=None)
def bwrap_problem() -> str | None:
    """None when bwrap runs here, else one sentence saying why it does not."""
    exe = shutil.which("bwrap")
    if exe is None:
        return "bwrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    try:
        proc = subprocess.run([exe, *_base_args(), "--", sys.executable, "-c", "pass"],
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap could not start: {exc}"
    if proc.returncode != 0:
        return f"bwrap cannot create a sandbox here: {proc.stderr.strip().splitlines()[-1:] or proc.returncode}"
    return None


def resolve_mode(mode: str) -> str:
    """"bwrap" or "none" for the requested mode ("auto", "bwrap", "none")."""
    if mode not in MODES:
        raise ValueError(f"sandbox mode must be one of {MODES}, not {mode!r}")
    if mode == "none":
        return "none"
    problem = bwrap_problem()
    if problem is None:
        return "bwrap"
    if mode == "bwrap":
        raise SandboxUnavailable(f"cannot grade in a sandbox: {problem}")
    return "none"


# ---------------------------------------------------------------- the staged package

_staged: dict[frozenset, Path] = {}
_staging_lock = threading.Lock()


def _withheld_file(relative: Path, released: frozenset) -> bool:
    parts = relative.parts
    if "__pycache__" in parts or parts[0] in ("hidden", "expected") or relative.suffix == ".pyc":
        return True
    if parts[0] == "reference" and relative.name.startswith("ch"):
        return relative.name[2:4] not in released
    return False


def staged_package(released) -> Path:
    """A folder holding a copy of `grader/` without the withheld files (made once per process)."""
    released = frozenset(released)
    with _staging_lock:
        if released not in _staged:
            root = Path(tempfile.mkdtemp(prefix="grader-sandbox-"))
            atexit.register(shutil.rmtree, root, True)
            for path in PACKAGE.rglob("*"):
                relative = path.relative_to(PACKAGE)
                if path.is_file() and not _withheld_file(relative, released):
                    target = root / "grader" / relative
                    target.parent.mkdir(parents=True, exist_ok=True)
                    if relative.parts[0] == "exercises" and relative.name[2:4] not in released \
                            and relative.suffix == ".py" and relative.name.startswith("ch"):
                        # its mistakes are the reference with a switch, or correct but slow
                        target.write_text(without_mistake_code(path.read_text(encoding="utf-8")), encoding="utf-8")
                    else:
                        shutil.copyfile(path, target)
            # The sandbox mounts it read-only, so Python could not cache bytecode there and
            # would compile the whole package again in every child: compile it once, here.
            compileall.compile_dir(str(root), quiet=1)
            from .data.paths import REPO_DATASETS
            if REPO_DATASETS.is_dir():   # where the loaders look for the bundled data (public)
                (root / "datasets").symlink_to(REPO_DATASETS)
            _staged[released] = root
        return _staged[released]


# ---------------------------------------------------------------- the command line

def _base_args() -> list[str]:
    args = ["--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--chdir", "/tmp",
            "--clearenv"]
    for top in ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for name in ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf"):
        if os.path.exists(f"/etc/{name}"):
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    # The Python installation and the environment (numpy, torch...), read-only.
    for prefix in sorted({os.path.realpath(p) for p in (sys.base_prefix, sys.prefix)}):
        args += ["--ro-bind", prefix, prefix]
    if sys.prefix != os.path.realpath(sys.prefix):
        args += ["--ro-bind", os.path.realpath(sys.prefix), sys.prefix]
    # A copy of the grader installed into site-packages (not editable) would hold every
    # reference: hide it under an empty folder.
    for site in _site_dirs():
        if (Path(site) / "grader").is_dir():
            args += ["--tmpfs", str(Path(site) / "grader")]
    return args


def _site_dirs() -> list[str]:
    import site
    dirs = list(site.getsitepackages())
    return [d for d in dirs if os.path.isdir(d)]


def command(argv: list[str], released, env: dict) -> list[str]:
    """`argv` (a Python command) wrapped in bwrap, seeing the package staged for `released`."""
    staged = staged_package(released)
    args = ["bwrap", *_base_args(), "--ro-bind", str(staged), INSIDE]
    from .data.paths import REPO_DATASETS
    if REPO_DATASETS.is_dir():   # the bundled data (public): staged_package links INSIDE/datasets here
        args += ["--ro-bind", str(REPO_DATASETS), str(REPO_DATASETS)]
    for key, value in env.items():
        args += ["--setenv", key, value]
    args += ["--setenv", "PYTHONPATH", INSIDE, "--setenv", "HOME", "/tmp", "--setenv", "PATH", "/usr/bin:/bin"]
    return args + ["--", *argv]


# ---------------------------------------------------------------- inside the child

_INSTALLATION = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix)}


class Guard:
    """Notices learner code reaching for what it must not (see the module docstring)."""

    def __init__(self, released, report):
        self.released = frozenset(released)
        self.report = report            # called with one sentence per attempt
        self.reporting = False
        self.misses = []                # withheld modules the course's own code asked for

    def learner_is_calling(self) -> bool:
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename == "<notebook cell>":
                return True
            frame = frame.f_back
        return False

    def withheld_module(self, name: str) -> bool:
        if name.startswith(("grader.hidden", "grader.expected")):
            return True
        match = re.fullmatch(r"grader\.reference\.ch(\d\d)(\..*)?", name)
        return bool(match) and match.group(1) not in self.released

    def withheld_path(self, path, listing=False) -> bool:
        """A withheld reference, the hidden cases or stored outcomes in the course's package (and,
        for a listing, its own folders), or anything under a `solutions` folder outside the Python
        installation (whose own files, torch's `.../quantized/reference` say, are never flagged)."""
        try:
            real = os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            return False  # a file descriptor
        package = str(PACKAGE)
        if real == package or real.startswith(package + os.sep):
            inside = Path(real).relative_to(package).parts
            if not inside:
                return listing
            if inside[0] in ("hidden", "expected"):
                return True
            if inside[0] == "reference":
                if len(inside) == 1:
                    return listing
                return bool(re.fullmatch(r"ch\d\d.*", inside[1])) and inside[1][2:4] not in self.released
            return False
        if any(real.startswith(prefix + os.sep) for prefix in _INSTALLATION):
            return False
        parts = real.split(os.sep)
        return "solutions" in parts or any(part == "grader" and nxt in ("hidden", "expected", "reference")
                                           for part, nxt in zip(parts, parts[1:]))

    # importlib calls these
    def find_spec(self, name, path=None, target=None):
        if not self.withheld_module(name):
            return None
        if self.learner_is_calling():
            self._say(self.report, f"your code tried to import `{name}`, which holds the course's "
                                   "solutions or test data")
        else:
            self.misses.append(name)
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    def audit(self, event, args):
        if event in ("open", "os.listdir", "os.scandir") and args and args[0] is not None and not self.reporting:
            if sys._getframe(1).f_code.co_filename.startswith("<frozen importlib"):
                return  # the import system listing a package folder: imports are judged by find_spec
            path = args[0]
            if self.withheld_path(path, listing=event != "open") and self.learner_is_calling():
                what = "open" if event == "open" else "list"
                self._say(self.report, f"your code tried to {what} {os.fsdecode(path)!r}, where the "
                                       "course keeps its solutions or test data")

    def _say(self, callback, text):
        self.reporting = True   # writing the report must not trigger the hook again
        try:
            callback(text)
        finally:
            self.reporting = False


# Learner code never needs these: the checks, the hidden cases, stored outcomes. (Earlier
# chapters' references are meant to be imported; the graded chapter's is not in the sandbox.)
COURSE_ONLY = ("grader.exercises", "grader.hidden", "grader.expected")


def course_code_in(target, namespace: dict) -> str | None:
    """The course's own code that a learner's answer is, inherits from, or calls by a global
    name ("grader.exercises.common.lower_triangle"), if any: some checks hold helpers that
    compute an exercise's answer (a causal mask for their inputs), and the sandbox must hold the
    checks. Code fetched at call time (through sys.modules, say) is not seen: see
    docs/threat-model.md."""
    from .engine import globals_used

    def origin(obj) -> str | None:
        obj = getattr(obj, "func", obj)           # functools.partial, or anything holding a `func`
        if isinstance(obj, type(sys)):            # a module
            return obj.__name__ if obj.__name__.startswith(COURSE_ONLY) else None
        for part in obj.__mro__ if isinstance(obj, type) else [obj]:
            module = getattr(part, "__module__", None)
            if isinstance(module, str) and module.startswith(COURSE_ONLY):
                return f"{module}.{getattr(part, '__qualname__', '')}"
        return None

    found = origin(target)
    if found:
        return found
    try:
        names = globals_used(target, namespace)
    except Exception:   # noqa: BLE001 - an object dis cannot read is judged by its cases
        return None
    for name in sorted(names):
        if name in namespace:
            found = origin(namespace[name])
            if found:
                return found
    return None


def install_guard(released, report):
    guard = Guard(released, report)
    sys.meta_path.insert(0, guard)
    sys.addaudithook(guard.audit)   # audit hooks cannot be removed, by design
    return guard
