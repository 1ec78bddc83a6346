"""The course's data: bundled offline subsets, the full datasets on request.

    from grader.data import load_mnist, load_shakespeare, gpt2_vocab_files
    images, labels = load_mnist("train")   # uint8 (N, 28, 28), uint8 (N,)
    text = load_shakespeare()              # str
    encoder_json, vocab_bpe = gpt2_vocab_files()  # paths of GPT-2's tokenizer files

`grader download mnist` / `grader download shakespeare` (or `download_dataset`) fetch the
full datasets into the data folder ($MNIST_TO_GPT_DATA, else ~/.cache/mnist-to-gpt),
after which the loaders' default source="auto" picks them up.
"""
from .download import DownloadError, download_dataset
from .gpt2 import gpt2_vocab_files
from .idx import IDXError, read_idx
from .mnist import load_mnist
from .paths import data_dir
from .shakespeare import load_shakespeare

__all__ = ["load_mnist", "load_shakespeare", "gpt2_vocab_files", "download_dataset", "DownloadError",
           "data_dir", "read_idx", "IDXError"]
