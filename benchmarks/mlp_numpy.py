"""Matrix-based minibatch backprop against a per-example loop: seconds per epoch.

    python benchmarks/mlp_numpy.py [--epochs 2] [--limit 8000]

Both train the same network, [784, 30, 10] sigmoid with the quadratic cost, with minibatches
of 10, learning rate 3.0, on the same bundled training images in the same order, starting
from the same parameters, in float64. Three implementations:

- per-example: Nielsen's network.py style. `update_mini_batch` loops over the examples of a
  minibatch, and `backprop` handles one example as a column vector (784, 1), accumulating
  the gradients in nabla arrays. Written here, faithfully, with the course's own sigmoid.
- course: the chapter 03 reference, `train_sgd` with `backprop` on the whole minibatch as one
  (10, 784) matrix (BP1-BP4 in matrix form).
- course, in place: the same mathematics with every buffer allocated once per epoch and
  updated with `out=` arguments, so the inner loop allocates nothing.

All three reach the same parameters (checked at the end, up to rounding). Timings are
medians over epochs; run it on an otherwise idle machine for stable figures.
"""
import argparse
import os
import time

# The matrices here are tiny (10 x 784 at most): BLAS threads only add synchronisation, so
# both methods run single-threaded unless you say otherwise. Set before numpy loads BLAS.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from grader import load_mnist  # noqa: E402
from grader.reference.ch01 import one_hot, to_vectors  # noqa: E402
from grader.reference.ch02 import init_params, sigmoid, sigmoid_prime  # noqa: E402
from grader.reference.ch03 import train_sgd  # noqa: E402

SIZES, BATCH, LR = [784, 30, 10], 10, 3.0


# ---------------------------------------------------------------- per example (network.py style)

def backprop_one(params, x, y):
    """Gradient of 0.5*||a - y||^2 for ONE example x (784, 1), y (10, 1), as column vectors."""
    nabla = [(np.zeros(W.shape), np.zeros(b.shape)) for W, b in params]
    activation, activations, zs = x, [x], []
    for W, b in params:
        z = W @ activation + b
        zs.append(z)
        activation = sigmoid(z)
        activations.append(activation)
    delta = (activations[-1] - y) * sigmoid_prime(zs[-1])
    nabla[-1] = (delta @ activations[-2].T, delta)
    for l in range(2, len(params) + 1):
        delta = (params[-l + 1][0].T @ delta) * sigmoid_prime(zs[-l])
        nabla[-l] = (delta @ activations[-l - 1].T, delta)
    return nabla


def update_mini_batch(params, xs, ys, lr):
    """Sum the per-example gradients over the minibatch, then one step with their mean."""
    nabla = [(np.zeros(W.shape), np.zeros(b.shape)) for W, b in params]
    for x, y in zip(xs, ys):
        delta_nabla = backprop_one(params, x, y)
        nabla = [(nw + dnw, nb + dnb) for (nw, nb), (dnw, dnb) in zip(nabla, delta_nabla)]
    m = len(xs)
    return [(W - (lr / m) * nw, b - (lr / m) * nb) for (W, b), (nw, nb) in zip(params, nabla)]


def epoch_per_example(params, X, Y, order):
    # network.py keeps each example as a column vector; the reshape is done once, up front.
    cols = [(X[i].reshape(-1, 1), Y[i].reshape(-1, 1)) for i in order]
    params = [(W, b.reshape(-1, 1)) for W, b in params]
    for start in range(0, len(cols), BATCH):
        batch = cols[start:start + BATCH]
        params = update_mini_batch(params, [c[0] for c in batch], [c[1] for c in batch], LR)
    return [(W, b.ravel()) for W, b in params]


# ---------------------------------------------------------------- matrix, in place

def epoch_in_place(params, X, Y, order):
    """Minibatch backprop as in chapter 03, with every buffer allocated once."""
    (W1, b1), (W2, b2) = [(W.copy(), b.copy()) for W, b in params]
    n = BATCH
    Z1, A1 = np.empty((n, W1.shape[0])), np.empty((n, W1.shape[0]))
    Z2, A2 = np.empty((n, W2.shape[0])), np.empty((n, W2.shape[0]))
    D1, D2 = np.empty_like(Z1), np.empty_like(Z2)
    dW1, dW2 = np.empty_like(W1), np.empty_like(W2)
    db1, db2 = np.empty_like(b1), np.empty_like(b2)
    Xs, Ys = X[order], Y[order]                     # one gather per epoch, then contiguous slices
    step = LR / n

    def sigmoid_(Z, out):                           # 1/(1+exp(-z)); z stays small in this net
        np.negative(Z, out=out); np.exp(out, out=out); out += 1.0; np.reciprocal(out, out=out)

    for start in range(0, len(Xs) - n + 1, n):
        x, y = Xs[start:start + n], Ys[start:start + n]
        np.matmul(x, W1.T, out=Z1); Z1 += b1; sigmoid_(Z1, A1)
        np.matmul(A1, W2.T, out=Z2); Z2 += b2; sigmoid_(Z2, A2)
        # BP1: delta2 = (a - y) * a * (1 - a), with sigma'(z) = a (1 - a)
        np.subtract(A2, y, out=D2); D2 *= A2; np.subtract(1.0, A2, out=Z2); D2 *= Z2
        # BP2: delta1 = (delta2 @ W2) * a1 (1 - a1)
        np.matmul(D2, W2, out=D1); D1 *= A1; np.subtract(1.0, A1, out=Z1); D1 *= Z1
        # BP3/BP4 and the SGD step. lr / n scales the small deltas (N x 30), not the big
        # gradients (30 x 784): the same numbers, one pass over W1 fewer.
        D2 *= step; D1 *= step
        np.matmul(D2.T, A1, out=dW2); W2 -= dW2
        np.sum(D2, axis=0, out=db2); b2 -= db2
        np.matmul(D1.T, x, out=dW1); W1 -= dW1
        np.sum(D1, axis=0, out=db1); b1 -= db1
    return [(W1, b1), (W2, b2)]


# ---------------------------------------------------------------- the course's train_sgd

class FixedOrder:
    """Stands in for the rng of `train_sgd`: hands out the epoch's order we chose."""
    def __init__(self, order):
        self.order = order

    def permutation(self, n):
        return self.order.copy()


def epoch_course(params, X, Y, order):
    return train_sgd(params, X, Y, 1, BATCH, LR, FixedOrder(order))[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=8000, help="training images per epoch")
    args = parser.parse_args()
    images, labels = load_mnist("train")
    X, Y = to_vectors(images)[:args.limit], one_hot(labels)[:args.limit]
    start_params = init_params(SIZES, np.random.default_rng(0))
    orders = [np.random.default_rng(1 + e).permutation(len(X)) for e in range(args.epochs)]
    results = {}
    for name, epoch in [("per-example loop (network.py style)", epoch_per_example),
                        ("course backprop, matrix per minibatch", epoch_course),
                        ("course backprop, matrix, in place", epoch_in_place)]:
        params, times = start_params, []
        for order in orders:
            t = time.perf_counter()
            params = epoch(params, X, Y, order)
            times.append(time.perf_counter() - t)
        results[name] = (float(np.median(times)), params)
    base = results["per-example loop (network.py style)"]
    print(f"[784, 30, 10], minibatch {BATCH}, {len(X)} images, float64, median of {args.epochs} epochs, "
          f"BLAS threads: {os.environ['OPENBLAS_NUM_THREADS']}, load average {os.getloadavg()[0]:.1f}")
    for name, (seconds, params) in results.items():
        agree = max(np.abs(W - Wb).max() for (W, _), (Wb, _) in zip(params, base[1]))
        print(f"{name:<40} {seconds:7.3f} s/epoch   {base[0] / seconds:5.1f}x   "
              f"(max |W - W_loop| = {agree:.1e})")


if __name__ == "__main__":
    main()
