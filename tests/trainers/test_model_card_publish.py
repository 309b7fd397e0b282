"""The model card from a run's manifests, and `judgerl publish` up to the Hub call (HfApi monkeypatched)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import HfApi, ModelCard

from judgerl.cli.main import main
from judgerl.core.jsonl import write_json
from judgerl.trainers.model_card import eval_results, lineage, render_model_card
from judgerl.trainers.publish import PublishError, publish


def _stage(
    run: Path, name: str, kind: str, config: dict, metrics: dict | None = None, status: str = "complete"
) -> Path:
    folder = run / name
    folder.mkdir(parents=True)
    outputs = {"checkpoint": str(folder / "checkpoint")} if kind in ("sft", "dpo", "tiny_model") else {}
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
        run, "rb", "rewardbench", {"model": str(run / "dpo" / "checkpoint"), "data": "rb"}, {"score": 71.25}
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
    assert base == "built from config by the model stage"
    assert chain == ["model (tiny_model)", "sft (sft)", "dpo (dpo)"]
    assert set(eval_results(run / "dpo", run / "dpo" / "checkpoint")) == {"eval_dpo (test)", "rb (rb)"}
    text = render_model_card(run / "dpo")
    card = ModelCard(text)
    assert (
        card.data.library_name == "transformers"
        and "judgerl" in card.data.tags
        and card.data.base_model is None
    )
    assert "model (tiny_model) -> sft (sft) -> dpo (dpo)" in text and "beta 0.1" in text
    assert "| eval_dpo (test) | 0.875 | 0.9 |" in text and "71.25" in text
    assert "0.5 |" not in text and "0.1 |" not in text  # another checkpoint's eval, an unfinished one
    assert "Prompt family `cot` (compact instruction)" in text and "[The Start of Response (b)]" in text
    assert (
        "`Therefore, Response (a) is better.`" in text
        and "[[" not in text.split("## How")[1].split("## Eval")[0]
    )


def test_a_hub_base_model_goes_into_the_card_metadata(tmp_path: Path) -> None:
    run = tmp_path / "r"
    _checkpoint(_stage(run, "sft", "sft", {"model": "Qwen/Qwen2.5-7B-Instruct", "data": "d.jsonl"}))
    card = ModelCard(render_model_card(run / "sft"))
    assert card.data.base_model == "Qwen/Qwen2.5-7B-Instruct" and "strength is [[2]]" in card.text


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
    assert (
        upload["folder_path"] == str(run / "dpo" / "checkpoint") and upload["repo_id"] == "my-org/demo-judge"
    )
    assert upload["card_has_metrics"] and "token" not in upload
    assert "uploaded" in capsys.readouterr().out


def test_dry_run_lists_the_files_and_touches_no_network(run: Path, monkeypatch, capsys) -> None:
    def refuse(self, **kw: Any) -> None:
        raise AssertionError("a dry run called the Hub")

    monkeypatch.setattr(HfApi, "create_repo", refuse)
    monkeypatch.setattr(HfApi, "upload_folder", refuse)
    assert main(["publish", str(run / "sft"), "--repo", "org/x", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would upload" in out and "README.md" in out and "model.safetensors" in out
    assert "| eval_sft (t) | 0.5 |" in (run / "sft" / "checkpoint" / "README.md").read_text()


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
