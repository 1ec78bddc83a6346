import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def _logsumexp(Z):
    m = np.max(Z, axis=-1, keepdims=True)
    return m + np.log(np.sum(np.exp(Z - m), axis=-1, keepdims=True))


def softmax(Z):
    # exp(z - logsumexp(z)): the log-space route.
    return np.exp(Z - _logsumexp(Z))


def cross_entropy(logits, y):
    picked = np.take_along_axis(logits, np.asarray(y)[:, None], axis=1)
    return float(np.mean(_logsumexp(logits) - picked))


def softmax_cross_entropy_grad(logits, y):
    onehot = np.zeros_like(logits)
    onehot[np.arange(len(y)), y] = 1.0
    return (softmax(logits) - onehot) * (1.0 / len(y))


class DigitMLP(nn.Module):
    # A Sequential of the Linear layers only, under the same name: same state-dict keys.
    def __init__(self, sizes):
        super().__init__()
        self.layers = nn.Sequential(*[nn.Linear(a, b) for a, b in zip(sizes, sizes[1:])])

    def forward(self, x):
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = layer(x) if i == last else F.relu(layer(x))
        return x


def manual_mlp_grads(X, y, W1, b1, W2, b2):
    Z1 = torch.addmm(b1, X, W1.t())
    H = Z1.clamp(min=0)
    S = torch.addmm(b2, H, W2.t())
    P = torch.exp(S - torch.logsumexp(S, dim=1, keepdim=True))
    P[torch.arange(len(y)), y] -= 1
    dS = P / X.shape[0]
    dZ1 = torch.where(Z1 > 0, dS @ W2, torch.zeros_like(Z1))
    return torch.einsum("nh,nd->hd", dZ1, X), dZ1.sum(0), torch.einsum("nk,nh->kh", dS, H), dS.sum(0)


def train_epoch(model, X, y, optimizer, batch_size, generator):
    # Iterates over index chunks; sums losses per example, then divides.
    model.train()
    perm = torch.randperm(X.shape[0], generator=generator)
    loss_sum = 0.0
    for idx in torch.split(perm, batch_size):
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(X[idx]), y[idx], reduction="sum") / len(idx)
        loss.backward()
        optimizer.step()
        loss_sum += float(loss.detach()) * len(idx)
    return loss_sum / X.shape[0]


def cross_entropy_np_float(logits, y):
    # np.float64 is a Python float subclass: an answer need not call float() itself.
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -np.mean(log_probs[np.arange(len(y)), y])


def manual_mlp_grads_h_mask(X, y, W1, b1, W2, b2):
    # relu'(z) taken from H itself: H > 0 exactly where Z1 > 0.
    H = torch.relu(X @ W1.T + b1)
    S = H @ W2.T + b2
    dS = torch.softmax(S, dim=1)
    dS[torch.arange(len(y)), y] -= 1.0
    dS = dS / len(y)
    dZ1 = (dS @ W2) * (H > 0)
    return dZ1.T @ X, dZ1.sum(0), dS.T @ H, dS.sum(0)


def train_epoch_dataloader(model, X, y, optimizer, batch_size, generator):
    # A DataLoader shuffling with the generator: another way of drawing the order, the same steps;
    # the gradients are cleared after each step instead of before.
    from torch.utils.data import DataLoader, TensorDataset
    model.train()
    loader = DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=True, generator=generator)
    total = 0.0
    for xb, yb in loader:
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        total += loss.item() * len(xb)
    return total / len(X)


@torch.inference_mode()
def evaluate(model, X, y):
    model.train(False)
    correct = int((model(X).max(dim=1).indices == y).sum())
    return correct / len(y)


ALTERNATIVES = {
    "04.softmax": [softmax],
    "04.cross_entropy": [cross_entropy, cross_entropy_np_float],
    "04.softmax_cross_entropy_grad": [softmax_cross_entropy_grad],
    "04.DigitMLP": [DigitMLP],
    "04.manual_mlp_grads": [manual_mlp_grads, manual_mlp_grads_h_mask],
    "04.train_epoch": [train_epoch, train_epoch_dataloader],
    "04.evaluate": [evaluate],
}
