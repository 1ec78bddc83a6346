"""Turning results into words: the report `check` prints in a notebook."""
from .engine import ExerciseResult

TICK, CROSS, HELPED = "✔", "✘", "⚠"   # HELPED: passed only with the course's versions of other exercises

HEADLINE = {
    "passed": "all tests passed",
    "failed": "not yet right",
    "error": "your code raised an error",
    "timeout": "ran out of time",
    "not_implemented": "not implemented yet",
    "missing": "not found",
    "forbidden": "reached for the course's solutions",
    "grader_error": "could not be graded",
}


def format_result(result: ExerciseResult) -> str:
    mark = (HELPED if result.note else TICK) if result.passed else CROSS
    lines = [f"{mark} {result.id}: {HEADLINE[result.status]} "
             f"({result.points:g}/{result.max_points:g} points)"]
    if result.note:
        lines.append("   " + result.note)
    for case in result.cases:
        lines.append(f"   {TICK if case.passed else CROSS} {case.name}")
        if not case.passed:
            lines.extend("      " + line for line in case.message.splitlines())
    if not result.passed and not any(not c.passed for c in result.cases) and result.message:
        lines.append("   " + result.message)
    return "\n".join(lines)
