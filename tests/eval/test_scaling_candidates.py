"""Candidates: the JSONL format, GSM8K answer checking, the example-solutions converter, policy sampling."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

from judgerl.core.errors import DataError
from judgerl.eval.scaling.candidates import (
    Problem,
    PromptCandidates,
    answer_checker,
    answers_match,
    check_gsm8k,
    extract_answer,
    file_sha256,
    gsm8k_solutions_to_candidates,
    read_candidates,
    read_problems,
    sample_candidates,
    write_candidates,
)
from judgerl.models.generation import SamplingSpec


def _write(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_candidate_rows_are_validated_with_the_row_index(tmp_path: Path) -> None:
    good = {"prompt": "2+2?", "candidates": ["4", "5"], "correctness": [True, 0]}
    f = _write(tmp_path / "c.jsonl", [good, {"prompt": "q", "candidates": ["a"], "correctness": [1, 0]}])
    before = file_sha256(f)
    with pytest.raises(DataError, match=r"row 1: correctness has 2 entries for 1 candidates"):
        read_candidates(f)
    load = read_candidates(f, on_bad_row="skip")
    assert [i.id for i in load.items] == ["c-0000"] and load.items[0].correctness == [1.0, 0.0]
    assert load.skipped == [(1, "correctness has 2 entries for 1 candidates")]
    assert file_sha256(f) == before  # reading never writes
    for bad, msg in (
        ({"prompt": "q", "candidates": [], "correctness": []}, "candidates is empty"),
        ({"prompt": "q", "candidates": ["a"], "correctness": [1.5]}, r"in \[0, 1\]"),
        ({"prompt": "q", "candidates": ["a"], "correctness": [1], "extra": 1}, "unknown fields"),
        ({"candidates": ["a"], "correctness": [1]}, "missing field 'prompt'"),
        ("{not json", "not valid JSON"),
    ):
        with pytest.raises(DataError, match=msg):
            read_candidates(_write(tmp_path / "bad.jsonl", [bad]))


def test_write_candidates_refuses_to_overwrite_an_input(tmp_path: Path) -> None:
    item = PromptCandidates("q", "2+2?", ["4"], [1.0])
    user = _write(tmp_path / "mine.jsonl", [item.to_dict()])
    with pytest.raises(DataError, match="refusing to write"):
        write_candidates(user, [item], protect=[user])
    assert write_candidates(tmp_path / "out.jsonl", [item], protect=[user]) == 1
    assert read_candidates(tmp_path / "out.jsonl").items[0] == item


def test_gsm8k_answer_extraction_and_matching() -> None:
    assert extract_answer("She has 3 + 4 = <<3+4=7>>7\n#### 7") == "7"
    assert extract_answer("#### 5 then more text #### 1,234.") == "1234"
    assert extract_answer("so the result is \\boxed{42}. Check: 1 + 1 = 2") == "42"
    assert extract_answer("The answer is $18.00") == "18"
    assert extract_answer("2 * 9 = <<2*9=18>>18\nA: 18") == "18"
    assert extract_answer("-3 degrees") == "-3" and extract_answer("none") is None
    assert answers_match("18", "18.0") and not answers_match("18", "81") and not answers_match(None, "1")
    assert check_gsm8k("... #### 18", "Janet sells 9 eggs...\n#### 18")
    assert not check_gsm8k("I am not sure", "#### 18")


def test_math_verify_is_used_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    fake = types.ModuleType("math_verify")
    fake.parse = lambda s: s.strip()  # type: ignore[attr-defined]

    def verify(gold, pred):
        calls.append((gold, pred))
        return gold == pred

    fake.verify = verify  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "math_verify", fake)
    assert answer_checker() == "math-verify"
    assert answers_match("7", "7") and not answers_match("7.0", "7")  # the fake compares text
    assert calls == [("7", "7"), ("7", "7.0")]
    monkeypatch.setitem(sys.modules, "math_verify", None)  # an import that fails
    assert answer_checker() == "numeric" and answers_match("7.0", "7")


def test_gsm8k_example_solutions_convert_to_candidates(tmp_path: Path) -> None:
    row = {
        "question": "What is 2+5?",
        "ground_truth": "2+5=<<2+5=7>>7\nA: 7",
        "6b_finetuning": {"is_correct": False, "solution": "2+5=8\nA: 8"},
        "175b_verification": {"is_correct": True, "solution": "2+5=7\nA: 7"},
    }
    f = _write(tmp_path / "sol.jsonl", [row, {"question": "q", "6b_finetuning": {"is_correct": "yes"}}])
    with pytest.raises(DataError, match="row 1: 6b_finetuning.is_correct must be true or false"):
        gsm8k_solutions_to_candidates(f)
    load = gsm8k_solutions_to_candidates(f, on_bad_row="skip")
    (item,) = load.items
    assert item.id == "gsm8k-0000" and item.reference == "7"
    assert item.candidates == ["2+5=8\nA: 8", "2+5=7\nA: 7"] and item.correctness == [0.0, 1.0]
    assert item.metadata["models"] == ["6b_finetuning", "175b_verification"]
    assert load.info["checker_agreement"] == 1.0 and len(load.skipped) == 1


def test_real_gsm8k_example_solutions(shared_data: Path) -> None:
    path = shared_data / "gsm8k" / "example_model_solutions.jsonl"
    before = file_sha256(path)
    load = gsm8k_solutions_to_candidates(path)
    assert len(load.items) == 1319 and {i.pool_size for i in load.items} == {4} and not load.skipped
    accuracy = sum(sum(i.correctness) for i in load.items) / (4 * 1319)
    assert accuracy == pytest.approx(0.3793, abs=1e-4)
    assert load.info["checker_agreement"] >= 0.99  # our checker agrees with the file's is_correct
    assert file_sha256(path) == before


class ScriptedPolicy:
    """Answers `#### <number of the call>` so some candidates are right; records every request."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.requests: list[tuple[int, int, int]] = []  # (prompts, n, seed)
        self.fail_after = fail_after

    def generate(self, prompts, spec, progress=True, desc=""):
        if self.fail_after is not None and len(self.requests) >= self.fail_after:
            raise RuntimeError("killed")
        self.requests.append((len(prompts), spec.n, spec.seed))
        return [[f"step\n#### {j + spec.seed}" for j in range(spec.n)] for _ in prompts]


def test_sampling_checks_answers_and_never_regenerates(tmp_path: Path) -> None:
    problems = [Problem(f"p{i}", f"question {i}", "#### 1") for i in range(3)]
    out = tmp_path / "cands.jsonl"
    policy = ScriptedPolicy()
    load = sample_candidates(policy, problems, 2, SamplingSpec(temperature=1.0, seed=0), out, progress=False)
    assert policy.requests == [(3, 2, 0)]
    assert load.items[0].candidates == ["step\n#### 0", "step\n#### 1"] and load.items[0].correctness == [
        0.0,
        1.0,
    ]
    again = ScriptedPolicy()
    assert (
        sample_candidates(again, problems, 2, SamplingSpec(temperature=1.0), out, progress=False).items
        == load.items
    )
    assert again.requests == []
    # Asking for more tops up with new samples (seed shifted by what exists); old ones are kept.
    more = ScriptedPolicy()
    topped = sample_candidates(more, problems, 3, SamplingSpec(temperature=1.0, seed=0), out, progress=False)
    assert more.requests == [(3, 1, 2)] and topped.items[0].candidates[:2] == load.items[0].candidates
    assert read_candidates(out).items == topped.items


def test_interrupted_sampling_resumes_from_the_partial_file(tmp_path: Path) -> None:
    problems = [Problem(f"p{i}", f"question {i}", "#### 1") for i in range(5)]
    out = tmp_path / "cands.jsonl"
    with pytest.raises(RuntimeError, match="killed"):
        sample_candidates(
            ScriptedPolicy(fail_after=1), problems, 2, SamplingSpec(temperature=1.0), out, 2, False
        )
    assert not out.exists() and len((tmp_path / "cands.jsonl.partial").read_text().splitlines()) == 2
    resumed = ScriptedPolicy()
    load = sample_candidates(resumed, problems, 2, SamplingSpec(temperature=1.0), out, 2, False)
    assert resumed.requests == [(2, 2, 0), (1, 2, 0)] and len(load.items) == 5
    assert not (tmp_path / "cands.jsonl.partial").exists()
    with pytest.raises(DataError, match="different question"):
        sample_candidates(resumed, [Problem("p0", "another", "1")], 2, SamplingSpec(temperature=1.0), out)


def test_read_problems_takes_gsm8k_rows(tmp_path: Path) -> None:
    f = _write(
        tmp_path / "test.jsonl",
        [{"question": "2+2?", "answer": "2+2=4\n#### 4"}, {"prompt": "x", "reference": 3}],
    )
    assert read_problems(f) == [Problem("test-0000", "2+2?", "2+2=4\n#### 4"), Problem("test-0001", "x", "3")]
