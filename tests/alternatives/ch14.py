"""Correct answers to chapter 14 written differently from the reference."""
import json
import re
from pathlib import Path

import torch
import torch.nn.functional as F

from grader.data.gpt2_weights import read_safetensors
from grader.reference import ch14 as ref
from grader.reference.ch10 import GPT, GPTConfig
from grader.reference.ch12 import KVCache, forward_cached, generate_cached


def gpt2_config(hf_config):
    """Builds the config from a renaming table, validates with one table of allowed values."""
    allowed = {"activation_function": ("gelu_new", "gelu_pytorch_tanh"),
               "n_inner": (None, 4 * hf_config["n_embd"]), "layer_norm_epsilon": (1e-5,)}
    defaults = {"activation_function": "gelu_new", "n_inner": None, "layer_norm_epsilon": 1e-5}
    for key, ok in allowed.items():
        if hf_config.get(key, defaults[key]) not in ok:
            raise ValueError(f"{key}={hf_config[key]!r} is not supported")
    names = {"block_size": "n_positions", "vocab_size": "vocab_size", "n_layer": "n_layer",
             "n_head": "n_head", "n_embd": "n_embd"}
    return GPTConfig(**{ours: hf_config[theirs] for ours, theirs in names.items()}, dropout=0.0)


CONV1D = re.compile(r"h\.\d+\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$")
MASK = re.compile(r"h\.\d+\.attn\.(bias|masked_bias)$")


def convert_gpt2_state_dict(hf_state):
    """Regular expressions on the full names, contiguous copies of the transposed weights."""
    out = {}
    for key, value in hf_state.items():
        key = key[len("transformer."):] if key.startswith("transformer.") else key
        if MASK.search(key) or key.startswith("lm_head"):
            continue
        if CONV1D.search(key):
            value = value.transpose(0, 1).contiguous()
        out[f"transformer.{key}"] = value
    return {**out, "lm_head.weight": out["transformer.wte.weight"]}


def from_pretrained(path):
    """Loads through a freshly built model's own state dict, copying tensor by tensor."""
    folder = Path(path)
    with open(folder / "config.json") as f:
        model = GPT(ref.gpt2_config(json.load(f)))
    state = ref.convert_gpt2_state_dict(read_safetensors(folder / "model.safetensors"))
    own = model.state_dict()
    assert set(own) == set(state), "names differ"
    with torch.no_grad():
        for name, tensor in own.items():
            tensor.copy_(state[name])
    model.eval()
    return model


@torch.no_grad()
def generate_text(model, tokenizer, prompt, max_new_tokens, temperature=1.0, top_k=None,
                  generator=None, stop_token=None):
    """Chapter 12's generate_cached for all the tokens, then cut at the stop token."""
    ids = tokenizer.encode(prompt)
    if len(ids) == 0:
        raise ValueError("empty prompt")
    out = generate_cached(model, torch.tensor(ids)[None], max_new_tokens, temperature, top_k,
                          generator)[0, len(ids):].tolist()
    if stop_token is not None and stop_token in out:
        out = out[:out.index(stop_token)]
    return tokenizer.decode(out)


@torch.no_grad()
def generate_text_own_loop(model, tokenizer, prompt, max_new_tokens, temperature=1.0, top_k=None,
                           generator=None, stop_token=None):
    """Its own cached loop: a list of ids, the window restarted by slicing it, top-k by torch.where."""
    ids = list(tokenizer.encode(prompt))
    if not ids:
        raise ValueError("nothing to continue")
    T, start = model.config.block_size, len(ids)
    cache, feed = KVCache(model.config.n_layer), ids[-T:]
    while len(ids) - start < max_new_tokens:
        if len(cache) + len(feed) > T:
            cache, feed = KVCache(model.config.n_layer), ids[-T:]
        logits = forward_cached(model, torch.tensor([feed]), cache)[0, -1] / temperature
        if top_k is not None:
            kth = logits.topk(min(top_k, logits.numel())).values[-1]
            logits = torch.where(logits < kth, torch.tensor(float("-inf")), logits)
        token = torch.multinomial(logits.softmax(-1)[None], 1, generator=generator).item()
        if stop_token is not None and token == stop_token:
            break
        ids.append(token)
        feed = [token]
    return tokenizer.decode(ids[start:])


@torch.no_grad()
def continuation_logprob(model, prompt_ids, continuation_ids):
    """Cross-entropy over the continuation's targets (ignore_index hides the prompt)."""
    ids = list(prompt_ids) + list(continuation_ids)
    if not prompt_ids or len(ids) > model.config.block_size:
        raise ValueError("prompt empty or too long")
    x = torch.tensor([ids[:-1]])
    y = torch.tensor([[-100] * (len(prompt_ids) - 1) + list(continuation_ids)])
    logits, _ = model(x)
    if not continuation_ids:
        return 0.0
    nll = F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1), ignore_index=-100,
                          reduction="sum")
    return -nll.item()


ALTERNATIVES = {
    "14.gpt2_config": [gpt2_config],
    "14.convert_gpt2_state_dict": [convert_gpt2_state_dict],
    "14.from_pretrained": [from_pretrained],
    "14.generate_text": [generate_text, generate_text_own_loop],
    "14.continuation_logprob": [continuation_logprob],
}
