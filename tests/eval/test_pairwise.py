"""Judging in both orders with a scripted generator: verdict parsing, order handling, resume."""

from __future__ import annotations

import json
from pathlib import Path

from judgerl.data_prep.synthetic import make_synthetic_splits
from judgerl.eval.metrics import pairwise_metrics
from judgerl.eval.pairwise import judge_samples
from judgerl.judge_spec.presets import builtin_spec


class AlwaysA:
    """A position-biased judge: always says (a), strength 2. Counts the prompts it saw."""

    def __init__(self) -> None:
        self.seen = 0

    def generate(self, prompts, spec, progress=True, desc=""):
        self.seen += len(prompts)
        return [
            ["<think>\nhm\n</think>\n\nTherefore, Response (a) is better, and the strength is [[2]]."]
            for _ in prompts
        ]


def test_position_bias_shows_as_half_single_accuracy_and_zero_agreement() -> None:
    samples = make_synthetic_splits(1, 10, seed=2).test
    judgements = judge_samples(AlwaysA(), samples, builtin_spec("strength"), sampling=None, chunk_size=4)
    assert len(judgements) == 20 and [j.order for j in judgements[:2]] == ["ab", "ba"]
    m = pairwise_metrics(judgements)["overall"]
    assert m["single_accuracy"] == 0.5 and m["pair_accuracy"] == 0.0 and m["agreement"] == 0.0
    assert m["parse_failure_rate"] == 0.0


def test_interrupted_judging_resumes_without_redoing_finished_work(tmp_path: Path) -> None:
    samples = make_synthetic_splits(1, 10, seed=2).test
    partial = tmp_path / "partial.jsonl"
    first = AlwaysA()
    judge_samples(first, samples[:3], builtin_spec("strength"), None, partial, chunk_size=2)
    with open(partial, "a") as f:
        f.write('{"sample_id": "cut-off')  # a line cut by a crash is removed and judged again
    second = AlwaysA()
    judgements = judge_samples(second, samples, builtin_spec("strength"), None, partial, chunk_size=2)
    assert first.seen == 6 and second.seen == 14
    lines = partial.read_text().splitlines()
    assert len(judgements) == 20 and len(lines) == 20 and all(json.loads(x)["sample_id"] for x in lines)
