"""The `grader` command: check a notebook, grade a class, fetch data, rebuild the course."""
import argparse
import json
import sys

from .feedback import format_result


def _released(text):
    return tuple(c.strip().zfill(2) for c in text.split(",") if c.strip()) if text is not None else None


def _grading_options() -> argparse.ArgumentParser:
    """The options `check` and `grade` share (a parent parser of both): the limits of the child
    process that runs learner code, and how an instructor's grading trusts it."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--time-scale", type=float, default=1.0, help="multiply every time limit (slow machines)")
    p.add_argument("--memory-mb", type=int, default=4096, help="memory limit of the process running your code")
    p.add_argument("--sandbox", choices=["auto", "bwrap", "none"], default="auto",
                   help="instructor grading: bwrap (refuse without it), auto (bwrap when it runs here, "
                        "else no sandbox, said in the report) or none")
    p.add_argument("--released", default=None, metavar="01,02",
                   help="chapters whose reference learner code may use (default: those before the notebook's)")
    return p


def _limits(args):
    from .out_of_process import Limits
    return Limits(time_scale=args.time_scale, memory_mb=args.memory_mb)


def _instructor_trust(args):
    from .out_of_process import Trust
    return Trust.instructor(args.sandbox, _released(args.released))


def cmd_check(args) -> int:
    from .notebook import NotebookError
    from .out_of_process import Trust, grade_notebook
    from .sandbox import SandboxUnavailable
    trust = _instructor_trust(args) if args.instructor else Trust()
    try:
        report = grade_notebook(args.notebook, _limits(args), trust)
    except SandboxUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except NotebookError as exc:
        if args.json:
            print(json.dumps({"notebook": args.notebook, "error": str(exc)}))
        else:
            print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.exercise:   # one exercise: GitHub Classroom's one-step-per-exercise grading
        chosen = [r for r in report.results if r.id == args.exercise]
        if not chosen:
            print(f"error: {args.notebook} has no exercise {args.exercise!r}; its exercises: "
                  + ", ".join(r.id for r in report.results), file=sys.stderr)
            return 2
        report.results = chosen
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        for result in report.results:
            print(format_result(result))
            if result.id in report.notes:
                print(f"   note: {report.notes[result.id]}")
        print(f"\nScore: {report.score:g} / {report.max_score:g}")
        if args.instructor:
            print("(instructor grading: public and hidden cases; learner code ran "
                  + ("inside the bwrap sandbox)" if report.sandbox == "bwrap" else "WITHOUT a sandbox)"))
    return 0 if all(r.passed for r in report.results) else 1


def cmd_grade(args) -> int:
    from .bulk import grade_folder
    from .sandbox import SandboxUnavailable
    try:
        grade_folder(args.folder, args.csv, jobs=args.jobs, limits=_limits(args), trust=_instructor_trust(args))
    except SandboxUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.gradebook:
        from .gradebook import write
        print(f"wrote {write(args.csv, args.gradebook)}: one row per student, one column per chapter",
              file=sys.stderr)
    return 0


def cmd_download(args) -> int:
    from .data.download import DownloadError, download_dataset
    try:
        for path in download_dataset(args.name, data_dir=args.data_dir):
            print(f"ok  {path}")
    except DownloadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_student_build(args) -> int:
    from .student import BuildRefused, build
    try:
        wheel = build(_released(args.release) or (), args.out)
    except BuildRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {wheel} and {args.out}/course/ (install: pip install {wheel})")
    return 0


def cmd_gradescope(args) -> int:
    from .gradescope import BuildError, build
    try:
        path = build(args.chapters, args.output)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {path}: upload it as the assignment's autograder on Gradescope")
    return 0


def cmd_classroom(args) -> int:
    from .classroom import build
    from .student import BuildRefused
    try:
        path = build(args.chapters, args.output, _released(args.release))
    except BuildRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {path} and the notebooks in {args.output}: push it as the assignment's template repository")
    return 0


def cmd_build(args) -> int:
    from .build import build_all
    changed = build_all(check_only=args.check)
    if args.check and changed:
        print("out of date (run `grader build`):\n  " + "\n  ".join(changed))
        return 1
    for path in changed:
        print(f"wrote {path}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="grader", description="The course's auto-grader.")
    sub = parser.add_subparsers(dest="command", required=True)
    grading = _grading_options()
    chapters = argparse.ArgumentParser(add_help=False)   # what `gradescope` and `classroom` package
    chapters.add_argument("chapters", nargs="+", metavar="CHAPTER", help="01 02 ...")

    p = sub.add_parser("check", help="grade a notebook file", parents=[grading])
    p.add_argument("notebook")
    p.add_argument("--json", action="store_true", help="print one JSON object and nothing else")
    p.add_argument("--exercise", default=None, metavar="ID",
                   help="report only this exercise (e.g. 01.one_hot): exit 0 only when it passes")
    p.add_argument("--instructor", action="store_true",
                   help="grade as an instructor: hidden cases too, learner code in the sandbox")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("grade", help="grade every notebook under a folder into a CSV (resumable)", parents=[grading])
    p.add_argument("folder", help="one folder per student, or nbgrader's submitted/ folder")
    p.add_argument("--csv", required=True, help="scores file; rows are appended, graded notebooks skipped")
    p.add_argument("--gradebook", default=None, metavar="FILE",
                   help="also write a per-student summary for LMS gradebooks (a column per chapter)")
    p.add_argument("--jobs", type=int, default=2, help="notebooks graded at once")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("download", help="fetch full MNIST (70,000 digits), Tiny Shakespeare or GPT-2's weights (548 MB)")
    p.add_argument("name", choices=["mnist", "shakespeare", "gpt2"])
    p.add_argument("--data-dir", default=None)
    p.set_defaults(func=cmd_download)

    p = sub.add_parser("student-build", help="build the student install: a wheel without the references "
                                             "of the chapters not released, and the notebooks")
    p.add_argument("--release", required=True, metavar="01,02",
                   help="chapters whose reference the students may have ('' for none)")
    p.add_argument("--out", required=True, help="folder for the wheel and course/")
    p.set_defaults(func=cmd_student_build)

    p = sub.add_parser("gradescope", help="build Gradescope's autograder zip for these chapters", parents=[chapters])
    p.add_argument("-o", "--output", default="autograder.zip")
    p.set_defaults(func=cmd_gradescope)

    p = sub.add_parser("classroom", help="write a GitHub Classroom template repository for these chapters",
                       parents=[chapters])
    p.add_argument("-o", "--output", required=True, metavar="DIR")
    p.add_argument("--release", default=None, metavar="01,02",
                   help="chapters whose reference the students' wheel holds (default: CHAPTERS)")
    p.set_defaults(func=cmd_classroom)

    p = sub.add_parser("build", help="regenerate course/ and the reference solutions from solutions/")
    p.add_argument("--check", action="store_true", help="only report what is out of date")
    p.set_defaults(func=cmd_build)

    args = parser.parse_args(argv)
    return args.func(args)
