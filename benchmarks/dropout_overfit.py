"""Chapter 10: a model too large for its data overfits; dropout narrows the train/validation gap.

    python benchmarks/dropout_overfit.py --threads 1            # the notebook's experiment, 5x longer
    python benchmarks/dropout_overfit.py --n-layer 4 --n-embd 128 --block-size 64 --train-chars 100000

The chapter's own cell trains a small model (2 blocks, C = 64, a context of 32) on a 5,000-
character slice of the corpus for 300 steps, all a notebook can afford on a laptop CPU. This
script runs the same experiment for longer (1500 steps by default), or with a larger model and
more data: same seed, same batches and the same schedule for every dropout rate, so the curves
differ only by dropout. It prints the evaluated train and validation losses, the final gap, the time, and the
machine's load, since the time depends on what else runs.
"""
import argparse
import os
import time

import torch

from grader import load_shakespeare
from grader.reference.ch10 import GPT, GPTConfig, train_gpt


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train-chars", type=int, default=5_000, help="size of the training slice")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (cosine to lr/10)")
    ap.add_argument("--n-layer", type=int, default=2)
    ap.add_argument("--n-embd", type=int, default=64)
    ap.add_argument("--block-size", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--dropout", type=float, nargs="+", default=[0.0, 0.2])
    ap.add_argument("--evals", type=int, default=10, help="evaluations over the run")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    text = load_shakespeare()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text])
    n = int(0.9 * len(data))
    train_data, val_data = data[:n][:args.train_chars], data[n:]   # validation: the usual last 10%
    print(f"data: {len(train_data):,} training characters (a slice), {len(val_data):,} validation")

    for p in args.dropout:
        torch.manual_seed(1337)
        config = GPTConfig(block_size=args.block_size, vocab_size=len(chars), n_layer=args.n_layer,
                           n_head=4, n_embd=args.n_embd, dropout=p)
        model = GPT(config)
        start = time.time()
        history = train_gpt(model, train_data, val_data, max_steps=args.steps, batch_size=args.batch_size,
                            lr=args.lr, min_lr=args.lr / 10, warmup_steps=20,
                            eval_interval=max(1, args.steps // args.evals), eval_batches=8,
                            generator=torch.Generator().manual_seed(0), live=False)
        seconds = time.time() - start
        parameters = sum(q.numel() for q in model.parameters())
        print(f"dropout {p}: {parameters:,} parameters, {args.steps} steps in {seconds:.0f} s")
        for step, tr, va in zip(history["step"], history["train"], history["val"]):
            print(f"  step {step:5d}  train {tr:.3f}  val {va:.3f}  gap {va - tr:+.3f}")
        best = min(history["val"])
        print(f"  final gap (val - train): {history['val'][-1] - history['train'][-1]:.3f}; "
              f"best val {best:.3f}, final val {history['val'][-1]:.3f}")
    print(f"machine: {os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads, "
          f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
