"""Chapter 14's mapping proven against Hugging Face's own GPT-2, without the real weights.

`transformers` is a test-only dependency (the `[test]` extra): the course loads GPT-2 with its
own twenty lines, and these tests are what says those lines are right. A small random
`GPT2LMHeadModel` is saved in Hugging Face's format, loaded with the chapter's reference
`from_pretrained` into the course's GPT, and both models must give the same logits (float32
tolerance) and the same greedy tokens; the tiny checkpoint the notebook runs on offline must
have the layout transformers expects; the course's safetensors reader and writer must agree
with the `safetensors` package.
"""
import filecmp
import json

import pytest
import torch

from grader.data import gpt2_weights as gpt2
from grader.exercises.ch14 import hf_layout
from grader.reference import ch14 as ref
from grader.reference.ch12 import generate_cached

transformers = pytest.importorskip("transformers")
safetensors_torch = pytest.importorskip("safetensors.torch")

SMALL = dict(vocab_size=61, n_positions=24, n_embd=24, n_layer=2, n_head=3,
             activation_function="gelu_new", bos_token_id=0, eos_token_id=0)


@pytest.fixture(scope="module")
def hf_model():
    """A random GPT-2 from transformers, weights redrawn at std 0.2 (LayerNorms included) so
    that a transposed or misplaced tensor changes the logits a lot."""
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(**SMALL))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return model.eval()


@pytest.fixture(scope="module")
def saved(hf_model, tmp_path_factory):
    """The model as save_pretrained writes it: 'transformer.' prefix, no mask buffers."""
    folder = tmp_path_factory.mktemp("hf-gpt2")
    hf_model.save_pretrained(folder)
    return folder


def tokens(n=20, vocab=SMALL["vocab_size"], batch=2):
    return torch.randint(0, vocab, (batch, n), generator=torch.Generator().manual_seed(1))


def hf_logits(model, idx):
    with torch.no_grad():
        return model(idx).logits


def test_same_logits_as_transformers(hf_model, saved):
    """The course's GPT loaded from save_pretrained's file computes transformers' logits."""
    ours = ref.from_pretrained(saved)
    idx = tokens()
    with torch.no_grad():
        got = ours(idx)[0]
    torch.testing.assert_close(got, hf_logits(hf_model, idx), rtol=1e-5, atol=1e-5)
    assert ours.lm_head.weight is ours.transformer.wte.weight


def test_same_logits_from_the_real_files_layout(hf_model, saved, tmp_path):
    """The same weights re-saved in the real gpt2 file's layout (no prefix, attn.bias buffers,
    no lm_head.weight) load to the same logits."""
    state = {k.removeprefix("transformer."): v for k, v in
             safetensors_torch.load_file(saved / "model.safetensors").items()
             if k != "lm_head.weight"}
    P = SMALL["n_positions"]
    for i in range(SMALL["n_layer"]):
        state[f"h.{i}.attn.bias"] = torch.ones(P, P).tril().view(1, 1, P, P)
    gpt2.write_safetensors(tmp_path / "model.safetensors", state, {"format": "pt"})
    (tmp_path / "config.json").write_text((saved / "config.json").read_text())
    idx = tokens()
    with torch.no_grad():
        got = ref.from_pretrained(tmp_path)(idx)[0]
    torch.testing.assert_close(got, hf_logits(hf_model, idx), rtol=1e-5, atol=1e-5)


def test_mistakes_do_change_the_logits(hf_model, saved):
    """The named mistakes are not harmless: untransposed Conv1D weights (where shapes allow,
    the square c_proj) give other logits than transformers'."""
    from grader.exercises.ch14 import _convert_variant
    state = safetensors_torch.load_file(saved / "model.safetensors")
    model = ref.from_pretrained(saved)
    model.load_state_dict(_convert_variant(square_too=False)(state))
    idx = tokens()
    with torch.no_grad():
        wrong = model(idx)[0]
    assert (wrong - hf_logits(hf_model, idx)).abs().max() > 1e-2


def test_same_greedy_tokens_as_transformers_generate(hf_model, saved):
    """Greedy decoding with chapter 12's KV cache picks transformers' tokens."""
    ours = ref.from_pretrained(saved)
    idx = tokens(n=5, batch=1)
    mask = torch.ones_like(idx)
    with torch.no_grad():
        theirs = hf_model.generate(idx, attention_mask=mask, max_new_tokens=12, do_sample=False,
                                   pad_token_id=0)
    mine = generate_cached(ours, idx, 12, top_k=1)
    assert mine.tolist() == theirs.tolist()


def test_tiny_checkpoint_has_transformers_layout(tmp_path):
    """The notebook's offline checkpoint (written without transformers) loads into
    GPT2LMHeadModel with every weight found, and both models agree on it."""
    gpt2.make_tiny_gpt2(tmp_path)
    model, info = transformers.GPT2LMHeadModel.from_pretrained(tmp_path, output_loading_info=True)
    assert set(info["missing_keys"]) <= {"lm_head.weight"}   # tied: filled from wte
    assert not info.get("mismatched_keys")
    assert set(info["unexpected_keys"]) <= {f"h.{i}.attn.bias" for i in range(2)} | \
        {f"transformer.h.{i}.attn.bias" for i in range(2)}
    file_keys = set(gpt2.read_safetensors(tmp_path / "model.safetensors"))
    hf_keys = {k.removeprefix("transformer.") for k in model.state_dict()} - {"lm_head.weight"}
    assert file_keys - {f"h.{i}.attn.bias" for i in range(2)} == hf_keys
    idx = torch.randint(0, 50257, (1, 12), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        got = ref.from_pretrained(tmp_path)(idx)[0]
    torch.testing.assert_close(got, hf_logits(model.eval(), idx), rtol=1e-5, atol=1e-5)


def test_tiny_checkpoint_is_deterministic_and_small(tmp_path):
    """The same bytes on every run (numpy's seeded generator), and small enough to make on
    first use rather than commit."""
    a, b = gpt2.make_tiny_gpt2(tmp_path / "a"), gpt2.make_tiny_gpt2(tmp_path / "b")
    for name in ("config.json", "model.safetensors"):
        assert filecmp.cmp(a / name, b / name, shallow=False)
    assert (a / "model.safetensors").stat().st_size < 8_000_000
    config = json.loads((a / "config.json").read_text())
    assert config["vocab_size"] == 50257 and config["model_type"] == "gpt2"


def test_reader_and_writer_agree_with_the_safetensors_package(saved, tmp_path):
    """read_safetensors reads what the package writes (every dtype the format names that torch
    has), and the package reads what write_safetensors writes."""
    theirs = safetensors_torch.load_file(saved / "model.safetensors")
    mine = gpt2.read_safetensors(saved / "model.safetensors")
    assert mine.keys() == theirs.keys()
    assert all(torch.equal(mine[k], theirs[k]) for k in theirs)
    mixed = {"f16": torch.randn(3, 5).half(), "bf16": torch.randn(7).bfloat16(),
             "i64": torch.arange(6).view(2, 3), "u8": torch.arange(5, dtype=torch.uint8),
             "b": torch.tensor([True, False]), "f64": torch.randn(2, 2).double(),
             "scalar": torch.tensor(-1e4), "empty": torch.zeros(0, 3)}
    safetensors_torch.save_file(mixed, tmp_path / "theirs.safetensors")
    back = gpt2.read_safetensors(tmp_path / "theirs.safetensors")
    assert all(torch.equal(back[k], v) and back[k].dtype == v.dtype for k, v in mixed.items())
    gpt2.write_safetensors(tmp_path / "mine.safetensors", mixed, {"format": "pt"})
    again = safetensors_torch.load_file(tmp_path / "mine.safetensors")
    assert all(torch.equal(again[k], v) and again[k].dtype == v.dtype for k, v in mixed.items())


def test_check_layouts_are_the_ones_transformers_uses(saved):
    """The layouts the grader's cases write (grader.exercises.ch14.hf_layout) include the one
    save_pretrained writes here."""
    written = set(safetensors_torch.load_file(saved / "model.safetensors"))
    plain = {k.removeprefix("transformer.") for k in written if k != "lm_head.weight"}
    fake = {k: torch.zeros(1) for k in plain}
    assert set(hf_layout(fake, prefix=True, mask_buffers=False, lm_head=False)) | {"lm_head.weight"} \
        >= written
