"""Set-up that just works: the README's commands, environment.yml and CI install one thing."""
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def readme_commands():
    blocks = re.findall(r"```bash\n(.*?)\n```", README, flags=re.S)
    return blocks[0].strip(), blocks[1].strip()


def pip_args(command):
    """The arguments of the `pip install` inside a README command."""
    match = re.search(r"pip install (.*?) &&", command)
    return [a.strip('"') for a in match.group(1).split() if a != "-e"]


def test_readme_starts_with_exactly_two_commands():
    """The front door: one command opens the course, one runs the tests; both start from a bare
    Python with a fresh virtual environment."""
    course, tests = readme_commands()
    assert README.index(course) < README.index("## The chapters")
    assert course.startswith("python3 -m venv .venv") and course.endswith("jupyter lab course/")
    assert tests.startswith("python3 -m venv .venv") and tests.endswith("python -m pytest")
    assert pip_args(course) == pip_args(tests)


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "<!-- test-command -->" in ci and "<!-- test-command -->" in README


def test_environment_yml_pip_part_is_what_ci_installs():
    """Binder builds environment.yml; conda cannot be solved here, so its pip part must be
    exactly what the tested command installs."""
    text = (ROOT / "environment.yml").read_text()
    assert "python=3.11" in text
    pip_lines = re.findall(r"^ {6}- (.+)$", text, flags=re.M)
    installed = [line.removeprefix("-e ").strip() for line in pip_lines]
    assert installed == pip_args(readme_commands()[1])


def test_torch_requirement_admits_the_ci_build():
    """CI installs torch 2.13.0 (CPU) first; the package's own range must accept it, or pip
    would fetch a multi-GB CUDA build."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    torch_spec = next(d for d in project["dependencies"] if d.startswith("torch"))
    assert ">=" in torch_spec and "<2.14" in torch_spec
    assert "torch==2.13.0" in readme_commands()[1]


def test_no_import_package_shadows_huggingface_datasets():
    """Colab preinstalls Hugging Face's `datasets`; a package of ours by that name would hide it."""
    assert not (ROOT / "datasets" / "__init__.py").exists()
    assert not (ROOT / "grader" / "datasets").exists()


def test_console_script_and_module_entry_point():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["grader"] == "grader.cli:main"
    assert (ROOT / "grader" / "__main__.py").exists()
