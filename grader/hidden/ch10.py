"""Chapter 10's hidden cases: other configs (widths, head counts, block sizes, vocabularies),
prompts, schedules and seeds than the notebook's. Training gets one small case."""
from ..engine import Case
from . import like
from ..exercises.ch10 import (GPT, _TRAIN, configure_optimizer, count_parameters, generate, train_gpt, compare_init, compare_seeds, compare_tied, compare_too_long, config, gpt_config,
                              run_forward, run_greedy, run_init, run_optimizer, run_schedule, run_seeds, run_tied,
                              run_too_long, run_training, tokens)

HIDDEN = {
    "10.GPT": [
        Case("n_embd=12, 3 heads, block_size=10, V=13; logits and loss, B=3, T=7",
             lambda rng: (config(n_embd=12, n_head=3, block_size=10, vocab_size=13), tokens(rng, 3, 7, V=13),
                          tokens(rng, 3, 7, V=13)), run=run_forward),
        Case("one layer of 4 heads, n_embd=8, no targets, T == block_size",
             lambda rng: (config(n_layer=1, n_head=4, n_embd=8), tokens(rng, 2, 8), None), run=run_forward),
        Case("lm_head is tied to wte, n_embd=12, V=13", lambda rng: (config(n_embd=12, vocab_size=13),),
             run=run_tied, compare=compare_tied),
        Case("a sequence of 6 with block_size=5 is a clear error",
             lambda rng: (config(block_size=5), tokens(rng, 2, 6)), run=run_too_long, compare=compare_too_long),
        # n_layer stays 4: compare_init reads the config as data and falls back to n_layer=4
        Case("GPT-2's initialisation, n_embd=48, 4 heads, V=400",
             lambda rng: (config(n_embd=48, n_layer=4, n_head=4, vocab_size=400, block_size=400),),
             run=run_init, compare=compare_init),
        like(GPT, 6, "train mode, dropout=0.35, n_embd=24, 3 heads: after the embeddings and inside every block",
             lambda rng: (config(dropout=0.35, n_embd=24, n_head=3), tokens(rng, 12, 8), 0.35)),
        like(GPT, 8, "GPT-2's initialisation of every weight matrix, n_embd=48, 2 layers, V=320",
             lambda rng: (config(n_embd=48, n_layer=2, vocab_size=320, block_size=320), 2)),
    ],
    "10.count_parameters": [
        Case("a config of 3 layers, n_embd=12, V=17, block_size=5",
             lambda rng: (config(block_size=5, vocab_size=17, n_layer=3, n_embd=12, n_head=3),)),
        Case("a wide one-layer config, bias=False",
             lambda rng: (gpt_config(block_size=64, vocab_size=500, n_layer=1, n_head=4, n_embd=40, bias=False),)),
        like(count_parameters, 4, "counted without building a model: 2 layers, n_embd=12, V=13, block_size=6",
             lambda rng: (config(block_size=6, vocab_size=13, n_layer=2, n_embd=12),)),
    ],
    "10.generate": [
        Case("top_k=1 on three prompts of 9 tokens (crop)", lambda rng: (tokens(rng, 3, 9), {"top_k": 1}),
             run=run_greedy),
        Case("the same seeded generator gives the same tokens, three prompts of 5", lambda rng: (tokens(rng, 3, 5),),
             run=run_seeds, compare=compare_seeds),
        Case("temperature 1e-3 on two prompts of 4", lambda rng: (tokens(rng, 2, 4), {"temperature": 1e-3}),
             run=run_greedy),
        like(generate, 3, "top_k=4 never samples outside the top 4, 12 prompts of 3", lambda rng: (tokens(rng, 12, 3), 4)),
        like(generate, 5, "the defaults with a seeded generator, three prompts of 4", lambda rng: (tokens(rng, 3, 4), {})),
        like(generate, 6, "temperature 0.7 and top_k=4 with a seeded generator, one prompt of 5",
             lambda rng: (tokens(rng, 1, 5), {"temperature": 0.7, "top_k": 4})),
        like(generate, 7, "no gradients while generating, two prompts of 4", lambda rng: (tokens(rng, 2, 4),)),
    ],
    "10.cosine_lr": [
        Case("10 warm-up steps, decay over 300, steps 0..330",
             lambda rng: ((3e-4, 3e-5, 10, 300), list(range(0, 331, 3)) + [9, 10, 11, 299, 300, 301]),
             run=run_schedule),
        Case("2 warm-up steps of 7", lambda rng: ((0.5, 0.05, 2, 7), list(range(0, 10))), run=run_schedule),
    ],
    "10.configure_optimizer": [
        Case("3 layers, 4 heads, n_embd=8, weight decay 0.05", lambda rng: (config(n_layer=3, n_head=4, n_embd=8), 0.05, 1e-2),
             run=run_optimizer),
        like(configure_optimizer, 2, "the betas given, (0.85, 0.9), one layer, weight decay 0.05",
             lambda rng: (config(n_layer=1), 0.05, 2e-3, (0.85, 0.9))),
    ],
    "10.train_gpt": [
        Case("a pattern of 4 tokens in 35 steps, clipping at 0.5, evaluation every 15",
             lambda rng: (config(vocab_size=4, n_layer=1), dict(_TRAIN, max_steps=35, eval_interval=15, grad_clip=0.5,
                                                                warmup_steps=3)),
             run=run_training),
        like(train_gpt, 2, "weight_decay=0.2, batch_size=3, eval_batches=1: every setting reaches the loop",
             lambda rng: (config(vocab_size=4, n_layer=1), dict(_TRAIN, max_steps=20, weight_decay=0.2, batch_size=3,
                                                                eval_batches=1, eval_interval=10))),
        like(train_gpt, 4, "the same generator repeats a 6-step run exactly; another seed differs",
             lambda rng: (config(vocab_size=4, n_layer=1), dict(_TRAIN, max_steps=6, eval_interval=3))),
    ],
}
