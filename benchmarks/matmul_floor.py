"""How fast can one training step of the benchmark GPT be on this machine? A floor from its matrix products.

A training step of `gpt_cpu.py`'s model is mostly matrix products: every Linear layer multiplies
once going forward and twice going back (the gradient of its input and of its weight), and
attention multiplies q by k and the weights by v, forward and back. This script runs exactly
those products, with the step's shapes, on their own, and adds up their time. No step can be
faster than that sum unless it multiplies faster than torch's BLAS does here, so it is the number
to hold a per-step target against.

    python benchmarks/matmul_floor.py              # the benchmark's model (4 layers, n_embd 128, batch 12 x 64)
    python benchmarks/matmul_floor.py --threads 1
"""
import argparse
import os
import time

import torch


def step_products(n_layer=4, n_head=4, n_embd=128, block_size=64, batch_size=12, vocab_size=65):
    """(name, batch, m, k, n, count): the (m x k) @ (k x n) products of one training step."""
    N, C, T, hs = batch_size * block_size, n_embd, block_size, n_embd // n_head
    bh = batch_size * n_head
    products = []
    for name, fan_in, fan_out, layers in [("c_attn", C, 3 * C, n_layer), ("attn.c_proj", C, C, n_layer),
                                          ("c_fc", C, 4 * C, n_layer), ("mlp.c_proj", 4 * C, C, n_layer),
                                          ("lm_head", C, vocab_size, 1)]:
        products += [(f"{name} forward", 1, N, fan_in, fan_out, layers),
                     (f"{name} grad input", 1, N, fan_out, fan_in, layers),
                     (f"{name} grad weight", 1, fan_out, N, fan_in, layers)]
    # Attention, per head: scores = q k^T and y = att v going forward; going back, the gradient
    # of att is (T x hs) @ (hs x T) like the scores, and those of q, k and v are (T x T) @ (T x hs).
    products += [("attention scores-shaped", bh, T, hs, T, 2 * n_layer),
                 ("attention output-shaped", bh, T, T, hs, 4 * n_layer)]
    return products


def seconds_per_product(batch, m, k, n, repeats):
    a, b = torch.randn(batch, m, k), torch.randn(batch, k, n)
    mul = (lambda: a[0] @ b[0]) if batch == 1 else (lambda: torch.bmm(a, b))
    for _ in range(10):
        mul()
    start = time.perf_counter()
    for _ in range(repeats):
        mul()
    return (time.perf_counter() - start) / repeats


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: one per core)")
    ap.add_argument("--repeats", type=int, default=300)
    args = ap.parse_args()
    torch.set_num_threads(args.threads or os.cpu_count())

    total_flop = total_s = 0.0
    print(f"{'product':28s} {'shape':>22s} {'x':>3s} {'GFLOP/s':>8s} {'ms/step':>8s}")
    for name, batch, m, k, n, count in step_products():
        s = seconds_per_product(batch, m, k, n, args.repeats)
        flop = 2 * batch * m * k * n
        total_flop += flop * count
        total_s += s * count
        shape = f"{batch}x({m}x{k} @ {k}x{n})" if batch > 1 else f"{m}x{k} @ {k}x{n}"
        print(f"{name:28s} {shape:>22s} {count:3d} {flop / s / 1e9:8.1f} {s * count * 1e3:8.2f}")
    print(f"threads: {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}")
    print(f"matrix products per step: {total_flop / 1e9:.2f} GFLOP")
    print(f"their time on their own: {total_s * 1e3:.1f} ms per step "
          f"({total_flop / total_s / 1e9:.0f} GFLOP/s on average)")


if __name__ == "__main__":
    main()
