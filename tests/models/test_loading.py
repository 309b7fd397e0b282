from __future__ import annotations

import json

import pytest
import torch
from peft import LoraConfig, get_peft_model

from judgerl.models.loading import is_peft_model, load_model_and_tokenizer, merged_copy, save_checkpoint
from judgerl.models.tiny import TinyModelSpec, make_tiny_judge

# peft calls a transformers API that transformers 5 deprecated; nothing of ours.
pytestmark = pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")

X = torch.tensor([[3, 14, 15, 92, 65, 35]])


def logits(model) -> torch.Tensor:
    with torch.no_grad():
        return model(X).logits


def lora(model, seed: int = 0):
    torch.manual_seed(seed)
    # init_lora_weights=False draws a non-zero B, so the adapter really changes the logits.
    cfg = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    return get_peft_model(model, cfg)


def test_load_sets_left_padding_and_pad(tiny_checkpoint):
    model, tok = load_model_and_tokenizer(str(tiny_checkpoint), device="cpu")
    assert tok.padding_side == "left" and tok.pad_token == "<|pad|>"
    assert model.dtype == torch.float32 and not model.training
    half, _ = load_model_and_tokenizer(str(tiny_checkpoint), dtype="bfloat16", device="cpu")
    assert half.dtype == torch.bfloat16


def test_pad_falls_back_to_eos(corpus, tmp_path):
    # A llama folder loads as TokenizersBackend, which keeps a missing pad token missing.
    path = make_tiny_judge(tmp_path / "llama", corpus, TinyModelSpec(arch="llama", hidden_size=32, layers=1))
    cfg_path = path / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    del cfg["pad_token"]
    cfg_path.write_text(json.dumps(cfg))
    _, tok = load_model_and_tokenizer(str(path), device="cpu")
    assert tok.pad_token == tok.eos_token == "<|im_end|>"


def test_missing_local_path_is_a_clear_error(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(FileNotFoundError, match="nope"):
        load_model_and_tokenizer(str(missing))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_model_and_tokenizer("./runs/never/checkpoint")
    with pytest.raises(ValueError, match="dtype"):
        load_model_and_tokenizer(str(tmp_path), dtype="float8")


def test_save_load_round_trip_gives_identical_logits(tiny_pair, tmp_path):
    model, tok = tiny_pair
    out = save_checkpoint(model, tok, tmp_path / "ckpt")
    again, tok2 = load_model_and_tokenizer(str(out), device="cpu")
    assert torch.equal(logits(model), logits(again))
    assert tok2.get_vocab() == tok.get_vocab()


def test_save_is_atomic_and_replaces(tiny_pair, tmp_path):
    model, tok = tiny_pair
    target = tmp_path / "ckpt"
    target.mkdir()
    (target / "stale.txt").write_text("old")
    save_checkpoint(model, tok, target)
    assert not (target / "stale.txt").exists() and (target / "config.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]  # no temp folders left behind


def test_failed_save_keeps_previous_checkpoint(tiny_pair, tmp_path):
    model, tok = tiny_pair
    target = save_checkpoint(model, tok, tmp_path / "ckpt")

    class Broken:
        def save_pretrained(self, path: str) -> None:
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        save_checkpoint(Broken(), tok, target)  # type: ignore[arg-type]
    assert (target / "config.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def test_lora_adapter_folder_loads_merged_with_same_logits(tiny_pair, tiny_checkpoint, tmp_path):
    model, _ = tiny_pair
    base_logits = logits(model)
    peft_model = lora(model)
    assert is_peft_model(peft_model) and not is_peft_model(torch.nn.Linear(1, 1))
    expected = logits(peft_model)
    assert not torch.allclose(expected, base_logits)
    peft_model.save_pretrained(str(tmp_path / "adapter"))
    assert json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())[
        "base_model_name_or_path"
    ] == str(tiny_checkpoint)

    merged, tok = load_model_and_tokenizer(str(tmp_path / "adapter"), device="cpu", merge_lora=True)
    assert not is_peft_model(merged)
    assert torch.allclose(logits(merged), expected, atol=1e-5)
    assert tok.eos_token == "<|im_end|>"  # the adapter folder has no tokenizer: the base's is used

    unmerged, _ = load_model_and_tokenizer(str(tmp_path / "adapter"), device="cpu", merge_lora=False)
    assert is_peft_model(unmerged)
    assert torch.allclose(logits(unmerged), expected, atol=1e-5)


def test_lora_adapter_argument_on_top_of_base(tiny_pair, tiny_checkpoint, tmp_path):
    model, _ = tiny_pair
    peft_model = lora(model, seed=1)
    expected = logits(peft_model)
    peft_model.save_pretrained(str(tmp_path / "adapter"))
    merged, _ = load_model_and_tokenizer(
        str(tiny_checkpoint), device="cpu", lora_adapter=str(tmp_path / "adapter")
    )
    assert torch.allclose(logits(merged), expected, atol=1e-5)


def test_save_checkpoint_merges_a_copy_of_a_peft_model(tiny_pair, tmp_path):
    model, tok = tiny_pair
    peft_model = lora(model)
    expected = logits(peft_model)
    out = save_checkpoint(peft_model, tok, tmp_path / "merged", merge_lora=True)
    assert not (out / "adapter_config.json").exists()
    assert is_peft_model(peft_model)  # the in-memory model keeps its adapter
    loaded, _ = load_model_and_tokenizer(str(out), device="cpu")
    assert torch.allclose(logits(loaded), expected, atol=1e-5)

    adapter_out = save_checkpoint(peft_model, tok, tmp_path / "adapter", merge_lora=False)
    assert (adapter_out / "adapter_config.json").exists()
    reloaded, _ = load_model_and_tokenizer(str(adapter_out), device="cpu")
    assert torch.allclose(logits(reloaded), expected, atol=1e-5)


def test_merged_copy_rebuilds_a_lora_model_from_a_full_state_dict(tiny_pair, tmp_path):
    """What a ZeRO-3 save does on rank 0: the gathered weights, merged on a fresh CPU model."""
    model, tok = tiny_pair
    peft_model = lora(model, seed=2)
    expected = logits(peft_model)
    state = {k: v.clone() for k, v in peft_model.state_dict().items()}
    merged = merged_copy(peft_model, state)
    assert not is_peft_model(merged) and torch.allclose(logits(merged), expected, atol=1e-5)
    with pytest.raises(ValueError, match="missing"):
        merged_copy(peft_model, {k: v for k, v in state.items() if "lora_A" not in k})
    out = save_checkpoint(merged, tok, tmp_path / "ckpt", extra_files={"README.md": "# card\n"})
    assert (out / "README.md").read_text() == "# card\n"
    # a state dict replaces the model's own weights in the file (a ZeRO-3 model's are empty)
    zeros = {k: torch.zeros_like(v) for k, v in merged.state_dict().items()}
    blank = save_checkpoint(merged, tok, tmp_path / "zeros", state_dict=zeros)
    again, _ = load_model_and_tokenizer(str(blank), device="cpu")
    assert all(float(p.abs().max()) == 0 for p in again.parameters())
    with pytest.raises(ValueError, match="merge the LoRA model first"):
        save_checkpoint(peft_model, tok, tmp_path / "x", state_dict=state)
