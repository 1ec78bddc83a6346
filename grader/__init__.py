"""From MNIST to GPT: the course's exercises package.

In a notebook:   from grader import check;  check(to_vectors)
From a shell:    grader check course/01_mnist_as_numbers.ipynb
"""
from .checker import ExerciseFailed, check

__version__ = "0.1.0"
REPOSITORY = "mnist-to-gpt/mnist-to-gpt"   # on GitHub: Colab, Binder and the bundled-data fallback


def __getattr__(name):
    # The data loaders import lazily, so `from grader import check` stays instant.
    if name in ("load_mnist", "load_shakespeare"):
        from . import data
        return getattr(data, name)
    raise AttributeError(f"module 'grader' has no attribute {name!r}")


__all__ = ["check", "ExerciseFailed", "load_mnist", "load_shakespeare"]
