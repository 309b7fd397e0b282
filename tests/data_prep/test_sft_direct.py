"""SFT without traces where the prompt needs none: the `direct` family trains on verdict-only targets."""

from __future__ import annotations

from pathlib import Path

from judgerl.core.samples import write_samples
from judgerl.core.stage import StageContext
from judgerl.data_prep.sft_format import sft_records
from judgerl.data_prep.sources.llmbar import load_llmbar
from judgerl.judge_spec.families import PromptSpec
from judgerl.judge_spec.presets import builtin_spec
from judgerl.judge_spec.verdicts import verdict_sentence
from judgerl.models.tiny import TinyModelSpec, make_tiny_judge
from judgerl.trainers.sft import SFTStage, run_sft
from tests.prompts import user_text

DIRECT_PROMPT = PromptSpec("direct", instruction="compact")
DIRECT = builtin_spec("direct-compact")


def test_real_samples_without_traces_get_verdict_targets_in_the_direct_family_only(shared_data: Path) -> None:
    samples = load_llmbar(shared_data / "llmbar", subsets=["llmbar-natural"]).samples[:6]
    assert samples and all("thinking" not in s.metadata for s in samples)
    direct = sft_records(samples + [samples[0].swapped()], DIRECT)
    assert direct.skipped == [] and len(direct.rows) == 7
    targets = [r["messages"][1]["content"] for r in direct.rows]
    assert targets == [verdict_sentence(s.label) for s in samples + [samples[0].swapped()]]
    assert "Answer: Therefore" in direct.rows[0]["messages"][0]["content"]  # the direct instruction
    cot = sft_records(samples, builtin_spec("cot"))
    assert cot.rows == [] and {reason for _, reason in cot.skipped} == {"no thinking trace"}
    # a trace, when there is one, is not used by the direct family (its prompt asks for the verdict alone)
    traced = type(samples[0]).from_dict({**samples[0].to_dict(), "metadata": {"thinking": "because"}})
    assert sft_records([traced], DIRECT).rows[0]["messages"][1]["content"] == verdict_sentence(traced.label)


def test_the_sft_stage_trains_a_direct_judge_on_samples_without_traces(
    tmp_path: Path, shared_data: Path
) -> None:
    samples = load_llmbar(shared_data / "llmbar", subsets=["llmbar-natural"]).samples[:8]
    data = tmp_path / "data" / "train.jsonl"
    write_samples(data, samples)
    texts = [user_text(s, DIRECT_PROMPT) + verdict_sentence(s.label) for s in samples]
    model = make_tiny_judge(
        tmp_path / "model", texts, TinyModelSpec(hidden_size=32, layers=1, heads=2, vocab_size=300)
    )
    stage = SFTStage(
        model=str(model), data=str(data), prompt=DIRECT_PROMPT, max_steps=3, batch_size=4, lr=1e-3,
        max_length=1024, save_steps=100, logging_steps=1,
    )  # fmt: skip
    metrics = run_sft(stage, StageContext("sft", tmp_path / "sft")).metrics
    assert (metrics["train_rows"], metrics["skipped"], metrics["steps"]) == (8, 0, 3)
    assert metrics["final_loss"] is not None and metrics["first_loss"] > 0
