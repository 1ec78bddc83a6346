"""Shared pytest plumbing.

`notebook_times` collects how long each notebook took to run (tests/test_notebooks.py), and
`pytest_terminal_summary` prints them at the end of every run, so that the times show up in
the normal `pytest` output (no `-s` needed) and a chapter creeping over its budget is seen
(tests/test_notebooks.py flags it; benchmarks/notebook_times.py is the check that fails).
"""
import pytest

# setuptools replaces the standard library's `distutils` with its own the first time it is
# imported, and asserts it succeeded; nbgrader imports setuptools lazily (nbgrader.utils). In the
# full run, a test before tests/test_kernel_client.py left the standard `distutils` loaded, and that
# assertion then failed inside `import nbgrader`. Importing setuptools first makes the order moot.
import setuptools  # noqa: F401,E402

_TIMES = pytest.StashKey[list]()


@pytest.fixture(scope="session")
def notebook_times(pytestconfig):
    """A list to append (notebook, seconds, verdict) to; reported at the end of the run."""
    return pytestconfig.stash.setdefault(_TIMES, [])


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    times = config.stash.get(_TIMES, [])
    if not times:
        return
    terminalreporter.section("notebook run times (COURSE_FAST=1)")
    for name, seconds, verdict in times:
        terminalreporter.write_line(f"{name:<48} {seconds:7.1f} s  {verdict}")
    terminalreporter.write_line(f"{'total':<48} {sum(t for _, t, _ in times):7.1f} s")
