"""Cells for a solution notebook, `solutions/NN_*.ipynb`, with the nbgrader metadata the course
relies on. A new chapter is written with these (docs/writing-a-chapter.md):

    from grader.authoring import code, colab_cell_source, exercise, markdown, notebook, test

    cells = [markdown("# 98 · A new chapter"), code(colab_cell_source()),
             exercise("double", "def double(x):\\n    ### BEGIN SOLUTION\\n    return 2 * x\\n"
                                "    ### END SOLUTION"),
             test("double", points=1)]
    nbformat.write(notebook(cells, "98", "A new chapter"), "solutions/98_new.ipynb")

then `python -m grader build` makes the learner's copy and the reference module from it
(grader/build.py).
"""
import nbformat

from . import REPOSITORY

# ---------------------------------------------------------------- the Colab cell

COLAB_TEST = 'if "google.colab" in sys.modules:'


def colab_install_requirement(repository: str = REPOSITORY) -> str:
    return f"mnist-to-gpt @ git+https://github.com/{repository}"


def colab_cell_source(repository: str = REPOSITORY) -> str:
    """The first code cell of every notebook. `%pip` (not `!pip`) installs into the running
    kernel's environment; pip installs only what is missing, and the course's requirements
    have no upper bounds, so Colab's own torch, numpy, matplotlib... stay as they are
    (tests/test_colab.py proves it with pip's resolver report). `grader build` rewrites it
    from grader.REPOSITORY."""
    return ("# On Colab, this installs the course package and nothing else (Colab's own torch, numpy and\n"
            "# matplotlib stay as they are); anywhere else it does nothing.\n"
            "import sys\n"
            f"{COLAB_TEST}\n"
            f'    %pip install -q "{colab_install_requirement(repository)}"')


# ---------------------------------------------------------------- cells and notebooks

def _meta(**nbgrader):
    return {"nbgrader": {"schema_version": 3, "grade": False, "locked": False, "solution": False,
                         "task": False, **nbgrader}}


def markdown(text: str, cell_id: str | None = None):
    cell = nbformat.v4.new_markdown_cell(text.strip())
    if cell_id:
        cell.metadata.update(_meta(grade_id=cell_id, locked=True))
    return cell


def code(source: str, cell_id: str | None = None):
    cell = nbformat.v4.new_code_cell(source.strip())
    if cell_id:
        cell.metadata.update(_meta(grade_id=cell_id, locked=True))
    return cell


def exercise(name: str, source: str):
    """The cell the learner edits; its solution sits between BEGIN/END SOLUTION markers."""
    cell = nbformat.v4.new_code_cell(source.strip())
    cell.metadata.update(_meta(grade_id=name, solution=True))
    return cell


def test(name: str, points: int, source: str | None = None):
    """The locked autograder cell: it calls the engine and raises when the answer is wrong."""
    cell = nbformat.v4.new_code_cell((source or f"check({name})").strip())
    cell.metadata.update(_meta(grade_id=f"test_{name}", grade=True, locked=True, points=points))
    return cell


def notebook(cells, chapter: str, title: str):
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    nb.metadata.update({
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "course": {"chapter": chapter, "title": title},
    })
    return nb
