"""Format detection and reading: one small file per released format, written here as each dataset ships it."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from judgerl.core.errors import DataError
from judgerl.core.jsonl import write_jsonl
from judgerl.core.types import JudgeSample
from judgerl.data_prep.sources import load_llmbar, load_local, load_source
from judgerl.data_prep.sources.formats import FORMATS, detect_format


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".jsonl":
        write_jsonl(path, rows)
    elif path.suffix == ".json":
        path.write_text(json.dumps(rows), encoding="utf-8")
    elif path.suffix == ".parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    else:
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return path


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def _assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


LLMBAR_ROWS = [
    {"input": "Say hi.", "output_1": "hi", "output_2": "bye", "label": 1},
    {"input": "Say no.", "output_1": "yes", "output_2": "no", "label": 2},
]
JUDGEBENCH_ROWS = [
    {
        "pair_id": f"p{i}",
        "original_id": f"o{i}",
        "source": "mmlu-pro-law" if i == 0 else "livebench-math",
        "question": f"question {i}?",
        "response_model": "gpt-4o",
        "response_A": f"A{i}",
        "response_B": f"B{i}",
        "label": "A>B" if i == 0 else "B>A",
    }
    for i in range(2)
]
RMBENCH_ROWS = [
    {
        "id": "chat/1",
        "prompt": "Tell me a fact.",
        "chosen": ["c-short", "c-plain", "c-md"],
        "rejected": ["r-short", "r-plain", "r-md"],
        "domain": "chat",
    }
]
TRL_CONVERSATIONAL = [
    {
        "prompt": [{"role": "system", "content": "Be brief."}, *_user("What color is the sky?")],
        "chosen": _assistant("Blue."),
        "rejected": _assistant("Green."),
    }
    for _ in range(1)
]
THINKJ_INSTRUCTION = (
    "[The Start of User Question]\nWhat is 2+2?\n[The End of User Question]\n\n"
    "[The Start of Response (a)]\n4\n[The End of Response (a)]\n\n"
    "[The Start of Response (b)]\n5\n[The End of Response (b)]\n\n"
    "Please provide an evaluation by first offering a detailed explanation."
)
THINKJ_FIXTURES = Path(__file__).parent / "fixtures" / "thinkj"


def _thinkj_fixture(name: str) -> list[dict[str, Any]]:
    return json.loads((THINKJ_FIXTURES / name).read_text(encoding="utf-8"))


# format -> (rows as released, expected (question, response_a, response_b, label, strength) of row 0)
CASES: dict[str, tuple[list[dict[str, Any]], tuple[Any, ...]]] = {
    "llmbar": (LLMBAR_ROWS, ("Say hi.", "hi", "bye", "a", None)),
    "judgebench": (JUDGEBENCH_ROWS, ("question 0?", "A0", "B0", "a", None)),
    "rmbench": (RMBENCH_ROWS, ("Tell me a fact.", "c-short", "r-short", "a", None)),
    "rewardbench": (
        [
            {
                "prompt": "p?",
                "chosen": "good",
                "chosen_model": "m1",
                "rejected": "bad",
                "rejected_model": "m2",
                "subset": "alpacaeval-easy",
                "id": 30,
            }
        ],
        ("p?", "good", "bad", "a", None),
    ),
    "rewardbench2": (
        [
            {
                "id": "7",
                "prompt": "p?",
                "chosen": ["good"],
                "rejected": ["b1", "b2", "b3"],
                "num_correct": 1,
                "subset": "Math",
            }
        ],
        ("p?", "good", "b1", "a", None),
    ),
    "helpsteer2": (
        [
            {
                "prompt": "p?",
                "response_1": "r1",
                "response_2": "r2",
                "preference_strength": 2,
                "split": "train",
            }
        ],
        ("p?", "r1", "r2", "b", 2),
    ),
    "hh-rlhf": (
        [
            {
                "chosen": "\n\nHuman: hi?\n\nAssistant: hello",
                "rejected": "\n\nHuman: hi?\n\nAssistant: go away",
            }
        ],
        ("hi?", None, None, None, None),
    ),
    "hh-rlhf-strength": (
        [
            {
                "chosen": "\n\nHuman: hi?\n\nAssistant: hello",
                "rejected": "\n\nHuman: hi?\n\nAssistant: no",
                "mean preference difference": 2.0,
            }
        ],
        ("hi?", None, None, None, None),
    ),
    "skywork": (
        [
            {
                "chosen": [*_user("q?"), *_assistant("good")],
                "rejected": [*_user("q?"), *_assistant("bad")],
                "source": "magpie",
            }
        ],
        ("q?", None, None, None, None),
    ),
    "trl-conversational-implicit": (
        [{"chosen": [*_user("q?"), *_assistant("good")], "rejected": [*_user("q?"), *_assistant("bad")]}],
        ("q?", None, None, None, None),
    ),
    "trl-standard": (
        [{"prompt": "The sky is", "chosen": " blue.", "rejected": " green."}],
        ("The sky is", None, None, None, None),
    ),
    "trl-conversational": (TRL_CONVERSATIONAL, ("What color is the sky?", None, None, None, None)),
    "thinkj-alpaca": (
        [
            {
                "instruction": THINKJ_INSTRUCTION,
                "input": "",
                "output": "<think>\n4 is right.\n</think>\n\n"
                "Therefore, Response (a) is better, and the strength is [[3]].",
            }
        ],
        ("What is 2+2?", "4", "5", "a", -3),
    ),
    "thinkj-infer": (
        _thinkj_fixture("helpsteer2-infer.json"),
        ("What is the capital of France?", "Paris.", "Lyon.", "a", None),
    ),
    "thinkj-dpo": (_thinkj_fixture("helpsteer2-judgement.json"), ("What is 3*3?", "9", "6", "a", None)),
    "verl": (_thinkj_fixture("helpsteer2-strength-ppo.json"), ("What is 2+2?", "4", "5", "a", -3)),
    "gsm8k-solutions": (
        [
            {
                "question": "1+1?",
                "ground_truth": "2",
                "6b_finetuning": {"is_correct": True, "solution": "2"},
                "6b_verification": {"is_correct": False, "solution": "3"},
            }
        ],
        ("1+1?", None, None, None, None),
    ),
    "judgerl": (
        [JudgeSample("x1", "mine", _user("q?"), "ra", "rb", "b", 1).to_dict()],
        ("q?", "ra", "rb", "b", 1),
    ),
}


def test_every_known_format_has_a_case() -> None:
    assert set(CASES) == set(FORMATS)


@pytest.mark.parametrize("name", sorted(CASES))
def test_detects_and_reads_each_released_format(name: str, tmp_path: Path) -> None:
    rows, (question, response_a, response_b, label, strength) = CASES[name]
    suffix = (
        ".parquet"
        if name in ("skywork", "rewardbench2", "verl")
        else ".json"
        if name == "llmbar"
        else ".jsonl"
    )
    path = _write(tmp_path / f"data{suffix}", rows)
    assert detect_format(rows) == name
    result = load_local(path)
    assert result.formats == {str(path): name} and not result.skipped
    first = result.samples[0]
    assert first.conversation[-1] == {"role": "user", "content": question}
    if response_a is not None:
        assert (first.response_a, first.response_b, first.label, first.strength) == (
            response_a,
            response_b,
            label,
            strength,
        )
    # a chosen/rejected format keeps the chosen text on the labelled side
    if name in ("trl-standard", "trl-conversational", "skywork", "trl-conversational-implicit", "hh-rlhf"):
        better = first.response_a if first.label == "a" else first.response_b
        assert better in (" blue.", "Blue.", "good", "hello")


def test_rmbench_and_rewardbench2_expand_to_every_pair(tmp_path: Path) -> None:
    rm = load_local(_write(tmp_path / "rm.json", RMBENCH_ROWS))
    assert len(rm) == 9 and {s.subset for s in rm.samples} == {"chat"}
    rb2 = load_local(_write(tmp_path / "rb2.jsonl", CASES["rewardbench2"][0]))
    assert [s.id for s in rb2.samples] == ["7/c0-r0", "7/c0-r1", "7/c0-r2"]


def test_judgebench_keeps_pair_ids_and_categories(tmp_path: Path) -> None:
    result = load_source({"kind": "local", "path": str(_write(tmp_path / "jb.jsonl", JUDGEBENCH_ROWS))})
    assert [(s.id, s.label, s.subset) for s in result.samples] == [
        ("p0", "a", "knowledge"),
        ("p1", "b", "math"),
    ]


def test_thinkj_trace_is_read_as_the_sft_code_expects(tmp_path: Path) -> None:
    from judgerl.data_prep.sft_format import trace_for
    from judgerl.judge_spec.families import PromptSpec
    from judgerl.judge_spec.presets import spec_for_prompt

    sample = load_local(_write(tmp_path / "skywork707.json", CASES["thinkj-alpaca"][0])).samples[0]
    assert sample.metadata["thinking"] == "4 is right." and sample.metadata["thinking_order"] == "ab"
    assert trace_for(sample, spec_for_prompt(PromptSpec("strength"))) == (
        "<think>\n4 is right.\n</think>\n\nTherefore, Response (a) is better, and the strength is [[3]]."
    )
    assert (
        trace_for(sample.swapped(), spec_for_prompt(PromptSpec("strength"))) is None
    )  # written for the shown order


def test_an_unknown_format_lists_its_columns_and_the_known_formats(tmp_path: Path) -> None:
    path = _write(tmp_path / "odd.jsonl", [{"query": "q", "answer_x": "a", "answer_y": "b", "winner": 1}])
    with pytest.raises(DataError) as err:
        load_local(path)
    text = str(err.value)
    assert "['answer_x', 'answer_y', 'query', 'winner']" in text
    assert all(name in text for name in FORMATS)


def test_a_judgerl_row_missing_fields_is_a_bad_row_not_an_unknown_format(tmp_path: Path) -> None:
    path = _write(tmp_path / "j.jsonl", [{"id": "1", "conversation": [], "response_a": "x"}])
    with pytest.raises(DataError, match=r"j: row 0: missing field 'response_b'"):
        load_local(path)


def test_a_forced_format_is_used_and_its_errors_are_row_errors(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.jsonl", LLMBAR_ROWS)
    with pytest.raises(DataError, match=r"row 0: missing field 'pair_id'"):
        load_local(path, format="judgebench")
    with pytest.raises(ValueError, match="unknown format 'nope'"):
        load_local(path, format="nope")


def test_llmbar_file_or_folder_with_subsets_from_file_names(tmp_path: Path) -> None:
    tree = tmp_path / "Dataset"
    _write(tree / "LLMBar" / "Natural" / "dataset.json", LLMBAR_ROWS)
    _write(tree / "LLMBar" / "Adversarial" / "Neighbor" / "dataset.json", LLMBAR_ROWS)
    _write(tree / "CaseStudy" / "Negation" / "dataset.json", LLMBAR_ROWS[:1])
    result = load_llmbar(path=tree)
    assert Counter(s.subset for s in result.samples) == {
        "LLMBar/Natural": 2,
        "LLMBar/Adversarial/Neighbor": 2,
        "CaseStudy/Negation": 1,
    }
    assert result.samples[0].id == "CaseStudy/Negation-0000"
    assert len(load_llmbar(path=tree, subsets=["CaseStudy/Negation"])) == 1
    with pytest.raises(ValueError, match=r"unknown LLMBar subset\(s\) \['Natural'\]; found under"):
        load_llmbar(path=tree, subsets=["Natural"])
    # one file: its stem (or its folder for dataset.json), RewardBench's name for one of its five files
    assert {s.subset for s in load_llmbar(path=_write(tmp_path / "fair_eval.json", LLMBAR_ROWS)).samples} == {
        "fair_eval"
    }
    assert load_llmbar(path=tree / "CaseStudy" / "Negation" / "dataset.json").samples[0].subset == "Negation"
    named = load_source(
        {"kind": "llmbar", "path": str(_write(tmp_path / "rb" / "Natural.json", LLMBAR_ROWS))}
    )
    assert named.samples[0].subset == "llmbar-natural"
    # a local folder of LLMBar files is detected file by file, with the same subsets
    local = load_local(tree)
    assert set(local.formats.values()) == {"llmbar"} and len(local) == 5
    assert {s.subset for s in local.samples} == {
        "LLMBar/Natural",
        "LLMBar/Adversarial/Neighbor",
        "CaseStudy/Negation",
    }


def test_csv_files_are_read_with_typed_columns(tmp_path: Path) -> None:
    path = _write(tmp_path / "llmbar.csv", LLMBAR_ROWS)
    result = load_local(path)
    assert result.formats == {str(path): "llmbar"} and [s.label for s in result.samples] == ["a", "b"]


@pytest.mark.parametrize(
    ("values", "label_map"),
    [
        ([1, 2], {1: "a", 2: "b"}),
        (["A", "B"], None),
        (["A>B", "B>A"], {"A>B": "a", "B>A": "b"}),
        (["output_1", "output_2"], {"output_1": "a", "output_2": "b"}),
        (["chosen", "rejected"], {"chosen": "a", "rejected": "b"}),
        (["1", "2.0"], {1: "a", 2: "b"}),  # 1, 1.0 and "1" are one key
        ([0, 1], {0: "a", 1: "b"}),
    ],
    ids=["ints", "upper", "arrows", "output-names", "chosen-rejected", "strings-for-ints", "zero-based"],
)
def test_label_maps(values: list[Any], label_map: dict[Any, str] | None, tmp_path: Path) -> None:
    rows = [{"q": f"q{i}", "x": "r1", "y": "r2", "w": v} for i, v in enumerate(values)]
    path = _write(tmp_path / "m.jsonl", rows)
    columns = {"question": "q", "response_a": "x", "response_b": "y", "label": "w"}
    result = load_local(path, columns, label_map=label_map)
    assert [s.label for s in result.samples] == ["a", "b"]


def test_label_map_misses_are_bad_rows_and_bad_maps_are_errors(tmp_path: Path) -> None:
    rows = [{"q": "q0", "x": "r1", "y": "r2", "w": 3}, {"q": "q1", "x": "r1", "y": "r2", "w": 1}]
    path = _write(tmp_path / "m.jsonl", rows)
    columns = {"question": "q", "response_a": "x", "response_b": "y", "label": "w"}
    result = load_local(path, columns, on_bad_row="skip", label_map={1: "a", 2: "b"})
    assert result.skipped == [(0, "label 3 is not a key of label_map (keys: ['1', '2'])")]
    with pytest.raises(ValueError, match="label_map values must be 'a' or 'b'"):
        load_local(path, columns, label_map={1: "first"})
    with pytest.raises(ValueError, match="map to both"):
        load_local(path, columns, label_map={1: "a", "1": "b"})
    with pytest.raises(ValueError, match="need a column mapping"):
        load_local(path, label_map={1: "a"})


def test_strength_maps_and_unsigned_strengths(tmp_path: Path) -> None:
    rows = [
        {"q": "q0", "x": "r1", "y": "r2", "w": "A>>B", "s": "A>>B"},
        {"q": "q1", "x": "r1", "y": "r2", "w": "B>A", "s": "B>A"},
    ]
    path = _write(tmp_path / "m.jsonl", rows)
    columns = {"question": "q", "response_a": "x", "response_b": "y", "label": "w", "strength": "s"}
    label_map = {"A>>B": "a", "A>B": "a", "B>A": "b", "B>>A": "b"}
    strength_map = {"A>>B": -3, "A>B": -1, "B>A": 1, "B>>A": 3}
    result = load_local(path, columns, label_map=label_map, strength_map=strength_map)
    assert [(s.label, s.strength) for s in result.samples] == [("a", -3), ("b", 1)]
    sizes = [
        {"q": "q0", "x": "r1", "y": "r2", "w": 1, "s": 2},
        {"q": "q1", "x": "r1", "y": "r2", "w": 2, "s": 3},
    ]
    unsigned = load_local(
        _write(tmp_path / "u.jsonl", sizes), columns, label_map={1: "a", 2: "b"}, strength_sign="unsigned"
    )
    assert [(s.label, s.strength) for s in unsigned.samples] == [("a", -2), ("b", 3)]
