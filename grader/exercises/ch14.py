"""Chapter 14, GPT-2 in your own model: the checks, and the mistakes they name.

The exercises and their contracts (chapter 10's GPT and GPTConfig, chapter 12's KV cache):

    gpt2_config(hf_config: dict) -> GPTConfig
        block_size = n_positions, vocab_size, n_layer, n_head, n_embd as in config.json;
        dropout = 0.0 (we load for inference), bias = True; ValueError for a model the course's
        GPT computes differently: activation_function other than "gelu_new"/"gelu_pytorch_tanh",
        n_inner other than None or 4 * n_embd, layer_norm_epsilon other than 1e-5
    convert_gpt2_state_dict(hf_state: dict[str, Tensor]) -> dict[str, Tensor]
        exactly the keys of GPT(config).state_dict(): "transformer." added where missing; the
        Conv1D weights (attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj) transposed to nn.Linear's
        (n_out, n_in); the buffers attn.bias / attn.masked_bias dropped; lm_head.weight = wte
        (tied; any lm_head.weight in the file is not used)
    from_pretrained(path) -> GPT
        reads path/config.json and path/model.safetensors; lm_head still tied to wte (one
        parameter, counted once); eval mode
    generate_text(model, tokenizer, prompt, max_new_tokens, temperature=1.0, top_k=None,
                  generator=None, stop_token=None) -> str
        the decoded continuation only: chapter 10's generate's tokens after the prompt, up to
        (without) the first stop_token; with a KV cache (each position embedded about once);
        ValueError for an empty prompt
    continuation_logprob(model, prompt_ids, continuation_ids) -> float
        sum over the continuation of log p(token | all tokens before it), in nats, one forward
        pass; ValueError for an empty prompt or more than block_size tokens

Checks need no real weights: checkpoints are tiny random GPT-2s in Hugging Face's layouts,
written to a temporary folder (grader.data.gpt2), and models are tiny course GPTs.
"""
import atexit
import dataclasses
import shutil
import tempfile
from pathlib import Path

import torch

from ..compare import Fail, close, compare_values
from ..data.gpt2_weights import make_tiny_gpt2, read_safetensors, tiny_gpt2_tensors, write_safetensors
from ..engine import Case, Exercise, Mistake, Requirement
from ..reference.ch10 import GPT, GPTConfig
from .common import lazy_reference, positions_embedded

# Chapter 14's reference, imported at first use: only the known mistakes use it, on the grading
# side. The case runs and comparators execute beside learner code, where it is withheld.
ref = lazy_reference("14")

# A toy GPT-2: small enough that every case runs in milliseconds.
TOY = {"vocab_size": 37, "n_positions": 16, "n_ctx": 16, "n_embd": 16, "n_head": 2, "n_layer": 2}
REAL_GPT2 = {  # the values of the real gpt2 config.json that matter here
    "activation_function": "gelu_new", "attn_pdrop": 0.1, "embd_pdrop": 0.1, "resid_pdrop": 0.1,
    "layer_norm_epsilon": 1e-05, "n_ctx": 1024, "n_embd": 768, "n_head": 12, "n_layer": 12,
    "n_positions": 1024, "vocab_size": 50257, "model_type": "gpt2", "bos_token_id": 50256,
    "eos_token_id": 50256,
}


def raised(fn, *args):
    """fn(*args), or the name of the ValueError it raised: an error some cases ask for."""
    try:
        return fn(*args)
    except ValueError:
        return "raised ValueError"


# ---------------------------------------------------------------- gpt2_config


def _run_config(fn, args):
    out = raised(fn, *args)
    if dataclasses.is_dataclass(out) and not isinstance(out, type):
        return {f.name: getattr(out, f.name) for f in dataclasses.fields(GPTConfig)}
    return out if isinstance(out, str) else f"returned a {type(out).__name__}, not a GPTConfig"


def _config_matches(got, expected, args):
    if isinstance(expected, str):          # the case asks for a ValueError
        if got == expected:
            return None
        return Fail(f"this config.json describes a model the course's GPT computes differently "
                    f"({_odd_setting(args[0])}): raise ValueError rather than load it into a model "
                    "that would give wrong logits without a word",
                    mistake=ACCEPTED_A_MODEL_THE_COURSE_S_GPT_COMPUTES_DIFFERENTLY)
    if isinstance(got, str):
        return Fail(got if got.startswith("returned") else
                    "raised ValueError on a config the course's GPT can load")
    fail = compare_values(got, expected, check_dtype=False)
    if fail:
        fail.message = "GPTConfig fields: " + fail.message
    return fail


def _odd_setting(c):
    if c.get("activation_function") not in ("gelu_new", "gelu_pytorch_tanh"):
        return f"activation_function={c.get('activation_function')!r}"
    if c.get("n_inner") not in (None, 4 * c["n_embd"]):
        return f"n_inner={c['n_inner']}, not 4 * n_embd"
    return f"layer_norm_epsilon={c.get('layer_norm_epsilon')}"


def _config_variant(block_size=True, dropout=False, pad_vocab=False, validate=True, strict=False):
    def gpt2_config(hf_config):
        if validate:
            ref.gpt2_config(hf_config)   # raises like the reference
        if strict and (hf_config.get("activation_function") != "gelu_new" or "n_inner" in hf_config
                       and hf_config["n_inner"] != 4 * hf_config["n_embd"]):
            raise ValueError("only gelu_new and n_inner = 4 * n_embd")
        V = hf_config["vocab_size"]
        return GPTConfig(block_size=hf_config["n_positions"] if block_size else GPTConfig.block_size,
                         vocab_size=(V + 63) // 64 * 64 if pad_vocab else V,
                         n_layer=hf_config["n_layer"], n_head=hf_config["n_head"],
                         n_embd=hf_config["n_embd"],
                         dropout=hf_config.get("resid_pdrop", 0.1) if dropout else 0.0, bias=True)
    return gpt2_config


ACCEPTED_A_MODEL_THE_COURSE_S_GPT_COMPUTES_DIFFERENTLY = Mistake("accepted a model the course's GPT computes differently",
                                                                 "check activation_function (the tanh GELU is 'gelu_new'), n_inner (None means "
                                                                 "4 * n_embd) and layer_norm_epsilon (1e-5), and raise ValueError otherwise.",
                                                                 _config_variant(validate=False))

gpt2_config = Exercise(
    id="14.gpt2_config", points=1, difficulty="easy", minutes=10,
    compare=_config_matches,
    cases=[
        Case("the real gpt2 (124M) config.json", lambda rng: (dict(REAL_GPT2),), run=_run_config),
        Case("a GPT-2 medium-sized config (24 layers, 1024 wide, 16 heads)",
             lambda rng: (dict(REAL_GPT2, n_layer=24, n_embd=1024, n_head=16),), run=_run_config),
        Case("the tiny checkpoint's config (n_inner given as 4 * n_embd)",
             lambda rng: (dict(REAL_GPT2, **TOY, n_inner=64),), run=_run_config),
        Case("activation_function 'relu': must raise ValueError",
             lambda rng: (dict(REAL_GPT2, activation_function="relu"),), run=_run_config),
        Case("n_inner = 2 * n_embd: must raise ValueError",
             lambda rng: (dict(REAL_GPT2, n_inner=1536),), run=_run_config),
        Case("layer_norm_epsilon = 1e-6: must raise ValueError",
             lambda rng: (dict(REAL_GPT2, layer_norm_epsilon=1e-6),), run=_run_config),
        Case("activation_function 'gelu_pytorch_tanh', the alias: loads",
             lambda rng: (dict(REAL_GPT2, activation_function="gelu_pytorch_tanh"),), run=_run_config),
        Case("n_inner given as None: loads (None means 4 * n_embd)",
             lambda rng: (dict(REAL_GPT2, n_inner=None),), run=_run_config),
    ],
    mistakes=[
        Mistake("block_size left at its default",
                "GPT-2's context length is n_positions (1024): set block_size=n_positions, or wpe "
                "gets GPTConfig's default 64 rows and the checkpoint's (1024, 768) table does not fit.",
                _config_variant(block_size=False)),
        Mistake("dropout taken from the checkpoint",
                "resid_pdrop/attn_pdrop (0.1) are training settings; we load the model to use it, "
                "so dropout=0.0 (fine-tuning would set its own).",
                _config_variant(dropout=True)),
        Mistake("vocabulary padded to a multiple of 64",
                "nanoGPT pads vocab_size to 50304 for speed when it trains from scratch; the "
                "checkpoint's wte has exactly vocab_size = 50257 rows, so use that.",
                _config_variant(pad_vocab=True)),
        ACCEPTED_A_MODEL_THE_COURSE_S_GPT_COMPUTES_DIFFERENTLY,
        Mistake("rejected a config the course's GPT can load",
                "'gelu_pytorch_tanh' is another name of the same tanh GELU, and n_inner = None means "
                "4 * n_embd: accept both (hf_config.get('n_inner') in (None, 4 * n_embd)).",
                _config_variant(strict=True)),
    ],
    requirements=[
        Requirement("Map `config.json` (a dict) to a `GPTConfig`", "the real gpt2 (124M) config.json"),
        Requirement("`block_size` | `n_positions`", "the real gpt2 (124M) config.json",
                    "the tiny checkpoint's config (n_inner given as 4 * n_embd)"),
        Requirement("`vocab_size`, `n_layer`, `n_head`, `n_embd` | the same names",
                    "a GPT-2 medium-sized config (24 layers, 1024 wide, 16 heads)",
                    "the tiny checkpoint's config (n_inner given as 4 * n_embd)"),
        Requirement("`dropout` | `0.0`", "the real gpt2 (124M) config.json"),
        Requirement("`bias` | `True`", "the real gpt2 (124M) config.json"),
        Requirement("**raise `ValueError`** when `activation_function` is not `\"gelu_new\"` (or its alias "
                    "`\"gelu_pytorch_tanh\"`)", "activation_function 'relu': must raise ValueError",
                    "activation_function 'gelu_pytorch_tanh', the alias: loads"),
        Requirement("when `n_inner` is neither missing/`None` nor `4 * n_embd`", "n_inner = 2 * n_embd: must raise ValueError",
                    "n_inner given as None: loads (None means 4 * n_embd)", "the real gpt2 (124M) config.json",
                    "the tiny checkpoint's config (n_inner given as 4 * n_embd)"),
        Requirement("or when `layer_norm_epsilon` is not `1e-5`", "layer_norm_epsilon = 1e-6: must raise ValueError"),
        Requirement("def gpt2_config(hf_config):", "the real gpt2 (124M) config.json"),
        Requirement("falls back to the tiny random one when it cannot",
                    not_checked="describes gpt2_checkpoint, a helper the course gives"),
        Requirement('`{name: {"dtype", "shape", "data_offsets"}}`',
                    not_checked="describes the safetensors header that the given read_safetensors reads"),
    ],
)

# ---------------------------------------------------------------- convert_gpt2_state_dict


def hf_layout(tensors, prefix=False, mask_buffers=True, masked_bias=False, lm_head=False):
    """The same tensors in one of the layouts Hugging Face GPT-2 checkpoints come in."""
    out = {}
    for name, t in tensors.items():
        if name.endswith("attn.bias") and t.dim() == 4 and not mask_buffers:
            continue
        out[("transformer." if prefix else "") + name] = t
        if masked_bias and name.endswith("attn.bias") and t.dim() == 4:
            out[("transformer." if prefix else "") + name.replace("attn.bias", "attn.masked_bias")] = \
                torch.tensor(-1e4)
    if lm_head:
        out["lm_head.weight"] = tensors["wte.weight"].clone()
    return out


LAYOUTS = {
    "the real gpt2 file's layout: no prefix, attn.bias mask buffers, no lm_head.weight": {},
    "save_pretrained's layout: 'transformer.' prefix, lm_head.weight, no buffers":
        dict(prefix=True, mask_buffers=False, lm_head=True),
    "an older layout: prefix, attn.bias and attn.masked_bias buffers":
        dict(prefix=True, masked_bias=True),
}


def _toy_tensors(rng, **config):
    return tiny_gpt2_tensors(dict(TOY, **config), seed=int(rng.integers(1 << 31)))


def _convert_inputs(layout, **config):
    return lambda rng: (hf_layout(_toy_tensors(rng, **config), **LAYOUTS[layout]),)


def _convert_inputs_other_head(rng):
    """save_pretrained's layout, but its lm_head.weight is not wte's values: only wte may be used."""
    state = hf_layout(_toy_tensors(rng), **LAYOUTS["save_pretrained's layout: 'transformer.' prefix, lm_head.weight, no buffers"])
    state["lm_head.weight"] = state["lm_head.weight"] + 1.0
    return (state,)


def _state_dict_matches(got, expected, args):
    """Keys first (with what each wrong key means), then shapes, then exact values."""
    if not isinstance(got, dict):
        return Fail(f"return a dict {{name: tensor}}, got {type(got).__name__}")
    missing, extra = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
    if any(k.endswith((".attn.bias", ".attn.masked_bias")) for k in extra):
        return Fail(f"unexpected keys {extra[:3]}: these are GPT-2's causal-mask buffers",
                    mistake=CAUSAL_MASK_BUFFER_LOADED_AS_A_WEIGHT)
    if missing == ["lm_head.weight"] and not extra:
        return Fail("'lm_head.weight' is missing", mistake=LM_HEAD_WEIGHT_MISSING)
    if missing or extra:
        return Fail(f"the keys differ from GPT(config).state_dict()'s: missing {missing[:4]}, "
                    f"unexpected {extra[:4]}")
    for name in expected:
        fail = compare_values(got[name], expected[name], rtol=0, atol=0)
        if fail:
            fail.message = f"{name!r}: {fail.message}"
            return fail
    return None


def _convert_variant(transpose=True, square_too=True, embeddings=False, drop_buffers=True, lm_head=True,
                     add_prefix=True, buffers=None, file_head=False):
    """buffers: the name endings dropped as mask buffers (default: the reference's BUFFERS, looked
    up when the mistake runs, so that importing the checks does not import the reference)."""
    def convert(hf_state):
        dropped = ref.BUFFERS if buffers is None else buffers
        out = {}
        for name, t in hf_state.items():
            short = name.removeprefix("transformer.") if add_prefix else name
            if short == "lm_head.weight" and file_head:
                out[short] = t
                continue
            if short == "lm_head.weight" or (drop_buffers and short.endswith(dropped)):
                continue
            if transpose and short.endswith(ref.CONV1D) and (square_too or t.shape[0] != t.shape[1]):
                t = t.t()
            if embeddings and short.endswith(("wte.weight", "wpe.weight")):
                t = t.t()
            out[("transformer." + short) if add_prefix else short] = t
        if lm_head and "lm_head.weight" not in out:
            wte = out.get("transformer.wte.weight", out.get("wte.weight"))
            out["lm_head.weight"] = wte
        return out
    return convert


CAUSAL_MASK_BUFFER_LOADED_AS_A_WEIGHT = Mistake("causal-mask buffer loaded as a weight",
                                                "h.N.attn.bias is GPT-2's causal mask (1, 1, n_positions, n_positions), a buffer, not "
                                                "a parameter (the c_attn bias is attn.c_attn.bias). Drop the keys that end in "
                                                "attn.bias or attn.masked_bias: the course's attention builds its mask itself.",
                                                _convert_variant(drop_buffers=False))
LM_HEAD_WEIGHT_MISSING = Mistake("lm_head.weight missing",
                                 "the course's GPT ties lm_head to wte, and its state dict lists that one matrix "
                                 "under both names; the real checkpoint has no lm_head.weight, so set "
                                 "out['lm_head.weight'] = out['transformer.wte.weight'].",
                                 _convert_variant(lm_head=False))

convert_gpt2_state_dict = Exercise(
    id="14.convert_gpt2_state_dict", points=3, difficulty="medium", minutes=30,
    compare=_state_dict_matches,   # a transpose or a rename copies values: they must be exact
    cases=[Case(layout, _convert_inputs(layout)) for layout in LAYOUTS] + [
        Case("n_embd = 24, 3 heads, one layer (the real layout)",
             lambda rng: (hf_layout(_toy_tensors(rng, n_embd=24, n_head=3, n_layer=1)),)),
        Case("a file whose own lm_head.weight differs from wte: wte is the one used",
             _convert_inputs_other_head,
             why="the file's lm_head.weight is a copy at best; the tie makes wte the logits' matrix"),
    ],
    mistakes=[
        Mistake("Conv1D weights not transposed",
                "GPT-2's c_attn, c_proj and c_fc are Conv1D layers, which store their weight as "
                "(n_in, n_out), the transpose of nn.Linear's (n_out, n_in): use .t() on those four "
                "weights. Biases and LayerNorm parameters are 1-D and stay as they are.",
                _convert_variant(transpose=False)),
        Mistake("transposed only the weights whose shapes differ",
                "attn.c_proj.weight is square, (C, C): its shape cannot tell you that it is stored "
                "transposed. Decide by name: every attn.c_attn, attn.c_proj, mlp.c_fc and "
                "mlp.c_proj weight is transposed.",
                _convert_variant(square_too=False)),
        Mistake("embeddings transposed too",
                "wte (V, C) and wpe (T, C) are embedding tables, stored the same way in both "
                "models; only the Conv1D weights are transposed.",
                _convert_variant(embeddings=True)),
        CAUSAL_MASK_BUFFER_LOADED_AS_A_WEIGHT,
        Mistake("dropped c_attn.bias with the mask buffers",
                "'h.0.attn.c_attn.bias'.endswith('attn.bias') is True: a test for the mask buffers "
                "must include the dot, name.endswith('.attn.bias'), or it throws away the "
                "attention's real bias too.",
                _convert_variant(buffers=("attn.bias", "attn.masked_bias"))),
        LM_HEAD_WEIGHT_MISSING,
        Mistake("'transformer.' prefix not added",
                "the real gpt2 file's keys have no prefix ('h.0.ln_1.weight', 'wte.weight'); the "
                "course's GPT keeps its body in model.transformer, so its keys start with "
                "'transformer.'. Strip the prefix if it is there, then add it.",
                _convert_variant(add_prefix=False)),
        Mistake("kept the file's lm_head.weight",
                "lm_head is tied to wte: set out['lm_head.weight'] to the wte tensor always; a file's "
                "own lm_head.weight is not used (the course's GPT computes its logits with wte).",
                _convert_variant(file_head=True)),
    ],
    requirements=[
        Requirement("returns a dict with **exactly the keys of `GPT(config).state_dict()`**, ready for "
                    "`load_state_dict(strict=True)`", "the real gpt2 file's layout: no prefix, attn.bias mask buffers, no lm_head.weight",
                    "save_pretrained's layout: 'transformer.' prefix, lm_head.weight, no buffers"),
        Requirement("`convert_gpt2_state_dict(hf_state)` takes the file's `{name: tensor}`",
                    "the real gpt2 file's layout: no prefix, attn.bias mask buffers, no lm_head.weight"),
        Requirement("strip it if present, then add it.",
                    "the real gpt2 file's layout: no prefix, attn.bias mask buffers, no lm_head.weight",
                    "save_pretrained's layout: 'transformer.' prefix, lm_head.weight, no buffers"),
        Requirement("So those four weights get `.t()`.", "the real gpt2 file's layout: no prefix, attn.bias mask buffers, no lm_head.weight",
                    "n_embd = 24, 3 heads, one layer (the real layout)"),
        Requirement("Decide **by name**: `attn.c_proj.weight` is square, `(C, C)`, so its shape cannot tell you.",
                    "the real gpt2 file's layout: no prefix, attn.bias mask buffers, no lm_head.weight"),
        Requirement("The embeddings `wte (V, C)`, `wpe (T, C)`, the biases and the LayerNorms are not transposed.",
                    "the real gpt2 file's layout: no prefix, attn.bias mask buffers, no lm_head.weight"),
        Requirement("Drop `h.N.attn.bias` and `h.N.attn.masked_bias` (older files)",
                    "the real gpt2 file's layout: no prefix, attn.bias mask buffers, no lm_head.weight",
                    "an older layout: prefix, attn.bias and attn.masked_bias buffers"),
        Requirement("match `\".attn.bias\"`, with its dot.", "the real gpt2 file's layout: no prefix, attn.bias mask buffers, no lm_head.weight"),
        Requirement("so set `out[\"lm_head.weight\"]` to the wte tensor (a file's own `lm_head.weight`, if any, "
                    "is a copy of it and is not used).", "the real gpt2 file's layout: no prefix, attn.bias mask buffers, no lm_head.weight",
                    "a file whose own lm_head.weight differs from wte: wte is the one used"),
        Requirement("The values are only moved, never changed, so the check compares them exactly.",
                    "n_embd = 24, 3 heads, one layer (the real layout)"),
    ],
)

# ---------------------------------------------------------------- from_pretrained

_FOLDERS = {}


def _checkpoint_folder(layout, seed, size=()):
    """A tiny checkpoint folder in `layout`, written once per (layout, seed, size) per process;
    `size`: (name, value) pairs that change TOY's config."""
    key = (layout, seed, tuple(size))
    if key not in _FOLDERS:
        folder = Path(tempfile.mkdtemp(prefix="ch14-gpt2-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        make_tiny_gpt2(folder, dict(TOY, **dict(size)), seed=seed)
        tensors = read_safetensors(folder / "model.safetensors")
        write_safetensors(folder / "model.safetensors", hf_layout(tensors, **LAYOUTS[layout]))
        _FOLDERS[key] = folder
    return str(_FOLDERS[key])


def _pretrained_inputs(layout, **size):
    def inputs(rng):
        seed = int(rng.integers(1 << 31))
        idx = torch.from_numpy(rng.integers(0, TOY["vocab_size"], size=(2, 7))).long()
        return _checkpoint_folder(layout, seed, sorted(size.items())), idx
    return inputs


def _run_pretrained(fn, args):
    path, idx = args
    model = fn(path)
    if not isinstance(model, torch.nn.Module):
        return f"from_pretrained returned a {type(model).__name__}, not the model"
    with torch.no_grad():
        logits = model(idx)[0]
    tied = model.lm_head.weight is model.transformer.wte.weight
    return {"logits": logits, "tied": tied, "parameters": sum(p.numel() for p in model.parameters()),
            "training": model.training}


def run_pretrained_checkpoint(fn, args):
    """A Case.run for checkpoints described by (layout, seed, idx[, size]): the folder is written
    by the process that runs the learner's code, so a case whose inputs are built elsewhere (a
    hidden case, sent to the sandbox as data) still finds it on disk. `size`: as _checkpoint_folder's."""
    layout, seed, idx, *size = args
    return _run_pretrained(fn, (_checkpoint_folder(layout, seed, *size), idx))


def _pretrained_matches(got, expected, args):
    if isinstance(got, str):
        return Fail(got)
    fail = compare_values(got["logits"], expected["logits"], rtol=1e-5, atol=1e-5)
    if fail:
        fail.message = "the logits differ from the checkpoint's: " + fail.message
        return fail
    # compared with `expected`, not with True/False: the same comparison names the mistakes
    if got["tied"] != expected["tied"] or got["parameters"] != expected["parameters"]:
        return Fail(f"right logits, but your model has {got['parameters']:,} parameters where the "
                    f"checkpoint has {expected['parameters']:,}: lm_head.weight is its own tensor, "
                    "not wte's", mistake=LM_HEAD_DOUBLY_COUNTED)
    if got["training"] != expected["training"]:
        return Fail("the model is in training mode", mistake=LEFT_IN_TRAINING_MODE)
    return None


def _pretrained_variant(fresh_head=False, copied_head=False, eval_mode=True):
    def from_pretrained(path):
        import json
        path = Path(path)
        model = GPT(ref.gpt2_config(json.loads((path / "config.json").read_text())))
        state = ref.convert_gpt2_state_dict(read_safetensors(path / "model.safetensors"))
        if fresh_head:                # GPT-2 "has an lm_head": a new, untied, random one
            model.lm_head = torch.nn.Linear(model.config.n_embd, model.config.vocab_size, bias=False)
            state.pop("lm_head.weight")
            model.load_state_dict(state, strict=False)
        elif copied_head:             # assign=True with a copy: right values, two tensors
            state["lm_head.weight"] = state["lm_head.weight"].clone()
            model.load_state_dict(state, assign=True)
        else:
            model.load_state_dict(state)
        return model.eval() if eval_mode else model
    return from_pretrained


LM_HEAD_DOUBLY_COUNTED = Mistake("lm_head doubly counted",
                                 "the tie must survive loading: load_state_dict copies into the model's own (tied) "
                                 "parameters, but load_state_dict(..., assign=True) or lm_head.weight = "
                                 "nn.Parameter(wte.clone()) makes two (V, C) matrices — GPT-2 would count 163M "
                                 "parameters instead of 124M, and fine-tuning would update the two apart.",
                                 _pretrained_variant(copied_head=True))
LEFT_IN_TRAINING_MODE = Mistake("left in training mode",
                                "return model.eval(): a loaded model is for inference, and dropout (if a config "
                                "sets it) must be off.",
                                _pretrained_variant(eval_mode=False))

from_pretrained = Exercise(
    id="14.from_pretrained", points=2, difficulty="medium", minutes=15,
    compare=_pretrained_matches,
    cases=[Case(f"a tiny checkpoint in {layout}", _pretrained_inputs(layout), run=_run_pretrained)
           for layout in LAYOUTS] + [
        Case("a checkpoint of another size (n_embd 24, 3 heads, 1 layer, 8 positions): the config comes from config.json",
             _pretrained_inputs(next(iter(LAYOUTS)), n_embd=24, n_head=3, n_layer=1, n_positions=8, n_ctx=8),
             run=_run_pretrained),
    ],
    mistakes=[
        Mistake("lm_head untied and left random",
                "GPT-2 has no output layer of its own: its logits use wte (weight tying). Keep "
                "the course GPT's lm_head, which is tied to wte; loading wte fills both.",
                _pretrained_variant(fresh_head=True)),
        LM_HEAD_DOUBLY_COUNTED,
        LEFT_IN_TRAINING_MODE,
    ],
    requirements=[
        Requirement("`from_pretrained(path)` reads `path/config.json` and `path/model.safetensors` (with "
                    "`read_safetensors`), builds `GPT(gpt2_config(...))`",
                    "a checkpoint of another size (n_embd 24, 3 heads, 1 layer, 8 positions): the config comes from config.json"),
        Requirement("loads `convert_gpt2_state_dict(...)` with `load_state_dict` (strict: every name must match)",
                    "a tiny checkpoint in the real gpt2 file's layout: no prefix, attn.bias mask buffers, no lm_head.weight",
                    "a tiny checkpoint in save_pretrained's layout: 'transformer.' prefix, lm_head.weight, no buffers",
                    "a tiny checkpoint in an older layout: prefix, attn.bias and attn.masked_bias buffers"),
        Requirement("and returns the model **in eval mode**.",
                    "a tiny checkpoint in the real gpt2 file's layout: no prefix, attn.bias mask buffers, no lm_head.weight"),
        Requirement("Keep the tie: `load_state_dict` copies the values *into* the model's parameters, so the tied "
                    "matrix stays one parameter.",
                    "a tiny checkpoint in save_pretrained's layout: 'transformer.' prefix, lm_head.weight, no buffers"),
    ],
)

# ---------------------------------------------------------------- generate_text


class CharTokenizer:
    """A stand-in for GPT-2's tokenizer in the checks: one id per character of ALPHABET. Like
    GPT-2's, decode looks each id up in a dict, so it takes Python ints, not 0-dim tensors."""
    ALPHABET = "|abcdefghijklmnopqrstuvwxyz .,!?"   # id 0, '|', plays <|endoftext|>
    DECODER = dict(enumerate(ALPHABET))

    def encode(self, text):
        return [self.ALPHABET.index(ch) for ch in text]

    def decode(self, ids):
        return "".join(self.DECODER[i] for i in ids)


def toy_gpt(block_size=16, vocab_size=len(CharTokenizer.ALPHABET), std=0.3):
    model = GPT(GPTConfig(block_size=block_size, vocab_size=vocab_size, n_layer=2, n_head=2,
                          n_embd=16, dropout=0.0, bias=True))
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, std)
    return model.eval()


def _generate_inputs(prompt, n, temperature=1.0, top_k=None, seed=None, stop=None, block_size=16, std=0.3):
    return lambda rng: (prompt, n, temperature, top_k, seed, stop, block_size, std)


def run_generate_defaults(fn, args):
    """Only model, tokenizer, prompt and max_new_tokens: temperature=1.0, top_k=None,
    generator=None (torch's global random state, seeded the same for both) and stop_token=None."""
    prompt, n, std = args[0], args[1], args[-1]
    return raised(fn, toy_gpt(std=std), CharTokenizer(), prompt, n), 0


def _run_generate(fn, args):
    """std: the toy model's weights; 1.0 makes the next token depend strongly on the context."""
    prompt, n, temperature, top_k, seed, stop, block_size, std = args
    model = toy_gpt(block_size, std=std)
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    return positions_embedded(model, lambda: raised(fn, model, CharTokenizer(), prompt, n, temperature, top_k,
                                                    generator, stop))


def _text_matches(got, expected, args):
    text, work = got
    want, cached_work = expected
    if want == "raised ValueError" and text != want:
        return Fail("an empty prompt must raise ValueError: there is nothing to continue "
                    "(GPT-2 texts can start with <|endoftext|>, id 50256)")
    if not isinstance(text, str):
        return Fail(f"return the text (a str), got {type(text).__name__}: decode the new ids")
    if text != want:
        return Fail(f"expected the text {want!r}, got {text!r}")
    n = args[1]   # a cache may run all max_new_tokens steps, stopping or not: allow that much
    if work > 2 * cached_work + n + 2:
        return Fail(f"right text, but your model embedded {work} positions where a cache needs "
                    f"{cached_work}: it recomputes the whole context for each token",
                    mistake=RECOMPUTED_THE_WHOLE_CONTEXT_EVERY_STEP)
    return None


def _generate_variant(keep_prompt=False, stop=True, cache=True, use_generator=True, use_temperature=True,
                      use_top_k=True):
    @torch.no_grad()
    def generate_text(model, tokenizer, prompt, max_new_tokens, temperature=1.0, top_k=None,
                      generator=None, stop_token=None):
        from ..reference.ch10 import generate
        from ..reference.ch12 import generate_cached
        ids = tokenizer.encode(prompt)
        if not ids:
            raise ValueError("empty prompt")
        run = generate_cached if cache else generate
        out = run(model, torch.tensor([ids]), max_new_tokens, temperature if use_temperature else 1.0,
                  top_k if use_top_k else None, generator if use_generator else None)[0].tolist()
        new = out[len(ids):]
        if stop and stop_token in new:
            new = new[:new.index(stop_token)]
        return tokenizer.decode((ids if keep_prompt else []) + new)
    return generate_text


RECOMPUTED_THE_WHOLE_CONTEXT_EVERY_STEP = Mistake("recomputed the whole context every step",
                                                  "feed the prompt once, then only the newest token, through chapter 12's "
                                                  "forward_cached with a KVCache; at GPT-2's size that is several times faster.",
                                                  _generate_variant(cache=False))

generate_text = Exercise(
    id="14.generate_text", points=2, difficulty="medium", minutes=20,
    compare=_text_matches,
    cases=[
        Case("greedy (top_k=1), 10 new tokens after 'the pizza'",
             _generate_inputs("the pizza", 10, top_k=1), run=_run_generate),
        Case("sampling at temperature 1.5 with a seeded generator, stop_token 0 ('|') is drawn",
             _generate_inputs("it was", 10, temperature=1.5, seed=3, stop=0), run=_run_generate),
        Case("past block_size: a prompt of 13 and 10 new tokens in a context of 16",
             _generate_inputs("out of the ov", 10, temperature=0.8, top_k=5, seed=1), run=_run_generate),
        Case("an empty prompt raises ValueError", _generate_inputs("", 3), run=_run_generate),
        Case("generator=None: sampling from torch's global random state",
             _generate_inputs("a cat", 8), run=_run_generate,
             why="torch is seeded the same for your function and the reference, so the draws agree"),
        Case("stop_token=None: the '|' (id 0) that is drawn stays in the text",
             _generate_inputs("it was", 10, temperature=1.5, seed=3), run=_run_generate,
             why="the same draws as the stop_token=0 case: None must never stop"),
        Case("the defaults: temperature=1.0, top_k=None, generator=None, stop_token=None",
             _generate_inputs("so it goes", 8, std=1.0), run=run_generate_defaults),
        Case("a prompt of 20 tokens in a context of 16: only its last 16 are fed",
             _generate_inputs("the end of the story", 4, top_k=1, std=1.0), run=_run_generate),
        Case("past block_size with a model that reads its context: the window after the restart",
             _generate_inputs("out of the ov", 10, top_k=1, std=1.0), run=_run_generate,
             why="weights at std 1 make the next token depend on the whole window, not only the last token"),
    ],
    mistakes=[
        Mistake("the prompt returned too",
                "return the continuation only: decode the ids generated after the prompt's "
                "(the caller has the prompt already).",
                _generate_variant(keep_prompt=True)),
        Mistake("did not stop at stop_token",
                "when the sampled id is stop_token (GPT-2's <|endoftext|>, 50256), the text is "
                "over: stop there, and leave the stop token out of the text.",
                _generate_variant(stop=False)),
        RECOMPUTED_THE_WHOLE_CONTEXT_EVERY_STEP,
        Mistake("the generator not used",
                "pass generator=generator to torch.multinomial: the caller's seeded generator is what "
                "makes a run repeat exactly (and another seed give another text).",
                _generate_variant(use_generator=False)),
        Mistake("temperature ignored",
                "divide the last position's logits by temperature before the softmax, as chapter 10's "
                "generate does.", _generate_variant(use_temperature=False)),
        Mistake("top_k ignored",
                "when top_k is given, keep only the k largest logits (the others to -inf) before "
                "sampling; top_k=1 is greedy decoding.", _generate_variant(use_top_k=False)),
    ],
    requirements=[
        Requirement("`generate_text(model, tokenizer, prompt, max_new_tokens, temperature=1.0, top_k=None, "
                    "generator=None, stop_token=None)` returns the text the model writes **after** the prompt",
                    "greedy (top_k=1), 10 new tokens after 'the pizza'",
                    "sampling at temperature 1.5 with a seeded generator, stop_token 0 ('|') is drawn",
                    "past block_size: a prompt of 13 and 10 new tokens in a context of 16",
                    "generator=None: sampling from torch's global random state",
                    "the defaults: temperature=1.0, top_k=None, generator=None, stop_token=None"),
        Requirement("encode the prompt (an empty prompt is a `ValueError`: there is nothing to continue)",
                    "an empty prompt raises ValueError"),
        Requirement("generate as chapter 10's `generate` does — the same tokens, sampling included, for the same generator",
                    "sampling at temperature 1.5 with a seeded generator, stop_token 0 ('|') is drawn",
                    "past block_size: a prompt of 13 and 10 new tokens in a context of 16",
                    "generator=None: sampling from torch's global random state"),
        Requirement("but with chapter 12's `KVCache` and `forward_cached` (imported above): the prompt once, then "
                    "one new token per step", "greedy (top_k=1), 10 new tokens after 'the pizza'"),
        Requirement("a fresh cache on the last `block_size` tokens when the context is full",
                    "past block_size: a prompt of 13 and 10 new tokens in a context of 16",
                    "a prompt of 20 tokens in a context of 16: only its last 16 are fed",
                    "past block_size with a model that reads its context: the window after the restart"),
        Requirement("stop when the sampled id is `stop_token` (GPT-2's `<|endoftext|>`, 50256), leaving it out",
                    "sampling at temperature 1.5 with a seeded generator, stop_token 0 ('|') is drawn",
                    "stop_token=None: the '|' (id 0) that is drawn stays in the text"),
        Requirement("decode the new ids only.", "greedy (top_k=1), 10 new tokens after 'the pizza'",
                    "the defaults: temperature=1.0, top_k=None, generator=None, stop_token=None"),
    ],
)

# ---------------------------------------------------------------- continuation_logprob


def _logprob_inputs(P, N, vocab=len(CharTokenizer.ALPHABET)):
    def inputs(rng):
        ids = [int(i) for i in rng.integers(0, vocab, size=P + N)]
        return ids[:P], ids[P:]
    return inputs


def _run_logprob(fn, args):
    # weights at std 1: peaked next-token distributions (logits of std ~4), so that scoring a
    # token with the wrong position's logits changes the sum by far more than the tolerance
    return raised(fn, toy_gpt(std=1.0), *args)


def run_logprob_passes(fn, args):
    """The log-probability and how many forward passes computed it (calls of the token embedding)."""
    model = toy_gpt(std=1.0)
    passes = [0]
    hook = model.transformer.wte.register_forward_hook(lambda *_: passes.__setitem__(0, passes[0] + 1))
    try:
        return {"logprob": raised(fn, model, *args), "forward passes": passes[0]}
    finally:
        hook.remove()


def compare_logprob_passes(got, expected, args):
    if got["forward passes"] != expected["forward passes"]:
        return Fail(f"the model ran {got['forward passes']} forward passes; one pass over prompt + "
                    "continuation, (1, P + N), gives the logits of every position at once",
                    mistake=ONE_PASS_PER_TOKEN)
    return _logprob_matches(got["logprob"], expected["logprob"], args)


def _logprob_one_pass_per_token(model, prompt_ids, continuation_ids):
    ids, total = list(prompt_ids), 0.0
    if not ids or len(ids) + len(continuation_ids) > model.config.block_size:
        raise ValueError("does not fit")
    with torch.no_grad():
        for token in continuation_ids:
            logits = model(torch.tensor([ids]))[0][0, -1]
            total += torch.log_softmax(logits, -1)[token].item()
            ids.append(token)
    return total


ONE_PASS_PER_TOKEN = Mistake("one forward pass per continuation token",
                             "a causal model scores every position in one pass: run the model once on "
                             "prompt + continuation and read rows P - 1 ... P + N - 2 of its log-softmax.",
                             _logprob_one_pass_per_token)


def _logprob_matches(got, expected, args):
    if isinstance(expected, str):
        return None if got == expected else Fail(
            "raise ValueError here: an empty prompt leaves nothing to predict the first "
            "continuation token, and more than block_size tokens do not fit in one pass")
    if not isinstance(got, float):
        return Fail(f"return a Python float (use .item()), got {type(got).__name__}")
    return close(rtol=1e-4, atol=1e-4)(got, expected, args)  # float32 sums of a few terms


def _logprob_variant(shift=1, normalise=torch.log_softmax, reduce=torch.sum, score_prompt=False):
    @torch.no_grad()
    def continuation_logprob(model, prompt_ids, continuation_ids):
        P, N = len(prompt_ids), len(continuation_ids)
        if P == 0 or P + N > model.config.block_size:
            raise ValueError("does not fit")
        ids = list(prompt_ids) + list(continuation_ids)
        logits = model(torch.tensor([ids]))[0][0]                       # (P + N, V)
        first = 1 if score_prompt else P
        rows = torch.arange(first, P + N) - shift                       # logits that predict each
        scores = normalise(logits, -1)[rows, torch.tensor(ids[first:])]
        return reduce(scores).item()
    return continuation_logprob


continuation_logprob = Exercise(
    id="14.continuation_logprob", points=2, difficulty="medium", minutes=20,
    compare=_logprob_matches,
    cases=[
        Case("a prompt of 4 tokens, a continuation of 3", _logprob_inputs(4, 3), run=_run_logprob),
        Case("a prompt of one token, a continuation of one", _logprob_inputs(1, 1), run=_run_logprob),
        Case("prompt and continuation fill block_size (16)", _logprob_inputs(9, 7), run=_run_logprob),
        Case("an empty prompt raises ValueError", _logprob_inputs(0, 3), run=_run_logprob),
        Case("17 tokens in a block of 16 raise ValueError", _logprob_inputs(10, 7), run=_run_logprob),
        Case("one forward pass: a prompt of 3, a continuation of 5", _logprob_inputs(3, 5),
             run=run_logprob_passes, compare=compare_logprob_passes),
    ],
    mistakes=[
        Mistake("off by one: each token scored by its own position's logits",
                "the logits at position t predict the token at t + 1, so continuation token i "
                "(at position P + i) is scored by logits[P + i - 1]: take rows P - 1 ... P + N - 2.",
                _logprob_variant(shift=0)),
        Mistake("probabilities summed instead of log-probabilities",
                "P(continuation) is a product of the tokens' probabilities; its log is the *sum* "
                "of their log-probabilities: log_softmax, then sum.",
                _logprob_variant(normalise=torch.softmax)),
        Mistake("raw logits instead of log-probabilities",
                "a logit is not a log-probability until it is normalised: use "
                "F.log_softmax(logits, dim=-1) (logits minus their log-sum-exp).",
                _logprob_variant(normalise=lambda logits, dim: logits)),
        Mistake("mean instead of sum",
                "log P(continuation | prompt) is the sum over its tokens (the chain rule); a mean "
                "is the per-token average, a different number.",
                _logprob_variant(reduce=torch.mean)),
        Mistake("the prompt's tokens scored too",
                "only the continuation is scored: the prompt is given, not predicted.",
                _logprob_variant(score_prompt=True)),
        ONE_PASS_PER_TOKEN,
    ],
    requirements=[
        Requirement("`continuation_logprob(model, prompt_ids, continuation_ids)` computes it in **one** forward "
                    "pass over prompt + continuation, `(1, P + N)`", "one forward pass: a prompt of 3, a continuation of 5"),
        Requirement("the logits at position $t$ predict the token at $t + 1$, so continuation token $i$ (at "
                    "position $P + i$, counting from 0) is scored by row $P + i - 1$ of `log_softmax(logits)`",
                    "a prompt of 4 tokens, a continuation of 3", "a prompt of one token, a continuation of one"),
        Requirement("Sum those $N$ log-probabilities and return a Python float (nats).",
                    "a prompt of 4 tokens, a continuation of 3", "prompt and continuation fill block_size (16)"),
        Requirement("Raise `ValueError` for an empty prompt (nothing predicts the first token)",
                    "an empty prompt raises ValueError"),
        Requirement("and for more than `block_size` tokens.", "17 tokens in a block of 16 raise ValueError",
                    "prompt and continuation fill block_size (16)"),
    ],
)

EXERCISES = [gpt2_config, convert_gpt2_state_dict, from_pretrained, generate_text,
             continuation_logprob]
