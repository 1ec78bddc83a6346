"""Chapter 04's hidden cases: other batch sizes, class counts, layer sizes and seeds than the notebook's.
The training checks get one small case each: they build and train a model."""
from ..engine import Case
from ..exercises.ch04 import (_by_hand, _by_hand_compare, _ce_case, _compare_evaluate, _compare_full_batch,
                              _compare_lr_zero, _compare_replay, _data, _mlp_case, _mlp_grads_case, _mlp_run,
                              _run_evaluate, _run_full_batch, _run_lr_zero, _run_replayable, _zeros_in_Z1_case)

HIDDEN = {
    "04.softmax": [
        Case("five rows of 7 logits", lambda rng: (rng.standard_normal((5, 7)) * 4,)),
        Case("rows near +500, 0 and -800", lambda rng: (rng.standard_normal((3, 4)) + [[500.0], [0.0], [-800.0]],)),
    ],
    "04.cross_entropy": [
        Case("six examples, 3 classes", _ce_case(6, 3, scale=3.0)),
        Case("logits + 800, 7 classes", _ce_case(2, 7, shift=800.0)),
        Case("logits x 500, true class the least likely, 6 classes", _ce_case(3, 6, scale=500.0, worst=True)),
    ],
    "04.softmax_cross_entropy_grad": [
        Case("seven examples, 4 classes", _ce_case(7, 4, scale=2.0)),
        Case("logits + 800, 6 classes (must be finite)", _ce_case(2, 6, shift=800.0)),
    ],
    "04.DigitMLP": [
        Case("sizes [9, 4, 6], two inputs", _mlp_case([9, 4, 6], 2), run=_mlp_run),
    ],
    "04.manual_mlp_grads": [
        Case("5 examples, 7 -> 3 -> 6", _mlp_grads_case(5, 7, 3, 6)),
        Case("12 examples, 20 -> 9 -> 2", _mlp_grads_case(12, 20, 9, 2)),
        Case("Z1 exactly 0 in places, 7 examples, 4 -> 6 -> 2", _zeros_in_Z1_case(7, 4, 6, 2)),
        Case("by hand, 4 examples, 3 -> 5 -> 2", _mlp_grads_case(4, 3, 5, 2), run=_by_hand, compare=_by_hand_compare),
    ],
    "04.train_epoch": [
        Case("two full-batch epochs on 27 examples", lambda rng: _data(rng, 27),
             run=_run_full_batch, compare=_compare_full_batch),
        Case("lr = 0 on 40 examples, minibatches of 16 (the last one is short)", lambda rng: _data(rng, 40),
             run=_run_lr_zero, compare=_compare_lr_zero),
        Case("26 examples, minibatches of 8, two epochs with momentum and two parameter groups: replayed",
             lambda rng: _data(rng, 26), run=_run_replayable, compare=_compare_replay),
    ],
    "04.evaluate": [
        Case("a model with dropout, 23 examples", lambda rng: _data(rng, 23, d=6, k=4),
             run=_run_evaluate, compare=_compare_evaluate),
    ],
}
