"""Correct chapter-10 answers written differently from the reference."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from grader.reference.ch09 import Block, LayerNorm


class GPT(nn.Module):
    """Positions through F.embedding, blocks through nn.Sequential-style reduce, loss by hand."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        C = config.n_embd
        self.transformer = nn.ModuleDict({
            "wte": nn.Embedding(config.vocab_size, C),
            "wpe": nn.Embedding(config.block_size, C),
            "h": nn.ModuleList(Block(C, config.n_head, config.dropout, config.bias) for _ in range(config.n_layer)),
            "ln_f": LayerNorm(C, bias=config.bias),
        })
        self.lm_head = nn.Linear(C, config.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight          # tied the other way round
        self.drop = nn.Dropout(config.dropout)
        std_proj = 0.02 / math.sqrt(2 * config.n_layer)
        with torch.no_grad():
            for name, p in self.named_parameters():
                if name.endswith("bias"):
                    if ".ln_" not in name and "ln_f" not in name:
                        p.zero_()
                elif p.dim() == 2:
                    p.normal_(0.0, std_proj if name.endswith("c_proj.weight") else 0.02)

    def forward(self, idx, targets=None):
        T = idx.size(1)
        if not T <= self.config.block_size:
            raise ValueError(f"sequence length {T} exceeds block_size {self.config.block_size}")
        x = self.drop(self.transformer.wte(idx) + F.embedding(torch.arange(T)[None], self.transformer.wpe.weight))
        for block in self.transformer.h:
            x = block(x)
        logits = self.lm_head(self.transformer.ln_f(x))
        if targets is None:
            return logits, None
        logp = logits.log_softmax(-1)
        return logits, -logp.gather(-1, targets[..., None]).mean()


def count_parameters(config):
    model_free = 0
    C = config.n_embd
    linear = lambda n_in, n_out: n_in * n_out + (n_out if config.bias else 0)
    norm = C * (2 if config.bias else 1)
    per_block = norm + linear(C, 3 * C) + linear(C, C) + norm + linear(C, 4 * C) + linear(4 * C, C)
    model_free += config.vocab_size * C + config.block_size * C + norm
    return model_free + config.n_layer * per_block


@torch.no_grad()
def generate(model, idx, max_new_tokens, temperature=1.0, top_k=None, generator=None):
    for _ in range(max_new_tokens):
        context = idx if idx.size(1) <= model.config.block_size else idx[:, idx.size(1) - model.config.block_size:]
        logits = model(context)[0][:, -1] / temperature
        if top_k is not None and top_k < logits.size(-1):
            values, indices = logits.sort(dim=-1, descending=True)
            keep = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, indices[:, :top_k], True)
            logits = torch.where(keep, logits, torch.full_like(logits, -math.inf))
        nxt = torch.multinomial(torch.exp(logits - logits.logsumexp(-1, keepdim=True)), 1, generator=generator)
        idx = torch.cat((idx, nxt), 1)
    return idx


def cosine_lr(step, max_lr, min_lr, warmup_steps, max_steps):
    if step < warmup_steps:
        return (step + 1) * (max_lr / warmup_steps)
    progress = min(1.0, (step - warmup_steps) / (max_steps - warmup_steps))
    return min_lr + (max_lr - min_lr) * (math.cos(math.pi * progress) + 1) / 2


def configure_optimizer(model, weight_decay, lr, betas=(0.9, 0.99)):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.ndim >= 2 else no_decay).append(p)
    return torch.optim.AdamW([{"params": no_decay, "weight_decay": 0.0},
                              {"params": decay, "weight_decay": weight_decay}], lr=lr, betas=betas)


def train_gpt(model, train_data, val_data, max_steps, batch_size, lr=1e-3, min_lr=1e-4,
              warmup_steps=100, weight_decay=0.1, grad_clip=1.0, eval_interval=250,
              eval_batches=20, generator=None, live=True):
    """A while loop; clipping by hand (scale all gradients by clip / norm)."""
    block = model.config.block_size
    opt = configure_optimizer(model, weight_decay, lr)
    hist = {"step": [], "train": [], "val": [], "loss": [], "grad_norm": []}

    def batch(data):
        i = torch.randint(0, len(data) - block, (batch_size,), generator=generator)
        x = torch.stack([data[j:j + block] for j in i])
        y = torch.stack([data[j + 1:j + 1 + block] for j in i])
        return x, y

    def evaluate(step):
        model.eval()
        with torch.no_grad():
            for key, data in (("train", train_data), ("val", val_data)):
                hist[key].append(sum(model(*batch(data))[1].item() for _ in range(eval_batches)) / eval_batches)
        model.train()
        hist["step"].append(step)

    step = 0
    while step < max_steps:
        if step % eval_interval == 0:
            evaluate(step)
        for g in opt.param_groups:
            g["lr"] = cosine_lr(step, lr, min_lr, warmup_steps, max_steps)
        loss = model(*batch(train_data))[1]
        opt.zero_grad()
        loss.backward()
        params = [p for p in model.parameters() if p.grad is not None]
        norm = torch.sqrt(sum((p.grad ** 2).sum() for p in params))
        if norm > grad_clip:
            for p in params:
                p.grad.mul_(grad_clip / (norm + 1e-6))
        opt.step()
        hist["loss"].append(loss.item())
        hist["grad_norm"].append(float(norm))
        step += 1
    evaluate(max_steps)
    return hist


def train_gpt_scheduler(model, train_data, val_data, max_steps, batch_size, lr=1e-3, min_lr=1e-4,
                        warmup_steps=100, weight_decay=0.1, grad_clip=1.0, eval_interval=250,
                        eval_batches=20, generator=None, live=True):
    """LambdaLR for the schedule (it sets every group), zero_grad after the step, the chapter's
    given get_batch and estimate_loss, and the evaluations after the loop's steps."""
    from grader.reference.ch10 import estimate_loss, get_batch
    opt = configure_optimizer(model, weight_decay, lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: cosine_lr(step, lr, min_lr, warmup_steps, max_steps) / lr)
    hist = {key: [] for key in ("step", "train", "val", "loss", "grad_norm")}
    splits = {"train": train_data, "val": val_data}
    model.train()
    for step in range(max_steps + 1):
        if step % eval_interval == 0 or step == max_steps:
            hist["step"].append(step)
            for key, value in estimate_loss(model, splits, batch_size, eval_batches, generator).items():
                hist[key].append(value)
        if step == max_steps:
            break
        _, loss = model(*get_batch(train_data, batch_size, model.config.block_size, generator))
        loss.backward()
        hist["grad_norm"].append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)))
        opt.step()
        opt.zero_grad(set_to_none=False)
        schedule.step()
        hist["loss"].append(float(loss.detach()))
    return hist


ALTERNATIVES = {
    "10.GPT": [GPT],
    "10.count_parameters": [count_parameters],
    "10.generate": [generate],
    "10.cosine_lr": [cosine_lr],
    "10.configure_optimizer": [configure_optimizer],
    "10.train_gpt": [train_gpt, train_gpt_scheduler],
}
