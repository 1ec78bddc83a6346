"""Chapter 14's hidden cases: other configs, checkpoint layouts and seeds, prompts, continuations
and sampling settings than the notebook's."""
import torch

from ..engine import Case
from ..exercises.ch14 import (LAYOUTS, REAL_GPT2, TOY, CharTokenizer, _convert_inputs, _logprob_inputs, _run_config,
                              _run_generate, _run_logprob, _toy_tensors, continuation_logprob,
                              hf_layout, run_generate_defaults, run_pretrained_checkpoint)

LAYOUT_NAMES = list(LAYOUTS)


def _sized_config(rng):
    n_head = int(rng.choice([4, 8, 12, 20]))
    return (dict(REAL_GPT2, n_layer=int(rng.integers(2, 40)), n_head=n_head, n_embd=64 * n_head,
                 n_positions=int(rng.choice([256, 512, 2048]))),)


def _checkpoint(layout, **size):
    def inputs(rng):
        idx = torch.from_numpy(rng.integers(0, TOY["vocab_size"], size=(3, 5))).long()
        return (layout, int(rng.integers(1 << 31)), idx) + ((tuple(sorted(size.items())),) if size else ())
    return inputs


def _prompt(rng, n):
    return "".join(rng.choice(list(CharTokenizer.ALPHABET[1:]), size=n))


def _other_head(rng):
    """save_pretrained's layout at another size, its lm_head.weight moved away from wte's values."""
    state = hf_layout(_toy_tensors(rng, n_embd=24, n_head=4, n_layer=1, vocab_size=23), **LAYOUTS[LAYOUT_NAMES[1]])
    state["lm_head.weight"] = state["lm_head.weight"] + torch.from_numpy(rng.uniform(0.5, 1.5, size=(23, 24))).float()
    return (state,)


def _generate(prompt_length, n, temperature=1.0, top_k=None, seeded=False, stop=None, std=0.3, block_size=16):
    """generate_text's inputs: a random prompt, and a generator seed drawn from the case's seed."""
    return lambda rng: (_prompt(rng, prompt_length), n, temperature, top_k,
                        int(rng.integers(1000)) if seeded else None, stop, block_size, std)


HIDDEN = {
    "14.gpt2_config": [
        Case("a GPT-2 config of another size", _sized_config, run=_run_config),
        Case("activation_function 'silu': must raise ValueError",
             lambda rng: (dict(REAL_GPT2, activation_function="silu"),), run=_run_config),
        Case("activation_function 'gelu_pytorch_tanh' in a config of another size: loads",
             lambda rng: (dict(_sized_config(rng)[0], activation_function="gelu_pytorch_tanh"),), run=_run_config),
        Case("n_inner given as None in a config of another size: loads",
             lambda rng: (dict(_sized_config(rng)[0], n_inner=None),), run=_run_config),
    ],
    "14.convert_gpt2_state_dict": [
        Case("n_embd = 24, 4 heads, three layers, V=29 (save_pretrained's layout)",
             _convert_inputs(LAYOUT_NAMES[1], n_embd=24, n_head=4, n_layer=3, vocab_size=29)),
        Case("n_embd = 8, one head, one layer (the real file's layout)",
             _convert_inputs(LAYOUT_NAMES[0], n_embd=8, n_head=1, n_layer=1)),
        Case("n_embd = 24, 4 heads, V=23, a file whose own lm_head.weight differs from wte", _other_head),
    ],
    "14.from_pretrained": [
        Case("a tiny checkpoint of another seed, in save_pretrained's layout", _checkpoint(LAYOUT_NAMES[1]),
             run=run_pretrained_checkpoint),
        Case("a tiny checkpoint of another seed, in the real file's layout", _checkpoint(LAYOUT_NAMES[0]),
             run=run_pretrained_checkpoint),
        Case("a checkpoint of yet another size (n_embd 20, 5 heads, 2 layers, 6 positions), in save_pretrained's layout",
             _checkpoint(LAYOUT_NAMES[1], n_embd=20, n_head=5, n_layer=2, n_positions=6, n_ctx=6),
             run=run_pretrained_checkpoint),
    ],
    "14.generate_text": [
        Case("greedy (top_k=1), 8 new tokens after a random prompt of 5",
             _generate(5, 8, top_k=1), run=_run_generate),
        Case("sampling at temperature 0.9, top_k=4, a seeded generator, past block_size",
             _generate(11, 9, 0.9, 4, seeded=True), run=_run_generate),
        Case("sampling at temperature 2, a seeded generator, stop_token 0 ('|') may be drawn",
             _generate(3, 12, 2.0, seeded=True, stop=0), run=_run_generate),
        Case("generator=None, temperature 0.7, top_k=6: torch's global random state", _generate(4, 9, 0.7, 6),
             run=_run_generate),
        Case("stop_token=None at temperature 2, a seeded generator: a drawn '|' stays in the text",
             _generate(3, 12, 2.0, seeded=True), run=_run_generate),
        Case("the defaults, a model that reads its context, 7 new tokens after a random prompt of 6",
             _generate(6, 7, std=1.0), run=run_generate_defaults),
        Case("a random prompt of 23 tokens in a context of 16, greedy, a model that reads its context",
             _generate(23, 5, top_k=1, std=1.0), run=_run_generate),
        Case("past block_size, greedy, a model that reads its context: a prompt of 12 and 9 new tokens",
             _generate(12, 9, top_k=1, std=1.0), run=_run_generate),
        # '|' is about 1 draw in 32 here: within 200 tokens it is drawn for nearly every secret,
        # where 12 tokens (the case above) draw it for only about one secret in three. The context
        # (256) holds them all, so an answer that generates all 200 and then cuts at the stop token
        # (allowed) does no window restarts, and its work stays within what the compare allows.
        Case("sampling at temperature 1.5, a seeded generator, up to 200 new tokens in a context of 256: "
             "stop_token 0 ('|') is drawn",
             _generate(4, 200, 1.5, seeded=True, stop=0, block_size=256), run=_run_generate),
    ],
    "14.continuation_logprob": [
        Case("a prompt of 5 tokens, a continuation of 6", _logprob_inputs(5, 6), run=_run_logprob),
        Case("a prompt of 2 tokens, a continuation of 4", _logprob_inputs(2, 4), run=_run_logprob),
        Case("one forward pass: a prompt of 6, a continuation of 4", _logprob_inputs(6, 4),
             run=continuation_logprob.cases[5].run, compare=continuation_logprob.cases[5].compare),
    ],
}
