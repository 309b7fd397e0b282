"""Verdicts by log-probability: exact log-odds from the cached path, readable verdicts, calibration, and a
trained tiny judge whose log-probability verdicts agree with the verdicts it writes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError

from judgerl.core.samples import read_samples
from judgerl.core.stage import StageContext
from judgerl.data_prep.stage import PrepStage, run_prep
from judgerl.eval.stage import EvalStage, run_eval
from judgerl.judge_spec.families import PromptSpec
from judgerl.judge_spec.parser import parse_verdict
from judgerl.judge_spec.presets import builtin_spec, spec_for_prompt
from judgerl.judge_spec.writing import verdict_candidates
from judgerl.models.generation import SamplingSpec, render_prompts
from judgerl.models.generation.hf import HFGenerator
from judgerl.models.loading import load_model_and_tokenizer
from judgerl.models.logprob_judge import LogprobJudge, decide, thinking_prefix
from judgerl.models.scoring import continuation_logprobs
from judgerl.models.tiny import TinyModelSpec, make_tiny_judge
from tests.prompts import rendered

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SPEC = TinyModelSpec(hidden_size=32, layers=2, heads=2, intermediate_size=64, vocab_size=500)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lp_data")
    run_prep(
        PrepStage(source={"kind": "synthetic", "n_train": 240, "n_test": 10, "seed": 3}),
        StageContext("d", out),
    )
    return out


@pytest.fixture(scope="module")
def judge(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained tiny judge whose tokenizer knows the task's text."""
    from judgerl.trainers.tiny_model import TinyModelStage, tokenizer_corpus

    texts = tokenizer_corpus(TinyModelStage(data=str(data / "train.jsonl"), prompt=PromptSpec("direct")))
    return make_tiny_judge(tmp_path_factory.mktemp("lp_judge") / "ckpt", texts, SPEC, seed=1)


def _reference(model: torch.nn.Module, ids: list[int], start: int) -> float:
    logits = model(input_ids=torch.tensor([ids])).logits[0].float()
    logp = torch.log_softmax(logits[:-1], dim=-1)
    return float(logp[torch.arange(len(ids) - 1), torch.tensor(ids[1:])][start - 1 :].sum())


def test_cached_scores_equal_a_plain_forward(judge: Path, data: Path) -> None:
    model, tok = load_model_and_tokenizer(str(judge), dtype="float32", device="cpu")
    sample = read_samples(data / "test.jsonl")[0]
    context = render_prompts(tok, [rendered(sample, PromptSpec("strength"))])[0] + "<think>\n12\n</think>\n\n"
    sentences = [c[2] for c in verdict_candidates(builtin_spec("strength"))]
    scores = continuation_logprobs(model, tok, context, sentences)
    seqs = [tok(context + s, add_special_tokens=False)["input_ids"] for s in sentences]
    shared = next(i for i in range(len(seqs[0])) if len({tuple(s[: i + 1]) for s in seqs}) > 1)
    with torch.no_grad():
        expected = [_reference(model, s, shared) for s in seqs]
    assert scores == pytest.approx(expected, abs=1e-4)
    assert all(v < 0 for v in scores) and len(set(scores)) == len(scores)
    with pytest.raises(ValueError, match="tokenize identically"):
        continuation_logprobs(model, tok, context, ["x", "x"])
    with pytest.raises(ValueError, match="prefix of another"):
        continuation_logprobs(model, tok, context, ["Response", "Response (a)"])


def test_decide_sums_strengths_per_choice_and_reports_confidence() -> None:
    # a: strengths 1..3 at log(0.1), log(0.1), log(0.1); b: log(0.5), log(0.1), log(0.1)
    scores = [math.log(0.1)] * 3 + [math.log(0.5), math.log(0.1), math.log(0.1)]
    v = decide("<think>\nx\n</think>\n\n", scores, builtin_spec("strength"))
    assert v.choice == "b" and v.strength == 1
    assert v.logprobs["b"] == pytest.approx(math.log(0.7)) and v.logprobs["a"] == pytest.approx(math.log(0.3))
    assert v.confidence == pytest.approx(0.7) and v.margin == pytest.approx(math.log(0.7 / 0.3))
    parsed = parse_verdict(v.completion, require_strength=True)
    assert (parsed.choice, parsed.strength, parsed.thinking) == ("b", 1, "x")
    assert v.row()["strength"]["b"]["1"] == pytest.approx(math.log(0.5), abs=1e-4)


def test_thinking_prefix_keeps_only_what_precedes_the_verdict() -> None:
    assert thinking_prefix("") == ""
    assert thinking_prefix("<think>a</think>junk") == "<think>a</think>\n\n"
    assert thinking_prefix("therefore response (b) is better") == ""


def test_eval_stage_logprob_scoring_writes_readable_verdicts_and_calibration(
    judge: Path, data: Path, tmp_path: Path
) -> None:
    stage = EvalStage(
        model=str(judge), data=str(data / "test.jsonl"), prompt={"family": "direct"}, scoring="logprob"
    )
    result = run_eval(stage, StageContext("eval_lp", tmp_path))
    rows = [json.loads(x) for x in (tmp_path / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 20 and all(r["verdict"]["choice"] in ("a", "b") for r in rows)
    for r in rows:
        lp = r["logprob"]
        assert r["verdict"]["choice"] == ("a" if lp["a"] >= lp["b"] else "b")
        assert 0.5 <= lp["confidence"] <= 1 and lp["margin"] >= 0
        assert r["completion"] == f"Therefore, Response ({r['verdict']['choice']}) is better."
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    cal = metrics["calibration"]
    assert metrics["scoring"] == "logprob" and metrics["overall"]["parse_failure_rate"] == 0.0
    assert cal["n"] == 20 and sum(b["count"] for b in cal["bins"]) == 20
    assert cal["accuracy"] == pytest.approx(metrics["overall"]["single_accuracy"], abs=1e-3)
    assert result.metrics["ece"] == cal["ece"] and 0 <= cal["ece"] <= 1
    png = (tmp_path / "reliability.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and result.outputs["reliability"] == str(
        tmp_path / "reliability.png"
    )


def test_scoring_key_is_checked_and_its_default_keeps_the_config_hash(judge: Path) -> None:
    with pytest.raises(ValidationError, match="scoring: 'logprob' needs backend: hf"):
        EvalStage(model="m", data="d.jsonl", backend="vllm", scoring="logprob")
    with pytest.raises(ValidationError, match="neither a built-in name"):
        EvalStage(model="m", data="d.jsonl", chat_template="chatlm")
    plain = EvalStage(model="m", data="d.jsonl").model_dump()
    assert "scoring" not in plain and "chat_template" not in plain
    assert EvalStage(model="m", data="d.jsonl", scoring="logprob").model_dump()["scoring"] == "logprob"
    with pytest.raises(ValueError, match="needs the hf backend"):
        LogprobJudge(object(), builtin_spec("direct"))


@pytest.mark.slow
def test_a_trained_tiny_judges_logprob_verdicts_agree_with_its_written_ones(
    judge: Path, data: Path, tmp_path: Path
) -> None:
    from judgerl.trainers.sft import SFTStage, run_sft

    prompt = {"family": "direct", "instruction": "compact"}
    sft = SFTStage(
        model=str(judge),
        data=str(data / "train.jsonl"),
        prompt=prompt,
        max_steps=150,
        batch_size=8,
        lr=5e-3,
        max_length=256,
        save_steps=1000,
        logging_steps=10,
    )
    trained = run_sft(sft, StageContext("sft", tmp_path / "sft")).outputs["checkpoint"]
    model, tok = load_model_and_tokenizer(trained, dtype="float32", device="cpu")
    samples = read_samples(data / "test.jsonl")
    spec = PromptSpec("direct", instruction="compact")
    prompts = [rendered(s, spec) for s in samples] + [rendered(s.swapped(), spec) for s in samples]
    sampling = SamplingSpec(max_new_tokens=16, batch_size=20)
    written = [
        parse_verdict(c[0]) for c in HFGenerator(model, tok).generate(prompts, sampling, progress=False)
    ]
    scored = LogprobJudge(HFGenerator(model, tok), spec_for_prompt(spec)).score(
        prompts, sampling, progress=False
    )
    assert sum(v.ok for v in written) >= 18  # it learned to write the verdict sentence
    agree = [w.choice == s.choice for w, s in zip(written, scored, strict=True) if w.ok]
    assert sum(agree) / len(agree) >= 0.9


def test_judgerl_eval_on_a_template_less_model_names_the_flag_then_works_with_it(
    judge: Path, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    from judgerl.cli.main import main

    bare = tmp_path / "bare"
    shutil.copytree(judge, bare)
    config = json.loads((bare / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (bare / "tokenizer_config.json").write_text(json.dumps(config))
    (bare / "chat_template.jinja").unlink(missing_ok=True)
    argv = ["eval", "--model", str(bare), "--data", str(data / "test.jsonl"), "--max-new-tokens", "4"]
    assert main([*argv, "--out", str(tmp_path / "o1")]) != 0
    err = capsys.readouterr().err.strip()
    assert (
        "has no chat template: pass `--chat-template`" in err
        and "recipe" not in err
        and "Traceback" not in err
    )
    assert (
        main([*argv, "--out", str(tmp_path / "o2"), "--chat-template", "chatml", "--scoring", "logprob"]) == 0
    )
    metrics = json.loads((tmp_path / "o2" / "metrics.json").read_text())
    assert metrics["scoring"] == "logprob" and metrics["overall"]["parse_failure_rate"] == 0.0
    printed = capsys.readouterr().out
    assert f"calibration: ECE {metrics['calibration']['ece']:.3f} of the verdict confidence" in printed
    assert (tmp_path / "o2" / "reliability.png").stat().st_size > 0


def test_thinking_families_score_after_the_judges_own_thinking(judge: Path, data: Path) -> None:
    model, tok = load_model_and_tokenizer(str(judge), dtype="float32", device="cpu")
    spec = PromptSpec("strength")
    prompts = [rendered(s, spec) for s in read_samples(data / "test.jsonl")[:4]]
    sampling = SamplingSpec(max_new_tokens=12)
    thoughts = [c[0] for c in HFGenerator(model, tok).generate(prompts, sampling, progress=False)]
    scored = LogprobJudge(HFGenerator(model, tok), spec_for_prompt(spec)).score(
        prompts, sampling, progress=False
    )
    for thought, s in zip(thoughts, scored, strict=True):
        assert s.completion.startswith(thinking_prefix(thought)) and s.strength in (1, 2, 3)
        parsed = parse_verdict(s.completion, require_strength=True)
        assert (parsed.choice, parsed.strength, parsed.reason) == (s.choice, s.strength, "")


def test_logprob_scoring_shows_its_progress(judge: Path, data: Path, capsys: pytest.CaptureFixture) -> None:
    model, tok = load_model_and_tokenizer(str(judge), dtype="float32", device="cpu")
    spec = PromptSpec("direct")
    prompts = [rendered(s, spec) for s in read_samples(data / "test.jsonl")[:3]]
    judge_ = LogprobJudge(HFGenerator(model, tok), spec_for_prompt(spec))
    scores = judge_.score(prompts, SamplingSpec(), desc="judging 1-3 of 3")
    err = capsys.readouterr().err
    assert len(scores) == 3 and "judging 1-3 of 3: verdict log-probabilities" in err and "3/3" in err
    judge_.score(prompts, SamplingSpec(), progress=False)
    assert "verdict log-probabilities" not in capsys.readouterr().err
