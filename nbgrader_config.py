"""nbgrader settings for the course (copy this file into your nbgrader course directory).

- Grades come from a grading run that learner code cannot reach: autograde's `Execute` step
  (which runs the submission in a kernel and scores test cells by their outputs) is replaced
  by `grader.nbgrader_plugin.GradeOutOfProcess`, which grades the submission with the public
  and the hidden cases, learner code inside the bwrap sandbox, and writes each test cell's
  outputs from that result. See that module, and docs/threat-model.md.
- `sandbox`: "bwrap" refuses to grade where bubblewrap cannot run; "auto" grades without the
  sandbox there (each feedback cell then says "graded without a sandbox").
- Hidden cases draw their inputs from seeds mixed with a secret: set GRADER_HIDDEN_SECRET in
  the environment (or `hidden_secret` below) to a value your students do not know.
- `nbgrader validate` and `generate_assignment` still use a kernel: cells that train a model
  can take minutes, so the cell timeout is 600 s, and COURSE_FAST=1 makes training cells run a
  few steps. Those kernels talk through grader.kernel_client.PatientKernelClient (with the
  stock client, a cell's reply is now and then seen only when the cell timeout runs out).
"""
import os

from grader.nbgrader_plugin import autograde_preprocessors

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

c.Autograde.autograde_preprocessors = autograde_preprocessors()
c.GradeOutOfProcess.sandbox = os.environ.get("GRADER_SANDBOX", "bwrap")   # tests without bwrap set "auto"
# c.GradeOutOfProcess.hidden_secret = "..."      # or export GRADER_HIDDEN_SECRET=...
# c.GradeOutOfProcess.released = ["01", "02"]    # default: the chapters before the graded one

c.ExecutePreprocessor.timeout = 600          # seconds per cell
c.Execute.timeout = 600                      # the same setting under its nbgrader >= 0.9 name
c.AsyncKernelManager.client_class = "grader.kernel_client.PatientKernelClient"
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
os.environ.setdefault("COURSE_FAST", "1")
