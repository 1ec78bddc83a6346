"""Chapter 13: chapter 10's GPT on characters against the same GPT on BPE tokens, in bits per byte.

    python benchmarks/bpe_vs_char.py                     # 300 s of training per model (~11 minutes)
    python benchmarks/bpe_vs_char.py --seconds 40        # the notebook's budget
    python benchmarks/bpe_vs_char.py --vocab 1024 --seed 1

The notebook's comparison, for longer. Both models are chapter 10's reference GPT with the same
shape (4 layers, 4 heads, width 128, context --block-size tokens), batch size, learning rate
(linear warm-up, then constant) and seed; the BPE vocabulary (chapter 13's reference train_bpe)
is learned on the training 90% of the corpus only. The models take turns, one step each, and
each stops when its own steps have used --seconds of compute: on a shared machine both see the
same load. Validation is every block of the held-out 10% (consecutive windows), reported in
bits per byte: summed -log2 p over predicted tokens / the bytes those tokens stand for.

Prints: data, machine load, vocabulary sizes and bytes per token, then for each model at 25%,
50%, 75% and 100% of the budget: steps, bytes of text trained on, validation bits per byte.
"""
import argparse
import math
import os
import time

import torch
import torch.nn.functional as F

from grader import load_shakespeare
from grader.reference.ch10 import GPT, GPTConfig, configure_optimizer, get_batch
from grader.reference.ch13 import bpe_encode, pretokenize, train_bpe


def encode_fast(text, merges):
    memo, ids = {}, []
    for chunk in pretokenize(text):
        if chunk not in memo:
            memo[chunk] = bpe_encode(chunk, merges)
        ids.extend(memo[chunk])
    return ids


def make_run(name, train_ids, val_ids, token_bytes, args):
    config = GPTConfig(block_size=args.block_size, vocab_size=len(token_bytes), n_layer=4, n_head=4,
                       n_embd=128, dropout=0.0, bias=True)
    torch.manual_seed(args.seed)
    model = GPT(config)
    return dict(name=name, model=model, optimizer=configure_optimizer(model, 0.1, args.lr),
                train=torch.tensor(train_ids), val=torch.tensor(val_ids),
                token_bytes=torch.tensor(token_bytes, dtype=torch.float), steps=0, seconds=0.0,
                generator=torch.Generator().manual_seed(args.seed))


def train_step(run, args):
    for group in run["optimizer"].param_groups:
        group["lr"] = args.lr * min(1.0, (run["steps"] + 1) / args.warmup)
    x, y = get_batch(run["train"], args.batch_size, args.block_size, run["generator"])
    _, loss = run["model"](x, y)
    run["optimizer"].zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(run["model"].parameters(), 1.0)
    run["optimizer"].step()
    run["steps"] += 1


@torch.no_grad()
def bits_per_byte(run):
    model, data = run["model"].eval(), run["val"]
    T = model.config.block_size
    windows = (len(data) - 1) // T
    x, y = data[: windows * T].view(windows, T), data[1: windows * T + 1].view(windows, T)
    nats = sum(F.cross_entropy(model(xb)[0].flatten(0, 1), yb.flatten(), reduction="sum").item()
               for xb, yb in zip(x.split(64), y.split(64)))
    model.train()
    return nats / math.log(2) / run["token_bytes"][y].sum().item()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=300, help="training compute per model")
    ap.add_argument("--vocab", type=int, default=512, help="BPE vocabulary size")
    ap.add_argument("--block-size", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--val-chars", type=int, default=None,
                    help="validate on the first N characters of the held-out text only (quick runs)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    text = load_shakespeare(verbose=False)
    n = int(0.9 * len(text))
    train_text, val_text = text[:n], text[n:][:args.val_chars]
    print(f"data: bundled Shakespeare, {len(text):,} characters (ASCII: 1 byte each), 90/10 split; "
          f"validation on {len(val_text):,} characters")
    print(f"machine load (1 min): {os.getloadavg()[0]:.1f}, threads: {args.threads}")

    start = time.time()
    merges = train_bpe(train_text, args.vocab)
    vocab = {i: bytes([i]) for i in range(256)}
    for (a, b), new_id in merges.items():
        vocab[new_id] = vocab[a] + vocab[b]
    print(f"BPE: {len(merges)} merges learned in {time.time() - start:.0f} s")

    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    runs = [
        make_run("characters", [stoi[c] for c in train_text], [stoi[c] for c in val_text],
                 [1] * len(chars), args),
        make_run(f"BPE {args.vocab}", encode_fast(train_text, merges), encode_fast(val_text, merges),
                 [len(vocab[i]) for i in range(256 + len(merges))], args),
    ]
    for run in runs:
        print(f"{run['name']}: vocabulary {len(run['token_bytes'])}, "
              f"{len(train_text) / len(run['train']):.3f} bytes per token on train, "
              f"{len(val_text) / len(run['val']):.3f} on validation")

    checkpoints = [args.seconds * f for f in (0.25, 0.5, 0.75, 1.0)]
    print(f"training {args.seconds:.0f} s of compute per model, block {args.block_size}, "
          f"batch {args.batch_size}, lr {args.lr}, seed {args.seed}")
    for checkpoint in checkpoints:
        while any(run["seconds"] < checkpoint for run in runs):
            for run in runs:
                if run["seconds"] < checkpoint:
                    t0 = time.perf_counter()
                    train_step(run, args)
                    run["seconds"] += time.perf_counter() - t0
        for run in runs:
            bytes_seen = run["steps"] * args.batch_size * args.block_size * len(train_text) / len(run["train"])
            print(f"{checkpoint:6.0f} s  {run['name']:12} {run['steps']:6} steps "
                  f"({1000 * run['seconds'] / run['steps']:.0f} ms/step), "
                  f"{bytes_seen / 1e6:6.2f} M bytes seen, validation {bits_per_byte(run):.4f} bits per byte",
                  flush=True)


if __name__ == "__main__":
    main()
