"""Chapter 12's figures on a trained chapter-10 GPT: KV-cache speed-up, int8 and Q4 size and loss.

Trains the course's reference GPT (grader.reference.ch10) on Shakespeare for a few minutes,
then prints
- the time to generate 256 new tokens greedily after a 16-token prompt with `generate` (no
  cache) and with chapter 12's `generate_cached` (median of --repeats runs), whether the
  tokens are identical, and the speed-up (target: >= 3x);
- for int8 (per-row absmax) and Q4 (blocks of 32, llama.cpp's Q4_0): the bytes of the
  quantized weight matrices plus their float32 scales against float32 (target for int8: 4x
  smaller, less the scales' overhead), and the validation loss of the model whose matrices are
  replaced by their dequantized versions, on the same fixed batches (target for int8: < +1%).

    python benchmarks/inference.py               # about 5 minutes on a busy 2-core CPU
    python benchmarks/inference.py --steps 50    # a quick run (a barely trained model)
"""
import argparse
import copy
import os

# Idle OpenMP threads sleep instead of spinning: on a shared machine spinning threads that wait
# for each other make small operations many times slower. Must be set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import statistics
import time
from pathlib import Path

import torch

from grader import load_shakespeare
from grader.reference.ch10 import GPT, GPTConfig, estimate_loss, generate, train_gpt
from grader.reference.ch12 import (dequantize_int8, dequantize_q4_blocks, generate_cached,
                                   quantize_int8, quantize_q4_blocks)

BENCH_TEXT = Path(__file__).resolve().parents[1].parent / "shared" / "bench" / "tinyshakespeare.txt"


def quantized_copy(model, kind):
    """A copy whose 2-D parameters went through the quantizer, the bytes of the quantized
    matrices with their scales, and the float32 bytes of the same matrices. The tied
    wte/lm_head matrix is one parameter and is counted once."""
    model = copy.deepcopy(model)
    q_bytes = f_bytes = 0
    for _, p in model.named_parameters():
        if p.dim() != 2:
            continue
        with torch.no_grad():
            if kind == "int8":
                q, s = quantize_int8(p)
                p.copy_(dequantize_int8(q, s))
                q_bytes += q.numel() + 4 * s.numel()          # 1 byte per weight
            else:
                q, s = quantize_q4_blocks(p, 32)
                p.copy_(dequantize_q4_blocks(q, s, 32))
                q_bytes += q.numel() // 2 + 4 * s.numel()     # 4 bits per weight
        f_bytes += 4 * p.numel()
    return model, q_bytes, f_bytes


def median_seconds(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--new-tokens", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--eval-batches", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1 by default: this model is small, and timings on a shared "
                         "CPU are steadier)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    if BENCH_TEXT.is_file():
        text, source = BENCH_TEXT.read_text(encoding="utf-8"), f"Tiny Shakespeare ({BENCH_TEXT})"
    else:
        text, source = load_shakespeare(verbose=False), "the bundled Shakespeare corpus"
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    split = int(0.9 * len(data))
    train_data, val_data = data[:split], data[split:]

    prompt_len = 16
    config = GPTConfig(block_size=prompt_len + args.new_tokens, vocab_size=len(chars), n_layer=4,
                       n_head=4, n_embd=128, dropout=0.0, bias=True)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    print(f"data: {source}, {len(text):,} characters, vocabulary {len(chars)}")
    model = GPT(config)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: chapter-10 GPT, {config}, {n_params:,} parameters")
    print(f"training: {args.steps} steps, batch {args.batch} x {config.block_size} tokens, AdamW "
          f"lr 2e-3 cosine to 2e-4, warm-up {max(1, args.steps // 10)}, weight decay 0.1, clip 1.0")
    start = time.time()
    history = train_gpt(model, train_data, val_data, max_steps=args.steps, batch_size=args.batch,
                        lr=2e-3, min_lr=2e-4, warmup_steps=max(1, args.steps // 10),
                        eval_interval=max(1, args.steps), eval_batches=4,
                        generator=torch.Generator().manual_seed(0), live=False)
    model.eval()
    print(f"trained in {time.time() - start:.0f} s, validation loss {history['val'][-1]:.3f}\n")

    # ---- KV cache
    prompt = val_data[:prompt_len][None, :]
    t_plain, plain = median_seconds(lambda: generate(model, prompt, args.new_tokens, top_k=1), args.repeats)
    t_cached, cached = median_seconds(lambda: generate_cached(model, prompt, args.new_tokens, top_k=1),
                                      args.repeats)
    print(f"KV cache, greedy, {args.new_tokens} new tokens after {prompt_len}, median of {args.repeats}:")
    print(f"  generate         {t_plain:7.3f} s  ({1000 * t_plain / args.new_tokens:.2f} ms/token)")
    print(f"  generate_cached  {t_cached:7.3f} s  ({1000 * t_cached / args.new_tokens:.2f} ms/token)")
    print(f"  identical tokens: {torch.equal(plain, cached)}")
    print(f"  speed-up: {t_plain / t_cached:.1f}x (target >= 3x)\n")

    # ---- quantization
    def val_loss(m):   # the same fixed batches for every model
        return estimate_loss(m, {"val": val_data}, 16, args.eval_batches, torch.Generator().manual_seed(1))["val"]

    base = val_loss(model)
    all_bytes = 4 * n_params
    print(f"quantization of every 2-D weight matrix (biases and LayerNorms stay float32); "
          f"validation loss over {args.eval_batches} fixed batches of 16 x {config.block_size}:")
    print(f"  {'weights':<8} {'matrix bytes':>13} {'smaller':>8} {'whole model':>12} {'val loss':>9} {'change':>8}")
    print(f"  {'float32':<8} {'':>13} {'':>8} {all_bytes:>12,} {base:>9.4f} {'':>8}")
    for kind in ["int8", "q4"]:
        qmodel, q_bytes, f_bytes = quantized_copy(model, kind)
        loss = val_loss(qmodel)
        whole = all_bytes - f_bytes + q_bytes
        print(f"  {kind:<8} {q_bytes:>13,} {f_bytes / q_bytes:>7.2f}x {whole:>12,} {loss:>9.4f} "
              f"{100 * (loss - base) / base:>+7.2f}%")
    print(f"  (float32 matrices: {f_bytes:,} bytes; Q4 with float16 scales, as llama.cpp stores "
          f"them, would be 4.5 bits per weight)")


if __name__ == "__main__":
    main()
