"""From MNIST to GPT: the course's exercises package.

In a notebook:   from grader import check;  check(to_vectors)
From a shell:    grader check course/01_mnist_as_numbers.ipynb
"""
from .in_notebook import ExerciseFailed, check

__version__ = "0.1.0"
# The course's GitHub repository, the one place that names it: `grader build` writes it into
# every notebook's Colab cell and launch badges and into the README's Colab and Binder links, and
# the data loaders fetch the bundled data from it when a checkout's datasets/ is not there.
# A fork changes this line and runs `grader build`.
REPOSITORY = "mnist-to-gpt/mnist-to-gpt"


def __getattr__(name):
    # The data loaders import lazily, so `from grader import check` stays instant.
    if name in ("load_mnist", "load_shakespeare"):
        from . import data
        return getattr(data, name)
    raise AttributeError(f"module 'grader' has no attribute {name!r}")


__all__ = ["check", "ExerciseFailed", "load_mnist", "load_shakespeare"]
