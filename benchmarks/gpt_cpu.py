"""Train the course's reference GPT with nanoGPT's published CPU recipe and print its figures.

The recipe (nanoGPT README, "I only have a macbook"): character-level Tiny Shakespeare,
4 layers, 4 heads, n_embd 128, block 64, batch 12, dropout 0, no biases, AdamW (betas 0.9/0.99,
weight decay 0.1), lr 1e-3 with 100 warm-up steps and cosine decay to 1e-4 over 2000
iterations, gradient clipping at 1.0.

    python benchmarks/gpt_cpu.py                      # the full 2000 iterations (about 2.5 minutes)
    python benchmarks/gpt_cpu.py --iters 200          # a quick timing run
    python benchmarks/gpt_cpu.py --compile            # through torch.compile (needs g++ or clang++)
    python benchmarks/gpt_cpu.py --nanogpt ~/nanoGPT  # nanoGPT's own model.py, same loop, same clock
    python benchmarks/gpt_cpu.py --replay-nanogpt     # nanoGPT train.py's random draws and estimate

`--nanogpt` imports model.py from a checkout of karpathy/nanoGPT and trains its GPT with its own
`configure_optimizers`, so the two models can be compared on one machine. How fast a step can
be at all is bounded by its matrix products: `python benchmarks/matmul_floor.py` times them.

`--replay-nanogpt` makes the run comparable with the losses nanoGPT's train.py prints: it draws
every batch from the global RNG in train.py's order (seed, model, first batch, then an estimate
of 20 batches per split at steps 0, 250, ..., 2000 between the training batches), uses its
warm-up (lr * (it + 1) / (warmup + 1)), and prints those estimates. nanoGPT's README figure for
this recipe ("a loss of only 1.88") is the validation estimate at step 2000.

On a machine shared with other work, waiting OpenMP threads that spin fight the other
processes for the cores: measured here at load 7 on 2 cores, 2237 ms/step with the default
policy, 339 ms/step with OMP_WAIT_POLICY=PASSIVE and 278 ms/step with --threads 1. At load 2
the default (spinning) was fastest: 79 ms/step against 138 ms passive and 113 ms one thread.
So the default is kept; try those two when the machine is busy.

Prints: data source, machine load, median ms per step (after warm-up), tokens per second,
validation loss estimated over --eval-batches fixed batches (and nanoGPT's estimates with
--replay-nanogpt), parameter count, peak memory.
"""
import argparse
import contextlib
import importlib.util
import io
import os
import resource
import shutil
import statistics
import time
from pathlib import Path

import torch

from grader import load_shakespeare
from grader.reference.ch10 import GPT, GPTConfig, configure_optimizer, cosine_lr, estimate_loss, get_batch

# The full Tiny Shakespeare, where a machine has it: --data FILE, or COURSE_BENCH_DATA=FOLDER
# holding tinyshakespeare.txt; otherwise the bundled corpus.
BENCH_DATA = os.environ.get("COURSE_BENCH_DATA")
BENCH_TEXT = Path(BENCH_DATA) / "tinyshakespeare.txt" if BENCH_DATA else None


def load_data(path):
    if path is not None and path.is_file():
        text, source = path.read_text(encoding="utf-8"), f"Tiny Shakespeare from {path}"
    else:
        text, source = load_shakespeare(), "the course's bundled Shakespeare corpus (grader.load_shakespeare)"
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    n = int(0.9 * len(data))                                   # nanoGPT's 90/10 split
    return data[:n], data[n:], len(chars), source


def course_model(config, slow):
    """The course's reference GPT and its optimizer groups, as one fused AdamW kernel per step."""
    model = GPT(GPTConfig(**config))
    if slow:
        for m in model.modules():
            if hasattr(m, "fast"):
                m.fast = False
    groups = [{"params": g["params"], "weight_decay": g["weight_decay"]}
              for g in configure_optimizer(model, weight_decay=0.1, lr=1e-3).param_groups]
    return model, torch.optim.AdamW(groups, lr=1e-3, betas=(0.9, 0.99), fused=not slow)


def nanogpt_model(checkout, config):
    """nanoGPT's own GPT and optimizer, imported from a local checkout of karpathy/nanoGPT.

    The model and `configure_optimizers` are nanoGPT's code, run unchanged through this script's
    training loop, so the two models are timed by the same clock on the same machine."""
    path = checkout / "model.py"
    if not path.is_file():
        raise SystemExit(f"--nanogpt: no model.py in {checkout} (give the folder of a nanoGPT checkout)")
    spec = importlib.util.spec_from_file_location("nanogpt_model", path)
    nanogpt = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nanogpt)
    with contextlib.redirect_stdout(io.StringIO()):     # it prints its parameter counts
        model = nanogpt.GPT(nanogpt.GPTConfig(**config))
        optimizer = model.configure_optimizers(0.1, 1e-3, (0.9, 0.99), "cpu")
    return model, optimizer


def nanogpt_lr(step, max_lr, min_lr, warmup_steps, max_steps):
    """nanoGPT train.py's get_lr: the same cosine, after a warm-up of (step + 1) / (warmup + 1)."""
    if step < warmup_steps:
        return max_lr * (step + 1) / (warmup_steps + 1)
    return cosine_lr(step, max_lr, min_lr, warmup_steps, max_steps)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iters", type=int, default=2000, help="training steps (the schedule decays over this many)")
    ap.add_argument("--eval-batches", type=int, default=200, help="batches for the final validation loss")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: one per core)")
    ap.add_argument("--warmup", type=int, default=20, help="steps left out of the timing median")
    ap.add_argument("--data", type=Path, default=BENCH_TEXT,
                    help="Tiny Shakespeare as a text file (default: $COURSE_BENCH_DATA/tinyshakespeare.txt, "
                         "else the bundled corpus)")
    ap.add_argument("--slow", action="store_true", help="explicit attention and unfused AdamW (the teaching path)")
    ap.add_argument("--compile", action="store_true",
                    help="train through torch.compile (needs a C++ compiler; the first steps compile)")
    ap.add_argument("--nanogpt", type=Path, metavar="DIR",
                    help="train nanoGPT's model.py from this checkout instead of the course's model")
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--replay-nanogpt", action="store_true",
                    help="nanoGPT train.py's batch order, warm-up and 20-batch estimates every 250 steps")
    args = ap.parse_args()

    if args.compile and not any(shutil.which(c) for c in ("g++", "clang++", "c++")):
        raise SystemExit("--compile: torch.compile on a CPU needs a C++ compiler (g++ or clang++), and none is on PATH")
    torch.set_num_threads(args.threads or os.cpu_count())
    torch.manual_seed(args.seed)
    train, val, vocab, source = load_data(args.data)
    config = dict(block_size=64, vocab_size=vocab, n_layer=4, n_head=4, n_embd=128, dropout=0.0, bias=False)
    batch_size, max_lr, min_lr, warmup_steps = 12, 1e-3, 1e-4, 100
    if args.nanogpt:
        model, optimizer = nanogpt_model(args.nanogpt, config)
        path = f"nanoGPT's model.py and configure_optimizers from {args.nanogpt}"
    else:
        model, optimizer = course_model(config, args.slow)
        path = ("course model, explicit attention, unfused AdamW" if args.slow
                else "course model, SDPA attention, fused AdamW")
    params = [p for g in optimizer.param_groups for p in g["params"]]
    train_step = torch.compile(model) if args.compile else model   # evaluation uses the plain model
    gen = None if args.replay_nanogpt else torch.Generator().manual_seed(args.seed)
    schedule = nanogpt_lr if args.replay_nanogpt else cosine_lr
    block = config["block_size"]
    estimates = {}               # step -> {"train": .., "val": ..}, train.py's estimate_loss at eval_iters=20

    times = []
    started = time.perf_counter()
    model.train()
    x, y = get_batch(train, batch_size, block, gen)             # train.py draws the first batch here
    splits = {"train": train, "val": val}
    for step in range(args.iters):
        if args.replay_nanogpt and step % 250 == 0:
            estimates[step] = estimate_loss(model, splits, batch_size, 20)   # global RNG, as train.py
        t0 = time.perf_counter()
        lr = schedule(step, max_lr, min_lr, warmup_steps, args.iters)
        for g in optimizer.param_groups:
            g["lr"] = lr
        _, loss = train_step(x, y)
        x, y = get_batch(train, batch_size, block, gen)         # the next batch, as train.py does
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0, foreach=True)
        optimizer.step()
        times.append(time.perf_counter() - t0)
        if step % 500 == 0 or step == args.iters - 1:
            print(f"step {step:5d}  loss {loss.item():.4f}  lr {lr:.2e}", flush=True)
    if args.replay_nanogpt:
        estimates[args.iters] = estimate_loss(model, splits, batch_size, 20)
    training_time = time.perf_counter() - started

    eval_gen = torch.Generator().manual_seed(0)                 # the same batches every run
    val_loss = estimate_loss(model, {"val": val}, batch_size, args.eval_batches, eval_gen)["val"]
    median = statistics.median(times[args.warmup:] if len(times) > args.warmup else times)
    load = os.getloadavg()
    print(f"data: {source}")
    print(f"machine: {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'default')}, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"path: {path}{', torch.compile' if args.compile else ''}, seed {args.seed}")
    print(f"parameters: {sum(p.numel() for p in model.parameters()):,}")
    print(f"iterations: {args.iters}  (first step {times[0]:.2f} s, whole training {training_time:.1f} s)")
    print(f"median step: {median * 1e3:.2f} ms  (mean {statistics.fmean(times) * 1e3:.2f} ms)")
    print(f"tokens/s: {batch_size * config['block_size'] / median:,.0f}")
    print(f"validation loss: {val_loss:.4f}  (mean over {args.eval_batches} batches of {batch_size})")
    if estimates:
        print("nanoGPT-style estimates (20 batches per split): " + ", ".join(
            f"step {k} val {v['val']:.4f}" for k, v in estimates.items()))
        last = max(estimates)
        print(f"nanoGPT-style validation loss at step {last}: {estimates[last]['val']:.4f}  "
              f"(train {estimates[last]['train']:.4f})")
    print(f"peak memory (maxrss): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
