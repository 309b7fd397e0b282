"""Think-J's own files read with no mapping: the *-infer.json input, the DPO file (as samples and as
pairs), the verl GRPO parquet, and RewardBench's filtered.json stored as JSON Lines.

The fixtures under fixtures/thinkj/ are small files written for these tests in each layout.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from judgerl.cli.eval_data import load_eval_samples
from judgerl.core.errors import DataError
from judgerl.core.types import JudgeSample
from judgerl.data_prep.pairs import (
    BRANCH_THINKJ_FILE,
    IMPORTED,
    chosen_sft_sample,
    read_pairs,
    validate_pair_row,
)
from judgerl.data_prep.sources import load_local
from judgerl.data_prep.sources.base import convert_rows
from judgerl.data_prep.sources.readers import JSON_LINES_NOTE, read_file_rows
from judgerl.data_prep.sources.thinkj import thinkj_alpaca
from judgerl.data_prep.sources.thinkj_files import thinkj_infer
from judgerl.data_prep.sources.verl_rows import read_ground_truth
from judgerl.judge_spec.families import PromptSpec
from judgerl.judge_spec.presets import spec_for_prompt
from tests.prompts import user_text

FIXTURES = Path(__file__).parent / "fixtures" / "thinkj"
INFER = FIXTURES / "helpsteer2-infer.json"
DPO = FIXTURES / "helpsteer2-judgement.json"
FILTERED = FIXTURES / "filtered.json"


def _fixture(name: str) -> list[dict[str, Any]]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _parquet(rows: list[dict[str, Any]], path: Path) -> Path:
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def _triple(s: JudgeSample) -> tuple[Any, ...]:
    return (s.question, s.response_a, s.response_b, s.label, s.strength)


# ---- *-infer.json ------------------------------------------------------------------------------


def test_infer_file_loads_with_no_mapping_in_the_files_order() -> None:
    result = load_local(INFER)
    assert result.formats == {str(INFER): "thinkj-infer"} and not result.skipped
    assert [_triple(s) for s in result.samples] == [
        ("What is the capital of France?", "Paris.", "Lyon.", "a", None),
        ("Name a prime number above 10.", "12", "13", "b", None),
        ("Spell 'cat' backwards.", "tac", "act", "a", None),
    ]
    assert [s.id for s in result.samples][:2] == ["helpsteer2-infer-000000", "helpsteer2-infer-000001"]


def test_infer_better_values_and_an_optional_strength() -> None:
    base = {"instruction": "q?", "response1": "x", "response2": "y"}
    rows = [
        {**base, "better": "2", "strength": 3},
        {**base, "better": 1.0, "strength": 2},  # a size: its sign follows better
        {**base, "better": 1, "strength": -1},  # already signed and agreeing
        {**base, "better": 3},
        {**base, "better": 2, "strength": -2},
        {**base, "better": True},
    ]
    result = convert_rows("h", rows, thinkj_infer("h"), on_bad_row="skip")
    assert [(s.label, s.strength) for s in result.samples] == [("b", 3), ("a", -2), ("a", -1)]
    reasons = dict(result.skipped)
    assert reasons[3] == "better must be 1 (response1) or 2 (response2), got 3"
    assert "says response1 is better but better is 2" in reasons[4]
    assert "better must be 1" in reasons[5]


# ---- the DPO file as judge samples -------------------------------------------------------------


def test_dpo_file_loads_as_judge_samples_labelled_by_the_chosen_verdict() -> None:
    result = load_local(DPO)
    assert result.formats == {str(DPO): "thinkj-dpo"} and not result.skipped
    first, second = result.samples
    assert _triple(first) == ("What is 3*3?", "9", "6", "a", None)
    assert _triple(second) == ("Is water wet?", "No idea.", "Water makes things wet.", "b", 2)
    assert first.metadata["thinking"] == "3*3 is 9, so (a) is right and (b) is not."
    row = _fixture(DPO.name)[0]
    assert first.metadata["prompt_messages"] == [
        {"role": "system", "content": row["system"]},
        {"role": "user", "content": row["instruction"]},
    ]


# ---- the DPO file as DPO pairs -----------------------------------------------------------------


def test_dpo_file_is_read_as_pairs_with_stable_ids_and_the_prompt_as_written() -> None:
    pairs = read_pairs(DPO)
    raw = _fixture(DPO.name)
    assert not pairs.skipped and len(pairs.rows) == 2
    assert [r["id"] for r in pairs.rows] == [
        "helpsteer2-judgement-000000:ab",
        "helpsteer2-judgement-000001:ab",
    ]
    assert [r["id"] for r in read_pairs(DPO).rows] == [r["id"] for r in pairs.rows]
    for row, written in zip(pairs.rows, raw, strict=True):
        assert row["prompt"] == [
            {"role": "system", "content": written["system"]},
            {"role": "user", "content": written["instruction"]},
        ]
        assert (row["chosen"], row["rejected"]) == (written["chosen"], written["rejected"])
        assert (row["chosen_source"], row["rejected_source"], row["branch"]) == (
            IMPORTED,
            IMPORTED,
            BRANCH_THINKJ_FILE,
        )
    assert pairs.rows[0]["rejected_verdict"] == {"choice": "b", "strength": None, "reason": ""}
    assert pairs.rows[1]["chosen_verdict"] == {"choice": "b", "strength": 2, "reason": ""}
    assert "no verdict sentence" in pairs.rows[1]["rejected_verdict"]["reason"]
    # the chosen side renders back as an SFT sample with its own verdict
    assert chosen_sft_sample(pairs.rows[1]).metadata["thinking"] == "(b) answers the question, (a) does not."
    # and TRL's DPOTrainer gets the system and user messages as the file wrote them
    from judgerl.trainers.dpo import dpo_rows

    assert dpo_rows(pairs.rows)[0]["prompt"][0] == {"role": "system", "content": raw[0]["system"]}


def test_the_dpo_prompt_check_names_the_files_own_prompt() -> None:
    with pytest.raises(
        DataError, match="pairs row 0: 'prompt' is the prompt as Think-J's file wrote it"
    ) as err:
        read_pairs(DPO, prompt=spec_for_prompt(PromptSpec("cot")))
    assert "check_prompt: false" in str(err.value)


def test_dpo_rows_that_do_not_fit_are_named(tmp_path: Path) -> None:
    good = _fixture(DPO.name)[0]
    rows = [
        good,
        {k: v for k, v in good.items() if k != "chosen"},
        {**good, "instruction": "Which is better? [The Start of nothing"},
        {**good, "chosen": "no verdict at all"},
        {"question": "q", "better": 1},
    ]
    path = tmp_path / "pairs.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    with pytest.raises(DataError, match=r"pairs row 1: not a Think-J DPO row .*: missing field 'chosen'"):
        read_pairs(path)
    skipped = dict(read_pairs(path, on_bad_row="skip").skipped)
    assert sorted(skipped) == [1, 2, 3, 4]
    assert "instruction must hold a question block" in skipped[2]
    assert "chosen output has no verdict sentence" in skipped[3]
    assert skipped[4].startswith("missing 'id' (neither a judgerl pairs row")
    with pytest.raises(ValueError, match="missing 'sample'"):
        validate_pair_row({"id": "1"})


def test_a_jsonl_pairs_file_may_hold_thinkj_rows_too(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in _fixture(DPO.name)), encoding="utf-8")
    assert [r["id"] for r in read_pairs(path).rows] == ["mine-000000:ab", "mine-000001:ab"]


# ---- the verl parquet ----------------------------------------------------------------------------


def test_verl_strength_parquet_reads_the_signed_ground_truth(tmp_path: Path) -> None:
    rows = _fixture("helpsteer2-strength-ppo.json")
    path = _parquet(rows, tmp_path / "helpsteer2-strength-ppo.parquet")
    result = load_local(path)
    assert result.formats == {str(path): "verl"} and not result.skipped
    assert [_triple(s) for s in result.samples] == [
        ("What is 2+2?", "4", "5", "a", -3),
        ("Which planet is largest?", "Mars", "Jupiter", "b", 1),
    ]
    first = result.samples[0]
    assert first.metadata["prompt_messages"] == rows[0]["prompt"]
    assert first.metadata["extra_info"] == {"split": "train", "index": 0}
    assert first.metadata["data_source"] == "helpsteer2"


def test_verl_cot_parquet_reads_skyworks_choice_ground_truth(tmp_path: Path) -> None:
    path = _parquet(_fixture("skywork-cot-ppo.json"), tmp_path / "train.parquet")
    result = load_local(path)
    assert result.formats == {str(path): "verl"}
    assert [(s.label, s.strength) for s in result.samples] == [("a", None), ("b", None)]


def test_verl_ground_truth_readings() -> None:
    assert read_ground_truth("-2", True) == ("a", -2)
    assert read_ground_truth(3, True) == ("b", 3)
    assert read_ground_truth(2, False) == ("b", None)
    assert read_ground_truth({"label": "A", "strength": -1}, True) == ("a", -1)
    for value, asks, message in [
        (5, True, "is not a signed strength"),
        (0, True, "is not a signed strength"),
        (-1, False, "is not a choice"),
        ("two", True, "must be an integer or"),
        ({"strength": 2}, True, "must hold a 'label'"),
        (True, True, "must be an integer or"),
    ]:
        with pytest.raises(ValueError, match=message):
            read_ground_truth(value, asks)


def test_judgerls_own_verl_export_reads_back(tmp_path: Path) -> None:
    from judgerl.trainers.verl_export import write_verl_parquet

    sample = JudgeSample("x1", "t", [{"role": "user", "content": "2+2?"}], "4", "5", "a", -2)
    grpo = [
        {"prompt": [{"role": "user", "content": text}], "sample_id": "x1", "order": order, **labels}
        for order, text, labels in [
            ("ab", _render(sample), {"label": "a", "strength": -2}),
            ("ba", _render(sample.swapped()), {"label": "b", "strength": 2}),
        ]
    ]
    path = tmp_path / "train.parquet"
    write_verl_parquet(grpo, path, "train")
    result = load_local(path)
    assert result.formats == {str(path): "verl"}
    assert [_triple(s) for s in result.samples] == [("2+2?", "4", "5", "a", -2), ("2+2?", "5", "4", "b", 2)]


def _render(sample: JudgeSample) -> str:
    return user_text(sample, PromptSpec("strength"))


def test_a_verl_row_without_blocks_or_ground_truth_is_a_named_bad_row(tmp_path: Path) -> None:
    good = _fixture("helpsteer2-strength-ppo.json")[0]
    bad_prompt = {**good, "prompt": [{"role": "user", "content": "Just a question?"}]}
    bad_truth = {**good, "reward_model": {"style": "rule", "ground_truth": 7}}
    path = tmp_path / "v.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in (good, bad_prompt, bad_truth)), encoding="utf-8")
    result = load_local(path, on_bad_row="skip")
    assert len(result) == 1 and [i for i, _ in result.skipped] == [1, 2]
    assert "instruction must hold a question block" in result.skipped[0][1]
    assert "ground_truth 7 is not a signed strength" in result.skipped[1][1]


# ---- RewardBench's filtered.json (JSON Lines in a .json file) ------------------------------------


def test_filtered_json_of_json_lines_loads_and_says_so() -> None:
    result = load_local(FILTERED)
    assert result.formats == {str(FILTERED): "rewardbench"} and len(result) == 3
    assert "filtered.json: read as JSON Lines" in result.summary()
    assert read_file_rows(FILTERED).note == JSON_LINES_NOTE


def test_a_truly_broken_json_file_names_its_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('[\n  {"a": 1},\n  {"a": 2\n  {"a": 3}\n]\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"broken.json: not valid JSON at line 4, column 3"):
        load_local(broken)
    lines = tmp_path / "lines.json"
    row = json.loads(FILTERED.read_text().splitlines()[0])
    lines.write_text(json.dumps(row) + '\n{"prompt": "cut\n' + json.dumps({**row, "id": 9}) + "\n")
    with pytest.raises(DataError, match=r"row 1: line 2 is not valid JSON"):
        load_local(lines)
    assert len(load_local(lines, on_bad_row="skip")) == 2


# ---- the prompt as written, and `judgerl eval --data` ----------------------------------------------


def test_alpaca_rows_keep_system_and_instruction_as_written() -> None:
    row = _fixture(DPO.name)[1]
    alpaca = {
        "system": row["system"],
        "instruction": row["instruction"],
        "input": "extra",
        "output": row["chosen"],
    }
    sample = convert_rows("s", [alpaca], thinkj_alpaca("s")).samples[0]
    assert sample.metadata["prompt_messages"] == [
        {"role": "system", "content": row["system"]},
        {"role": "user", "content": row["instruction"] + "\nextra"},
    ]


@pytest.mark.parametrize(
    "name",
    ["helpsteer2-infer.json", "helpsteer2-judgement.json", "helpsteer2-strength-ppo.json", "filtered.json"],
)
def test_judgerl_eval_data_reads_each_layout(name: str) -> None:
    samples, report = load_eval_samples({"kind": "local", "path": str(FIXTURES / name)}, None)
    assert samples and not report["skipped"]
    expected = {
        "helpsteer2-infer.json": "thinkj-infer",
        "helpsteer2-judgement.json": "thinkj-dpo",
        "helpsteer2-strength-ppo.json": "verl",
        "filtered.json": "rewardbench",
    }[name]
    assert list(report["formats"].values()) == [expected]
