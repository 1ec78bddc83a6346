"""Chapter 02's hidden cases: other layer sizes, batch sizes and seeds than the notebook's."""
import numpy as np

from ..engine import Case
from ..exercises.ch02 import EXTREMES, _acc_case, _init_case, _init_properties, _three_draws
from ..exercises.common import random_params

HIDDEN = {
    "02.sigmoid": [
        Case("a (5, 3) array of large and small values", lambda rng: (rng.standard_normal((5, 3)) * 30,)),
        Case("a 1-D vector with values out to +-800",
             lambda rng: (np.concatenate([EXTREMES * 0.8, rng.standard_normal(6) * 20]),)),
    ],
    "02.sigmoid_prime": [
        Case("a (4, 6) array", lambda rng: (rng.standard_normal((4, 6)) * 5,)),
        Case("a 1-D vector with values out to +-800",
             lambda rng: (np.concatenate([EXTREMES * 0.8, rng.standard_normal(6) * 20]),)),
    ],
    "02.init_params": [
        Case("sizes [300, 40, 20, 5]", _init_case([300, 40, 20, 5]), run=_three_draws, compare=_init_properties),
        Case("sizes [7, 4] (one layer)", _init_case([7, 4]), run=_three_draws, compare=_init_properties),
    ],
    "02.feedforward": [
        Case("[20, 9, 6, 3] on seven inputs", lambda rng: (random_params(rng, [20, 9, 6, 3]), rng.standard_normal((7, 20)))),
        Case("[784, 16, 10] on three images", lambda rng: (random_params(rng, [784, 16, 10]), rng.random((3, 784)))),
    ],
    "02.accuracy": [
        Case("37 random images", _acc_case(37)),
        Case("ten random images", _acc_case(10)),
    ],
}
