"""Chapter 03's hidden cases: other batch sizes, depths, learning rates and seeds than the notebook's."""

from ..engine import Case
from ..exercises.ch03 import (_bp_case, _cost_case, _f_cubic, _f_quadratic_form, _step_and_params_after,
                              _train_case, _train_runs, _with_x_after)
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
    ],
    "03.backprop": [
        Case("[6, 5, 3], a batch of 4", _bp_case([6, 5, 3], 4)),
        Case("five layers [3, 7, 4, 5, 2], a batch of 6", _bp_case([3, 7, 4, 5, 2], 6)),
    ],
    "03.sgd_step": [
        Case("[5, 6, 4, 3], lr = 0.1",
             lambda rng: (random_params(rng, [5, 6, 4, 3]), random_params(rng, [5, 6, 4, 3]), 0.1),
             run=_step_and_params_after),
    ],
    "03.train_sgd": [
        Case("36 points, 2 epochs, minibatches of 5 (the last one is short)", _train_case(36, 2, 5),
             run=_train_runs),
    ],
}
