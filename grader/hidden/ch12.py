"""Chapter 12's hidden cases: other batch sizes, head counts, chunkings, prompts, matrix shapes
and block sizes than the notebook's."""
from ..engine import Case
from ..exercises.ch12 import (_codes, _forward_inputs, _generate_inputs, _q4_codes, _run_cache, _run_forward,
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
    ],
    "12.generate_cached": [
        Case("greedy, 7 new tokens after prompts of 5, a batch of 3", _generate_inputs(3, 5, 7), run=_run_generate),
        Case("sampling: temperature 2.5, top_k=6, a seeded generator, past block_size",
             _generate_inputs(2, 9, 10, temperature=2.5, top_k=6, seed=11), run=_run_generate),
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
    ],
    "12.dequantize_q4_blocks": [
        Case("block_size=16, a (4, 48) matrix", lambda rng: _q4_codes(rng, 4, 48, 16)),
        Case("a (5, 64) matrix: two blocks per row", lambda rng: _q4_codes(rng, 5, 64)),
    ],
}
