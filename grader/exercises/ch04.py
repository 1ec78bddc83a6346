"""Chapter 04, softmax, cross-entropy and PyTorch: the checks, and the mistakes they name.

The NumPy functions meet logits shifted by +1000 and scaled by x1000, where the textbook
formulas overflow or take log(0). `DigitMLP` is checked by loading the reference's state
dict with strict=True (so parameter names are part of the contract) and comparing logits; the
grading process takes those weights from the reference and hands them to the run as data.
`train_epoch` and `evaluate` are judged by properties that do not depend on how a learner
shuffles: two full-batch epochs are two plain SGD steps; with lr = 0 the epoch's mean loss is
the loss of the whole set; the same generator reproduces a run; train/eval mode and
gradient tracking are observed by a probe module.
"""
import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..compare import Fail, close, compare_values, describe
from ..engine import Case, Exercise, Mistake, Requirement, one_torch_thread
from ..values import TensorValue
from .common import adding_weights, prepared, quiet, variant


# The first torch.optim optimizer a process builds costs seconds (lazy imports inside torch);
# pay it once here, when the chapter's checks are loaded, not inside train_epoch's time limit.
torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.0)


# ---------------------------------------------------------------- softmax


def _offset_rows(rng):
    """Rows far apart: one around +1000, one around -1000. Subtracting the global max
    leaves the second row at exp(-2000) = 0 everywhere, and 0/0."""
    Z = rng.standard_normal((2, 6))
    return (Z + np.array([[1000.0], [-1000.0]]),)


softmax = Exercise(
    id="04.softmax", points=1, difficulty="easy", minutes=10, pure=True,
    cases=[
        Case("three rows of 10 logits", lambda rng: (rng.standard_normal((3, 10)) * 3,)),
        Case("a batch of one", lambda rng: (rng.standard_normal((1, 10)),)),
        Case("logits + 1000 (must not overflow)", lambda rng: (rng.standard_normal((2, 5)) + 1000,)),
        Case("one row near +1000, one near -1000", _offset_rows,
             why="the shift must be each row's own maximum"),
    ],
    # Probabilities; different correct formulas (exp(z - max) / sum, exp(z - logsumexp))
    # differ in the last bits only.
    compare=close(rtol=1e-9, atol=1e-14),
    mistakes=[
        Mistake("softmax over the wrong axis",
                "each row is one example: normalise along axis=1 (sum(axis=1, keepdims=True)).",
                lambda Z: np.exp(Z - Z.max(axis=0, keepdims=True)) / np.exp(Z - Z.max(axis=0, keepdims=True)).sum(axis=0, keepdims=True)),
        Mistake("overflow without the max shift",
                "exp(1000) is inf and inf/inf is NaN. softmax(z) = softmax(z - c) for any c: "
                "subtract each row's maximum first.",
                quiet(lambda Z: np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True))),
        Mistake("subtracted the global max, not each row's",
                "Z - Z.max() shifts every row by the same amount; a row far below the maximum "
                "underflows to all zeros (0/0). Use Z.max(axis=1, keepdims=True).",
                quiet(lambda Z: np.exp(Z - Z.max()) / np.exp(Z - Z.max()).sum(axis=1, keepdims=True))),
    ],
    requirements=[
        Requirement("the softmax turns a row of logits z `(K,)` (any real numbers) into probabilities that are "
                    "positive and sum to 1", "three rows of 10 logits", "a batch of one"),
        Requirement("For a batch, apply it to each row of Z `(N, K)` separately: the sums run along `axis=1`",
                    "three rows of 10 logits"),
        Requirement("so use c = -\\max_j z_j", "one row near +1000, one near -1000"),
        Requirement("Write `softmax(Z)`: `(N, K)` → `(N, K)`, each row a probability vector, correct for `Z + 1000`",
                    "logits + 1000 (must not overflow)", "three rows of 10 logits", "a batch of one"),
        Requirement("Row-wise softmax of logits Z (N, K)", "pure"),
    ],
)

# ---------------------------------------------------------------- cross_entropy


def _ce_case(n, k, scale=1.0, shift=0.0, worst=False):
    def inputs(rng):
        logits = rng.standard_normal((n, k)) * scale + shift
        y = logits.argmin(axis=1) if worst else rng.integers(0, k, n)
        return logits, y.astype(np.int64)
    return inputs


def _stable_softmax(Z):
    e = np.exp(Z - Z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _a_python_float(got, expected, args):
    """The loss is a single number: a float (np.float64 is one), not an array holding one."""
    if isinstance(got, (np.ndarray, TensorValue)):
        return Fail(f"expected a Python float, got {describe(got)}: the loss is one number; wrap it in "
                    "float(...)", mistake=CE_RETURNED_AN_ARRAY)
    return compare_values(got, expected, rtol=1e-9, atol=1e-12)  # one log-sum-exp per row; rounding only


CE_RETURNED_AN_ARRAY = Mistake("returned an array, not a float",
                               "keepdims=True keeps a (1, 1) array all the way to the mean; the loss is one "
                               "number, a Python float: float(...) it.",
                               lambda L, y: -(L - (L.max(1, keepdims=True) + np.log(np.exp(
                                   L - L.max(1, keepdims=True)).sum(1, keepdims=True))))[np.arange(len(y)), y]
                               .mean(keepdims=True))

cross_entropy = Exercise(
    id="04.cross_entropy", points=2, difficulty="medium", minutes=15, pure=True,
    cases=[
        Case("four examples, 10 classes", _ce_case(4, 10, scale=2.0)),
        Case("a batch of one", _ce_case(1, 10)),
        Case("logits + 1000", _ce_case(3, 5, shift=1000.0)),
        Case("logits x 1000, true class the least likely", _ce_case(3, 5, scale=1000.0, worst=True),
             why="its probability underflows to 0: log(0) must never be taken"),
    ],
    compare=_a_python_float,
    mistakes=[
        CE_RETURNED_AN_ARRAY,
        Mistake("log of a softmax that underflowed",
                "with logits x 1000 the true class's probability is exp(-3000) = 0 in float64 "
                "and log(0) = -inf. Work in log space: log softmax(z)_y = z_y - logsumexp(z).",
                quiet(lambda L, y: float(-np.log(_stable_softmax(L)[np.arange(len(y)), y]).mean()))),
        Mistake("log-sum-exp without the max shift",
                "log(sum(exp(z))) overflows at z = 1000. Use m + log(sum(exp(z - m))) with m "
                "the row's maximum.",
                quiet(lambda L, y: float((np.log(np.exp(L).sum(axis=1)) - L[np.arange(len(y)), y]).mean()))),
        Mistake("summed over the batch instead of averaging",
                "the loss is the mean over the N examples: divide by N (or use .mean()).",
                lambda L, y: float((np.log(np.exp(L - L.max(1, keepdims=True)).sum(1)) + L.max(1)
                                    - L[np.arange(len(y)), y]).sum())),
    ],
    requirements=[
        Requirement("minus the log-probability the network gives to the true class, averaged over the batch",
                    "four examples, 10 classes", "a batch of one"),
        Requirement("with logits ×1000 a probability like e^{-3000} is exactly 0 in float64 and \\log 0 = -\\infty",
                    "logits x 1000, true class the least likely"),
        Requirement("Take the log first", "logits x 1000, true class the least likely"),
        Requirement("The bracket is the log-sum-exp, computed stably with the same shift as the softmax",
                    "logits + 1000"),
        Requirement("Write `cross_entropy(logits, y)`: logits `(N, K)`, integer labels `(N,)` → a Python `float`",
                    "four examples, 10 classes", "a batch of one", "logits + 1000"),
        Requirement("Mean over the batch of -log softmax(logits)[i, y_i]", "pure"),
    ],
)

# ---------------------------------------------------------------- softmax_cross_entropy_grad


def _grad(L, y, sign=1.0, divide=True, stable=True):
    P = _stable_softmax(L) if stable else np.exp(L) / np.exp(L).sum(axis=1, keepdims=True)
    Y = np.eye(L.shape[1])[y]
    return sign * (P - Y) / (len(y) if divide else 1)


softmax_cross_entropy_grad = Exercise(
    id="04.softmax_cross_entropy_grad", points=1, difficulty="medium", minutes=10, pure=True,
    cases=[
        Case("four examples, 10 classes", _ce_case(4, 10, scale=2.0)),
        Case("a batch of one", _ce_case(1, 10)),
        Case("logits + 1000 (must be finite)", _ce_case(3, 5, shift=1000.0)),
    ],
    compare=close(rtol=1e-9, atol=1e-14),
    mistakes=[
        Mistake("forgot to divide by N",
                "the loss is a mean over N examples, so each row of its gradient carries a 1/N.",
                lambda L, y: _grad(L, y, divide=False)),
        Mistake("onehot - softmax (wrong sign)",
                "d loss / d z = softmax(z) - onehot(y): raising the true class's logit lowers the "
                "loss, so that entry of the gradient is negative.",
                lambda L, y: _grad(L, y, sign=-1.0)),
        Mistake("unstable softmax",
                "the softmax inside must subtract each row's maximum, or logits + 1000 give NaN.",
                quiet(lambda L, y: _grad(L, y, stable=False))),
    ],
    requirements=[
        Requirement("\\frac{\\partial L}{\\partial Z} = \\frac{1}{N}\\bigl(P - Y\\bigr) \\qquad (N, K)",
                    "four examples, 10 classes", "a batch of one"),
        Requirement("with P = \\mathrm{softmax}(Z) and Y the one-hot labels", "four examples, 10 classes",
                    "logits + 1000 (must be finite)"),
        Requirement("Write `softmax_cross_entropy_grad(logits, y)` → `(N, K)`", "four examples, 10 classes",
                    "a batch of one"),
        Requirement("d cross_entropy / d logits = (softmax(logits) - onehot(y)) / N, shape (N, K)",
                    "four examples, 10 classes", "pure"),
    ],
)

# ---------------------------------------------------------------- DigitMLP


def _shapes(model):
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


@prepared(adding_weights("04", "DigitMLP", lambda args: (list(args[0]),)))
def _mlp_run(cls, args):
    """Build the learner's model, load the reference's weights with strict=True, run it.
    When the parameter names or shapes differ, report them instead of loading."""
    sizes, x, weights = args
    model = cls(list(sizes))
    if not isinstance(model, nn.Module):
        return {"parameters": {}, "logits": None, "module": False}
    got = _shapes(model)
    if got != weights.contract(strict_buffers=True):     # the reference's state_dict, name -> shape
        return {"parameters": got, "logits": None, "module": True}
    model.load_state_dict(weights.state, strict=True)
    model.eval()
    with torch.no_grad():
        return {"parameters": got, "logits": model(x), "module": True}


def _mlp_compare(got, expected, args):
    if not got["module"]:
        return Fail("DigitMLP(sizes) must be an nn.Module (class DigitMLP(nn.Module), calling "
                    "super().__init__() first)")
    have, want = got["parameters"], expected["parameters"]
    if have != want:
        missing = sorted(set(want) - set(have))
        unexpected = sorted(set(have) - set(want))
        resized = sorted(k for k in set(want) & set(have) if want[k] != have[k])
        message = ("load_state_dict(reference.state_dict(), strict=True) would fail: "
                   f"missing {missing[:6]}, unexpected {unexpected[:6]}"
                   + (f", wrong shapes {[(k, have[k], want[k]) for k in resized[:4]]}" if resized else "")
                   + ". Expected parameters: " + ", ".join(f"{k} {v}" for k, v in want.items()))
        same_shapes = sorted(have.values()) == sorted(want.values())
        return Fail(message, mistake=MISNAMED_PARAMETERS if same_shapes and not resized else None)
    # float32 logits from the same weights: only the order of additions may differ.
    return compare_values(got["logits"], expected["logits"], rtol=1e-5, atol=1e-6, where="logits")


def _mlp_case(sizes, n):
    return lambda rng: (list(sizes), torch.from_numpy(rng.standard_normal((n, sizes[0])).astype(np.float32)))


class _MLP(nn.Module):
    """The reference DigitMLP; the keywords after `sizes` vary it (the defaults are the reference's)."""
    def __init__(self, sizes, named_fc=False, relu_between=True, relu_after_output=False):
        super().__init__()
        layers = [nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])]
        if named_fc:   # fc1, fc2, ... instead of layers.0, layers.1, ...
            for i, layer in enumerate(layers, start=1):
                setattr(self, f"fc{i}", layer)
        else:
            self.layers = nn.ModuleList(layers)
        self.stack, self.relu_between, self.relu_after_output = layers, relu_between, relu_after_output

    def forward(self, x):
        for i, layer in enumerate(self.stack):
            x = layer(x)
            if self.relu_after_output if i == len(self.stack) - 1 else self.relu_between:
                x = torch.relu(x)
        return x


MISNAMED_PARAMETERS = Mistake("misnamed parameters",
                              "the parameter names are part of the contract (state dicts are saved and loaded by "
                              "name): keep the Linear layers in `self.layers = nn.ModuleList([...])`, so they are "
                              "called layers.0.weight, layers.0.bias, layers.1.weight, ...",
                              variant(_MLP, named_fc=True))

DigitMLP = Exercise(
    id="04.DigitMLP", points=2, difficulty="easy", minutes=15,
    cases=[
        Case("DigitMLP([784, 30, 10]) on four images", _mlp_case([784, 30, 10], 4), run=_mlp_run),
        Case("a batch of one, sizes [5, 7, 3]", _mlp_case([5, 7, 3], 1), run=_mlp_run),
        Case("three layers [6, 8, 8, 4]", _mlp_case([6, 8, 8, 4], 3), run=_mlp_run),
    ],
    compare=_mlp_compare,
    mistakes=[
        MISNAMED_PARAMETERS,
        Mistake("ReLU after the output layer",
                "logits may be negative: apply the ReLU between layers, not after the last one.",
                variant(_MLP, relu_after_output=True)),
        Mistake("forgot the ReLU",
                "without a non-linearity between them, stacked Linear layers collapse into one "
                "linear map: apply torch.relu after every layer but the last.",
                variant(_MLP, relu_between=False)),
    ],
    requirements=[
        Requirement("Write `DigitMLP(sizes)`, an `nn.Module`", "DigitMLP([784, 30, 10]) on four images",
                    "a batch of one, sizes [5, 7, 3]", "three layers [6, 8, 8, 4]"),
        Requirement("keep one `nn.Linear` per consecutive pair of sizes in `self.layers = nn.ModuleList([...])`",
                    "DigitMLP([784, 30, 10]) on four images", "three layers [6, 8, 8, 4]"),
        Requirement("the names matter: the grader loads reference weights by name (`layers.0.weight`, "
                    "`layers.0.bias`, `layers.1.weight`, ...) with `strict=True`", "DigitMLP([784, 30, 10]) on four images"),
        Requirement("`forward(x)` applies each layer, with `torch.relu` after every layer but the last, and "
                    "returns the logits", "DigitMLP([784, 30, 10]) on four images", "three layers [6, 8, 8, 4]"),
        Requirement("forward(x (N, sizes[0])) -> logits (N, sizes[-1])", "a batch of one, sizes [5, 7, 3]"),
        Requirement("in `__init__`, call `super().__init__()`", "DigitMLP([784, 30, 10]) on four images"),
    ],
)

# ---------------------------------------------------------------- manual_mlp_grads


def _mlp_grads_case(n, d, h, k):
    def inputs(rng):
        t = lambda *shape: torch.from_numpy(rng.standard_normal(shape).astype(np.float32))
        X = t(n, d)
        y = torch.from_numpy(rng.integers(0, k, n).astype(np.int64))
        return X, y, t(h, d) / np.sqrt(d), t(h) * 0.5, t(k, h) / np.sqrt(h), t(k) * 0.5
    return inputs


def _relu_mask_ge(X, y, W1, b1, W2, b2):
    Z1 = X @ W1.T + b1
    H = torch.relu(Z1)
    D = (torch.softmax(H @ W2.T + b2, dim=1) - F.one_hot(y, W2.shape[0]).float()) / len(X)
    dZ1 = (D @ W2) * (Z1 >= 0).float()
    return dZ1.T @ X, dZ1.sum(0), D.T @ H, D.sum(0)


def _make_manual(relu_mask=True, average=True, transpose=False, onehot=True):
    def grads(X, y, W1, b1, W2, b2):
        Z1 = X @ W1.T + b1
        H = torch.relu(Z1)
        logits = H @ W2.T + b2
        D = torch.softmax(logits, dim=1)
        if onehot:
            D = D - F.one_hot(y, logits.shape[1]).to(D.dtype)
        D = D / (len(X) if average else 1)
        dH = D @ W2
        dZ1 = dH * (Z1 > 0).to(dH.dtype) if relu_mask else dH
        dW1, dW2 = dZ1.T @ X, D.T @ H
        if transpose:
            dW1, dW2 = dW1.T, dW2.T
        return dW1, dZ1.sum(0), dW2, D.sum(0)
    return grads


def _zeros_in_Z1_case(n, d, h, k):
    """X's first row is zero and b1's first three entries are zero, so Z1[0, :3] is exactly 0:
    relu'(0) is 0 by the table's [z > 0] (autograd agrees), and db1 shows a mask taken with >=."""
    def inputs(rng):
        X, y, W1, b1, W2, b2 = _mlp_grads_case(n, d, h, k)(rng)
        X[0] = 0.0
        b1[:3] = 0.0
        return X, y, W1, b1, W2, b2
    return inputs


class _AutogradSwitchedOff(RuntimeError):
    pass


AUTOGRAD_OFF = ("this case switches autograd's backward off: compute the gradients by hand, "
                "with the formulas of the table (no .backward(), no torch.autograd.grad)")


def _by_hand(fn, args):
    """Run with Tensor.backward, torch.autograd.backward and torch.autograd.grad raising; a call
    to one of them comes back as the string AUTOGRAD_OFF, so the report can say what happened."""
    def blocked(*a, **k):
        raise _AutogradSwitchedOff(AUTOGRAD_OFF)
    saved = torch.Tensor.backward, torch.autograd.backward, torch.autograd.grad
    torch.Tensor.backward, torch.autograd.backward, torch.autograd.grad = blocked, blocked, blocked
    try:
        return fn(*args)
    except _AutogradSwitchedOff:
        return AUTOGRAD_OFF
    finally:
        torch.Tensor.backward, torch.autograd.backward, torch.autograd.grad = saved


# float32: sums of up to 784 products in another order differ by ~1e-7 relative.
_GRADS_CLOSE = close(rtol=1e-4, atol=1e-6, parts=("dW1", "db1", "dW2", "db2"))


def _by_hand_compare(got, expected, args):
    if got == AUTOGRAD_OFF:
        return Fail(f"your code called autograd: {AUTOGRAD_OFF}", mistake=USED_AUTOGRAD)
    return _GRADS_CLOSE(got, expected, args)


def _autograd_grads(X, y, W1, b1, W2, b2):
    leaves = [t.detach().clone().requires_grad_() for t in (W1, b1, W2, b2)]
    w1, c1, w2, c2 = leaves
    F.cross_entropy(torch.relu(X @ w1.T + c1) @ w2.T + c2, y).backward()
    return tuple(t.grad for t in leaves)


USED_AUTOGRAD = Mistake("used autograd",
                        "the exercise is to derive the backward pass yourself: compute dlogits, then dW2, db2, dH, "
                        "dZ1, dW1, db1 with the table's formulas, without .backward().",
                        _autograd_grads)

manual_mlp_grads = Exercise(
    id="04.manual_mlp_grads", points=3, difficulty="hard", minutes=40, pure=True,
    cases=[
        Case("8 examples, 6 -> 5 -> 4", _mlp_grads_case(8, 6, 5, 4)),
        Case("a batch of one", _mlp_grads_case(1, 6, 5, 4)),
        Case("16 images, 784 -> 30 -> 10", _mlp_grads_case(16, 784, 30, 10)),
        Case("Z1 exactly 0 in places: relu'(0) = 0", _zeros_in_Z1_case(6, 5, 4, 3),
             why="the table's mask is [Z1 > 0], so an entry where Z1 == 0 passes no gradient"),
        Case("by hand: autograd's backward is switched off", _mlp_grads_case(5, 6, 5, 4), run=_by_hand,
             compare=_by_hand_compare),
    ],
    compare=_GRADS_CLOSE,
    mistakes=[
        Mistake("forgot the ReLU derivative",
                "going back through H = relu(Z1), the gradient passes only where Z1 > 0: "
                "dZ1 = dH * (Z1 > 0).",
                _make_manual(relu_mask=False)),
        Mistake("summed instead of averaged",
                "the loss is a mean over the N examples: d loss / d logits = (softmax - onehot) / N.",
                _make_manual(average=False)),
        Mistake("transposed dW",
                "each gradient has its parameter's shape: dW1 is (hidden, in) = dZ1.T @ X, "
                "dW2 is (classes, hidden) = dlogits.T @ H.",
                _make_manual(transpose=True)),
        Mistake("forgot to subtract the one-hot",
                "d loss / d logits = softmax(logits) - onehot(y), divided by N.",
                _make_manual(onehot=False)),
        Mistake("relu'(0) = 1",
                "the derivative of relu is [z > 0]: where Z1 is exactly 0 the gradient stops. "
                "(Z1 >= 0) lets it through.",
                lambda X, y, W1, b1, W2, b2: _relu_mask_ge(X, y, W1, b1, W2, b2)),
        USED_AUTOGRAD,
    ],
    requirements=[
        Requirement("Write `manual_mlp_grads(X, y, W1, b1, W2, b2)` returning `(dW1, db1, dW2, db2)` as torch tensors",
                    "8 examples, 6 -> 5 -> 4", "a batch of one", "16 images, 784 -> 30 -> 10"),
        Requirement("computed **by hand** with these formulas (no `.backward()`)",
                    "by hand: autograd's backward is switched off"),
        Requirement("BP2 with \\mathrm{relu}'(z) = [z > 0]", "Z1 exactly 0 in places: relu'(0) = 0",
                    "8 examples, 6 -> 5 -> 4"),
        Requirement("(\\mathrm{softmax}(S) - Y)/N", "8 examples, 6 -> 5 -> 4", "a batch of one"),
        Requirement("| gradient | formula | shape |", "8 examples, 6 -> 5 -> 4", "16 images, 784 -> 30 -> 10"),
        Requirement("`torch.softmax(S, dim=1)` and `F.one_hot(y, K)` are allowed", not_checked="a permission; "
                    "any correct way to the same numbers passes"),
        Requirement("with X `(N, D)`, labels y `(N,)`, W_1 `(H, D)`, b_1 `(H,)`", "pure"),
    ],
)

# ---------------------------------------------------------------- train_epoch


def _data(rng, n, d=5, k=3):
    X = torch.from_numpy(rng.standard_normal((n, d)).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, k, n).astype(np.int64))
    return X, y


def _small_model(d=5, k=3, dropout=0.0):
    layers = [nn.Linear(d, 16), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout else []) + [nn.Linear(16, k)]
    return nn.Sequential(*layers)


def _params(model):
    return [p.detach().clone() for p in model.parameters()]


def _loss_is_float(loss, where):
    if isinstance(loss, TensorValue):
        return Fail(f"{where}: train_epoch returned a tensor ({describe(loss)}); return a Python "
                    "float (loss.item()), or every epoch's graph stays alive in memory",
                    mistake=RETURNED_A_TENSOR)
    if not isinstance(loss, float):
        return Fail(f"{where}: expected a float (the epoch's mean loss), got {describe(loss)}")
    return None


def _run_full_batch(fn, args):
    """batch_size = N: each epoch is one plain SGD step, whatever the shuffle."""
    X, y = args
    model = _small_model()
    initial = _params(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    generator = torch.Generator().manual_seed(0)
    losses = [fn(model, X, y, optimizer, len(X), generator) for _ in range(2)]
    return {"losses": losses, "params": _params(model), "initial": initial}


def _compare_full_batch(got, expected, args):
    for loss in got["losses"]:
        fail = _loss_is_float(loss, "two full-batch epochs")
        if fail:
            return fail
    if compare_values(got["params"], got["initial"], rtol=0, atol=0) is None:
        return Fail("after two epochs the model's parameters have not changed: call "
                    "optimizer.step() after loss.backward()", mistake=FORGOT_OPTIMIZER_STEP)
    # float32, and the rows of the one batch may come in another order: sums differ by ~1e-7.
    return (compare_values(got["losses"], expected["losses"], rtol=1e-5, atol=1e-6, where="losses")
            or compare_values(got["params"], expected["params"], rtol=1e-5, atol=1e-6,
                              where="parameters after two full-batch epochs"))


def _run_lr_zero(fn, args):
    """With lr = 0 nothing changes, so the epoch's mean loss is the loss on all of X."""
    X, y = args
    model = _small_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    loss = fn(model, X, y, optimizer, 16, torch.Generator().manual_seed(1))
    with torch.no_grad():
        full = F.cross_entropy(model(X), y).item()
    return {"loss": loss, "full": full}


def _compare_lr_zero(got, expected, args):
    fail = _loss_is_float(got["loss"], "lr = 0")
    if fail:
        return fail
    loss, full, batches = got["loss"], got["full"], -(-len(args[0].array) // 16)
    if np.isclose(loss, full, rtol=1e-5, atol=1e-6):
        return None
    if np.isclose(loss, batches * full, rtol=1e-5, atol=1e-6):
        return Fail(f"with lr = 0 the epoch's mean loss should be the loss on the whole set, "
                    f"{full:.5g}; you returned {loss:.5g}, {batches} times that",
                    mistake=SUMMED_THE_BATCH_LOSSES)
    return Fail(f"with lr = 0 (nothing changes) the epoch's mean loss should equal the loss on "
                f"the whole set, {full:.5g}; you returned {loss:.5g}",
                mistake=RETURNED_THE_LAST_BATCH_S_LOSS)


def _run_three(fn, args):
    """Same generator seed twice, then another seed, each from the same starting model."""
    X, y = args
    start = _small_model()
    out = {}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        model = copy.deepcopy(start)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        fn(model, X, y, optimizer, 8, torch.Generator().manual_seed(seed))
        out[name] = _params(model)
    return out


def _compare_three(got, expected, args):
    if compare_values(got["b"], got["a"], rtol=0, atol=0) is not None:
        return Fail("two epochs with generators of the same seed trained different models: shuffle "
                    "with torch.randperm(len(X), generator=generator)", mistake=IGNORED_THE_GENERATOR)
    if compare_values(got["c"], got["a"], rtol=0, atol=0) is None:
        return Fail("generators with different seeds trained exactly the same model: the examples "
                    "are not shuffled", mistake=DID_NOT_SHUFFLE)
    return None


def _run_mode(fn, args):
    X, y = args
    model = _small_model(dropout=0.5)
    model.eval()                                     # as evaluate() leaves it
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    fn(model, X, y, optimizer, 8, torch.Generator().manual_seed(3))
    return {"training": model.training}


def _compare_mode(got, expected, args):
    if not got["training"]:
        return Fail("the model was in eval mode (as evaluate() leaves it) and is still in eval mode "
                    "after train_epoch: dropout stayed off during training", mistake=FORGOT_MODEL_TRAIN)
    return None


def _compare_weighted(got, expected, args):
    fail = _loss_is_float(got["loss"], "lr = 0, a short last batch")
    if fail:
        return fail
    # float32: the same losses summed in another order
    if np.isclose(got["loss"], got["full"], rtol=1e-5, atol=1e-6):
        return None
    if compare_values(got["loss"], expected["loss"], rtol=1e-5, atol=1e-6) is None:
        return None      # `expected` is the reference's, or a known mistake's when naming one
    n = len(args[0].array)
    return Fail(f"with lr = 0 (nothing changes) the epoch's mean loss should equal the loss on the whole "
                f"set, {got['full']:.5g}; you returned {got['loss']:.5g}. {n} examples in batches of 16 "
                f"end with a batch of {n % 16}: weight each batch's loss by its size, then divide by {n}")


class _BatchProbe(nn.Module):
    """Wraps a model and writes down, at every forward call that records gradients (a training
    step's), the rows of X it was given and whether the model was in training mode."""

    def __init__(self, inner, X):
        super().__init__()
        self.inner = inner
        self.rows = {X[i].numpy().tobytes(): i for i in range(len(X))}
        self.calls = []

    def forward(self, x):
        if torch.is_grad_enabled():
            found = [self.rows.get(row.detach().numpy().tobytes(), -1) for row in x.detach().cpu()]
            self.calls.append({"rows": found, "training": self.training})
        return self.inner(x)


def _optimizer(model):
    """Momentum and two parameter groups with their own learning rates: the optimizer given,
    stepped as it is, is the only way to get them right."""
    first, *rest = list(model.inner.parameters()) if hasattr(model, "inner") else list(model.parameters())
    return torch.optim.SGD([{"params": [first], "lr": 0.3}, {"params": rest}], lr=0.05, momentum=0.9)


def _run_replayable(fn, args):
    """Two epochs with the same generator and a momentum optimizer; the probe writes down each
    step's rows, so the trusted side can replay those steps and compare."""
    X, y = args
    model = _BatchProbe(_small_model(), X)
    initial = _params(model)
    optimizer = _optimizer(model)
    generator = torch.Generator().manual_seed(5)
    epochs = []
    for _ in range(2):
        model.calls = []
        loss = fn(model, X, y, optimizer, 8, generator)
        epochs.append({"loss": loss, "calls": model.calls})
    return {"epochs": epochs, "initial": initial, "params": _params(model)}


def _replay_epochs(X, y, initial, batches_per_epoch, batch_size):
    """The five lines on the given minibatches, from the given start, with the case's optimizer."""
    model = _small_model()
    with torch.no_grad():
        for p, value in zip(model.parameters(), initial):
            p.copy_(value)
    optimizer = torch.optim.SGD([{"params": [next(model.parameters())], "lr": 0.3},
                                 {"params": list(model.parameters())[1:]}], lr=0.05, momentum=0.9)
    losses = []
    for batches in batches_per_epoch:
        total = 0.0
        for rows in batches:
            idx = torch.tensor(rows)
            loss = F.cross_entropy(model(X[idx]), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(rows)
        losses.append(total / len(X))
    return losses, [p.detach().clone() for p in model.parameters()]


def _compare_replay(got, expected, args):
    X, y = (torch.from_numpy(a.array.copy()) for a in args)
    n, batch_size = len(X), 8
    sizes = [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
    orders = []
    for e, epoch in enumerate(got["epochs"], start=1):
        fail = _loss_is_float(epoch["loss"], f"epoch {e}")
        if fail:
            return fail
        calls = epoch["calls"]
        if any(not c["training"] for c in calls):
            return Fail(f"epoch {e}: the model ran its training steps in eval mode (dropout off): call "
                        "model.train() first", mistake=FORGOT_MODEL_TRAIN)
        rows = [c["rows"] for c in calls]
        if [len(r) for r in rows] != sizes:
            return Fail(f"epoch {e}: {n} examples in minibatches of {batch_size} are {len(sizes)} forward "
                        f"passes of sizes {sizes}; your model was called on {[len(r) for r in rows]}",
                        mistake=DROPPED_THE_SHORT_LAST_BATCH if [len(r) for r in rows] == sizes[:-1] else None)
        order = [i for r in rows for i in r]
        if sorted(order) != list(range(n)):
            return Fail(f"epoch {e}: the minibatches must together hold every example exactly once (X[order[start:"
                        "start + batch_size]] for start in range(0, len(X), batch_size))")
        orders.append(order)
    if orders[0] == orders[1]:
        return Fail("two epochs with the same generator visited the examples in the same order: draw the order "
                    "from the generator you are given each epoch (don't re-seed it or copy it)",
                    mistake=RESEEDED_THE_GENERATOR)
    initial = [torch.from_numpy(p.array.copy()) for p in got["initial"]]
    batches = [[[int(i) for i in r] for r in (c["rows"] for c in epoch["calls"])] for epoch in got["epochs"]]
    with one_torch_thread():       # tiny tensors: torch's thread pool would make this 10x slower
        losses, params = _replay_epochs(X, y, initial, batches, batch_size)
    # float32 through 10 momentum steps: another order of the same sums moves results by ~1e-6.
    fail = compare_values([float(ep["loss"]) for ep in got["epochs"]], losses, rtol=1e-4, atol=1e-5,
                          where="the epochs' mean losses, against your own minibatches replayed")
    if fail is None:
        fail = compare_values([p.array for p in got["params"]], [p.numpy() for p in params], rtol=1e-4, atol=1e-5,
                              where="the parameters after two epochs, against your own minibatches replayed")
    if fail is None or compare_values(got, expected, rtol=1e-4, atol=1e-5) is None:
        return None
    fail.message += (": on each minibatch, forward, F.cross_entropy, optimizer.zero_grad(), loss.backward(), "
                     "optimizer.step() with the optimizer you were given (its momentum and each parameter "
                     "group's lr), and weight each batch's loss by its size")
    return fail


def _mean_loss(losses, sizes):
    return float(np.mean([l.item() for l in losses]))


def _weighted_loss(losses, sizes):
    return float(sum(l.item() * k for l, k in zip(losses, sizes)) / sum(sizes))


def _make_train_epoch(zero_grad=True, step=True, shuffle=True, use_generator=True, summarise=_mean_loss,
                      train_mode=True, copy_generator=False, last_batch=True, own_optimizer=False):
    """A training epoch with one thing wrong. `summarise(losses, sizes)` makes the returned loss:
    `_mean_loss` averages the batch losses unweighted (what the older mistakes do), `_weighted_loss`
    is the right mean, for the mistakes about something else. zero_grad="once": once per epoch."""
    def train_epoch(model, X, y, optimizer, batch_size, generator):
        if train_mode:
            model.train()
        n = len(X)
        if not shuffle:
            order = torch.arange(n)
        elif copy_generator:
            order = torch.randperm(n, generator=torch.Generator().set_state(generator.get_state()))
        else:
            order = torch.randperm(n, generator=generator if use_generator else None)
        if own_optimizer:     # plain SGD at the first group's lr: no momentum, one lr for all
            optimizer = torch.optim.SGD(model.parameters(), lr=optimizer.param_groups[0]["lr"])
        if zero_grad == "once":
            optimizer.zero_grad()
        losses, sizes = [], []
        for start in range(0, n if last_batch else n - n % batch_size, batch_size):
            idx = order[start:start + batch_size]
            loss = F.cross_entropy(model(X[idx]), y[idx])
            if zero_grad is True:
                optimizer.zero_grad()
            loss.backward()
            if step:
                optimizer.step()
            losses.append(loss)
            sizes.append(len(idx))
        return summarise(losses, sizes)
    return train_epoch


AVERAGED_THE_BATCHES_UNWEIGHTED = Mistake("averaged the batch losses without their sizes",
                                          "a short last batch must count less: add loss.item() * len(batch) for each "
                                          "batch and divide by len(X), instead of averaging the batch losses.",
                                          _make_train_epoch(summarise=_mean_loss))
DROPPED_THE_SHORT_LAST_BATCH = Mistake("dropped the short last batch",
                                       "range(0, len(X), batch_size) visits every example: the last minibatch may be "
                                       "shorter, and it still gets its step.",
                                       _make_train_epoch(summarise=_weighted_loss, last_batch=False))
RESEEDED_THE_GENERATOR = Mistake("shuffled with a copy of the generator",
                                 "pass the generator itself to torch.randperm: drawing from it moves it on, so the next "
                                 "epoch gets a new order; a copy (or a re-seed) repeats the same order every epoch.",
                                 _make_train_epoch(summarise=_weighted_loss, copy_generator=True))
ZEROED_THE_GRADIENTS_ONCE = Mistake("zeroed the gradients once per epoch",
                                    "optimizer.zero_grad() belongs inside the loop, before every loss.backward(): "
                                    "otherwise each minibatch's gradient is added to all the earlier ones.",
                                    _make_train_epoch(summarise=_weighted_loss, zero_grad="once"))
BUILT_ITS_OWN_OPTIMIZER = Mistake("stepped with an optimizer of its own",
                                  "step the optimizer you are given: it carries its settings (momentum, a learning "
                                  "rate per parameter group) and its state from one epoch to the next.",
                                  _make_train_epoch(summarise=_weighted_loss, own_optimizer=True))


RETURNED_THE_LAST_BATCH_S_LOSS = Mistake("returned the last batch's loss",
                                         "return the mean over the whole epoch (every batch's loss averaged), not the last "
                                         "batch's loss alone.",
                                         _make_train_epoch(summarise=lambda losses, sizes: losses[-1].item()))
RETURNED_A_TENSOR = Mistake("returned a tensor",
                            "return loss.item() values (Python floats): a tensor that requires grad keeps its "
                            "whole graph alive.",
                            _make_train_epoch(summarise=lambda losses, sizes: torch.stack(losses).mean()))
FORGOT_OPTIMIZER_STEP = Mistake("forgot optimizer.step()",
                                "loss.backward() only computes gradients; optimizer.step() applies them.",
                                _make_train_epoch(step=False))
SUMMED_THE_BATCH_LOSSES = Mistake("summed the batch losses",
                                  "return the mean loss of the epoch: the batch losses' average, not their sum.",
                                  _make_train_epoch(summarise=lambda losses, sizes: float(sum(l.item() for l in losses))))
IGNORED_THE_GENERATOR = Mistake("ignored the generator",
                                "torch.randperm(n) without generator= draws from the global RNG; pass "
                                "generator=generator so a seed reproduces the run.",
                                _make_train_epoch(use_generator=False))
DID_NOT_SHUFFLE = Mistake("did not shuffle",
                          "visit the examples in a new random order each epoch: "
                          "order = torch.randperm(len(X), generator=generator).",
                          _make_train_epoch(shuffle=False))
FORGOT_MODEL_TRAIN = Mistake("forgot model.train()",
                             "start with model.train(): evaluate() switches the model to eval mode (dropout "
                             "off) and it stays there until you switch it back.",
                             _make_train_epoch(train_mode=False))

train_epoch = Exercise(
    id="04.train_epoch", points=3, difficulty="medium", minutes=25,
    cases=[
        Case("two full-batch epochs are two SGD steps", lambda rng: _data(rng, 20),
             run=_run_full_batch, compare=_compare_full_batch),
        Case("lr = 0: the mean loss is the whole set's loss", lambda rng: _data(rng, 48),
             run=_run_lr_zero, compare=_compare_lr_zero),
        Case("the same generator seed reproduces a run, another seed does not",
             lambda rng: _data(rng, 32), run=_run_three, compare=_compare_three),
        Case("a model left in eval mode is switched to train mode", lambda rng: _data(rng, 16),
             run=_run_mode, compare=_compare_mode),
        Case("lr = 0, 40 examples in batches of 16: the short last batch counts less", lambda rng: _data(rng, 40),
             run=_run_lr_zero, compare=_compare_weighted,
             why="the epoch's mean loss weights each batch by its size"),
        Case("33 examples, batches of 8, two epochs with momentum and two parameter groups: replayed",
             lambda rng: _data(rng, 33), run=_run_replayable, compare=_compare_replay,
             why="your own minibatches, replayed with the five lines, must give your parameters and losses"),
    ],
    mistakes=[
        RETURNED_A_TENSOR,
        AVERAGED_THE_BATCHES_UNWEIGHTED,   # before the older mistakes, which average unweighted too
        Mistake("forgot optimizer.zero_grad()",
                "PyTorch ADDS each backward() into .grad: call optimizer.zero_grad() before every "
                "loss.backward(), or each step uses the sum of all gradients so far.",
                _make_train_epoch(zero_grad=False)),
        FORGOT_OPTIMIZER_STEP,
        SUMMED_THE_BATCH_LOSSES,
        RETURNED_THE_LAST_BATCH_S_LOSS,
        IGNORED_THE_GENERATOR,
        DID_NOT_SHUFFLE,
        FORGOT_MODEL_TRAIN,
        DROPPED_THE_SHORT_LAST_BATCH,
        RESEEDED_THE_GENERATOR,
        ZEROED_THE_GRADIENTS_ONCE,
        BUILT_ITS_OWN_OPTIMIZER,
    ],
    requirements=[
        Requirement('put the model in training mode (`model.train()`)', 'a model left in eval mode is switched to train mode', '33 examples, batches of 8, two epochs with momentum and two parameter groups: replayed'),
        Requirement('shuffle with `torch.randperm(len(X), generator=generator)`', 'the same generator seed reproduces a run, another seed does not', '33 examples, batches of 8, two epochs with momentum and two parameter groups: replayed'),
        Requirement('run the five lines on each minibatch', 'two full-batch epochs are two SGD steps', '33 examples, batches of 8, two epochs with momentum and two parameter groups: replayed'),
        Requirement('optimizer.zero_grad()                        # .grad ACCUMULATES: clear it first', 'two full-batch epochs are two SGD steps', '33 examples, batches of 8, two epochs with momentum and two parameter groups: replayed'),
        Requirement('optimizer.step()                             # p -= lr * p.grad (for SGD)', 'two full-batch epochs are two SGD steps', '33 examples, batches of 8, two epochs with momentum and two parameter groups: replayed'),
        Requirement('Write `train_epoch(model, X, y, optimizer, batch_size, generator)`', 'two full-batch epochs are two SGD steps', '33 examples, batches of 8, two epochs with momentum and two parameter groups: replayed'),
        Requirement("return the epoch's **mean** loss as a Python float (`loss.item()`", 'two full-batch epochs are two SGD steps', "lr = 0: the mean loss is the whole set's loss"),
        Requirement('weight each batch by its size, so a short last batch counts less', 'lr = 0, 40 examples in batches of 16: the short last batch counts less', '33 examples, batches of 8, two epochs with momentum and two parameter groups: replayed'),
        Requirement("Differences around 10^{-9} are float32 rounding", not_checked="about manual_mlp_grads' proof cell above"),
        Requirement("Take a two-layer network", not_checked="manual_mlp_grads' section, above this exercise's own"),
        Requirement("| gradient | formula | shape |", not_checked="manual_mlp_grads' table, above this exercise's own section"),
        Requirement("Write `evaluate(model, X, y)`: the accuracy", not_checked="the next exercise, evaluate, checked there"),
    ],
    time_limit=20.0,   # four short trainings; generous for a busy machine
)

# ---------------------------------------------------------------- evaluate


class _Probe(nn.Module):
    """Wraps a model and writes down, at every forward call, whether it was in training mode
    and whether autograd was recording."""
    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.calls = []

    def forward(self, x):
        self.calls.append((self.training, torch.is_grad_enabled()))
        return self.inner(x)


def _run_evaluate(fn, args):
    X, y = args
    probe = _Probe(_small_model(d=X.shape[1], k=4, dropout=0.5))
    probe.train()                                    # as train_epoch leaves it
    accuracy = fn(probe, X, y)
    return {"accuracy": accuracy, "calls": [list(c) for c in probe.calls]}


def _compare_evaluate(got, expected, args):
    calls = got["calls"]
    if not calls:
        return Fail("evaluate never called the model")
    if any(training for training, _ in calls):
        return Fail("the model ran in training mode, so dropout was still dropping activations: "
                    "call model.eval() first", mistake=FORGOT_MODEL_EVAL)
    if any(grad for _, grad in calls):
        return Fail("autograd recorded the forward pass: wrap it in `with torch.no_grad():` "
                    "(evaluation needs no gradients, and recording costs memory and time)",
                    mistake=FORGOT_TORCH_NO_GRAD)
    acc = got["accuracy"]
    if isinstance(acc, TensorValue):
        return Fail(f"evaluate returned {describe(acc)}; return a Python float in [0, 1] (.item())",
                    mistake=EVAL_RETURNED_A_TENSOR)
    if isinstance(acc, (int, float)) and not isinstance(acc, bool) and acc > 1:
        return Fail(f"accuracy {acc} is more than 1: return the fraction of correct predictions, "
                    "not their count", mistake=RETURNED_A_COUNT)
    return compare_values(acc, expected["accuracy"], rtol=1e-6, atol=1e-6, where="accuracy")


def _make_evaluate(eval_mode=True, no_grad=True, fraction=True, tensor=False):
    def evaluate(model, X, y):
        if eval_mode:
            model.eval()
        with torch.set_grad_enabled(not no_grad):
            hits = model(X).argmax(dim=1) == y
        if tensor:
            return hits.float().mean()
        correct = hits.sum().item()
        return correct / len(y) if fraction else correct
    return evaluate


EVAL_RETURNED_A_TENSOR = Mistake("returned a tensor",
                                 "(predictions == y).float().mean() is a 0-d tensor; .item() turns it into the "
                                 "Python float the exercise asks for.",
                                 _make_evaluate(tensor=True))


FORGOT_MODEL_EVAL = Mistake("forgot model.eval()",
                            "in training mode dropout zeroes random activations and the accuracy comes out "
                            "random; model.eval() switches it off.",
                            _make_evaluate(eval_mode=False))
FORGOT_TORCH_NO_GRAD = Mistake("forgot torch.no_grad()",
                               "evaluation needs no gradients: `with torch.no_grad():` around the forward pass "
                               "(or decorate the function with @torch.no_grad()).",
                               _make_evaluate(no_grad=False))
RETURNED_A_COUNT = Mistake("returned a count",
                           "return the fraction of correct predictions (correct / N), a float in [0, 1].",
                           _make_evaluate(fraction=False))

evaluate = Exercise(
    id="04.evaluate", points=2, difficulty="easy", minutes=10,
    cases=[
        Case("a model with dropout, 40 examples", lambda rng: _data(rng, 40, d=6, k=4),
             run=_run_evaluate, compare=_compare_evaluate),
        Case("a batch of one", lambda rng: _data(rng, 1, d=6, k=4),
             run=_run_evaluate, compare=_compare_evaluate),
    ],
    mistakes=[
        FORGOT_MODEL_EVAL,
        FORGOT_TORCH_NO_GRAD,
        RETURNED_A_COUNT,
        EVAL_RETURNED_A_TENSOR,
    ],
    requirements=[
        Requirement("Write `evaluate(model, X, y)`: the accuracy, a float in [0, 1]", "a model with dropout, 40 examples",
                    "a batch of one"),
        Requirement("computed in **eval mode** (`model.eval()`: dropout off, as you will use the model)",
                    "a model with dropout, 40 examples"),
        Requirement("and **without recording gradients** (`with torch.no_grad():`)", "a model with dropout, 40 examples"),
        Requirement("Accuracy (a float in [0, 1]) of model on (X, y), in eval mode and without gradients",
                    "a model with dropout, 40 examples", "a batch of one"),
        Requirement("put the model in training mode (`model.train()`), shuffle with `torch.randperm(len(X), "
                    "generator=generator)`", not_checked="train_epoch's instructions, in the same section"),
        Requirement("weight each batch by its size, so a short last batch counts less", not_checked="train_epoch's"),
        Requirement("Differences around 10^{-9} are float32 rounding", not_checked="about manual_mlp_grads' proof cell"),
        Requirement("| gradient | formula | shape |", not_checked="manual_mlp_grads' table, above this exercise's section"),
    ],
)

EXERCISES = [softmax, cross_entropy, softmax_cross_entropy_grad, DigitMLP, manual_mlp_grads,
             train_epoch, evaluate]
