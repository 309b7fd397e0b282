"""The `dpo` stage on a tiny model: the chosen-over-rejected log-prob margin rises on the training
pairs, the checkpoint saves and reloads, LoRA and precomputed reference log-probs work, a killed
run resumes, and malformed pairs or configs fail before TRL sees them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from judgerl.core.errors import DataError
from judgerl.core.jsonl import write_jsonl
from judgerl.core.stage import StageContext
from judgerl.core.types import Verdict
from judgerl.data_prep import pairs as P
from judgerl.data_prep.synthetic import make_synthetic_splits, synthetic_sft_trace
from judgerl.judge_spec.families import PromptSpec, both_orders
from judgerl.judge_spec.presets import spec_for_prompt
from judgerl.judge_spec.verdicts import format_trace
from judgerl.models.loading import load_model_and_tokenizer
from judgerl.models.tiny import TinyModelSpec, make_tiny_judge
from judgerl.trainers.dpo import DPOStage, run_dpo
from tests.prompts import rendered, user_text

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SPEC = PromptSpec("strength", instruction="compact")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[dict]]:
    """A tiny untrained judge and a pairs file: the full right trace over a cut-short trace with the wrong verdict."""
    root = tmp_path_factory.mktemp("dpo")
    # both orders, so that a prior for one letter cannot raise the mean margin on its own
    samples = both_orders(make_synthetic_splits(6, 0, seed=4).train)
    rows = []
    for s in samples:
        right = synthetic_sft_trace(s)
        thinking = right.split("</think>")[0].removeprefix("<think>")
        # a lazy judge: two lines of the working, then the wrong verdict
        wrong = format_trace("\n".join(thinking.strip().splitlines()[:2]), "b" if s.label == "a" else "a", 1)
        good = P.Completion(right, Verdict(s.label, s.abs_strength))
        bad = P.Completion(wrong, Verdict("b" if s.label == "a" else "a", s.abs_strength))
        rows.append(
            P.pair_row(
                P.item_key(s), s, spec_for_prompt(SPEC), good, bad, "judge", "critic_negative", "judge_right"
            )
        )
    pairs = root / "pairs.jsonl"
    write_jsonl(pairs, rows)
    texts = (
        [user_text(s, SPEC) for s in samples] + [r["chosen"] for r in rows] + [r["rejected"] for r in rows]
    )
    model = make_tiny_judge(
        root / "base", texts * 3, TinyModelSpec(hidden_size=32, layers=1, heads=2, vocab_size=400), seed=0
    )
    return model, pairs, rows


def margins(checkpoint: Path, rows: list[dict]) -> list[float]:
    """log p(chosen) - log p(rejected) under the judge prompt, per pair."""
    model, tok = load_model_and_tokenizer(checkpoint, dtype="float32", device="cpu")
    out = []
    with torch.no_grad():
        for r in rows:
            prompt = tok.apply_chat_template(r["prompt"], tokenize=False, add_generation_prompt=True)
            n_prompt = len(tok(prompt, add_special_tokens=False)["input_ids"])
            logps = []
            for side in ("chosen", "rejected"):
                text = tok.apply_chat_template(
                    r["prompt"] + [{"role": "assistant", "content": r[side]}], tokenize=False
                )
                ids = torch.tensor([tok(text, add_special_tokens=False)["input_ids"]])
                logits = model(ids).logits[0, :-1].log_softmax(-1)
                token_logps = logits.gather(1, ids[0, 1:, None])[:, 0]
                logps.append(token_logps[n_prompt - 1 :].sum().item())
            out.append(logps[0] - logps[1])
    return out


def stage(model: Path, pairs: Path, **kw) -> DPOStage:
    base = dict(
        model=str(model),
        data=str(pairs),
        prompt=SPEC,
        rpo_alpha=1.0,
        lr=5e-3,
        max_steps=8,
        batch_size=4,
        warmup_ratio=0.0,
        max_length=512,
        save_steps=4,
        logging_steps=1,
    )
    return DPOStage(**(base | kw))


@pytest.mark.slow
def test_dpo_raises_the_chosen_margin_and_saves_a_reloadable_checkpoint(setup, tmp_path: Path) -> None:
    model, pairs, rows = setup
    before = margins(model, rows)
    result = run_dpo(stage(model, pairs, beta=0.5), StageContext("dpo", tmp_path / "dpo", progress=False))
    after = margins(Path(result.outputs["checkpoint"]), rows)
    mean_before, mean_after = sum(before) / len(before), sum(after) / len(after)
    assert mean_after > mean_before + 1.0, (before, after)
    assert sum(a > b for a, b in zip(after, before, strict=True)) == len(rows), (before, after)
    m = result.metrics
    assert m["steps"] == 8 and m["train_pairs"] == 12 and m["resumed_from"] is None
    assert m["loss_type"] == ["sigmoid", "sft"] and m["loss_weights"] == [1.0, 1.0]
    assert m["final_reward_margin"] > m["first_reward_margin"]
    assert (tmp_path / "dpo" / "checkpoint" / "tokenizer.json").exists()
    assert json.loads((tmp_path / "dpo" / "log_history.json").read_text())[0]["step"] == 1


@pytest.mark.slow
def test_lora_dpo_with_merged_adapter_moves_the_margin(setup, tmp_path: Path) -> None:
    model, pairs, rows = setup
    before = margins(model, rows)
    result = run_dpo(
        stage(model, pairs, lora={"r": 8, "alpha": 16, "dropout": 0.0}, lr=2e-2, max_steps=6),
        StageContext("dpo", tmp_path / "dpo", progress=False),
    )
    checkpoint = Path(result.outputs["checkpoint"])
    assert (checkpoint / "config.json").exists() and not (checkpoint / "adapter_config.json").exists()
    after = margins(checkpoint, rows)
    assert sum(after) / len(after) > sum(before) / len(before)


@pytest.mark.slow
def test_a_killed_run_resumes_from_its_last_trainer_checkpoint(setup, tmp_path: Path) -> None:
    model, pairs, _ = setup
    out = tmp_path / "dpo"
    config = stage(model, pairs, precompute_ref_log_probs=True, max_steps=6, save_steps=3)
    run_dpo(config, StageContext("dpo", out, progress=False))
    # leave the folder as a run killed after checkpoint-3 would
    shutil.rmtree(out / "checkpoint")
    shutil.rmtree(out / "trainer" / "checkpoint-6")
    result = run_dpo(config, StageContext("dpo", out, resume=True, progress=False))
    assert result.metrics["resumed_from"].endswith("checkpoint-3")
    assert result.metrics["steps"] == 6 and (out / "checkpoint" / "config.json").exists()


def test_malformed_pairs_stop_before_any_model_is_loaded(setup, tmp_path: Path) -> None:
    model, _, rows = setup
    bad = dict(rows[1])
    del bad["chosen"]
    path = tmp_path / "pairs.jsonl"
    write_jsonl(path, [rows[0], bad])
    with pytest.raises(DataError, match="pairs row 1: missing 'chosen'"):
        run_dpo(stage(model, path), StageContext("dpo", tmp_path / "dpo"))
    wrong_prompt = dict(rows[0], prompt=rendered(make_synthetic_splits(1, 0).train[0], SPEC))
    write_jsonl(path, [wrong_prompt])
    with pytest.raises(DataError, match="pairs row 0: 'prompt' is not the judge prompt"):
        run_dpo(stage(model, path), StageContext("dpo", tmp_path / "dpo"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"loss_type": ["sigmoid", "sft"]}, "either rpo_alpha or an 'sft' loss_type"),
        ({"loss_type": "dpo"}, "unknown DPO loss type"),
        ({"loss_type": ["sigmoid", "ipo"], "loss_weights": [1.0], "rpo_alpha": None}, "loss_weights has 1"),
        ({"precompute_ref_log_probs": True, "lora": {"r": 4}}, "precompute_ref_log_probs is for full"),
        ({"prompt": PromptSpec(hint="positive")}, "DPO trains the judge under its own prompt"),
    ],
)
def test_bad_dpo_configs_fail_at_validation(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        stage(Path("m"), Path("d"), **change)


def test_loss_types_map_onto_trl() -> None:
    assert stage(Path("m"), Path("d"), rpo_alpha=None).trl_losses() == (["sigmoid"], [1.0])
    two = stage(
        Path("m"), Path("d"), loss_type=["sigmoid", "bco_pair"], loss_weights=[0.8, 0.2], rpo_alpha=0.5
    )
    assert two.trl_losses() == (["sigmoid", "bco_pair", "sft"], [0.8, 0.2, 0.5])
