"""Chapter 14: generation speed of the course's GPT-2 against transformers' own, side by side.

Loads one GPT-2 checkpoint twice, into the course's GPT (the chapter's reference
`from_pretrained`, i.e. learner-style code) and into `transformers`' GPT2LMHeadModel, then
generates the same greedy tokens after the same prompt with
- the course's GPT and chapter 10's `generate` (the whole context every step),
- the course's GPT and chapter 12's `generate_cached` (a KV cache),
- `GPT2LMHeadModel.generate(do_sample=False)` with its cache, and without it (use_cache=False),
checks that all four produce the same tokens, and prints tokens per second (median of
--repeats runs, a warm-up run first). The default checkpoint is the tiny random GPT-2 the
notebook runs on offline; `--model DIR` takes any Hugging Face GPT-2 folder (e.g. the real one,
after `grader download gpt2`: ~/.cache/mnist-to-gpt/gpt2).

    python benchmarks/gpt2_generate.py                       # the tiny checkpoint, ~1 minute
    python benchmarks/gpt2_generate.py --model ~/.cache/mnist-to-gpt/gpt2 --new 64
    python benchmarks/gpt2_generate.py --random-124m --new 32 --repeats 3   # GPT-2's size, offline

`--random-124m` writes a checkpoint of GPT-2 124M's exact shapes and layout with random weights
(548 MB, in a temporary folder, removed afterwards): the speed of the real model without the
download (greedy tokens of random weights are as good a workload as any).

`transformers` is a test-only dependency: `pip install -e ".[test]"`.
"""
import argparse
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")   # see benchmarks/inference.py
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from grader.data.gpt2_weights import gpt2_checkpoint, make_tiny_gpt2  # noqa: E402
from grader.reference.ch10 import generate  # noqa: E402
from grader.reference.ch12 import generate_cached  # noqa: E402
from grader.reference.ch14 import from_pretrained  # noqa: E402


def median_seconds(fn, repeats):
    fn()                                   # warm-up: first-call allocations, lazy inits
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="a Hugging Face GPT-2 folder")
    parser.add_argument("--random-124m", action="store_true",
                        help="a random checkpoint of GPT-2 124M's shapes (548 MB, temporary)")
    parser.add_argument("--prompt", type=int, default=16, help="prompt length in tokens")
    parser.add_argument("--new", type=int, default=96, help="new tokens generated")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args(argv)
    try:
        from transformers import GPT2LMHeadModel
        from transformers.utils import logging as hf_logging
        hf_logging.set_verbosity_error()
    except ImportError:
        print("this benchmark needs transformers (a test dependency): pip install -e \".[test]\"")
        return 1
    if args.threads:
        torch.set_num_threads(args.threads)
    scratch = None
    if args.random_124m:
        scratch = Path(tempfile.mkdtemp(prefix="gpt2-124m-"))
        folder = make_tiny_gpt2(scratch, {"n_ctx": 1024, "n_positions": 1024, "n_embd": 768,
                                          "n_head": 12, "n_layer": 12})
    else:
        folder = args.model or gpt2_checkpoint(download=False)[0]
    try:
        return compare(args, parser, folder, GPT2LMHeadModel)
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


def compare(args, parser, folder, GPT2LMHeadModel):
    ours = from_pretrained(folder)
    theirs = GPT2LMHeadModel.from_pretrained(folder).eval()
    block = ours.config.block_size
    if args.prompt + args.new > block:
        parser.error(f"--prompt + --new must fit in the context ({block} positions)")
    idx = torch.randint(0, ours.config.vocab_size, (1, args.prompt),
                        generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(idx)

    def hf(use_cache):
        with torch.no_grad():
            return theirs.generate(idx, attention_mask=mask, max_new_tokens=args.new,
                                   min_new_tokens=args.new, do_sample=False, use_cache=use_cache,
                                   pad_token_id=0)

    runs = {
        "course GPT, generate (no cache)": lambda: generate(ours, idx, args.new, top_k=1),
        "course GPT, generate_cached": lambda: generate_cached(ours, idx, args.new, top_k=1),
        "transformers generate, use_cache=False": lambda: hf(False),
        "transformers generate, use_cache=True": lambda: hf(True),
    }
    print(f"checkpoint: {folder} ({sum(p.numel() for p in ours.parameters()):,} parameters)")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; prompt {args.prompt} "
          f"tokens, {args.new} new tokens, greedy, median of {args.repeats}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    results, tokens = {}, {}
    for name, fn in runs.items():
        seconds, out = median_seconds(fn, args.repeats)
        results[name], tokens[name] = seconds, out.tolist()
    first = next(iter(tokens.values()))
    same = all(t == first for t in tokens.values())
    width = max(map(len, results))
    for name, seconds in results.items():
        print(f"{name:{width}s}: {args.new / seconds:8.1f} tokens/s  ({seconds * 1000:7.1f} ms)")
    ratio = results["transformers generate, use_cache=True"] / results["course GPT, generate_cached"]
    print(f"same tokens in all four: {same}")
    print(f"course generate_cached vs transformers (cache): {ratio:.2f}x "
          f"({'faster' if ratio >= 1 else 'slower'})")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
