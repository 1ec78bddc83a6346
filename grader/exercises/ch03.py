"""Chapter 03, backpropagation: the checks, and the mistakes they recognise by name.

`backprop` is compared with the reference on small seeded networks of several depths (the
mistakes learners make, e.g. a missing sigma', change the numbers far beyond rounding).
`train_sgd` shuffles with a random generator, so it is judged by properties: the history's
length and meaning, a falling cost on an easy problem, reproducibility with the same
generator, a different run with another, and the caller's parameters left untouched.
"""
import copy

import numpy as np

from ..compare import Fail, close, compare_values, describe
from ..engine import Case, Exercise, Mistake
from ..reference.ch02 import feedforward, sigmoid, sigmoid_prime
from .common import random_params


def _targets(rng, n, k):
    return np.eye(k)[rng.integers(0, k, n)]


# ---------------------------------------------------------------- quadratic_cost


def _cost_case(n, k):
    return lambda rng: (rng.random((n, k)), _targets(rng, n, k))


quadratic_cost = Exercise(
    id="03.quadratic_cost", points=1, difficulty="easy", minutes=5, pure=True,
    cases=[
        Case("a batch of 5, 10 outputs", _cost_case(5, 10)),
        Case("a batch of one", _cost_case(1, 10)),
        Case("a batch of 7, 3 outputs", _cost_case(7, 3)),
    ],
    compare=close(rtol=1e-10, atol=1e-12),  # one sum; only its order may differ
    mistakes=[
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


UPDATED_PARAMS_IN_PLACE = Mistake("updated params in place",
                                  "`W -= lr * dW` changes the caller's arrays; return new ones (W - lr * dW) so "
                                  "the old parameters stay available (to compare, to roll back).",
                                  _sgd_in_place)

sgd_step = Exercise(
    id="03.sgd_step", points=1, difficulty="easy", minutes=5,
    cases=[
        Case("[4, 3, 2], lr = 0.5", _sgd_case([4, 3, 2]), run=_step_and_params_after),
        Case("[784, 30, 10], lr = 0.5", _sgd_case([784, 30, 10]), run=_step_and_params_after),
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
    ],
    compare=_train_compare,
    time_limit=20.0,
    mistakes=[
        DID_NOT_SHUFFLE_WITH_RNG,
        SHUFFLED_X_AND_Y_DIFFERENTLY,
        RECORDED_A_MINIBATCH_S_COST,
        CHANGED_THE_CALLER_S_PARAMS,
    ],
)

EXERCISES = [quadratic_cost, numerical_gradient, backprop, sgd_step, train_sgd]
