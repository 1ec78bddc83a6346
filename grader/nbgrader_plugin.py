"""nbgrader scores from a grading run that learner code cannot reach.

Stock `nbgrader autograde` runs the submission in a kernel and scores each locked test cell by
its outputs: no error, full marks. The test cells run in the learner's kernel, after the
learner's cells, so a learner's cell can shadow `check`, patch the grader or numpy, install an
exception hook, and every test "passes". The course's nbgrader_config.py therefore replaces
autograde's `Execute` step with `GradeOutOfProcess`:

- the submission is written to a temporary file and graded by `out_of_process.grade_submission`:
  public and hidden cases, learner definitions in the sandbox (grader/sandbox.py), judged in
  this process;
- every graded test cell `test_<exercise>` gets outputs made here from that result: the
  course's report as text, plus an error output when the exercise did not pass. nbgrader's own
  `SaveAutoGrades` then reads the scores from those outputs into the gradebook, so
  `nbgrader export` and the feedback show them;
- the learner's notebook is never executed in a kernel during autograde: nothing it does can
  reach the outputs that are scored, and nothing runs outside the sandbox.

A graded test cell that is not one of the course's checks scores 0, with a message saying so.
"""
import os
import tempfile
from pathlib import Path

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import List, Unicode

from .feedback import format_result


class GradeOutOfProcess(NbGraderPreprocessor):
    """Scores the test cells from `grader.out_of_process.grade_submission` (see the module docstring)."""

    sandbox = Unicode("auto", help="'bwrap' (refuse to grade without it), 'auto' or 'none'").tag(config=True)
    released = List(Unicode(), default_value=None, allow_none=True,
                    help="chapters whose reference learner code may use (default: those before the notebook's)"
                    ).tag(config=True)
    hidden_secret = Unicode("", help="mixed into the hidden cases' seeds (else $GRADER_HIDDEN_SECRET)").tag(config=True)

    def preprocess(self, nb, resources):
        from .out_of_process import grade_submission
        if self.hidden_secret:
            os.environ["GRADER_HIDDEN_SECRET"] = self.hidden_secret   # this process only, never the child's
        name = (resources.get("nbgrader") or {}).get("notebook") or resources.get("unique_key") or "notebook"
        with tempfile.TemporaryDirectory(prefix="grader-nbgrader-") as tmp:
            path = Path(tmp) / f"{Path(name).name}.ipynb"
            nbformat.write(nb, path)
            report = grade_submission(path, sandbox=self.sandbox,
                                      released=tuple(self.released) if self.released is not None else None)
        by_name = {r.id.split(".", 1)[1]: r for r in report.results}
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type != "code" or not meta.get("grade"):
                continue
            grade_id = meta.get("grade_id", "")
            result = by_name.get(grade_id[len("test_"):]) if grade_id.startswith("test_") else None
            cell.outputs = _outputs(result, report.sandbox)
            cell.execution_count = None
        self.log.info("Graded out of process: %g / %g (sandbox: %s)", report.score, report.max_score, report.sandbox)
        return nb, resources


def _outputs(result, sandbox: str) -> list:
    if result is None:
        return [nbformat.v4.new_output("error", ename="NotGraded", evalue="this test cell is not one of the "
                                       "course's checks, so it earns no points", traceback=[])]
    text = format_result(result) + "\n"
    if sandbox != "bwrap":
        text += "(graded without a sandbox)\n"
    outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    if not result.passed:
        first = result.message.splitlines()[0] if result.message else result.status
        outputs.append(nbformat.v4.new_output("error", ename="ExerciseFailed", evalue=f"{result.id}: {first}",
                                              traceback=[f"ExerciseFailed: {result.id}: {first}"]))
    return outputs


def autograde_preprocessors() -> list:
    """nbgrader's default autograde steps with `Execute` replaced by `GradeOutOfProcess`."""
    from nbgrader.converters.autograde import Autograde
    from nbgrader.preprocessors import Execute
    default = Autograde.class_traits()["autograde_preprocessors"].default()
    if Execute not in default:
        raise RuntimeError("this nbgrader's autograde has no Execute step to replace; see grader/nbgrader_plugin.py")
    return [GradeOutOfProcess if step is Execute else step for step in default]
