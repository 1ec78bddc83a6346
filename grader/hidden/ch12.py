"""Chapter 12's hidden cases: other batch sizes, head counts, chunkings, prompts, matrix shapes
and block sizes than the notebook's."""
from ..engine import Case
from . import like
from ..exercises.ch12 import (forward_cached, generate_cached, quantize_q4_blocks, _codes, _forward_inputs, _generate_inputs, _q4_codes, _run_cache, _run_forward,
                              _run_generate, _updates)
from ..exercises.common import randn

HIDDEN = {
    "12.KVCache": [
        Case("3 layers, a batch of 3 with 1 head of size 5: chunks of 2, 1, 4", _updates(3, 3, 1, 5, [2, 1, 4]),
             run=_run_cache),
    ],
    "12.forward_cached": [
        Case("a batch of 3: a prompt of 4, then chunks of 2 and 1", _forward_inputs(3, [4, 2, 1]), run=_run_forward),
        Case("a prompt of 1, then chunks of 3, 1 and 2, block_size=8", _forward_inputs(2, [1, 3, 1, 2], block_size=8),
             run=_run_forward),
        like(forward_cached, 3, "past block_size=8: ValueError, a batch of 3", _forward_inputs(3, [9], block_size=8)),
    ],
    "12.generate_cached": [
        Case("greedy, 7 new tokens after prompts of 5, a batch of 3", _generate_inputs(3, 5, 7), run=_run_generate),
        Case("sampling: temperature 2.5, top_k=6, a seeded generator, past block_size",
             _generate_inputs(2, 9, 10, temperature=2.5, top_k=6, seed=11), run=_run_generate),
        Case("sampling from the whole distribution: top_k=None, temperature 0.8, a batch of 3",
             _generate_inputs(3, 2, 8, temperature=0.8, top_k=None, seed=23), run=_run_generate),
        like(generate_cached, 4, "called without temperature and top_k, a batch of 3, 6 new tokens",
             _generate_inputs(3, 2, 6, seed=7)),
        like(generate_cached, 5, "a prompt of 23 tokens, longer than block_size: only the last 16 are fed",
             _generate_inputs(2, 23, 3)),
        Case("a batch of 19 sequences, more than block_size", _generate_inputs(19, 3, 4), run=_run_generate),
    ],
    "12.quantize_int8": [
        Case("a (7, 24) matrix", lambda rng: (randn(rng, 7, 24, scale=3.0),)),
        Case("a (2, 100) matrix of small weights", lambda rng: (randn(rng, 2, 100, scale=0.01),)),
    ],
    "12.dequantize_int8": [
        Case("a (6, 11) matrix", lambda rng: (_codes(rng, 6, 11), randn(rng, 6).abs())),
    ],
    "12.quantize_q4_blocks": [
        Case("block_size=8, a (5, 40) matrix", lambda rng: (randn(rng, 5, 40), 8)),
        Case("a (2, 96) matrix: three blocks per row, values x20", lambda rng: (randn(rng, 2, 96, scale=20.0),)),
        like(quantize_q4_blocks, 5, "n_in=40 with block_size=16: ValueError", lambda rng: (randn(rng, 3, 40), 16)),
        like(quantize_q4_blocks, 5, "n_in=80 with the default block_size=32: ValueError", lambda rng: (randn(rng, 2, 80),)),
    ],
    "12.dequantize_q4_blocks": [
        Case("block_size=16, a (4, 48) matrix", lambda rng: _q4_codes(rng, 4, 48, 16)),
        Case("a (5, 64) matrix: two blocks per row", lambda rng: _q4_codes(rng, 5, 64)),
    ],
}
