"""The old name of grader/out_of_process.py, kept because `from grader.runner import
grade_submission, Limits` was the documented entry point (docs/grading-api.md) and other
graders' code imports it."""
from .out_of_process import Limits, NotebookReport, Trust, grade_notebook, grade_submission  # noqa: F401
