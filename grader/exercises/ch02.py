"""Chapter 02, a feed-forward network: the checks, and the mistakes they recognise by name.

Inputs are seeded and small. `sigmoid` meets z = +-1000, where the textbook formula
overflows (a warning, not an error: the result is still right). `init_params` draws random
numbers, so it is judged by properties, never by equality with the reference's draws:
shapes, dtype, mean and variance within statistically sound bounds, and determinism.
"""
import copy

import numpy as np

from ..compare import Fail, close, compare_values
from ..engine import Case, Exercise, Mistake, Requirement
from .common import quiet, random_params


def _sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


EXTREMES = np.array([-1000.0, -50.0, -1.0, 0.0, 1.0, 50.0, 1000.0])

# ---------------------------------------------------------------- sigmoid

sigmoid = Exercise(
    id="02.sigmoid", points=1, difficulty="easy", minutes=5, pure=True,
    cases=[
        Case("a (3, 4) array", lambda rng: (rng.standard_normal((3, 4)) * 4,)),
        Case("a batch of one", lambda rng: (rng.standard_normal((1, 10)),)),
        Case("z = -1000 ... 1000 (must be finite)", lambda rng: (EXTREMES.copy(),),
             why="exp(-z) overflows for z < -709; the answer 0 must still come out"),
        Case("a (2, 3, 4) array: any shape", lambda rng: (rng.standard_normal((2, 3, 4)) * 4,)),
    ],
    # Outputs are probabilities in [0, 1]: 1e-12 absolute is far below anything that
    # matters, and it accepts every correct formula (1/(1+e^-z), tanh form, ...).
    compare=close(rtol=1e-9, atol=1e-12),
    mistakes=[
        Mistake("wrong sign in the exponent",
                "sigma(z) = 1 / (1 + exp(-z)): with exp(+z) the curve runs backwards "
                "(sigma(10) would be almost 0).",
                quiet(lambda z: 1.0 / (1.0 + np.exp(z)))),
        Mistake("exp(z) / (1 + exp(z)) overflows",
                "exp(1000) is inf and inf/inf is NaN. The form 1 / (1 + exp(-z)) only "
                "overflows to 1/inf = 0, which is the right answer (you may see a warning).",
                quiet(lambda z: np.exp(z) / (1.0 + np.exp(z)))),
        Mistake("clipped z too tightly",
                "clipping z to [-10, 10] avoids the overflow but changes the answer: "
                "sigma(50) is 1 - 2e-22, not sigma(10) = 0.99995. Clip at +-500 if you must.",
                lambda z: 1.0 / (1.0 + np.exp(-np.clip(z, -10, 10)))),
    ],
    requirements=[
        Requirement("a = \\sigma(z) = \\frac{1}{1 + e^{-z}}", "a (3, 4) array", "a batch of one"),
        Requirement("Write `sigmoid(z)` for a NumPy array `z` of any shape, element by element",
                    "a (3, 4) array", "a batch of one", "a (2, 3, 4) array: any shape"),
        Requirement("It must give the right answer at z = \\pm 1000", "z = -1000 ... 1000 (must be finite)"),
        Requirement("The form e^z / (1 + e^z) does fail there: \\infty / \\infty is `nan`",
                    "z = -1000 ... 1000 (must be finite)"),
        Requirement("finite for any float z", "z = -1000 ... 1000 (must be finite)", "pure"),
    ],
)

# ---------------------------------------------------------------- sigmoid_prime

sigmoid_prime = Exercise(
    id="02.sigmoid_prime", points=1, difficulty="easy", minutes=5, pure=True,
    cases=[
        Case("a (3, 4) array", lambda rng: (rng.standard_normal((3, 4)) * 3,)),
        Case("a batch of one", lambda rng: (rng.standard_normal((1, 10)),)),
        Case("z = -1000 ... 1000 (must be finite)", lambda rng: (EXTREMES.copy(),)),
        Case("a (2, 3, 4) array: element-wise, any shape", lambda rng: (rng.standard_normal((2, 3, 4)) * 3,)),
    ],
    compare=close(rtol=1e-9, atol=1e-12),  # values in [0, 1/4]; as for sigmoid
    mistakes=[
        Mistake("applied the formula to z instead of sigmoid(z)",
                "sigma'(z) = sigma(z) * (1 - sigma(z)). The form a * (1 - a) needs the "
                "activation a = sigma(z), not z itself.",
                lambda z: z * (1.0 - z)),
        Mistake("forgot the square",
                "the derivative of 1/(1+e^-z) is e^-z / (1+e^-z)**2; without the square you "
                "get 1 - sigma(z). Simpler: sigmoid(z) * (1 - sigmoid(z)).",
                quiet(lambda z: np.exp(-z) / (1.0 + np.exp(-z)))),
        Mistake("NaN at large negative z",
                "e^-z / (1 + e^-z)**2 is inf/inf = NaN at z = -1000. Write it as "
                "sigmoid(z) * (1 - sigmoid(z)), which stays finite.",
                quiet(lambda z: np.exp(-z) / (1.0 + np.exp(-z)) ** 2)),
    ],
    requirements=[
        Requirement("= \\sigma(z)\\,\\bigl(1 - \\sigma(z)\\bigr)", "a (3, 4) array", "a batch of one"),
        Requirement("Write `sigmoid_prime(z)`, element-wise, using your `sigmoid`",
                    "a (3, 4) array", "a (2, 3, 4) array: element-wise, any shape",
                    "z = -1000 ... 1000 (must be finite)"),
        Requirement("Note the argument is z, not the activation a", "a (3, 4) array"),
        Requirement("Derivative of the sigmoid at z, element-wise", "pure"),
    ],
)

# ---------------------------------------------------------------- init_params


def _three_draws(fn, args):
    """Call init_params three times: twice with generators in the same state (the results
    must be equal) and once with another seed (the result must differ)."""
    sizes, rng = args
    twin = copy.deepcopy(rng)
    other = np.random.default_rng(2 ** 31 - 1)
    return fn(sizes, rng), fn(list(sizes), twin), fn(list(sizes), other)


def _same(a, b) -> bool:
    return compare_values(a, b, rtol=0, atol=0) is None


def _init_properties(got, expected, args):
    """Shapes, dtype, determinism, then the statistics of each layer's weights.

    A weight matrix with n = n_out * n_in entries drawn from N(0, 1/n_in): W * sqrt(n_in)
    is standard normal, so its mean square has mean 1 and standard error sqrt(2/n), and its
    mean has standard error 1/sqrt(n). We allow 6 standard errors (a false alarm about once
    in 10^9) and only judge layers with at least 100 weights, where that bound is tight
    enough to tell 1/n_in from 1 or 1/n_in^2."""
    sizes = list(args[0])
    first, again, other = got
    layers = list(zip(sizes[:-1], sizes[1:]))
    if not isinstance(first, (list, tuple)) or len(first) != len(layers):
        return Fail(f"sizes={sizes} has {len(layers)} layers, so expected a list of "
                    f"{len(layers)} (W, b) pairs, got {_describe(first)}")
    for i, ((n_in, n_out), pair) in enumerate(zip(layers, first)):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            return Fail(f"layer {i}: expected a pair (W, b), got {_describe(pair)}")
        W, b = pair
        if not isinstance(W, np.ndarray) or not isinstance(b, np.ndarray):
            return Fail(f"layer {i}: W and b must be numpy arrays, got {_describe(W)} and {_describe(b)}")
        if W.shape == (n_in, n_out) and n_in != n_out:
            return Fail(f"layer {i}: W has shape {W.shape}; the course stores weights as "
                        f"(n_out, n_in) = {(n_out, n_in)}, like nn.Linear", mistake=TRANSPOSED_W)
        if W.shape != (n_out, n_in):
            return Fail(f"layer {i}: W should have shape (n_out, n_in) = {(n_out, n_in)}, got {W.shape}")
        if b.shape != (n_out,):
            return Fail(f"layer {i}: b should have shape (n_out,) = {(n_out,)}, got {b.shape}")
        if W.dtype != np.float64 or b.dtype != np.float64:
            return Fail(f"layer {i}: expected float64 arrays, got {W.dtype} and {b.dtype}")
        if not (np.isfinite(W).all() and np.isfinite(b).all()):
            return Fail(f"layer {i}: the parameters contain NaN or inf")
    if not _same(first, again):
        return Fail("two calls with generators in the same state gave different parameters: "
                    "draw every number from the `rng` you are given", mistake=IGNORED_RNG)
    if _same(first, other):
        return Fail("a generator with another seed gave the same parameters: draw every "
                    "number from the `rng` you are given", mistake=IGNORED_RNG)
    for i, ((n_in, n_out), (W, b)) in enumerate(zip(layers, first)):
        n = W.size
        if n < 100:
            continue
        standardized = W * np.sqrt(n_in)          # N(0, 1) if drawn right
        mean, mean_square = standardized.mean(), (standardized ** 2).mean()
        if abs(mean) > 6 / np.sqrt(n):
            return Fail(f"layer {i}: the weights' mean is {W.mean():.3g}, but N(0, 1/n_in) is "
                        "centred at 0", mistake=UNIFORM_INSTEAD_OF_NORMAL)
        if abs(mean_square - 1) > 6 * np.sqrt(2 / n):
            variance = W.var()
            name = None
            if abs(variance - 1) < 6 * np.sqrt(2 / n):
                name = FORGOT_TO_SCALE_BY_1_SQRT_N_IN
            elif abs(variance * n_in ** 2 - 1) < 6 * np.sqrt(2 / n):
                name = DIVIDED_BY_N_IN_INSTEAD_OF_SQRT_N_IN
            return Fail(f"layer {i} ({n_in} inputs): the weights' variance is {variance:.3g}, "
                        f"expected 1/n_in = {1 / n_in:.3g}", mistake=name)
        if b.any():                                # zeros, or N(0, 1)
            if abs(b.mean()) > 6 / np.sqrt(b.size) or b.var() > 1 + 6 * np.sqrt(2 / max(b.size - 1, 1)):
                return Fail(f"layer {i}: b should be zeros or drawn from N(0, 1); its mean is "
                            f"{b.mean():.3g} and its variance {b.var():.3g}")
    return None


def _describe(x):
    from ..compare import describe
    return describe(x)


def _init_transposed(sizes, rng):
    return [(rng.standard_normal((m, n)) / np.sqrt(m), np.zeros(n)) for m, n in zip(sizes[:-1], sizes[1:])]


def _init_unscaled(sizes, rng):
    return [(rng.standard_normal((n, m)), rng.standard_normal(n)) for m, n in zip(sizes[:-1], sizes[1:])]


def _init_over_n(sizes, rng):
    return [(rng.standard_normal((n, m)) / m, np.zeros(n)) for m, n in zip(sizes[:-1], sizes[1:])]


def _init_global_rng(sizes, rng):
    return [(np.random.randn(n, m) / np.sqrt(m), np.zeros(n)) for m, n in zip(sizes[:-1], sizes[1:])]


def _init_uniform(sizes, rng):
    return [(rng.random((n, m)) / np.sqrt(m), np.zeros(n)) for m, n in zip(sizes[:-1], sizes[1:])]


def _init_case(sizes):
    return lambda rng: (list(sizes), np.random.default_rng(int(rng.integers(2 ** 31))))


IGNORED_RNG = Mistake("ignored rng",
                      "use the generator you are given (rng.standard_normal(...)), not np.random.randn "
                      "or a new default_rng: the same rng must give the same network.",
                      _init_global_rng)
FORGOT_TO_SCALE_BY_1_SQRT_N_IN = Mistake("forgot to scale by 1/sqrt(n_in)",
                                         "standard_normal draws variance 1; with 784 inputs z then has variance ~784 "
                                         "and the sigmoids saturate. Divide by np.sqrt(n_in).",
                                         _init_unscaled)
TRANSPOSED_W = Mistake("transposed W",
                       "a layer computes Z = X @ W.T + b, so W is (n_out, n_in): one row of weights "
                       "per neuron, like nn.Linear.weight.",
                       _init_transposed)
UNIFORM_INSTEAD_OF_NORMAL = Mistake("uniform instead of normal",
                                    "rng.random draws uniformly from [0, 1), all positive; rng.standard_normal draws "
                                    "from N(0, 1).",
                                    _init_uniform)
DIVIDED_BY_N_IN_INSTEAD_OF_SQRT_N_IN = Mistake("divided by n_in instead of sqrt(n_in)",
                                               "the standard deviation is 1/sqrt(n_in) (variance 1/n_in); dividing by n_in "
                                               "gives variance 1/n_in**2.",
                                               _init_over_n)

init_params = Exercise(
    id="02.init_params", points=2, difficulty="easy", minutes=10,
    cases=[
        Case("sizes [784, 30, 10]", _init_case([784, 30, 10]), run=_three_draws),
        Case("sizes [3, 5, 2] (shapes only: too few weights for statistics)",
             _init_case([3, 5, 2]), run=_three_draws),
        Case("sizes [100, 200, 50, 10]", _init_case([100, 200, 50, 10]), run=_three_draws),
    ],
    compare=_init_properties,
    mistakes=[
        TRANSPOSED_W,
        FORGOT_TO_SCALE_BY_1_SQRT_N_IN,
        DIVIDED_BY_N_IN_INSTEAD_OF_SQRT_N_IN,
        IGNORED_RNG,
        UNIFORM_INSTEAD_OF_NORMAL,
    ],
    requirements=[
        Requirement("Write `init_params(sizes, rng)` returning a list with one `(W, b)` tuple per layer",
                    "sizes [784, 30, 10]", "sizes [3, 5, 2] (shapes only: too few weights for statistics)",
                    "sizes [100, 200, 50, 10]"),
        Requirement("`W` of shape `(n_out, n_in)`", "sizes [784, 30, 10]",
                    "sizes [3, 5, 2] (shapes only: too few weights for statistics)"),
        Requirement("drawn from \\mathcal N(0, 1/n_\\text{in})", "sizes [784, 30, 10]", "sizes [100, 200, 50, 10]"),
        Requirement("`b` of shape `(n_out,)`, zeros (or \\mathcal N(0,1), as Nielsen does)",
                    "sizes [3, 5, 2] (shapes only: too few weights for statistics)", "sizes [100, 200, 50, 10]"),
        Requirement("Draw every number from `rng`, a `np.random.Generator`, so the same seed gives the same network",
                    "sizes [784, 30, 10]", "sizes [3, 5, 2] (shapes only: too few weights for statistics)",
                    "sizes [100, 200, 50, 10]"),
        Requirement("Nielsen's original code draws W \\sim \\mathcal N(0,1)", not_checked="history; the rule "
                    "to follow, N(0, 1/n_in), is the requirement above"),
    ],
)

# ---------------------------------------------------------------- feedforward


def _ff_no_output_sigmoid(params, X):
    A = X
    for i, (W, b) in enumerate(params):
        Z = A @ W.T + b
        A = Z if i == len(params) - 1 else _sigmoid(Z)
    return A


def _ff_transposed(params, X):
    A = X.T
    for W, b in params:
        A = _sigmoid(W @ A + b[:, None])
    return A


def _ff_no_bias(params, X):
    A = X
    for W, b in params:
        A = _sigmoid(A @ W.T)
    return A


feedforward = Exercise(
    id="02.feedforward", points=2, difficulty="medium", minutes=15, pure=True,
    cases=[
        Case("[784, 30, 10] on five images", lambda rng: (random_params(rng, [784, 30, 10]), rng.random((5, 784)))),
        Case("a batch of one", lambda rng: (random_params(rng, [784, 30, 10]), rng.random((1, 784)))),
        Case("a deeper net [4, 3, 5, 2]", lambda rng: (random_params(rng, [4, 3, 5, 2]), rng.standard_normal((6, 4)))),
    ],
    compare=close(rtol=1e-9, atol=1e-12),  # the same matrix products; only summation order may differ
    mistakes=[
        Mistake("no sigmoid on the output layer",
                "every layer, the last one included, applies the sigmoid: a = sigma(z).",
                _ff_no_output_sigmoid),
        Mistake("transposed result",
                "the course is batch-first: the output is (N, n_last), one row per example. "
                "Compute Z = A @ W.T + b rather than W @ A.",
                _ff_transposed),
        Mistake("forgot the bias",
                "each layer is z = A @ W.T + b; the bias b shifts every neuron's threshold.",
                _ff_no_bias),
    ],
    requirements=[
        Requirement("Z^l = A^{l-1} (W^l)^\\top + b^l, \\qquad A^l = \\sigma(Z^l)", "[784, 30, 10] on five images"),
        Requirement("Write `feedforward(params, X)`: `(N, n_0)` → `(N, n_L)`, the activations of the last layer",
                    "[784, 30, 10] on five images", "a batch of one", "a deeper net [4, 3, 5, 2]"),
        Requirement("for the whole batch at once (one loop over the layers, none over the examples)",
                    "a deeper net [4, 3, 5, 2]", "[784, 30, 10] on five images"),
        Requirement("The sigmoid is applied in every layer, the last one too", "[784, 30, 10] on five images"),
        Requirement("| step | computation | shape |", not_checked="the header of a table of the shapes; the "
                    "output shape (N, n_L) is the requirement above"),
        Requirement("Output activations (N, n_last)", "pure"),
    ],
)

# ---------------------------------------------------------------- accuracy


def _acc_case(n):
    def inputs(rng):
        return random_params(rng, [784, 30, 10]), rng.random((n, 784)), rng.integers(0, 10, n).astype(np.uint8)
    return inputs


def _ff(params, X):
    A = X
    for W, b in params:
        A = _sigmoid(A @ W.T + b)
    return A


def _planted(rng):
    """A network whose predictions we know: a one-layer net that predicts the argmax of
    its 10 inputs. We spoil 3 of 10 labels, so the accuracy is exactly 0.7. Ten examples,
    as many as classes, so that an argmax over the wrong axis gives a number, not an error."""
    X = rng.random((10, 10))
    W = np.eye(10) * 10.0
    y = X.argmax(axis=1).astype(np.uint8)
    y[:3] = (y[:3] + 1) % 10
    return [(W, np.zeros(10))], X, y


accuracy = Exercise(
    id="02.accuracy", points=1, difficulty="easy", minutes=5, pure=True,
    cases=[
        Case("a network with known predictions (7 of 10 right)", _planted),
        Case("50 random images", _acc_case(50)),
        Case("a batch of one", _acc_case(1)),
    ],
    compare=close(rtol=1e-12, atol=1e-12),   # a fraction k/N
    mistakes=[
        Mistake("returned a count, not a fraction",
                "accuracy is the fraction of correct predictions, a float in [0, 1]: use .mean(), not .sum().",
                lambda p, X, y: int((_ff(p, X).argmax(axis=1) == y).sum())),
        Mistake("percent instead of a fraction",
                "return a fraction in [0, 1] (0.93), not a percentage (93.0); format it as a "
                "percentage when you print it: f'{acc:.1%}'.",
                lambda p, X, y: float((_ff(p, X).argmax(axis=1) == y).mean() * 100)),
        Mistake("argmax over the wrong axis",
                "the output is (N, 10): the predicted class of each example is the argmax along axis=1.",
                lambda p, X, y: float((_ff(p, X).argmax(axis=0) == y).mean())),
    ],
    requirements=[
        Requirement("The network's answer for an image is the output neuron with the largest activation",
                    "a network with known predictions (7 of 10 right)"),
        Requirement("The accuracy is the fraction of images where", "a network with known predictions (7 of 10 right)",
                    "50 random images"),
        Requirement("Write `accuracy(params, X, y)`: parameters, images `(N, 784)`, integer labels `(N,)` → a float "
                    "in [0, 1]", "50 random images", "a batch of one", "a network with known predictions (7 of 10 right)"),
        Requirement("Fraction of examples whose largest output activation is at the true label", "pure"),
    ],
)

EXERCISES = [sigmoid, sigmoid_prime, init_params, feedforward, accuracy]
