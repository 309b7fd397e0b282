"""The `pairs` stage on a real tiny SFT judge and critic (trained here): Think-J branches from real
generations, the judge prompt on every pair, the chosen-side SFT file, statistics, resume without
regenerating finished work, judge-only rejection sampling and config checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from judgerl.core.jsonl import read_json, read_jsonl
from judgerl.core.samples import read_samples
from judgerl.core.stage import StageContext
from judgerl.core.types import JudgeSample
from judgerl.data_prep.pairs import is_right, read_pairs
from judgerl.data_prep.sft_format import sft_records
from judgerl.data_prep.stage import PrepStage, run_prep
from judgerl.judge_spec.families import PromptSpec
from judgerl.judge_spec.parser import parse_verdict
from judgerl.judge_spec.presets import spec_for_prompt
from judgerl.judge_spec.verdicts import format_trace
from judgerl.models import generation
from judgerl.trainers.pair_construction import PairsStage, run_pairs
from judgerl.trainers.sft import SFTStage, run_sft
from judgerl.trainers.tiny_model import TinyModelStage, run_tiny_model
from tests.prompts import rendered

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]
SPEC = PromptSpec("strength", instruction="compact")
CRITIC_SPEC = PromptSpec("strength", hint="positive", instruction="compact")
N_ITEMS = 48


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Synthetic data, a tiny judge SFT-trained long enough to write parseable verdicts (about half
    of them right), and a critic: the same SFT trainer on the hinted prompt, started from the judge."""
    root = tmp_path_factory.mktemp("pairs")
    data = run_prep(
        PrepStage(source={"kind": "synthetic", "n_train": N_ITEMS, "n_test": 4, "seed": 0}),
        StageContext("data", root / "data"),
    ).outputs["train"]
    base = run_tiny_model(
        TinyModelStage(
            data=data, prompt=SPEC, hidden_size=64, layers=2, heads=2, intermediate_size=128, vocab_size=400
        ),
        StageContext("model", root / "model"),
    ).outputs["checkpoint"]
    common = dict(
        data=data, batch_size=8, warmup_ratio=0.05, adam_beta2=0.98, max_length=512, save_steps=1000
    )
    judge = run_sft(
        SFTStage(model=base, prompt=SPEC, max_steps=150, lr=1e-2, **common),
        StageContext("sft", root / "sft", progress=False),
    ).outputs["checkpoint"]
    critic = run_sft(
        SFTStage(model=judge, prompt=CRITIC_SPEC, max_steps=40, lr=5e-3, **common),
        StageContext("critic", root / "critic", progress=False),
    ).outputs["checkpoint"]
    return {"data": data, "judge": judge, "critic": critic}


def pairs_stage(models: dict[str, str], **kw) -> PairsStage:
    base = dict(
        judge=models["judge"],
        critic=models["critic"],
        data=models["data"],
        prompt=SPEC,
        temperature=0.0,
        critic_temperature=0.0,
        max_new_tokens=160,
        batch_size=48,
        chunk_size=16,
        filters=[{"name": "length_ratio", "max_ratio": 3.0}, {"name": "duplicate"}],
    )
    return PairsStage(**(base | kw))


class CountingGenerate:
    """Wraps HFGenerator.generate to count the prompts it is asked for, by hint."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.prompts: list[str] = []
        original = generation.HFGenerator.generate

        def generate(gen, prompts, spec, progress=True, desc=""):
            self.prompts.extend(p[0]["content"] for p in prompts)
            return original(gen, prompts, spec, progress=False, desc=desc)

        monkeypatch.setattr(generation.HFGenerator, "generate", generate)


def test_critic_mode_builds_think_j_pairs_from_real_generations(
    models: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = CountingGenerate(monkeypatch)
    result = run_pairs(pairs_stage(models), StageContext("pairs", tmp_path / "pairs", progress=False))
    out = tmp_path / "pairs"
    stats = read_json(result.outputs["stats"])
    assert stats == json.loads(json.dumps(result.metrics))
    samples = read_samples(models["data"])
    gens = read_jsonl(out / "generations.jsonl")
    by_role = {(g["role"], g["index"]): g for g in gens}
    judge = {i: parse_verdict(by_role[("judge", i)]["completions"][0], True) for i in range(N_ITEMS)}
    n_right = sum(is_right(s, judge[i]) for i, s in enumerate(samples))
    n_empty = sum(not by_role[("judge", i)]["completions"][0].strip() for i in range(N_ITEMS))

    # the judge's real accuracy sits between the extremes, so both branches are exercised
    assert 5 <= n_right <= N_ITEMS - 5, n_right
    assert stats["items"] == N_ITEMS and stats["accuracy"]["judge"] == round(n_right / N_ITEMS, 4)
    # the critic ran only where a branch needs it: negative hint where the judge was right, positive where wrong
    roles = [g["role"] for g in gens]
    assert roles.count("judge") == N_ITEMS
    assert roles.count("critic_negative") == n_right
    assert roles.count("critic_positive") == N_ITEMS - n_right - n_empty
    assert len(counter.prompts) == 2 * N_ITEMS - n_empty
    hinted = [p for p in counter.prompts if "Given that" in p]
    assert len(hinted) == N_ITEMS - n_empty

    # every item is accounted for: a pair or one skip reason
    assert stats["pairs_built"] + sum(stats["skipped"].values()) == N_ITEMS
    assert set(stats["skipped"]) <= {"negative critic not wrong", "positive critic not right", "empty trace"}
    assert stats["pairs_built"] > 0
    assert stats["pairs"] == stats["pairs_built"] - sum(stats["filtered"].values())
    assert list(stats["filtered"]) == ["length_ratio", "duplicate"]

    pairs = read_pairs(result.outputs["pairs"], prompt=spec_for_prompt(SPEC)).rows  # validates every row
    assert len(pairs) == stats["pairs"] > 0
    for p in pairs:
        sample = JudgeSample.from_dict(p["sample"])
        index = next(i for i, s in enumerate(samples) if s.id == sample.id)
        assert p["prompt"] == rendered(sample, SPEC)  # the judge prompt, never the hinted one
        judge_text = by_role[("judge", index)]["completions"][0]
        if p["branch"] == "judge_right":
            critic_text = by_role[("critic_negative", index)]["completions"][0]
            assert (p["chosen"], p["rejected"]) == (judge_text, critic_text)
        else:
            assert p["branch"] == "judge_wrong"
            critic_text = by_role[("critic_positive", index)]["completions"][0]
            assert (p["chosen"], p["rejected"]) == (critic_text, judge_text)
        assert is_right(sample, parse_verdict(p["chosen"], True))
        assert not is_right(sample, parse_verdict(p["rejected"], True))
    assert stats["pairs_by_branch"] == {
        b: n for b in ("judge_right", "judge_wrong") if (n := sum(p["branch"] == b for p in pairs))
    }
    assert stats["mean_chosen_chars"] == round(sum(len(p["chosen"]) for p in pairs) / len(pairs), 1)

    # the chosen sides as an SFT file that the one renderer turns back into the chosen traces
    chosen = read_samples(result.outputs["chosen_sft"])
    records = sft_records(chosen, spec_for_prompt(SPEC))
    assert len(records.rows) == len(pairs) and records.skipped == []
    for rec, p in zip(records.rows, pairs, strict=True):
        v = parse_verdict(p["chosen"], True)
        assert rec["messages"][:-1] == p["prompt"]
        assert rec["messages"][-1]["content"] == format_trace(v.thinking, v.choice, v.strength)
    assert not (out / "generations.partial.jsonl").exists()


def test_a_killed_pairs_stage_does_not_generate_finished_work_again(
    models: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "pairs"
    out.mkdir()
    samples = read_samples(models["data"])
    marker = "<think>\nresumed\n</think>\n\nTherefore, Response (a) is better, and the strength is [[1]]."
    done = [
        {"role": "judge", "index": i, "id": s.id, "order": s.order, "completions": [marker]}
        for i, s in enumerate(samples[:20])
    ]
    lines = [json.dumps(r) for r in done] + ['{"role": "judge", "index": 20, "id": "cut']  # a crash mid-line
    (out / "generations.partial.jsonl").write_text("\n".join(lines))
    counter = CountingGenerate(monkeypatch)
    result = run_pairs(
        pairs_stage(models, mode="judge_only", critic=None, temperature=1.0, samples_per_item=2),
        StageContext("pairs", out, resume=True, progress=False),
    )
    judge_prompts = [p for p in counter.prompts if "Given that" not in p]
    assert len(judge_prompts) == N_ITEMS - 20
    gens = read_jsonl(out / "generations.jsonl")
    assert [g["completions"] for g in gens[:20]] == [[marker]] * 20
    assert all(len(g["completions"]) == 2 for g in gens[20:]) and len(gens) == N_ITEMS
    assert result.metrics["resumed_generations"] == 20


def test_judge_only_mode_pairs_right_with_wrong_samples(models: dict[str, str], tmp_path: Path) -> None:
    stage = pairs_stage(
        models,
        mode="judge_only",
        critic=None,
        temperature=1.0,
        samples_per_item=4,
        max_pairs_per_item=2,
        max_items=24,
        filters=[],
    )
    result = run_pairs(stage, StageContext("pairs", tmp_path / "pairs", progress=False))
    stats = result.metrics
    assert stats["items"] == 24 and stats["judgements"] == {"judge": 96}
    assert stats["pairs_built"] > 0
    assert set(stats["skipped"]) <= {"no wrong sample", "no right sample", "empty trace"}
    pairs = read_pairs(result.outputs["pairs"], prompt=spec_for_prompt(SPEC)).rows
    per_item: dict[str, int] = {}
    for p in pairs:
        sample = JudgeSample.from_dict(p["sample"])
        assert p["branch"] == "rejection_sampling" and p["chosen_source"] == p["rejected_source"] == "judge"
        assert is_right(sample, parse_verdict(p["chosen"], True))
        assert not is_right(sample, parse_verdict(p["rejected"], True))
        per_item[sample.id] = per_item.get(sample.id, 0) + 1
    assert max(per_item.values()) <= 2
    assert stats["chosen_sft_rows"] == len(read_samples(result.outputs["chosen_sft"])) <= len(pairs)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"critic": None}, "mode 'critic' needs a critic"),
        ({"mode": "judge_only"}, "uses no critic"),
        ({"mode": "judge_only", "critic": None, "temperature": 0.0}, "temperature must be > 0"),
        ({"prompt": CRITIC_SPEC}, "the pairs stage takes the judge's own prompt"),
        ({"filters": [{"name": "lenght_ratio"}]}, "unknown pair filter 'lenght_ratio'"),
    ],
)
def test_bad_pairs_configs_fail_at_validation(change: dict, message: str) -> None:
    fake = {"judge": "j", "critic": "c", "data": "d"}
    with pytest.raises(ValidationError, match=message):
        pairs_stage(fake, **change)
