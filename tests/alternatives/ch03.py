import numpy as np


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def quadratic_cost(A, Y):
    return 0.5 * np.mean(np.sum((A - Y) ** 2, axis=1))


def numerical_gradient(f, x, eps=1e-6):
    # Restores each entry in place instead of copying; iterates over the flat view.
    grad = np.empty(x.shape)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for k in range(flat.size):
        saved = flat[k]
        flat[k] = saved + eps
        up = f(x)
        flat[k] = saved - eps
        down = f(x)
        flat[k] = saved
        gflat[k] = (up - down) / (2.0 * eps)
    return grad


def backprop(params, X, Y):
    # Recursive: the gradient of layer l needs the error coming back from layer l+1.
    def go(l, A_prev):
        W, b = params[l]
        Z = np.einsum("ni,oi->no", A_prev, W) + b
        A = _sigmoid(Z)
        if l == len(params) - 1:
            err = (A - Y)
            rest = []
        else:
            err, rest = go(l + 1, A)
        delta = err * A * (1.0 - A)          # sigma'(z) = a (1 - a)
        grad = (np.einsum("no,ni->oi", delta, A_prev) / len(X), delta.sum(axis=0) / len(X))
        return delta @ W, [grad] + rest
    return go(0, X)[1]


def sgd_step(params, grads, lr):
    new = []
    for (W, b), (dW, db) in zip(params, grads):
        W2, b2 = W.copy(), b.copy()
        W2 -= lr * dW
        b2 -= lr * db
        new.append((W2, b2))
    return new


def train_sgd(params, X, Y, epochs, batch_size, lr, rng):
    # Shuffles copies with rng.shuffle on an index array, costs kept as numpy floats.
    params = [(W.copy(), b.copy()) for W, b in params]
    idx = np.arange(len(X))
    history = np.zeros(epochs)
    for e in range(epochs):
        rng.shuffle(idx)
        Xs, Ys = X[idx], Y[idx]
        for i in range(0, len(X), batch_size):
            params = sgd_step(params, backprop(params, Xs[i:i + batch_size], Ys[i:i + batch_size]), lr)
        A = X
        for W, b in params:
            A = _sigmoid(A @ W.T + b)
        history[e] = quadratic_cost(A, Y)
    return params, list(history)


def train_sgd_choice(params, X, Y, epochs, batch_size, lr, rng):
    # A permutation drawn with rng.choice, minibatches cut with np.split.
    history, N = [], len(X)
    for _ in range(epochs):
        order = rng.choice(N, size=N, replace=False)
        for batch in np.split(order, np.arange(batch_size, N, batch_size)):
            params = sgd_step(params, backprop(params, X[batch], Y[batch]), lr)
        A = X
        for W, b in params:
            A = _sigmoid(A @ W.T + b)
        history.append(quadratic_cost(A, Y))
    return params, history


ALTERNATIVES = {
    "03.quadratic_cost": [quadratic_cost],
    "03.numerical_gradient": [numerical_gradient],
    "03.backprop": [backprop],
    "03.sgd_step": [sgd_step],
    "03.train_sgd": [train_sgd, train_sgd_choice],
}
