import numpy as np


def sigmoid(z):
    # The tanh form: sigma(z) = (1 + tanh(z/2)) / 2, never overflows.
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def sigmoid_naive(z):
    # The textbook form: overflows to 1/inf = 0 at z = -1000, which is right (with a warning).
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def sigmoid_flat(z):
    # Works on a flat copy and reshapes back: any shape comes back as it went in.
    flat = np.ravel(z)
    out = np.empty(flat.shape)
    pos = flat >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-flat[pos]))
    out[~pos] = np.exp(flat[~pos]) / (1.0 + np.exp(flat[~pos]))
    return out.reshape(np.shape(z))


def sigmoid_prime(z):
    with np.errstate(over="ignore"):
        s = 1.0 / (1.0 + np.exp(-z))
    return s - s ** 2


def init_params(sizes, rng):
    # Nielsen-style N(0, 1) biases, weights via rng.normal with a scale.
    return [(rng.normal(0.0, 1.0 / np.sqrt(n_in), size=(n_out, n_in)), rng.normal(size=n_out))
            for n_in, n_out in zip(sizes, sizes[1:])]


def feedforward(params, X):
    # Column-major thinking, transposed back at the end.
    A = X.T
    for W, b in params:
        A = 1.0 / (1.0 + np.exp(-(W @ A + b[:, None])))
    return A.T


def accuracy(params, X, y):
    A = X
    for W, b in params:
        A = 0.5 * (1.0 + np.tanh(0.5 * (np.einsum("ni,oi->no", A, W) + b)))
    return np.count_nonzero(np.argmax(A, axis=-1) == np.asarray(y)) / len(y)


ALTERNATIVES = {
    "02.sigmoid": [sigmoid, sigmoid_naive, sigmoid_flat],
    "02.sigmoid_prime": [sigmoid_prime],
    "02.init_params": [init_params],
    "02.feedforward": [feedforward],
    "02.accuracy": [accuracy],
}
