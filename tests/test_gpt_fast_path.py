"""The fast attention path computes what the teaching path computes.

The reference `MultiHeadAttention`, `LayerNorm` and `FeedForward` (chapter 09) have two paths:
the explicit lines learners write (scores, causal mask, softmax, weighted sum; mean, biased
variance, eps inside the root; the tanh GELU formula) and torch's fused kernels
(`F.scaled_dot_product_attention(..., is_causal=True)`, `F.layer_norm`,
`F.gelu(approximate="tanh")`), which chapter 10 and benchmarks/gpt_cpu.py train with. These tests prove the two agree on outputs and gradients,
so what is timed and trained is exactly what is taught.
"""
import pytest
import torch

from grader.reference.ch09 import FeedForward, LayerNorm, MultiHeadAttention
from grader.reference.ch10 import GPT, GPTConfig


def set_fast(model, fast):
    """Switch every module with a fast path (attention, LayerNorm, MLP) to one path."""
    for m in model.modules():
        if hasattr(m, "fast"):
            m.fast = fast
    return model


@pytest.mark.parametrize("module", [LayerNorm(48), LayerNorm(48, eps=0.1, bias=False), FeedForward(48)],
                         ids=["LayerNorm", "LayerNorm eps=0.1 no bias", "FeedForward"])
def test_layer_norm_and_mlp_paths_agree(module):
    """F.layer_norm and F.gelu(approximate='tanh') against the formulas learners write."""
    torch.manual_seed(0)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.3 * torch.randn_like(p))
    x = 5 * torch.randn(2, 9, 48) + 3
    slow = set_fast(module, False)(x)
    fast = set_fast(module, True)(x)
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("T", [1, 7, 64])
def test_attention_paths_agree(T):
    """Same weights, same input: outputs and input gradients match to float32 rounding."""
    torch.manual_seed(0)
    mha = MultiHeadAttention(32, 4).eval()
    x = torch.randn(3, T, 32, requires_grad=True)
    outs, grads = [], []
    for fast in (False, True):
        mha.fast = fast
        out = mha(x)
        (g,) = torch.autograd.grad(out.pow(2).sum(), x)
        outs.append(out.detach()), grads.append(g)
    torch.testing.assert_close(outs[1], outs[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-4, atol=1e-5)


def test_gpt_paths_agree_on_loss_and_every_gradient():
    """A whole GPT: the loss and the gradient of every parameter are the same on both paths."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(block_size=16, vocab_size=20, n_layer=2, n_head=4, n_embd=32, bias=False))
    idx = torch.randint(20, (4, 16))
    targets = torch.randint(20, (4, 16))
    results = []
    for fast in (False, True):
        set_fast(model, fast).zero_grad()
        _, loss = model(idx, targets)
        loss.backward()
        results.append((loss.item(), {n: p.grad.clone() for n, p in model.named_parameters()}))
    (slow_loss, slow_grads), (fast_loss, fast_grads) = results
    assert fast_loss == pytest.approx(slow_loss, rel=1e-6)
    for name in slow_grads:
        torch.testing.assert_close(fast_grads[name], slow_grads[name], rtol=1e-4, atol=1e-6, msg=name)


def test_fast_path_is_causal():
    """The fused kernel with is_causal=True: changing token 5 leaves positions 0-4 unchanged."""
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 2).eval()
    x = torch.randn(1, 8, 16)
    x2 = x.clone()
    x2[0, 5] += 10.0
    with torch.no_grad():
        a, b = mha(x), mha(x2)
    assert mha.fast
    torch.testing.assert_close(a[0, :5], b[0, :5], rtol=0, atol=0)
    assert not torch.allclose(a[0, 5:], b[0, 5:])
