"""GPT-2's weights for chapter 14: the safetensors format, the real checkpoint, a tiny stand-in.
(GPT-2's tokenizer files, bundled, are in grader.data.gpt2.)

    from grader.data.gpt2_weights import gpt2_checkpoint, read_safetensors
    folder, real = gpt2_checkpoint(download=True)   # the real 124M GPT-2, or the tiny one offline
    tensors = read_safetensors(folder / "model.safetensors")

A safetensors file is 8 bytes (the header's length, little-endian uint64), a JSON header
{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}, then the raw
little-endian bytes of every tensor; offsets count from the end of the header. That is simple
enough to read in a few lines, so the course needs no extra package for it (`safetensors`, the
PyPI package, is used by the tests only, to check these two functions against it).

The tiny checkpoint has GPT-2's vocabulary (50,257 tokens, so the real tokenizer works with it)
and the real file's layout (no `transformer.` prefix, the causal-mask buffers `h.N.attn.bias`,
no `lm_head.weight`), but random weights, two layers and 128 positions: 6.5 MB, generated on
first use by `make_tiny_gpt2` (also `python datasets/make_tiny_gpt2.py`), the same bytes every time.
"""
import json
import os
from pathlib import Path

import numpy as np
import torch

from . import paths

# safetensors dtype names <-> torch dtypes
DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
          "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
          "U8": torch.uint8, "BOOL": torch.bool}
NAMES = {dtype: name for name, dtype in DTYPES.items()}

# The tiny checkpoint: GPT-2's vocabulary and layout, a toy size.
TINY_CONFIG = {
    "activation_function": "gelu_new",
    "architectures": ["GPT2LMHeadModel"],
    "attn_pdrop": 0.1,
    "bos_token_id": 50256,
    "embd_pdrop": 0.1,
    "eos_token_id": 50256,
    "initializer_range": 0.02,
    "layer_norm_epsilon": 1e-05,
    "model_type": "gpt2",
    "n_ctx": 128,
    "n_embd": 32,
    "n_head": 4,
    "n_inner": None,
    "n_layer": 2,
    "n_positions": 128,
    "resid_pdrop": 0.1,
    "tie_word_embeddings": True,
    "vocab_size": 50257,
}
TINY_FOLDER = "gpt2-tiny"


def read_safetensors(path) -> dict:
    """{name: tensor} of a .safetensors file; the tensors share one buffer (no per-tensor copy)."""
    path = Path(path)
    data = bytearray(path.stat().st_size)      # one buffer, filled in place: 548 MB, not twice that
    with open(path, "rb") as f:
        f.readinto(data)
    if len(data) < 8:
        raise ValueError(f"{path} is not a safetensors file ({len(data)} bytes)")
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    base, tensors = 8 + n, {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype, shape = DTYPES[info["dtype"]], info["shape"]
        begin, end = (base + offset for offset in info["data_offsets"])
        if begin == end:
            tensors[name] = torch.empty(shape, dtype=dtype)
            continue
        itemsize = torch.empty((), dtype=dtype).element_size()
        # frombuffer wants an offset the element size divides; writers pad the header for that
        chunk, offset = (data, begin) if begin % itemsize == 0 else (bytearray(data[begin:end]), 0)
        tensors[name] = torch.frombuffer(chunk, dtype=dtype, count=(end - begin) // itemsize,
                                         offset=offset).reshape(shape)
    return tensors


def write_safetensors(path, tensors: dict, metadata=None) -> None:
    """Write {name: tensor} as a .safetensors file, names sorted, the header padded to 8 bytes."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        blob = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""   # 0-d too
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def tiny_gpt2_tensors(config=None, seed=0) -> dict:
    """A random GPT-2 state dict in the real checkpoint's layout (Conv1D weights (n_in, n_out))."""
    c = dict(TINY_CONFIG, **(config or {}))
    V, P, C, L = c["vocab_size"], c["n_positions"], c["n_embd"], c["n_layer"]
    rng = np.random.default_rng(seed)   # numpy's generator: the same bytes on every machine

    def normal(*shape, std=0.2, mean=0.0):
        return torch.from_numpy((mean + std * rng.standard_normal(shape)).astype(np.float32))

    out = {"wte.weight": normal(V, C, std=0.1), "wpe.weight": normal(P, C, std=0.1)}
    causal = torch.ones(P, P).tril().view(1, 1, P, P)
    for i in range(L):
        h = f"h.{i}."
        out.update({
            h + "ln_1.weight": normal(C, mean=1.0, std=0.1), h + "ln_1.bias": normal(C, std=0.1),
            h + "attn.bias": causal.clone(),            # the causal mask, stored as a buffer
            h + "attn.c_attn.weight": normal(C, 3 * C), h + "attn.c_attn.bias": normal(3 * C, std=0.1),
            h + "attn.c_proj.weight": normal(C, C), h + "attn.c_proj.bias": normal(C, std=0.1),
            h + "ln_2.weight": normal(C, mean=1.0, std=0.1), h + "ln_2.bias": normal(C, std=0.1),
            h + "mlp.c_fc.weight": normal(C, 4 * C), h + "mlp.c_fc.bias": normal(4 * C, std=0.1),
            h + "mlp.c_proj.weight": normal(4 * C, C), h + "mlp.c_proj.bias": normal(C, std=0.1),
        })
    out.update({"ln_f.weight": normal(C, mean=1.0, std=0.1), "ln_f.bias": normal(C, std=0.1)})
    return out


def make_tiny_gpt2(folder, config=None, seed=0) -> Path:
    """Write config.json and model.safetensors of a tiny random GPT-2 into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    c = dict(TINY_CONFIG, **(config or {}))
    # Each file is written beside its name and renamed into place, config.json last: a folder
    # with a config.json holds a whole checkpoint even if an earlier run was interrupted.
    write_safetensors(folder / ".model.safetensors.tmp", tiny_gpt2_tensors(c, seed), {"format": "pt"})
    os.replace(folder / ".model.safetensors.tmp", folder / "model.safetensors")
    (folder / ".config.json.tmp").write_text(json.dumps(c, indent=2) + "\n", encoding="utf-8")
    os.replace(folder / ".config.json.tmp", folder / "config.json")
    return folder


def real_gpt2_folder(data_dir=None):
    """The folder holding the downloaded GPT-2 (both files, at their expected sizes), or None."""
    from .download import DATASETS
    folder = Path(data_dir or paths.data_dir()) / DATASETS["gpt2"].folder
    sizes = {"config.json": 665, "model.safetensors": 548_105_171}
    ok = all((folder / name).is_file() and (folder / name).stat().st_size == size
             for name, size in sizes.items())
    return folder if ok else None


def gpt2_checkpoint(download=False, data_dir=None, progress=True):
    """(folder, real): the real GPT-2 when it is (or, with `download`, can be) on disk, else the
    tiny random one, made on first use. Says in one line which one it is and why."""
    from .download import DownloadError, download_dataset
    folder = real_gpt2_folder(data_dir)
    if folder is None and download:
        try:
            folder = download_dataset("gpt2", data_dir=data_dir, progress=progress)[0].parent
        except DownloadError as exc:
            print(exc)
    if folder is not None:
        print(f"Using the real GPT-2 (124M) weights from {folder}")
        return folder, True
    tiny = Path(data_dir or paths.data_dir()) / TINY_FOLDER
    if not ((tiny / "model.safetensors").is_file() and (tiny / "config.json").is_file()):
        make_tiny_gpt2(tiny)
    print(f"The real GPT-2 weights are not available: using a tiny RANDOM GPT-2 ({tiny}); "
          "its text is gibberish")
    return tiny, False
