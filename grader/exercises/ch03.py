"""Chapter 03, backpropagation: the checks, and the mistakes they recognise by name.

`backprop` is compared with the reference on small seeded networks of several depths (the
mistakes learners make, e.g. a missing sigma', change the numbers far beyond rounding).
`train_sgd` shuffles with a random generator, so it is judged by properties: the history's
length and meaning, a falling cost on an easy problem, reproducibility with the same
generator, a different run with another, and the caller's parameters left untouched.
"""
import copy

import numpy as np

from ..compare import Fail, compare_values, describe
from ..values import TensorValue
from ..engine import Case, Exercise, Mistake, Requirement
from ..reference.ch02 import feedforward, sigmoid, sigmoid_prime
from .common import random_params


def _targets(rng, n, k):
    return np.eye(k)[rng.integers(0, k, n)]


# ---------------------------------------------------------------- quadratic_cost


def _cost_case(n, k):
    return lambda rng: (rng.random((n, k)), _targets(rng, n, k))


def _a_python_float(got, expected, args):
    """C is a single number: a float (np.float64 is one), not an array that holds one."""
    if isinstance(got, (np.ndarray, TensorValue)):
        return Fail(f"expected a Python float, got {describe(got)}: C is a single number; "
                    "sum over everything, or wrap it in float(...)", mistake=RETURNED_AN_ARRAY)
    return compare_values(got, expected, rtol=1e-10, atol=1e-12)  # one sum; only its order may differ


RETURNED_AN_ARRAY = Mistake("returned an array, not a float",
                            "summing with keepdims=True (or along one axis only) leaves an array; the cost is "
                            "one number: a Python float.",
                            lambda A, Y: 0.5 * ((A - Y) ** 2).sum(axis=1, keepdims=True).mean(axis=0))

quadratic_cost = Exercise(
    id="03.quadratic_cost", points=1, difficulty="easy", minutes=5, pure=True,
    cases=[
        Case("a batch of 5, 10 outputs", _cost_case(5, 10)),
        Case("a batch of one", _cost_case(1, 10)),
        Case("a batch of 7, 3 outputs", _cost_case(7, 3)),
    ],
    compare=_a_python_float,
    mistakes=[
        RETURNED_AN_ARRAY,
        Mistake("summed over the batch instead of averaging",
                "C is the mean over the N examples of 0.5*||a - y||^2: divide the total by N = len(A).",
                lambda A, Y: float(0.5 * ((A - Y) ** 2).sum())),
        Mistake("averaged over every entry",
                "np.mean((A - Y)**2) divides by N * n_outputs; the cost sums over the outputs "
                "of one example and averages over examples only.",
                lambda A, Y: float(0.5 * np.mean((A - Y) ** 2))),
        Mistake("forgot the 1/2",
                "C = 0.5 * ||a - y||^2: the 1/2 makes the derivative simply (a - y).",
                lambda A, Y: float(((A - Y) ** 2).sum() / len(A))),
    ],
    requirements=[
        Requirement("C = \\frac{1}{N} \\sum_{i=1}^{N} C_i, \\qquad C_i = \\frac12 \\lVert a_i - y_i \\rVert^2",
                    "a batch of 5, 10 outputs", "a batch of 7, 3 outputs"),
        Requirement("for a minibatch we average over the N examples", "a batch of 5, 10 outputs", "a batch of one"),
        Requirement("the \\frac12 is there so that the derivative is simply a - y", "a batch of 5, 10 outputs"),
        Requirement("Write `quadratic_cost(A, Y)`: `(N, n_L)`, `(N, n_L)` → a Python `float`",
                    "a batch of 5, 10 outputs", "a batch of one", "a batch of 7, 3 outputs"),
        Requirement("| symbol | meaning | shape | example |", not_checked="the chapter's table of shapes; "
                    "each exercise's requirements name the shapes it is checked on"),
        Requirement("C is a single number", "a batch of 5, 10 outputs", "a batch of one"),
        Requirement("a bug left there cannot block you here", not_checked="about the course's chapter 02 versions, "
                    "not about this function"),
        Requirement("A and Y are (N, n_L)", "pure"),
    ],
)

# ---------------------------------------------------------------- numerical_gradient


def _with_x_after(fn, args):
    """Return the gradient and x as it is after the call: x must come back unchanged."""
    return fn(*args), args[1]


def _numgrad_compare(got, expected, args):
    grad, x_after = got
    x_before = args[1]
    if compare_values(x_after, x_before, rtol=0, atol=0) is not None:
        return Fail("your function changed x: after the call it differs from what was passed in. "
                    "Restore each entry after perturbing it (or perturb a copy).",
                    mistake=LEFT_X_PERTURBED)
    # Central differences with eps = 1e-6 are accurate to ~1e-9 on these smooth functions;
    # a forward difference is off by ~eps * f'' ~ 1e-6, so 1e-7 tells them apart.
    return compare_values(grad, expected[0], rtol=1e-6, atol=1e-7)


def _f_cubic(x):
    return float(np.sum(x ** 3) + np.sum(np.sin(x)) * x.flat[0])


def _f_quadratic_form(x):
    M = np.arange(1.0, 1.0 + x.size).reshape(-1, 1) * np.linspace(-1, 1, x.size)[None, :]
    v = x.ravel()
    return float(v @ M @ v + 2.0 * v.sum())


def _ng_forward(f, x, eps=1e-6):
    grad, x = np.zeros(x.shape), x.copy()
    fx = f(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        grad[i] = (f(x) - fx) / eps
        x[i] = old
    return grad


def _ng_no_restore(f, x, eps=1e-6):
    grad = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        x[i] += eps
        f_plus = f(x)
        x[i] -= 2 * eps
        grad[i] = (f_plus - f(x)) / (2 * eps)
    return grad


def _ng_one_eps(f, x, eps=1e-6):
    grad, x = np.zeros(x.shape), x.copy()
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        f_plus = f(x)
        x[i] = old - eps
        grad[i] = (f_plus - f(x)) / eps
        x[i] = old
    return grad


def _f_shaped(x):
    """Reads x by its axes: on a flattened copy, x[..., 0] is one number instead of a (2, 3)
    slice, so the gradient comes out wrong."""
    return float((x[..., 0] ** 3).sum() + (x ** 2).sum())


def _f_wiggly(x):
    """sin(10000 x) / 10000: a third derivative so large that the central difference's error,
    (10000 eps)^2 / 6 relative, is 1.7e-5 at eps = 1e-6 and 6.7e-5 at 2e-6. Rounding stays near
    1e-12, so a different eps shows while any correct arrangement of the formula agrees."""
    return float(np.sin(10000.0 * x).sum() / 10000.0)


def _ng_flat(f, x, eps=1e-6):
    grad, flat = np.zeros(x.size), np.array(x, dtype=np.float64).ravel()
    for k in range(flat.size):
        up, down = flat.copy(), flat.copy()
        up[k] += eps
        down[k] -= eps
        grad[k] = (f(up) - f(down)) / (2 * eps)
    return grad.reshape(x.shape)


LEFT_X_PERTURBED = Mistake("left x perturbed",
                           "after computing f(x + eps) and f(x - eps), set the entry back to its old value: "
                           "the caller's x (often a weight matrix) must come back unchanged.",
                           _ng_no_restore)

numerical_gradient = Exercise(
    id="03.numerical_gradient", points=2, difficulty="medium", minutes=15,
    cases=[
        Case("f(x) = sum(x^3) + x_0 * sum(sin x) on a (3, 4) matrix",
             lambda rng: (_f_cubic, rng.standard_normal((3, 4)) + 1.0),
             run=_with_x_after, why="a 2-D x: every entry, not only the first row"),
        Case("a quadratic form on a vector of 6", lambda rng: (_f_quadratic_form, rng.standard_normal(6)),
             run=_with_x_after),
        Case("one entry, eps=1e-4", lambda rng: (_f_cubic, np.array([1.5]), 1e-4), run=_with_x_after),
        Case("a (2, 3, 2) array; f reads x by its shape", lambda rng: (_f_shaped, rng.standard_normal((2, 3, 2))),
             run=_with_x_after, why="f takes an array shaped like x, not a flattened copy"),
        Case("f = sin(10000 x) / 10000: the default eps=1e-6 shows", lambda rng: (_f_wiggly, rng.random(5) * 1e-3),
             run=_with_x_after, why="the signature's eps=1e-6 is the step when none is given"),
    ],
    compare=_numgrad_compare,
    mistakes=[
        Mistake("forward difference",
                "(f(x + eps) - f(x)) / eps has an error of order eps; the central difference "
                "(f(x + eps) - f(x - eps)) / (2 eps) has one of order eps^2.",
                _ng_forward),
        LEFT_X_PERTURBED,
        Mistake("divided by eps instead of 2*eps",
                "the two points x - eps and x + eps are 2*eps apart.",
                _ng_one_eps),
        Mistake("called f on a flattened x",
                "f takes an array shaped like x: nudge an entry of (a copy of) x itself, visiting every "
                "index with np.ndindex(x.shape), rather than a flat vector.",
                _ng_flat),
    ],
    requirements=[
        Requirement("\\frac{f(x + \\epsilon e_k) - f(x - \\epsilon e_k)}{2\\epsilon}",
                    "f(x) = sum(x^3) + x_0 * sum(sin x) on a (3, 4) matrix", "a quadratic form on a vector of 6"),
        Requirement("Write `numerical_gradient(f, x, eps=1e-6)`", "one entry, eps=1e-4",
                    "f = sin(10000 x) / 10000: the default eps=1e-6 shows"),
        Requirement("`f` takes an array shaped like `x` and returns a float",
                    "a (2, 3, 2) array; f reads x by its shape"),
        Requirement("return an array shaped like `x` (any shape: use `np.ndindex(x.shape)` to visit every entry)",
                    "f(x) = sum(x^3) + x_0 * sum(sin x) on a (3, 4) matrix", "a quadratic form on a vector of 6",
                    "a (2, 3, 2) array; f reads x by its shape"),
        Requirement("Leave `x` unchanged: after nudging an entry, put its old value back (or work on a copy)",
                    "f(x) = sum(x^3) + x_0 * sum(sin x) on a (3, 4) matrix", "a quadratic form on a vector of 6",
                    "one entry, eps=1e-4"),
        Requirement("the central difference is about a *thousand* times more accurate than the one-sided one",
                    "f(x) = sum(x^3) + x_0 * sum(sin x) on a (3, 4) matrix"),
    ],
)

# ---------------------------------------------------------------- backprop


def _forward(params, X):
    As, Zs = [X], []
    for W, b in params:
        Zs.append(As[-1] @ W.T + b)
        As.append(sigmoid(Zs[-1]))
    return As, Zs


def _make_backprop(output_prime=True, hidden_prime=True, average=True, transpose=False, reverse=False):
    """The reference algorithm with one thing switched off: each mistake is one switch."""
    def backprop(params, X, Y):
        As, Zs = _forward(params, X)
        N = len(X) if average else 1
        delta = (As[-1] - Y) * (sigmoid_prime(Zs[-1]) if output_prime else 1.0)
        grads = []
        for l in range(len(params) - 1, -1, -1):
            dW = delta.T @ As[l] / N
            grads.append((dW.T if transpose else dW, delta.sum(axis=0) / N))
            if l > 0:
                delta = (delta @ params[l][0]) * (sigmoid_prime(Zs[l - 1]) if hidden_prime else 1.0)
        return grads if reverse else grads[::-1]
    return backprop


def _bp_case(sizes, n):
    return lambda rng: (random_params(rng, sizes), rng.random((n, sizes[0])), _targets(rng, n, sizes[-1]))


def _bp_compare(got, expected, args):
    """Same structure as the reference; a list in the wrong order or transposed matrices get
    a message of their own, then values within float64 rounding."""
    if isinstance(got, (list, tuple)) and len(got) == len(expected) and len(got) > 1:
        try:
            if all(g[0].shape == e[0].shape for g, e in zip(got[::-1], expected)) and \
                    any(g[0].shape != e[0].shape for g, e in zip(got, expected)):
                return Fail("the (dW, db) pairs come in the wrong order: backprop walks the layers "
                            "backwards, but the list must be ordered like params (first layer first)",
                            mistake=WRONG_LAYER_ORDER)
        except (AttributeError, TypeError, IndexError):
            pass
    # Matrix products in another order differ by ~1e-16 relative; 1e-7 leaves room for any
    # correct arrangement while a missing factor (sigma' <= 1/4, 1/N) is far outside.
    return compare_values(got, expected, rtol=1e-7, atol=1e-12)


class _RowCounter(np.ndarray):
    """An array that counts how often Python code takes out one row (X[i], `for x in X`): a loop
    over the examples does so N times, whole-minibatch code never. Deterministic, unlike timing."""
    row_reads = 0

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            _RowCounter.row_reads += 1
        return super().__getitem__(key)

    def __iter__(self):
        _RowCounter.row_reads += len(self)
        return super().__iter__()


def _plain(value):
    """Plain ndarrays again, in the same nesting: what comes back must not be a _RowCounter."""
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return np.asarray(value) if isinstance(value, np.ndarray) else value


def _count_example_reads(fn, args):
    params, X, Y = args
    _RowCounter.row_reads = 0
    grads = fn(params, X.view(_RowCounter), Y.view(_RowCounter))
    return _plain(grads), _RowCounter.row_reads


def _bp_no_example_loop(got, expected, args):
    fail = _bp_compare(got[0], expected[0], args)
    if fail:
        return fail
    if got[1] >= len(args[1]) // 2:
        return Fail(f"your code took out the rows of X or Y one at a time (a minibatch of {len(args[1])}): "
                    "work on the whole minibatch at once", mistake=A_LOOP_OVER_THE_EXAMPLES)
    return None


def _bp_per_example(params, X, Y):
    total = None
    for x, y in zip(X, Y):
        g = _make_backprop()(params, x[None, :], y[None, :])
        total = g if total is None else [(a + c, b + d) for (a, b), (c, d) in zip(total, g)]
    return [(dW / len(X), db / len(X)) for dW, db in total]


A_LOOP_OVER_THE_EXAMPLES = Mistake("a loop over the examples",
                                   "every row of X goes through the same matrix products: Z = A @ W.T + b for the "
                                   "whole minibatch, and dW = Delta.T @ A_prev / N sums over the examples for you.",
                                   _bp_per_example)

WRONG_LAYER_ORDER = Mistake("wrong layer order",
                            "you collect the gradients walking backwards from the last layer; reverse the "
                            "list (or fill it by index) so grads[l] belongs to params[l].",
                            _make_backprop(reverse=True))

backprop = Exercise(
    id="03.backprop", points=4, difficulty="hard", minutes=60, pure=True,
    cases=[
        Case("[4, 3, 2], a batch of 5", _bp_case([4, 3, 2], 5)),
        Case("a batch of one", _bp_case([4, 3, 2], 1)),
        Case("[784, 30, 10], a minibatch of 10", _bp_case([784, 30, 10], 10)),
        Case("four layers [5, 4, 3, 2], a batch of 3", _bp_case([5, 4, 3, 2], 3),
             why="the backward loop must work for any depth"),
        Case("a minibatch of 20, without a loop over the examples", _bp_case([6, 5, 3], 20),
             run=_count_example_reads, compare=_bp_no_example_loop),
    ],
    compare=_bp_compare,
    mistakes=[
        Mistake("forgot sigmoid_prime in the output layer",
                "BP1: delta^L = (a^L - y) * sigma'(z^L). Without the sigma' factor you get the "
                "gradient of a different cost (cross-entropy, chapter 04).",
                _make_backprop(output_prime=False)),
        Mistake("forgot sigmoid_prime in a hidden layer",
                "BP2: delta^l = (delta^{l+1} @ W^{l+1}) * sigma'(z^l): every layer's error is "
                "multiplied by the slope of its own sigmoid.",
                _make_backprop(hidden_prime=False)),
        Mistake("summed instead of averaged",
                "the cost is the MEAN over the minibatch, so each gradient is divided by N: "
                "dW = delta.T @ A_prev / N, db = delta.mean(axis=0).",
                _make_backprop(average=False)),
        Mistake("transposed dW",
                "dW must have W's shape (n_out, n_in): dW = delta.T @ A_prev, (n_out, N) @ (N, n_in).",
                _make_backprop(transpose=True)),
        WRONG_LAYER_ORDER,
        A_LOOP_OVER_THE_EXAMPLES,
    ],
    requirements=[
        Requirement("\\boxed{\\Delta^L = (A^L - Y) \\odot \\sigma'(Z^L)}", "[4, 3, 2], a batch of 5"),
        Requirement("\\boxed{\\Delta^l = \\bigl(\\Delta^{l+1} W^{l+1}\\bigr) \\odot \\sigma'(Z^l)}",
                    "[4, 3, 2], a batch of 5", "four layers [5, 4, 3, 2], a batch of 3"),
        Requirement("\\boxed{\\frac{\\partial C}{\\partial b^l} = \\frac1N \\sum_{i=1}^N \\Delta^l_{i,:}}",
                    "[4, 3, 2], a batch of 5", "a batch of one"),
        Requirement("\\boxed{\\frac{\\partial C}{\\partial W^l} = \\frac1N\\, \\Delta^{l\\top} A^{l-1}}",
                    "[4, 3, 2], a batch of 5", "[784, 30, 10], a minibatch of 10"),
        Requirement("The shape is your safety net: if your `dW` is `(n_{l-1}, n_l)`, you multiplied in the wrong order",
                    "[4, 3, 2], a batch of 5", "[784, 30, 10], a minibatch of 10"),
        Requirement("Write `backprop(params, X, Y)` returning a list of `(dW, db)` pairs **in the same order as "
                    "`params`** (first layer first)", "[4, 3, 2], a batch of 5", "four layers [5, 4, 3, 2], a batch of 3"),
        Requirement("the gradient of the mean quadratic cost over the minibatch", "[4, 3, 2], a batch of 5",
                    "a batch of one", "[784, 30, 10], a minibatch of 10"),
        Requirement("Work on the whole minibatch at once: loop over the layers, never over the examples",
                    "a minibatch of 20, without a loop over the examples"),
        Requirement("It must work for any number of layers", "four layers [5, 4, 3, 2], a batch of 3"),
        Requirement("print the shape of every array once", not_checked="a debugging tip"),
        Requirement("Keep every Z^l and A^l: the backward pass needs them", not_checked="how to compute it; the "
                    "gradients it gives are checked"),
        Requirement("X (N, n_0), Y (N, n_L)", "pure"),
    ],
)

# ---------------------------------------------------------------- sgd_step


def _step_and_params_after(fn, args):
    return fn(*args), args[0]


def _sgd_compare(got, expected, args):
    new, params_after = got
    if compare_values(params_after, args[0], rtol=0, atol=0) is not None:
        return Fail("your function changed the params it was given (W -= ... works in place). "
                    "Return new arrays: W - lr * dW.", mistake=UPDATED_PARAMS_IN_PLACE)
    return compare_values(new, expected[0], rtol=1e-12, atol=1e-14)  # one multiply-add per entry


def _sgd_case(sizes):
    def inputs(rng):
        params = random_params(rng, sizes)
        grads = random_params(rng, sizes)
        return params, grads, 0.5
    return inputs


def _sgd_in_place(params, grads, lr):
    for (W, b), (dW, db) in zip(params, grads):
        W -= lr * dW
        b -= lr * db
    return params


def _step_and_all_after(fn, args):
    """The new params, and both lists of arrays as the caller sees them after the call."""
    return fn(*args), args[0], args[1]


def _sgd_compare_grads(got, expected, args):
    new, params_after, grads_after = got
    if compare_values(grads_after, args[1], rtol=0, atol=0) is not None:
        return Fail("your function changed the grads it was given (dW *= lr works in place): the arrays "
                    "passed in must not change", mistake=SCALED_THE_GRADIENTS_IN_PLACE)
    return _sgd_compare((new, params_after), expected[:2], args)


def _sgd_scaled_grads(params, grads, lr):
    new = []
    for (W, b), (dW, db) in zip(params, grads):
        dW *= lr
        db *= lr
        new.append((W - dW, b - db))
    return new


def _sgd_case_lr(sizes, lr):
    def inputs(rng):
        return random_params(rng, sizes), random_params(rng, sizes), lr
    return inputs


SCALED_THE_GRADIENTS_IN_PLACE = Mistake("scaled the gradients in place",
                                        "`dW *= lr` overwrites the caller's gradient arrays; compute lr * dW as a new "
                                        "array (W - lr * dW) and leave every array passed in as it was.",
                                        _sgd_scaled_grads)

UPDATED_PARAMS_IN_PLACE = Mistake("updated params in place",
                                  "`W -= lr * dW` changes the caller's arrays; return new ones (W - lr * dW) so "
                                  "the old parameters stay available (to compare, to roll back).",
                                  _sgd_in_place)

sgd_step = Exercise(
    id="03.sgd_step", points=1, difficulty="easy", minutes=5,
    cases=[
        Case("[4, 3, 2], lr = 0.5", _sgd_case([4, 3, 2]), run=_step_and_params_after),
        Case("[784, 30, 10], lr = 0.5", _sgd_case([784, 30, 10]), run=_step_and_params_after),
        Case("[5, 4, 3, 2], lr = 0.03: grads unchanged too", _sgd_case_lr([5, 4, 3, 2], 0.03),
             run=_step_and_all_after, compare=_sgd_compare_grads,
             why="the arrays passed in, params and grads, must not change"),
    ],
    compare=_sgd_compare,
    mistakes=[
        Mistake("gradient ascent",
                "the gradient points uphill; to make the cost smaller step against it: W - lr * dW.",
                lambda p, g, lr: [(W + lr * dW, b + lr * db) for (W, b), (dW, db) in zip(p, g)]),
        UPDATED_PARAMS_IN_PLACE,
        Mistake("forgot the biases",
                "the biases learn too: b - lr * db.",
                lambda p, g, lr: [(W - lr * dW, b) for (W, b), (dW, db) in zip(p, g)]),
        SCALED_THE_GRADIENTS_IN_PLACE,
    ],
    requirements=[
        Requirement("W^l \\leftarrow W^l - \\eta \\frac{\\partial C}{\\partial W^l}, \\qquad "
                    "b^l \\leftarrow b^l - \\eta \\frac{\\partial C}{\\partial b^l}",
                    "[4, 3, 2], lr = 0.5", "[784, 30, 10], lr = 0.5"),
        Requirement("Write `sgd_step(params, grads, lr)` returning **new** parameters (a new list of new `(W, b)` pairs)",
                    "[4, 3, 2], lr = 0.5", "[5, 4, 3, 2], lr = 0.03: grads unchanged too"),
        Requirement("the arrays passed in must not change", "[4, 3, 2], lr = 0.5", "[784, 30, 10], lr = 0.5",
                    "[5, 4, 3, 2], lr = 0.03: grads unchanged too"),
        Requirement("`W -= lr * dW` overwrites `W`", "[4, 3, 2], lr = 0.5"),
    ],
)

# ---------------------------------------------------------------- train_sgd


def _easy_problem(rng, n):
    """Two well separated classes in 2-D: a [2, 8, 2] net learns them within a few epochs."""
    y = rng.integers(0, 2, n)
    X = rng.standard_normal((n, 2)) * 0.5 + np.where(y[:, None] == 1, 1.5, -1.5)
    params = random_params(rng, [2, 8, 2])
    return params, X, np.eye(2)[y]


def _train_case(n, epochs, batch_size):
    def inputs(rng):
        params, X, Y = _easy_problem(rng, n)
        return params, X, Y, epochs, batch_size, 2.0, np.random.default_rng(int(rng.integers(2 ** 31)))
    return inputs


def _train_runs(fn, args):
    """Three runs: the given generator, a copy of it in the same state, another seed; then
    the params as the caller sees them afterwards."""
    params, X, Y, epochs, batch_size, lr, rng = args
    same, other = copy.deepcopy(rng), np.random.default_rng(987654321)
    first = fn(params, X, Y, epochs, batch_size, lr, rng)
    again = fn(copy.deepcopy(params), X, Y, epochs, batch_size, lr, same)
    different = fn(copy.deepcopy(params), X, Y, epochs, batch_size, lr, other)
    return first, again, different, params


def _cost(params, X, Y):
    return 0.5 * ((feedforward(params, X) - Y) ** 2).sum() / len(X)


def _same_structure(params, params0):
    """The returned params: a (W, b) pair per layer, shaped like the ones passed in."""
    if not isinstance(params, (list, tuple)) or len(params) != len(params0):
        return Fail(f"the returned params should be a list of {len(params0)} (W, b) pairs, "
                    f"got {describe(params)}")
    for i, (pair, (W0, b0)) in enumerate(zip(params, params0)):
        shapes = [getattr(a, "shape", None) for a in pair] if isinstance(pair, (list, tuple)) else None
        if shapes != [W0.shape, b0.shape]:
            return Fail(f"layer {i} of the returned params: expected (W, b) of shapes "
                        f"{W0.shape} and {b0.shape}, got {describe(pair)}")
    return None


def _train_compare(got, expected, args):
    params0, X, Y, epochs = args[0], args[1], args[2], args[3]
    first, again, different, params_after = got
    if compare_values(params_after, params0, rtol=0, atol=0) is not None:
        return Fail("train_sgd changed the params it was given; build new ones each step "
                    "(sgd_step returns new arrays)", mistake=CHANGED_THE_CALLER_S_PARAMS)
    if not isinstance(first, (tuple, list)) or len(first) != 2:
        return Fail(f"expected a pair (params, history), got {describe(first)}")
    params, history = first
    fail = _same_structure(params, params0)
    if fail:
        return fail
    if not isinstance(history, (list, tuple, np.ndarray)) or len(history) != epochs:
        return Fail(f"history must hold one cost per epoch ({epochs}), got {describe(history)}")
    history = [float(h) for h in history]
    final = _cost(params, X, Y)
    if not np.isclose(history[-1], final, rtol=1e-6, atol=1e-12):
        return Fail(f"history[-1] = {history[-1]:.6g}, but the cost of the returned params on "
                    f"(X, Y) is {final:.6g}: after each epoch, record quadratic_cost(feedforward("
                    "params, X), Y) on the whole training set", mistake=RECORDED_A_MINIBATCH_S_COST)
    if compare_values(again, first, rtol=0, atol=0) is not None:
        return Fail("two runs with generators in the same state gave different results: shuffle "
                    "with the `rng` you are given (rng.permutation)", mistake=DID_NOT_SHUFFLE_WITH_RNG)
    if compare_values(different, first, rtol=0, atol=0) is None:
        return Fail("a generator with another seed gave exactly the same result: are the examples "
                    "shuffled each epoch with rng?", mistake=DID_NOT_SHUFFLE_WITH_RNG)
    start = _cost(params0, X, Y)
    # On this problem the reference cuts the cost by far more than half in two epochs
    # whatever the order; learning from misaligned (X, Y) pairs barely moves it.
    if not history[-1] < 0.5 * start:
        return Fail(f"the cost went from {start:.4g} to {history[-1]:.4g} on an easy problem; "
                    "expected it to fall below half", mistake=SHUFFLED_X_AND_Y_DIFFERENTLY)
    return None


def _make_train(shuffle=True, one_permutation=True, record_full_cost=True, in_place=False):
    def step(params, X, Y, lr):
        grads = _make_backprop()(params, X, Y)
        if in_place:
            for (W, b), (dW, db) in zip(params, grads):
                W -= lr * dW
                b -= lr * db
            return params
        return [(W - lr * dW, b - lr * db) for (W, b), (dW, db) in zip(params, grads)]

    def train(params, X, Y, epochs, batch_size, lr, rng):
        history = []
        for _ in range(epochs):
            if not shuffle:
                Xs, Ys = X, Y
            elif one_permutation:
                order = rng.permutation(len(X))
                Xs, Ys = X[order], Y[order]
            else:
                Xs, Ys = X[rng.permutation(len(X))], Y[rng.permutation(len(X))]
            for start in range(0, len(X), batch_size):
                params = step(params, Xs[start:start + batch_size], Ys[start:start + batch_size], lr)
                last = _cost(params, Xs[start:start + batch_size], Ys[start:start + batch_size])
            history.append(_cost(params, X, Y) if record_full_cost else last)
        return params, history
    return train


class _RecordingRng:
    """The case's np.random.Generator, passed through, writing down every permutation of
    range(N) it hands out (rng.permutation(N), rng.shuffle(index), rng.choice(N, N, replace=False)).
    Knowing the learner's own orders, the trusted side replays them with the course's steps:
    the batches, the short last one, lr and the history are then checked exactly, whatever way
    of drawing the permutation the learner chose."""

    def __init__(self, rng, n):
        self._rng, self._n, self.orders = rng, n, []

    def _note(self, value):
        a = np.asarray(value)
        if a.shape == (self._n,) and a.dtype.kind in "iu" and (np.sort(a) == np.arange(self._n)).all():
            self.orders.append(a.copy())

    def permutation(self, *args, **kwargs):
        out = self._rng.permutation(*args, **kwargs)
        self._note(out)
        return out

    def shuffle(self, x, *args, **kwargs):
        self._rng.shuffle(x, *args, **kwargs)
        self._note(x)

    def choice(self, *args, **kwargs):
        out = self._rng.choice(*args, **kwargs)
        self._note(out)
        return out

    def __getattr__(self, name):
        return getattr(self._rng, name)


def _train_recorded(fn, args):
    """One run with a recording generator: the result and the permutations it drew."""
    params, X, Y, epochs, batch_size, lr, rng = args
    recorder = _RecordingRng(rng, len(X))
    return fn(params, X, Y, epochs, batch_size, lr, recorder), recorder.orders


def _replay(params, X, Y, orders, batch_size, lr, last_batch=True):
    """The course's epochs on the learner's own orders; `last_batch=False` drops a short one."""
    history = []
    for order in orders:
        stop = len(X) if last_batch else len(X) - len(X) % batch_size
        for start in range(0, stop, batch_size):
            rows = order[start:start + batch_size]
            grads = _make_backprop()(params, X[rows], Y[rows])
            params = [(W - lr * dW, b - lr * db) for (W, b), (dW, db) in zip(params, grads)]
        history.append(_cost(params, X, Y))
    return params, history


def _train_replay_compare(got, expected, args):
    params0, X, Y, epochs, batch_size, lr = args[:6]
    result, orders = got
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        return Fail(f"expected a pair (params, history), got {describe(result)}")
    fail = _same_structure(result[0], params0)
    if fail:
        return fail
    if len(orders) != epochs:
        drew = f"{len(orders)} permutation{'' if len(orders) == 1 else 's'}"
        return Fail(f"{epochs} epochs, but your code drew {drew} of range(N) from rng: "
                    "shuffle at the start of every epoch, order = rng.permutation(len(X))",
                    mistake=SHUFFLED_ONCE if len(orders) == 1 else None)
    want = _replay(params0, X, Y, orders, batch_size, lr)
    # float64 through three epochs of small steps: another order of the same sums moves ~1e-15.
    if compare_values(list(result), list(want), rtol=1e-7, atol=1e-10) is None:
        return None
    dropped = _replay(params0, X, Y, orders, batch_size, lr, last_batch=False)
    if compare_values(list(result), list(dropped), rtol=1e-7, atol=1e-10) is None:
        return Fail(f"{len(X)} examples in minibatches of {batch_size}: the last minibatch holds "
                    f"{len(X) % batch_size}, and your epochs skip it", mistake=DROPPED_THE_SHORT_LAST_BATCH)
    return Fail("replaying your own shuffles with backprop and sgd_step gives other params or costs: each "
                "epoch, step once on every minibatch order[start:start + batch_size], for start in "
                "range(0, len(X), batch_size), with lr as given, then record the cost on all of (X, Y)"
                + (f"\n    (history: expected {[round(h, 6) for h in want[1]]}, got "
                   f"{[round(float(h), 6) for h in result[1]]})"
                   if isinstance(result[1], (list, tuple, np.ndarray)) else ""))


def _train_shuffle_once(params, X, Y, epochs, batch_size, lr, rng):
    order = rng.permutation(len(X))
    history = []
    for _ in range(epochs):
        for start in range(0, len(X), batch_size):
            batch = order[start:start + batch_size]
            grads = _make_backprop()(params, X[batch], Y[batch])
            params = [(W - lr * dW, b - lr * db) for (W, b), (dW, db) in zip(params, grads)]
        history.append(_cost(params, X, Y))
    return params, history


def _train_full_batches_only(params, X, Y, epochs, batch_size, lr, rng):
    history = []
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for start in range(0, len(X) - batch_size + 1, batch_size):
            batch = order[start:start + batch_size]
            grads = _make_backprop()(params, X[batch], Y[batch])
            params = [(W - lr * dW, b - lr * db) for (W, b), (dW, db) in zip(params, grads)]
        history.append(_cost(params, X, Y))
    return params, history


SHUFFLED_ONCE = Mistake("shuffled once, not every epoch",
                        "draw a new order = rng.permutation(len(X)) at the start of EVERY epoch: with one order "
                        "for all epochs the minibatches repeat, and the steps are no longer a fresh random sample.",
                        _train_shuffle_once)
DROPPED_THE_SHORT_LAST_BATCH = Mistake("dropped the short last batch",
                                       "range(0, len(X), batch_size) visits every example; the last minibatch may be "
                                       "shorter than batch_size, and it still gets its step.",
                                       _train_full_batches_only)

CHANGED_THE_CALLER_S_PARAMS = Mistake("changed the caller's params",
                                      "update with new arrays (sgd_step) rather than in place, so the params passed in "
                                      "stay as they were.",
                                      _make_train(in_place=True))
RECORDED_A_MINIBATCH_S_COST = Mistake("recorded a minibatch's cost",
                                      "history[e] is the cost on the whole training set after epoch e: "
                                      "quadratic_cost(feedforward(params, X), Y).",
                                      _make_train(record_full_cost=False))
DID_NOT_SHUFFLE_WITH_RNG = Mistake("did not shuffle with rng",
                                   "shuffle each epoch with the generator you are given: order = rng.permutation(len(X)). "
                                   "Then the same rng gives the same run, and another seed a different one.",
                                   _make_train(shuffle=False))
SHUFFLED_X_AND_Y_DIFFERENTLY = Mistake("shuffled X and Y differently",
                                       "draw ONE permutation per epoch and index both with it: X[order], Y[order]; two "
                                       "permutations pair each image with a random label.",
                                       _make_train(one_permutation=False))

train_sgd = Exercise(
    id="03.train_sgd", points=3, difficulty="medium", minutes=30,
    cases=[
        Case("100 points, 5 epochs, minibatches of 10", _train_case(100, 5, 10), run=_train_runs),
        Case("50 points, 3 epochs, minibatches of 8 (the last one is short)",
             _train_case(50, 3, 8), run=_train_runs),
        Case("49 points, 3 epochs, minibatches of 8 (the last holds one): replayed",
             _train_case(49, 3, 8), run=_train_recorded, compare=_train_replay_compare,
             why="your own shuffles, replayed with the course's steps, must give your params and history"),
        Case("40 points, 2 epochs, one minibatch of 64 (batch_size > N), lr = 2: replayed",
             _train_case(40, 2, 64), run=_train_recorded, compare=_train_replay_compare),
    ],
    compare=_train_compare,
    time_limit=20.0,
    mistakes=[
        DID_NOT_SHUFFLE_WITH_RNG,
        SHUFFLED_X_AND_Y_DIFFERENTLY,
        RECORDED_A_MINIBATCH_S_COST,
        CHANGED_THE_CALLER_S_PARAMS,
        SHUFFLED_ONCE,
        DROPPED_THE_SHORT_LAST_BATCH,
    ],
    requirements=[
        Requirement("shuffle: `order = rng.permutation(N)` — one permutation, applied to `X` and `Y` alike",
                    "100 points, 5 epochs, minibatches of 10", "49 points, 3 epochs, minibatches of 8 (the last holds one): replayed"),
        Requirement("one pass over all minibatches is an **epoch**",
                    "49 points, 3 epochs, minibatches of 8 (the last holds one): replayed"),
        Requirement("for each minibatch of `batch_size` consecutive indices of `order` (the last one may be shorter): "
                    "`backprop`, then `sgd_step`", "49 points, 3 epochs, minibatches of 8 (the last holds one): replayed",
                    "50 points, 3 epochs, minibatches of 8 (the last one is short)",
                    "40 points, 2 epochs, one minibatch of 64 (batch_size > N), lr = 2: replayed"),
        Requirement("record the cost **on the whole training set** after the epoch",
                    "100 points, 5 epochs, minibatches of 10", "49 points, 3 epochs, minibatches of 8 (the last holds one): replayed"),
        Requirement("Write `train_sgd(params, X, Y, epochs, batch_size, lr, rng)` → `(params, history)`, where "
                    "`history` is the list of `epochs` costs", "100 points, 5 epochs, minibatches of 10",
                    "50 points, 3 epochs, minibatches of 8 (the last one is short)",
                    "40 points, 2 epochs, one minibatch of 64 (batch_size > N), lr = 2: replayed"),
        Requirement("Shuffle only with `rng`, so the same seed reproduces the same run",
                    "100 points, 5 epochs, minibatches of 10", "50 points, 3 epochs, minibatches of 8 (the last one is short)"),
        Requirement("leave the `params` passed in unchanged", "100 points, 5 epochs, minibatches of 10"),
        Requirement("Stochastic gradient descent estimates it on a small random minibatch",
                    "49 points, 3 epochs, minibatches of 8 (the last holds one): replayed"),
    ],
)

EXERCISES = [quadratic_cost, numerical_gradient, backprop, sgd_step, train_sgd]
