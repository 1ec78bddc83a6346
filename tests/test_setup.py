"""Set-up that just works: the README's commands, environment.yml and CI install one thing."""
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def readme_commands():
    blocks = re.findall(r"```bash\n(.*?)\n```", README, flags=re.S)
    return blocks[0].strip(), blocks[1].strip()


def pip_args(command):
    """The arguments of the `pip install` inside a README command."""
    match = re.search(r"pip install (.*?) &&", command)
    return [a.strip('"') for a in match.group(1).split() if a != "-e"]


def test_readme_starts_with_exactly_two_commands():
    """The front door: one command opens the course, one runs the tests; both start from a bare
    Python with a fresh virtual environment. The course needs JupyterLab ([lab]); the tests
    need everything ([test] includes [lab] and [instructor]) and the torch build CI pins."""
    course, tests = readme_commands()
    assert README.index(course) < README.index("## The chapters")
    assert course.startswith("python3 -m venv .venv") and course.endswith("jupyter lab course/")
    assert tests.startswith("python3 -m venv .venv") and tests.endswith("python -m pytest")
    assert pip_args(course) == [".[lab]"]
    assert pip_args(tests) == ["torch==2.13.0", ".[test]"]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "<!-- test-command -->" in ci and "<!-- test-command -->" in README


def test_dependencies_are_split_by_role():
    """A learner's kernel (Colab's, a laptop's) needs only what the notebooks and `check` import;
    JupyterLab, nbgrader and the test tools are extras, so Colab never installs them. No upper
    bound on torch or numpy: it would make `%pip install` replace Colab's own."""
    project = PROJECT["project"]
    names = [re.split(r"[<>=!~ ;\[]", d)[0] for d in project["dependencies"]]
    assert names == ["numpy", "torch", "matplotlib", "ipywidgets", "tqdm", "regex"]  # regex: chapter 13
    for spec in project["dependencies"]:
        assert ">=" in spec and "<" not in spec.split(">=", 1)[1], f"{spec}: a lower bound only"
    extras = project["optional-dependencies"]
    assert any(d.startswith("jupyterlab") for d in extras["lab"])
    assert any(d.startswith("nbgrader") for d in extras["instructor"])
    assert "mnist-to-gpt[lab,instructor]" in extras["test"]
    assert {"pytest", "nbclient", "playwright"} <= {re.split(r"[<>=]", d)[0] for d in extras["test"]}


def test_environment_yml_is_the_course_command_and_names_its_torch_build():
    """conda users get what the README's course command installs, and are told which torch."""
    text = (ROOT / "environment.yml").read_text()
    yaml.safe_load(text)
    assert "python=3.11" in text
    pip_lines = re.findall(r"^ {6}- (.+)$", text, flags=re.M)
    installed = [line.removeprefix("-e ").strip() for line in pip_lines]
    assert installed == pip_args(readme_commands()[0])
    assert "CUDA build" in text and "CPU" in text


def binder_requirements():
    return [line.strip() for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def test_binder_folder_pins_the_cpu_build_of_the_tested_torch():
    """repo2docker builds binder/ (and then ignores environment.yml). torch must be the CPU
    build, pinned with +cpu to the version CI tests, from PyPI's CPU index: the default index
    on Linux is the CUDA build of several GB, over Binder's limits."""
    lines = binder_requirements()
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"
    index = [l for l in lines if l.startswith("--")]
    assert index == ["--extra-index-url https://download.pytorch.org/whl/cpu"]
    ci_torch = next(a for a in pip_args(readme_commands()[1]) if a.startswith("torch=="))
    assert f"{ci_torch}+cpu" in lines
    assert "-e .[lab]" in lines


def dry_run(args, tmp_path, name):
    """pip's own resolver report for `pip install ARGS` into an empty environment."""
    report = tmp_path / f"{name}.json"
    subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "-q",
                    "--report", str(report), *args], check=True, cwd=ROOT, timeout=900)
    return {item["metadata"]["name"].lower(): item["metadata"]["version"]
            for item in json.loads(report.read_text())["install"]}


@pytest.mark.slow
@pytest.mark.network
def test_binder_resolves_to_the_versions_ci_installs(tmp_path):
    """The index line cannot be reached from here; everything else can: binder/requirements.txt
    without it resolves (the CPU build comes from the wheel CI uses) to the same version of
    every package as the README's test command, the one CI runs."""
    requirements = tmp_path / "binder.txt"
    requirements.write_text("\n".join(l for l in binder_requirements() if not l.startswith("--")))
    binder = dry_run(["-r", str(requirements)], tmp_path, "binder")
    ci = dry_run(_with_e(pip_args(readme_commands()[1])), tmp_path, "ci")
    assert binder["torch"].split("+")[0] == ci["torch"].split("+")[0] == "2.13.0"
    assert "jupyterlab" in binder
    differ = {n: (v, ci.get(n)) for n, v in binder.items() if ci.get(n) != v and n != "mnist-to-gpt"}
    assert not differ, f"binder/ would install other versions than CI tests: {differ}"


def _with_e(args):
    """pip_args drops `-e`; put it back before the project path."""
    out = []
    for a in args:
        out += ["-e", a] if a.startswith(".") else [a]
    return out


def test_no_import_package_shadows_huggingface_datasets():
    """Colab preinstalls Hugging Face's `datasets`; a package of ours by that name would hide it."""
    assert not (ROOT / "datasets" / "__init__.py").exists()
    assert not (ROOT / "grader" / "datasets").exists()


def test_console_script_and_module_entry_point():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["grader"] == "grader.cli:main"
    assert (ROOT / "grader" / "__main__.py").exists()
