"""The figures chapters 05-08 quote, recomputed: bigram validation loss, the sqrt(d_k) table.

    python benchmarks/attention_figures.py
    python benchmarks/attention_figures.py --corpus PATH/TO/tinyshakespeare.txt

Uses the reference solutions (grader/reference/ch05.py, ch07.py). Prints, never asserts.
"""
import argparse
import math
import time

import torch

from grader import load_shakespeare
from grader.reference.ch05 import bigram_counts, bigram_nll, build_vocab, encode


def bigram_figures(source):
    text = load_shakespeare(source, verbose=False)
    stoi, _ = build_vocab(text)
    data = torch.tensor(encode(text, stoi), dtype=torch.long)
    n = int(0.9 * len(data))
    counts = bigram_counts(data[:n], len(stoi))
    print(f"corpus {source}: {len(text):,} characters, V = {len(stoi)}")
    print(f"  counted bigram (smoothing 1): train {bigram_nll(counts, data[:n]):.3f}  "
          f"validation {bigram_nll(counts, data[n:]):.3f} nats  (uniform: {math.log(len(stoi)):.3f})")


def scaling_table(n_queries=2000, n_keys=32):
    print(f"\nscores of {n_queries} random queries against {n_keys} keys, q, k ~ N(0, I):")
    print(f"{'d_k':>5} | {'std':>6} {'max w':>6} {'|grad|':>9} | scaled {'std':>6} {'max w':>6} {'|grad|':>9}")
    for d_k in [4, 16, 64, 256, 1024]:
        row = []
        for scale in (False, True):
            g = torch.Generator().manual_seed(0)
            q = torch.randn(n_queries, 1, d_k, generator=g)
            k = torch.randn(n_queries, n_keys, d_k, generator=g)
            s = (q @ k.transpose(-2, -1)).squeeze(1) / (math.sqrt(d_k) if scale else 1.0)
            s.requires_grad_(True)
            w = torch.softmax(s, dim=-1)
            (w * torch.randn(w.shape, generator=g)).sum().backward()
            row += [s.std().item(), w.max(-1).values.mean().item(), s.grad.abs().mean().item()]
        print(f"{d_k:5d} | {row[0]:6.2f} {row[1]:6.3f} {row[2]:9.2e} |        {row[3]:6.2f} {row[4]:6.3f} {row[5]:9.2e}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="bundled", help="'bundled', 'full' or a text file")
    args = parser.parse_args()
    start = time.perf_counter()
    bigram_figures(args.corpus)
    scaling_table()
    print(f"\n({time.perf_counter() - start:.1f} s)")
