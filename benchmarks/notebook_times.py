"""Run solution notebooks top to bottom and print each one's wall time.

    python benchmarks/notebook_times.py                      # every notebook in solutions/
    python benchmarks/notebook_times.py solutions/03_backprop.ipynb --fast
    python benchmarks/notebook_times.py --output /tmp/executed   # keep the executed copies

Each notebook runs in its own folder (as Jupyter would) with a fresh kernel; nothing is
written back to the source file. `--fast` sets COURSE_FAST=1, as CI does. The budget is
3 minutes per solution notebook on a 2-core CPU (2 minutes with --fast, as the pytest run
reports; authors aim for 30 s). Exit status 1 when a notebook fails or runs over its budget.
"""
import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient.exceptions import CellExecutionError

from grader.kernel_client import notebook_client

ROOT = Path(__file__).resolve().parent.parent


def run(path: Path, fast: bool, timeout: int, output: Path | None) -> tuple[float, str | None]:
    nb = nbformat.read(path, as_version=4)
    previous = os.environ.get("COURSE_FAST")
    os.environ["COURSE_FAST"] = "1" if fast else "0"   # the kernel inherits our environment
    client = notebook_client(nb, path.parent, timeout)
    start, error = time.perf_counter(), None
    try:
        client.execute()
    except CellExecutionError as exc:
        error = str(exc).strip().splitlines()[-1][:300]
    except Exception as exc:  # a timeout or a dead kernel: report it and go on with the next
        error = f"{type(exc).__name__}: {exc}"[:300]
    finally:
        if previous is None:
            os.environ.pop("COURSE_FAST", None)
        else:
            os.environ["COURSE_FAST"] = previous
    seconds = time.perf_counter() - start
    if output:
        output.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, output / path.name)
    return seconds, error


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to run (default: every solutions/NN_*.ipynb)")
    parser.add_argument("--fast", action="store_true", help="set COURSE_FAST=1, as CI does")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds allowed per notebook (default 180, or 120 with --fast)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell")
    parser.add_argument("--output", type=Path, default=None, help="folder for the executed copies")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
    budget = args.budget or (120.0 if args.fast else 180.0)
    print(f"{'notebook':<40} {'seconds':>8}  ({'COURSE_FAST=1' if args.fast else 'full'} mode, "
          f"budget {budget:g} s, {os.cpu_count()} CPUs)")
    failed = False
    for path in notebooks:
        seconds, error = run(path.resolve(), args.fast, args.timeout, args.output)
        verdict = "FAILED: " + error if error else ("over budget" if seconds > budget else "ok")
        failed |= verdict != "ok"
        print(f"{path.name:<40} {seconds:8.1f}  {verdict}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
