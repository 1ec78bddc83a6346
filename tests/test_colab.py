"""The Colab cell, tried offline in an environment made to look like Colab's.

Why: a Colab learner already has torch, numpy, matplotlib, ipywidgets and tqdm, usually in
versions other than the newest (ipywidgets 7 there), and torch newer than anything the course
was tested with. If installing the course replaced any of them, the first cell would download
gigabytes and leave a torch that no longer matches Colab's torchvision. So:

* A virtual environment gets "preinstalled" packages as installed metadata (`*.dist-info`),
  in Colab-like versions and a torch newer than any release (2.99.0): pip's resolver reads
  only metadata, so this is what it sees on Colab. Their code, for the kernel, is the test
  environment's own (through a .pth file, with those packages' own metadata hidden).
* pip's own resolver report (`pip install --dry-run --report`) for the course package must
  list nothing but the course itself, with no index to download from. A course whose
  requirements capped torch is refused there (the test that shows this check can fail).
* A course notebook then runs in that environment's kernel, with `google.colab` importable
  and imported at start-up as on Colab: its Colab cell's `%pip install` (pointed at the
  course's wheel instead of GitHub) installs only the course, the imports and the data
  loading run, and the first `check` passes.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
import pytest

from grader.authoring import colab_install_requirement
from grader.kernel_client import patient_config

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow

# What Colab has and the course requires, in versions Colab has shipped (torch: newer than any;
# regex comes with Colab's transformers).
PREINSTALLED = {"torch": "2.99.0", "numpy": "2.0.2", "matplotlib": "3.10.0", "ipywidgets": "7.7.1",
                "tqdm": "4.67.1", "regex": "2024.11.6"}
OFFLINE = {"PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def offline_env():
    """pip with no index and no machine-wide configuration; nothing from this checkout on the path."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return {**env, **OFFLINE}


def norm(name):
    return re.sub(r"[-_.]+", "_", name).lower()


def fake_dist_info(site: Path, name: str, version: str):
    """An installed package as pip sees it: a dist-info folder with METADATA and RECORD."""
    info = site / f"{norm(name)}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "INSTALLER").write_text("colab\n")
    (info / "RECORD").write_text(f"{info.name}/METADATA,,\n{info.name}/INSTALLER,,\n{info.name}/RECORD,,\n")


def course_wheel(out: Path, pyproject: str | None = None) -> Path:
    """The course package as a wheel, built offline from a copy of the sources."""
    src = out / "src"
    shutil.copytree(ROOT / "grader", src / "grader", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "README.md", src)
    (src / "pyproject.toml").write_text(pyproject or (ROOT / "pyproject.toml").read_text())
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "--no-index", "-w", str(out / "wheels"), str(src)],
                   check=True, env={**os.environ, **OFFLINE}, timeout=300)
    return next((out / "wheels").glob("mnist_to_gpt-*.whl"))


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    """A Colab-like environment: its python, site-packages, and a kernelspec for it."""
    root = tmp_path_factory.mktemp("colab")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True, env=offline_env(), cwd=root).stdout.strip())
    for name, version in PREINSTALLED.items():
        fake_dist_info(site, name, version)
    # The code behind them (and ipykernel for the kernel): this test environment's packages,
    # seen through a folder of links that leaves out their metadata and the course itself.
    shared = root / "shared-site"
    shared.mkdir()
    for base in {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}:
        for entry in Path(base).iterdir():
            metadata = entry.suffix in (".dist-info", ".egg-info")
            stem = norm(entry.name.split("-")[0]) if metadata else norm(entry.name)
            if (metadata and stem in {norm(n) for n in PREINSTALLED}) or stem in ("mnist_to_gpt", "grader") \
                    or entry.name.startswith("__editable__") or entry.suffix == ".pth":
                continue
            if not (shared / entry.name).exists():
                (shared / entry.name).symlink_to(entry)
    (site / "colab_like_preinstalled.pth").write_text(f"{shared}\n")
    # google.colab, imported at start-up as in Colab's kernels.
    (site / "google" / "colab").mkdir(parents=True)
    (site / "google" / "colab" / "__init__.py").write_text('"""A stand-in for Colab\'s module."""\n')
    (site / "zz_import_google_colab.pth").write_text("import google.colab\n")
    kernels = root / "jupyter" / "kernels" / "colab"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab-like", "language": "python"}))
    return {"root": root, "python": python, "site": site, "jupyter": root / "jupyter"}


def versions(colab):
    out = subprocess.run([colab["python"], "-c", "import importlib.metadata as m, json; print(json.dumps("
                          "{d.metadata['Name'].lower(): d.version for d in m.distributions()}))"],
                         capture_output=True, text=True, check=True, env=offline_env(), cwd=colab["root"])
    return json.loads(out.stdout)


def dry_run(colab, requirement, tmp):
    report = tmp / "report.json"
    result = subprocess.run([colab["python"], "-m", "pip", "install", "--dry-run", "-q", "--report", str(report),
                             requirement], capture_output=True, text=True, env=offline_env(), cwd=colab["root"],
                            timeout=300)
    return result, (json.loads(report.read_text()) if result.returncode == 0 else None)


def test_the_environment_looks_like_colab(colab):
    """The premise: pip sees the Colab versions (not this environment's), and google.colab is
    imported when Python starts."""
    seen = versions(colab)
    for name, version in PREINSTALLED.items():
        assert seen[name] == version
    assert "mnist-to-gpt" not in seen
    out = subprocess.run([colab["python"], "-c", "import sys; print('google.colab' in sys.modules)"],
                         capture_output=True, text=True, check=True, env=offline_env(), cwd=colab["root"]).stdout
    assert out.strip() == "True"


def test_installing_the_course_changes_none_of_colabs_packages(colab, tmp_path):
    """pip's resolver report: the course is the only thing it would install, even with no index
    to download from; every requirement is met by what Colab has."""
    wheel = course_wheel(tmp_path)
    result, report = dry_run(colab, f"mnist-to-gpt @ {wheel.as_uri()}", tmp_path)
    assert result.returncode == 0, result.stderr
    installed = [(item["metadata"]["name"], item["metadata"]["version"]) for item in report["install"]]
    assert installed == [("mnist-to-gpt", "0.1.0")], f"installing the course would also install {installed}"


def test_a_capped_torch_would_be_caught(colab, tmp_path):
    """The check above can fail: a course that asks for torch<2.14 (as it once did) cannot be
    installed next to Colab's torch without replacing it, and pip says so."""
    capped = (ROOT / "pyproject.toml").read_text().replace('"torch>=2.3"', '"torch>=2.3,<2.14"')
    assert capped != (ROOT / "pyproject.toml").read_text()
    wheel = course_wheel(tmp_path, capped)
    result, _ = dry_run(colab, f"mnist-to-gpt @ {wheel.as_uri()}", tmp_path)
    assert result.returncode != 0 and "torch" in result.stderr


def test_a_course_notebook_runs_its_first_cells_and_reaches_check_on_colab(colab, tmp_path, monkeypatch):
    """Chapter 01 as a Colab learner runs it: the Colab cell (its %pip pointed at the course's
    wheel, as GitHub cannot be reached), the imports, the data, then the first exercise (with
    its solution filled in) and its check."""
    from nbclient import NotebookClient

    wheel = course_wheel(tmp_path)
    course = nbformat.read(ROOT / "course" / "01_mnist_as_numbers.ipynb", as_version=4)
    solution = nbformat.read(ROOT / "solutions" / "01_mnist_as_numbers.ipynb", as_version=4)
    solutions = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in solution.cells}
    cells = []
    for cell in course.cells:
        if cell.cell_type != "code":
            continue
        cell = nbformat.from_dict(cell)
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = solutions[grade_id]
        cell.source = cell.source.replace(colab_install_requirement(), f"mnist-to-gpt @ {wheel.as_uri()}")
        cells.append(cell)
        if cell.source.startswith("check("):
            break
    assert "%pip install" in cells[0].source and wheel.as_uri() in cells[0].source
    cells.append(nbformat.v4.new_code_cell(
        "import grader, importlib.metadata as m\n"
        "print(grader.__file__)\n"
        f"print({{n: m.version(n) for n in {sorted(PREINSTALLED)!r}}})"))
    nb = nbformat.v4.new_notebook(cells=cells)

    # The bundled data as a Colab session has it after its first use (an installed package has
    # no datasets/ folder; the fetch itself is tested in tests/test_download.py).
    data = tmp_path / "data"
    shutil.copytree(ROOT / "datasets" / "mnist10k", data / "bundled" / "mnist10k")
    for key, value in {**OFFLINE, "JUPYTER_PATH": str(colab["jupyter"]), "MNIST_TO_GPT_DATA": str(data),
                       "COURSE_FAST": "1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("PYTHONPATH", raising=False)   # the kernel must import the installed course
    monkeypatch.delenv("MPLBACKEND", raising=False)
    before = versions(colab)
    work = tmp_path / "content"                        # Colab's working folder holds no course
    work.mkdir()
    NotebookClient(nb, kernel_name="colab", timeout=300, config=patient_config(),
                   resources={"metadata": {"path": str(work)}}).execute()

    after = versions(colab)
    assert {n: v for n, v in after.items() if before.get(n) != v} == {"mnist-to-gpt": "0.1.0"}
    text = lambda cell: "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
    check_output = text(nb.cells[-2])
    assert "✔" in check_output and "01.to_vectors" in check_output, check_output
    probe = text(nb.cells[-1]).splitlines()
    assert probe[0].startswith(str(colab["site"])), "grader must come from the installed course"
    assert eval(probe[-1]) == PREINSTALLED
