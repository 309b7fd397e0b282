"""Judges for selection: oracle noise, the 0-10 scorer, PRM heads, pairwise win rates, score hooks, caching."""

from __future__ import annotations

import math
import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from judgerl.core.registry import Registry
from judgerl.eval.scaling.candidates import PromptCandidates
from judgerl.eval.scaling.judges import (
    GenerativeScoreJudge,
    OracleJudge,
    PairwiseScoreJudge,
    PRMJudge,
    ScoreHookJudge,
    build_judge,
    checkpoint_stamp,
    judge_cache_name,
    load_prm,
    parse_judge_spec,
    register_score_hook,
    score_all,
    split_steps,
)
from judgerl.judge_spec.presets import builtin_spec
from judgerl.judge_spec.score_parser import parse_score


def _items(n: int = 3) -> list[PromptCandidates]:
    return [
        PromptCandidates(f"q{i}", f"What is {i}+1?", [f"{i + 1}", f"{i + 2}", "no"], [1.0, 0.0, 0.0])
        for i in range(n)
    ]


def test_oracle_is_exact_without_noise_and_clamped_seeded_noise_with_it() -> None:
    items = _items()
    assert OracleJudge(items, 0.0).score(items[0].prompt, items[0].candidates) == [10.0, 0.0, 0.0]
    noisy = OracleJudge(items, 0.5, seed=3)
    scores = [noisy.score(i.prompt, i.candidates) for i in items]
    assert all(0.0 <= s <= 10.0 for row in scores for s in row)
    assert (
        scores
        == [OracleJudge(items, 0.5, seed=3).score(i.prompt, i.candidates) for i in reversed(items)][::-1]
    )
    assert scores != [OracleJudge(items, 0.5, seed=4).score(i.prompt, i.candidates) for i in items]
    # Away from the clamp the noise has standard deviation 10 * eps.
    mid = [PromptCandidates(f"m{i}", f"m{i}", ["a"] * 10, [0.5] * 10) for i in range(300)]
    r = np.array([OracleJudge(mid, 0.1).score(m.prompt, m.candidates) for m in mid])
    assert r.std() == pytest.approx(1.0, rel=0.1) and abs(r.mean() - 5.0) < 0.1
    with pytest.raises(KeyError, match="knows only"):
        noisy.score("unknown", ["x"])


def test_score_parser_reads_the_first_number_and_clamps() -> None:
    assert parse_score("8").value == 8.0 and parse_score("Score: 7.5 out of 10").value == 7.5
    assert (
        parse_score("15").value == 10.0
        and parse_score("-2").value == 0.0
        and parse_score("9" * 400).value == 10.0
    )
    assert parse_score("<think>maybe 3</think>\n9").value == 9.0
    assert (
        parse_score("<think>still 3").reason == "unclosed thinking block"
        and parse_score("").reason == "empty completion"
    )
    assert parse_score("x-3").value == 3.0  # a hyphen inside a word is no minus sign


class ScriptedScorer:
    def __init__(self, replies: dict[str, str]) -> None:
        self.replies = replies
        self.prompts: list[str] = []

    def generate(self, prompts, spec, progress=True, desc=""):
        assert spec.greedy and spec.n == 1
        out = []
        for p in prompts:
            text = p[0]["content"]
            self.prompts.append(text)
            solution = re.search(
                r"\[The Start of Solution\]\n(.*)\n\[The End of Solution\]", text, re.S
            ).group(1)
            out.append([self.replies[solution]])
        return out


def test_generative_scorer_parses_clamps_and_counts_failures() -> None:
    gen = ScriptedScorer({"4": "Score: 9", "5": "12/10", "6": "I cannot tell"})
    judge = GenerativeScoreJudge(gen, max_new_tokens=6)
    (res,) = judge.score_batch(["2+2?"], [["4", "5", "6"]])
    assert res.scores[:2] == [9.0, 10.0] and math.isnan(res.scores[2]) and (res.failures, res.calls) == (1, 3)
    assert judge.score("2+2?", ["4", "5", "6"]) == [9.0, 10.0, 0.0]  # no score -> `missing` (0)
    assert "2+2?" in gen.prompts[0] and "0 (wrong) to 10" in gen.prompts[0]


class PairJudge:
    """Prefers the response with the larger number; `mode` makes it always say (a) or say nothing."""

    def __init__(self, mode: str = "larger") -> None:
        self.mode = mode

    def generate(self, prompts, spec, progress=True, desc=""):
        out = []
        for p in prompts:
            text = p[0]["content"]
            a = int(re.search(r"Response \(a\)\]\n(\d+)", text).group(1))
            b = int(re.search(r"Response \(b\)\]\n(\d+)", text).group(1))
            choice = {"larger": "a" if a > b else "b", "a": "a"}.get(self.mode)
            out.append([f"<think>x</think>\nTherefore, Response ({choice}) is better." if choice else "hmm"])
        return out


def test_pairwise_judge_scores_are_win_rates_over_both_orders() -> None:
    judge = PairwiseScoreJudge(PairJudge(), builtin_spec("cot"))
    (res,) = judge.score_batch(["pick"], [["1", "2", "3"]])
    assert res.scores == [0.0, 5.0, 10.0] and res.calls == 6 and res.failures == 0
    assert PairwiseScoreJudge(PairJudge("a"), builtin_spec("cot")).score("pick", ["1", "2", "3"]) == [5.0] * 3
    (none,) = PairwiseScoreJudge(PairJudge("none"), builtin_spec("cot")).score_batch(
        ["pick"], [["1", "2", "3"]]
    )
    assert none.scores == [5.0] * 3 and none.failures == 6  # unparseable verdicts are ties, and counted
    assert PairwiseScoreJudge(PairJudge()).score("pick", ["7"]) == [5.0]


@pytest.fixture(scope="module")
def prm_parts():
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification, Qwen2Config

    from judgerl.models.tokenizer import train_tokenizer

    tok = train_tokenizer(["What is 2+2? 2+2=4 so the answer is 4.\n#### 4"] * 30, vocab_size=300)
    tok.add_tokens(["<extra_0>"], special_tokens=True)
    cfg = dict(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(0)
    token_model = AutoModelForTokenClassification.from_config(Qwen2Config(num_labels=2, **cfg))
    seq_model = AutoModelForSequenceClassification.from_config(Qwen2Config(num_labels=2, **cfg))
    three = AutoModelForTokenClassification.from_config(Qwen2Config(num_labels=3, **cfg))
    return tok, token_model, seq_model, three


SOLUTIONS = ["2+2=4\nso 4\n#### 4", "2+2=5\n#### 5", "one line. two lines. three."]


def test_prm_scores_are_ten_times_the_mean_positive_probability_at_separators(
    prm_parts, tmp_path: Path
) -> None:
    tok, token_model, _, _ = prm_parts
    judge = PRMJudge(token_model, tok, batch_size=2)
    scores = judge.score("What is 2+2?", SOLUTIONS)
    assert len(scores) == 3 and all(0.0 <= s <= 10.0 for s in scores)
    # By hand for the first solution: 3 steps -> 3 separators.
    text = judge.render("What is 2+2?", SOLUTIONS[0])
    assert text.count("<extra_0>") == 3 and split_steps(SOLUTIONS[2]) == ["one line.", "two lines.", "three."]
    ids = tok(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        probs = torch.softmax(token_model(input_ids=ids).logits[0], dim=-1)[:, 1]
    assert scores[0] == pytest.approx(10 * float(probs[ids[0] == judge.separator_id].mean()), abs=1e-5)
    # Batch size does not change a score (right padding).
    assert PRMJudge(token_model, tok, batch_size=1).score("What is 2+2?", SOLUTIONS) == pytest.approx(
        scores, abs=1e-5
    )
    # Saved and reloaded through load_prm: the same scores.
    token_model.save_pretrained(tmp_path / "prm")
    tok.save_pretrained(tmp_path / "prm")
    model, tok2 = load_prm(str(tmp_path / "prm"), device="cpu")
    assert type(model).__name__ == "Qwen2ForTokenClassification"
    assert PRMJudge(model, tok2).score("What is 2+2?", SOLUTIONS) == pytest.approx(scores, abs=1e-5)


def test_prm_sequence_head_and_bad_heads(prm_parts) -> None:
    tok, _, seq_model, three = prm_parts
    scores = PRMJudge(seq_model, tok).score("What is 2+2?", SOLUTIONS)
    assert len(scores) == 3 and all(0.0 <= s <= 10.0 for s in scores) and len(set(scores)) == 3
    with pytest.raises(ValueError, match="two-class head"):
        PRMJudge(three, tok).score("q", ["a"])
    with pytest.raises(ValueError, match="must be one token"):
        PRMJudge(seq_model, tok, separator="<not a token>")
    # A solution whose separators are all cut off by max_length gets no score, counted.
    (res,) = PRMJudge(prm_parts[1], tok, max_length=4).score_batch(["What is 2+2? " * 5], [["2+2=4"]])
    assert math.isnan(res.scores[0]) and res.failures == 1


def test_score_hook_registry_and_import_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("judgerl.eval.scaling.judges.hook.SCORE_HOOKS", Registry("score hook"))

    @register_score_hook("shortest")
    def shortest(prompt, candidates):
        return [-float(len(c)) for c in candidates]

    assert build_judge("hook:shortest", []).score("q", ["abc", "a"]) == [-3.0, -1.0]
    module = types.ModuleType("my_hooks")
    module.nan_hook = lambda p, c: [1.0, float("nan")]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "my_hooks", module)
    (res,) = ScoreHookJudge.named("my_hooks:nan_hook").score_batch(["q"], [["a", "b"]])
    assert res.scores[0] == 1.0 and math.isnan(res.scores[1]) and res.failures == 1
    with pytest.raises(ValueError, match=r"no score hook named 'nope' \(registered: shortest"):
        ScoreHookJudge.named("nope")
    with pytest.raises(ValueError, match="returned 1 scores for 2"):
        ScoreHookJudge(lambda p, c: [1.0], "hook:bad").score("q", ["a", "b"])


def test_judge_specs_are_checked() -> None:
    assert parse_judge_spec("pairwise:runs/x/checkpoint") == ("pairwise", "runs/x/checkpoint")
    for bad, msg in (
        ("oracle:lots", "must be a number"),
        ("oracle:-1", ">= 0"),
        ("magic:1", "KIND:ARG"),
        ("oracle", "KIND:ARG"),
    ):
        with pytest.raises(ValueError, match=msg):
            parse_judge_spec(bad)


class CountingJudge:
    name = "counting"

    def __init__(self, fail_on_call: int | None = None) -> None:
        self.prompts: list[str] = []
        self.fail_on_call = fail_on_call

    def score(self, prompt, candidates):
        if self.fail_on_call is not None and len(self.prompts) == self.fail_on_call:
            raise RuntimeError("killed")
        self.prompts.append(prompt)
        return [float(len(c)) for c in candidates]


def test_score_all_caches_and_resumes(tmp_path: Path) -> None:
    items = _items(5)
    cache = tmp_path / "scores" / "counting.jsonl"
    with pytest.raises(RuntimeError, match="killed"):
        score_all(CountingJudge(fail_on_call=3), items, cache, chunk_size=2, progress=False)
    assert len((tmp_path / "scores" / "counting.jsonl.partial").read_text().splitlines()) == 2
    judge = CountingJudge()
    pool = score_all(judge, items, cache, chunk_size=2, progress=False)
    assert judge.prompts == [i.prompt for i in items[2:]] and pool.reused_prompts == 2
    assert pool.rewards[0] == [1.0, 1.0, 2.0] and cache.exists()
    # A changed candidate list is scored again; the others come from the cache.
    items[4] = PromptCandidates("q4", items[4].prompt, ["longer", "x"], [1.0, 0.0])
    again = CountingJudge()
    pool = score_all(again, items, cache, progress=False)
    assert again.prompts == [items[4].prompt] and pool.rewards[4] == [6.0, 1.0] and pool.reused_prompts == 4
    # A score hook's NaN is filled with the judge's missing score and counted.
    nan_pool = score_all(
        ScoreHookJudge(lambda p, c: [float("nan")] * len(c), "hook:nan"), items[:1], progress=False
    )
    assert (
        nan_pool.rewards == [[0.0, 0.0, 0.0]] and nan_pool.failures == 3 and nan_pool.details["filled"] == 3
    )
    assert judge_cache_name(OracleJudge([], 0.1, seed=1)) != judge_cache_name(OracleJudge([], 0.1, seed=2))


def test_a_retrained_checkpoint_gets_a_new_score_cache(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"v1")
    judge = OracleJudge([], 0.0)
    plain = judge_cache_name(judge)
    judge.checkpoint_stamp = checkpoint_stamp(str(tmp_path))
    first = judge_cache_name(judge)
    (tmp_path / "model.safetensors").write_bytes(b"v2")  # same size, new content
    judge.checkpoint_stamp = checkpoint_stamp(str(tmp_path))
    assert len({plain, first, judge_cache_name(judge)}) == 3
    (tmp_path / "model.safetensors").write_bytes(b"v1")  # an identical rebuild reuses the cache
    judge.checkpoint_stamp = checkpoint_stamp(str(tmp_path))
    assert judge_cache_name(judge) == first
    big = tmp_path / "big.bin"
    big.write_bytes(b"a" * 100 + b"b" * 100)
    before = checkpoint_stamp(str(tmp_path), edge=64)
    big.write_bytes(b"a" * 100 + b"b" * 99 + b"c")  # a change in the tail is seen
    assert checkpoint_stamp(str(tmp_path), edge=64) != before
    assert checkpoint_stamp("org/hub-model") == []
