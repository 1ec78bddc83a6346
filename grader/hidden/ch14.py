"""Chapter 14's hidden cases: other configs, checkpoint layouts and seeds, prompts, continuations
and sampling settings than the notebook's."""
import torch

from ..engine import Case
from ..exercises.ch14 import (LAYOUTS, REAL_GPT2, TOY, CharTokenizer, _convert_inputs, _logprob_inputs,
                              _run_config, _run_generate, _run_logprob, run_pretrained_checkpoint)

LAYOUT_NAMES = list(LAYOUTS)


def _sized_config(rng):
    n_head = int(rng.choice([4, 8, 12, 20]))
    return (dict(REAL_GPT2, n_layer=int(rng.integers(2, 40)), n_head=n_head, n_embd=64 * n_head,
                 n_positions=int(rng.choice([256, 512, 2048]))),)


def _checkpoint(layout):
    def inputs(rng):
        idx = torch.from_numpy(rng.integers(0, TOY["vocab_size"], size=(3, 5))).long()
        return layout, int(rng.integers(1 << 31)), idx
    return inputs


def _prompt(rng, n):
    return "".join(rng.choice(list(CharTokenizer.ALPHABET[1:]), size=n))


HIDDEN = {
    "14.gpt2_config": [
        Case("a GPT-2 config of another size", _sized_config, run=_run_config),
        Case("activation_function 'silu': must raise ValueError",
             lambda rng: (dict(REAL_GPT2, activation_function="silu"),), run=_run_config),
    ],
    "14.convert_gpt2_state_dict": [
        Case("n_embd = 24, 4 heads, three layers, V=29 (save_pretrained's layout)",
             _convert_inputs(LAYOUT_NAMES[1], n_embd=24, n_head=4, n_layer=3, vocab_size=29)),
        Case("n_embd = 8, one head, one layer (the real file's layout)",
             _convert_inputs(LAYOUT_NAMES[0], n_embd=8, n_head=1, n_layer=1)),
    ],
    "14.from_pretrained": [
        Case("a tiny checkpoint of another seed, in save_pretrained's layout", _checkpoint(LAYOUT_NAMES[1]),
             run=run_pretrained_checkpoint),
        Case("a tiny checkpoint of another seed, in the real file's layout", _checkpoint(LAYOUT_NAMES[0]),
             run=run_pretrained_checkpoint),
    ],
    "14.generate_text": [
        Case("greedy (top_k=1), 8 new tokens after a random prompt of 5",
             lambda rng: (_prompt(rng, 5), 8, 1.0, 1, None, None, 16), run=_run_generate),
        Case("sampling at temperature 0.9, top_k=4, a seeded generator, past block_size",
             lambda rng: (_prompt(rng, 11), 9, 0.9, 4, int(rng.integers(1000)), None, 16), run=_run_generate),
        Case("sampling at temperature 2, a seeded generator, stop_token 0 ('|') may be drawn",
             lambda rng: (_prompt(rng, 3), 12, 2.0, None, int(rng.integers(1000)), 0, 16), run=_run_generate),
    ],
    "14.continuation_logprob": [
        Case("a prompt of 5 tokens, a continuation of 6", _logprob_inputs(5, 6), run=_run_logprob),
        Case("a prompt of 2 tokens, a continuation of 4", _logprob_inputs(2, 4), run=_run_logprob),
    ],
}
