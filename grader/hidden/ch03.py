"""Chapter 03's hidden cases: other batch sizes, depths, learning rates and seeds than the notebook's."""

from ..engine import Case
from ..exercises.ch03 import (_bp_case, _bp_no_example_loop, _cost_case, _count_example_reads, _f_cubic,
                              _f_quadratic_form, _f_shaped, _sgd_case_lr, _sgd_compare_grads, _step_and_all_after,
                              _step_and_params_after, _train_case, _train_recorded, _train_replay_compare,
                              _train_runs, _with_x_after)
from ..exercises.common import random_params

HIDDEN = {
    "03.quadratic_cost": [
        Case("a batch of 9, 4 outputs", _cost_case(9, 4)),
        Case("a batch of 2, 10 outputs", _cost_case(2, 10)),
    ],
    "03.numerical_gradient": [
        Case("the cubic on a (2, 5) matrix", lambda rng: (_f_cubic, rng.standard_normal((2, 5)) + 0.5),
             run=_with_x_after),
        Case("a quadratic form on a (3, 3) matrix", lambda rng: (_f_quadratic_form, rng.standard_normal((3, 3))),
             run=_with_x_after),
        Case("a (3, 2, 2) array; f reads x by its shape", lambda rng: (_f_shaped, rng.standard_normal((3, 2, 2))),
             run=_with_x_after),
    ],
    "03.backprop": [
        Case("[6, 5, 3], a batch of 4", _bp_case([6, 5, 3], 4)),
        Case("five layers [3, 7, 4, 5, 2], a batch of 6", _bp_case([3, 7, 4, 5, 2], 6)),
        Case("a minibatch of 16, without a loop over the examples", _bp_case([4, 6, 2], 16),
             run=_count_example_reads, compare=_bp_no_example_loop),
    ],
    "03.sgd_step": [
        Case("[5, 6, 4, 3], lr = 0.1",
             lambda rng: (random_params(rng, [5, 6, 4, 3]), random_params(rng, [5, 6, 4, 3]), 0.1),
             run=_step_and_params_after),
        Case("[3, 4, 2], lr = 0.2: grads unchanged too", _sgd_case_lr([3, 4, 2], 0.2),
             run=_step_and_all_after, compare=_sgd_compare_grads),
    ],
    "03.train_sgd": [
        Case("36 points, 2 epochs, minibatches of 5 (the last one is short)", _train_case(36, 2, 5),
             run=_train_runs),
        Case("41 points, 2 epochs, minibatches of 5 (the last holds one): replayed", _train_case(41, 2, 5),
             run=_train_recorded, compare=_train_replay_compare),
    ],
}
