"""Chapters 10-12 on a CUDA GPU: the training run chapter 10 does there, then the checks.

The course is developed and tested on CPUs; this is the one script to run on a machine with an
NVIDIA GPU (a Colab T4 will do) to see that the GPU path works and what it buys:

    python benchmarks/gpu_check.py                  # about 4 minutes: 150 s of training, then tests
    python benchmarks/gpu_check.py --seconds 60     # a shorter training run
    python benchmarks/gpu_check.py --device cpu --seconds 5 --no-tests   # the same code on the CPU

1. Chapter 10's training as the notebook does it on that device: the model size it picks for
   the device (`SIZES` in solutions/10_gpt.ipynb, read from there), its timing probe, then
   `train_gpt` for as many steps as fit in --seconds. Prints steps/s, tokens/s and the losses
   reached, and a sample of the text.
2. pytest, on this machine: tests/test_device.py (its CUDA-only test included: answers that
   return CUDA tensors are graded like CPU ones) and the chapter 10-12 exercise tests (the
   checks run on the CPU on every machine; here they run beside a GPU), then the chapter 10-12
   solution notebooks under COURSE_FAST=1, which pick the GPU.

Exits 0 when everything passed, 1 when something failed, and 0 with one line when this machine
has no CUDA device (there is nothing to check).
"""
import argparse
import ast
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader import load_shakespeare  # noqa: E402
from grader.device import synchronize  # noqa: E402
from grader.reference.ch10 import GPT, GPTConfig, configure_optimizer, generate, get_batch, train_gpt  # noqa: E402


def notebook_sizes():
    """SIZES, the model and batch size per device, exactly as chapter 10's notebook has them."""
    nb = json.loads((ROOT / "solutions" / "10_gpt.ipynb").read_text())
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and "SIZES = {" in source:
            tree = ast.parse(source.replace("%", "#"))
            assign = next(s for s in tree.body if isinstance(s, ast.Assign) and s.targets[0].id == "SIZES")
            # {"cpu": (dict(block_size=128, ...), 16), ...}: literals and dict() only
            return eval(compile(ast.Expression(assign.value), "SIZES", "eval"), {"__builtins__": {}}, {"dict": dict})
    raise SystemExit("gpu_check: solutions/10_gpt.ipynb has no SIZES cell any more; update this script")


def train_chapter_10(device, seconds, eval_batches):
    text = load_shakespeare()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    n = int(0.9 * len(data))
    train_data, val_data = data[:n].to(device), data[n:].to(device)
    shape, batch_size = notebook_sizes().get(device.type, notebook_sizes()["cpu"])
    config = GPTConfig(vocab_size=len(chars), **shape)
    if device.type == "cuda":
        torch.set_float32_matmul_precision("high")

    # The notebook's probe: two untimed steps, ten timed ones, then as many steps as fit.
    probe = GPT(config).to(device)
    optimizer = configure_optimizer(probe, 0.1, 1e-3)
    for i in range(12):
        if i == 2:
            synchronize(device)
            start = time.time()
        _, loss = probe(*get_batch(train_data, batch_size, config.block_size))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    synchronize(device)
    probe_step = (time.time() - start) / 10
    del probe, optimizer
    max_steps = max(40, min(20_000, int(seconds / (1.1 * probe_step))))
    parameters = sum(p.numel() for p in GPT(config).parameters())
    print(f"chapter 10 on {device}: {config.n_layer} layers, {config.n_head} heads, n_embd {config.n_embd}, "
          f"context {config.block_size}, batch {batch_size}: {parameters:,} parameters; "
          f"probe {probe_step * 1e3:.1f} ms/step -> {max_steps} steps", flush=True)

    torch.manual_seed(1337)
    model = GPT(config).to(device)
    start = time.time()
    history = train_gpt(model, train_data, val_data, max_steps=max_steps, batch_size=batch_size, lr=1e-3,
                        min_lr=1e-4, warmup_steps=min(100, max_steps // 10), weight_decay=0.1, grad_clip=1.0,
                        eval_interval=max(1, max_steps // 10), eval_batches=eval_batches,
                        generator=torch.Generator().manual_seed(1337), live=False)
    synchronize(device)
    elapsed = time.time() - start
    print(f"trained {max_steps} steps in {elapsed:.0f} s (evaluations included): {max_steps / elapsed:.2f} steps/s, "
          f"{max_steps * batch_size * config.block_size / elapsed:,.0f} tokens/s")
    print(f"loss reached: train {history['train'][-1]:.3f}, validation {history['val'][-1]:.3f} "
          f"(ln {len(chars)} = {torch.log(torch.tensor(float(len(chars)))):.3f} at the start)")
    model.eval()
    out = generate(model, torch.tensor([[stoi["\n"]]], device=device), 200, temperature=0.8, top_k=40,
                   generator=torch.Generator(device=device).manual_seed(42))
    print("sample:", repr("".join(chars[i] for i in out[0].tolist()))[:240])
    return history["val"][-1] < history["val"][0]


def run_pytest(label, args, env=None):
    start = time.time()
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                         cwd=ROOT, capture_output=True, text=True, env={**os.environ, **(env or {})})
    lines = [l for l in run.stdout.splitlines() if l.strip()]
    summary = next((l.strip("= ") for l in reversed(lines) if " passed" in l or " failed" in l or " error" in l),
                   "no summary")
    print(f"{label}: {summary} ({time.time() - start:.0f} s)", flush=True)
    if run.returncode != 0:
        print(run.stdout[-6000:], run.stderr[-2000:], sep="\n")
    return run.returncode == 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N, or cpu to try the script")
    parser.add_argument("--seconds", type=float, default=150, help="training time for chapter 10 (default 150)")
    parser.add_argument("--eval-batches", type=int, default=20, help="batches per loss estimate (default 20, as the notebook)")
    parser.add_argument("--no-tests", action="store_true", help="only the training run")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(f"gpu_check: no CUDA device on this machine (torch {torch.__version__}); nothing to check.")
        return 0
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"gpu_check: {name}, torch {torch.__version__}, CUDA {torch.version.cuda}", flush=True)

    ok = train_chapter_10(device, args.seconds, args.eval_batches)
    if not ok:
        print("FAILED: the validation loss did not fall")
    if not args.no_tests:
        env = {"COURSE_DEVICE": str(device), "PYTHONPATH": str(ROOT)}
        ok &= run_pytest("tests/test_device.py + chapter 10-12 exercise tests",
                         ["tests/test_device.py", "tests/test_exercises.py", "-k", "test_device or 10 or 11 or 12"], env)
        ok &= run_pytest("chapter 10-12 solution notebooks (COURSE_FAST=1)",
                         ["tests/test_notebooks.py", "-k", "solution and (10 or 11 or 12)"], {**env, "COURSE_FAST": "1"})
    print("gpu_check: all passed" if ok else "gpu_check: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
