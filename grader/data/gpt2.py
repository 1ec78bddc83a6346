"""gpt2_vocab_files: GPT-2's own tokenizer files, bundled with the course (see datasets/README.md)."""
from pathlib import Path

from .paths import bundled_file


def gpt2_vocab_files() -> tuple[Path, Path]:
    """(encoder.json, vocab.bpe): OpenAI's GPT-2 vocabulary, byte for byte as published.

    encoder.json maps each of the 50,257 token strings (bytes written with GPT-2's
    byte-to-unicode alphabet) to its id; vocab.bpe lists the 50,000 merges in rank order.
    Both come with the course, so this works offline.
    """
    return bundled_file("gpt2/encoder.json"), bundled_file("gpt2/vocab.bpe")
