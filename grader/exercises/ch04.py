"""Chapter 04, softmax, cross-entropy and PyTorch: the checks, and the mistakes they name.

The NumPy functions meet logits shifted by +1000 and scaled by x1000, where the textbook
formulas overflow or take log(0). `DigitMLP` is checked by loading the reference's state
dict with strict=True (so parameter names are part of the contract) and comparing logits.
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
from ..engine import Case, Exercise, Mistake
from ..values import TensorValue
from .common import quiet, reference, variant


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


cross_entropy = Exercise(
    id="04.cross_entropy", points=2, difficulty="medium", minutes=15, pure=True,
    cases=[
        Case("four examples, 10 classes", _ce_case(4, 10, scale=2.0)),
        Case("a batch of one", _ce_case(1, 10)),
        Case("logits + 1000", _ce_case(3, 5, shift=1000.0)),
        Case("logits x 1000, true class the least likely", _ce_case(3, 5, scale=1000.0, worst=True),
             why="its probability underflows to 0: log(0) must never be taken"),
    ],
    compare=close(rtol=1e-9, atol=1e-12),  # one log-sum-exp per row; rounding only
    mistakes=[
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
)

# ---------------------------------------------------------------- DigitMLP


def _shapes(model):
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _mlp_run(cls, args):
    """Build the learner's model, load the reference's weights with strict=True, run it.
    When the parameter names or shapes differ, report them instead of loading."""
    sizes, x = args
    reference_model = reference("DigitMLP", "04")(list(sizes))
    model = cls(list(sizes))
    if not isinstance(model, nn.Module):
        return {"parameters": {}, "logits": None, "module": False}
    got = _shapes(model)
    if got != _shapes(reference_model):
        return {"parameters": got, "logits": None, "module": True}
    model.load_state_dict(reference_model.state_dict(), strict=True)
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
)

# ---------------------------------------------------------------- manual_mlp_grads


def _mlp_grads_case(n, d, h, k):
    def inputs(rng):
        t = lambda *shape: torch.from_numpy(rng.standard_normal(shape).astype(np.float32))
        X = t(n, d)
        y = torch.from_numpy(rng.integers(0, k, n).astype(np.int64))
        return X, y, t(h, d) / np.sqrt(d), t(h) * 0.5, t(k, h) / np.sqrt(h), t(k) * 0.5
    return inputs


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


manual_mlp_grads = Exercise(
    id="04.manual_mlp_grads", points=3, difficulty="hard", minutes=40, pure=True,
    cases=[
        Case("8 examples, 6 -> 5 -> 4", _mlp_grads_case(8, 6, 5, 4)),
        Case("a batch of one", _mlp_grads_case(1, 6, 5, 4)),
        Case("16 images, 784 -> 30 -> 10", _mlp_grads_case(16, 784, 30, 10)),
    ],
    # float32: sums of up to 784 products in another order differ by ~1e-7 relative.
    compare=close(rtol=1e-4, atol=1e-6, parts=("dW1", "db1", "dW2", "db2")),
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


def _mean_loss(losses):
    return float(np.mean([l.item() for l in losses]))


def _make_train_epoch(zero_grad=True, step=True, shuffle=True, use_generator=True, summarise=_mean_loss,
                      train_mode=True):
    def train_epoch(model, X, y, optimizer, batch_size, generator):
        if train_mode:
            model.train()
        n = len(X)
        if not shuffle:
            order = torch.arange(n)
        else:
            order = torch.randperm(n, generator=generator if use_generator else None)
        losses = []
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            loss = F.cross_entropy(model(X[idx]), y[idx])
            if zero_grad:
                optimizer.zero_grad()
            loss.backward()
            if step:
                optimizer.step()
            losses.append(loss)
        return summarise(losses)
    return train_epoch


RETURNED_THE_LAST_BATCH_S_LOSS = Mistake("returned the last batch's loss",
                                         "return the mean over the whole epoch (every batch's loss averaged), not the last "
                                         "batch's loss alone.",
                                         _make_train_epoch(summarise=lambda losses: losses[-1].item()))
RETURNED_A_TENSOR = Mistake("returned a tensor",
                            "return loss.item() values (Python floats): a tensor that requires grad keeps its "
                            "whole graph alive.",
                            _make_train_epoch(summarise=lambda losses: torch.stack(losses).mean()))
FORGOT_OPTIMIZER_STEP = Mistake("forgot optimizer.step()",
                                "loss.backward() only computes gradients; optimizer.step() applies them.",
                                _make_train_epoch(step=False))
SUMMED_THE_BATCH_LOSSES = Mistake("summed the batch losses",
                                  "return the mean loss of the epoch: the batch losses' average, not their sum.",
                                  _make_train_epoch(summarise=lambda losses: float(sum(l.item() for l in losses))))
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
    ],
    mistakes=[
        RETURNED_A_TENSOR,
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
    if isinstance(acc, (int, float)) and not isinstance(acc, bool) and acc > 1:
        return Fail(f"accuracy {acc} is more than 1: return the fraction of correct predictions, "
                    "not their count", mistake=RETURNED_A_COUNT)
    return compare_values(acc, expected["accuracy"], rtol=1e-6, atol=1e-6, where="accuracy")


def _make_evaluate(eval_mode=True, no_grad=True, fraction=True):
    def evaluate(model, X, y):
        if eval_mode:
            model.eval()
        with torch.set_grad_enabled(not no_grad):
            correct = (model(X).argmax(dim=1) == y).sum().item()
        return correct / len(y) if fraction else correct
    return evaluate


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
    ],
)

EXERCISES = [softmax, cross_entropy, softmax_cross_entropy_grad, DigitMLP, manual_mlp_grads,
             train_epoch, evaluate]
