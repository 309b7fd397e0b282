"""`judgerl eval --data FILE`: released formats without a mapping, and every defect of issue 16 item 6.

The data goes through the prep stage's sources (bad rows counted with their index, a repeated id
an error) and every prompt is checked against the model's context before generation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from judgerl.cli.command_parser import subcommand
from judgerl.cli.main import build_parser, main
from judgerl.core.jsonl import write_jsonl
from judgerl.core.types import JudgeSample
from judgerl.models.tiny import TinyModelSpec, make_tiny_judge

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SPEC = TinyModelSpec(
    hidden_size=32, layers=1, heads=2, intermediate_size=64, vocab_size=400, max_position=1024
)


@pytest.fixture(scope="module")
def tiny_judge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts = ["Which is better? Response (a) is better, and the strength is [[2]]. question answer"] * 30
    return make_tiny_judge(tmp_path_factory.mktemp("evaldata") / "judge", texts, SPEC, seed=0)


def _eval(judge: Path, data: Path, out: Path, *extra: str) -> int:
    argv = ["eval", "--model", str(judge), "--data", str(data), "--out", str(out), "--max-new-tokens", "2"]
    return main([*argv, "--batch-size", "16", *extra])


def _row(i: int, **changes: Any) -> dict[str, Any]:
    row = JudgeSample(f"s{i}", "t", [{"role": "user", "content": f"q{i}?"}], f"x{i}", f"y{i}", "a").to_dict()
    return {**row, **changes}


def _metrics(out: Path) -> dict[str, Any]:
    return json.loads((out / "metrics.json").read_text())


def test_released_formats_load_without_a_mapping(tiny_judge: Path, tmp_path: Path) -> None:
    llmbar = tmp_path / "my_adversarial.json"
    llmbar.write_text(
        json.dumps(
            [{"input": f"q{i}", "output_1": "a", "output_2": "b", "label": 1 + i % 2} for i in range(3)]
        )
    )
    judgebench = tmp_path / "judgebench.jsonl"
    write_jsonl(
        judgebench,
        [
            {
                "pair_id": f"p{i}",
                "original_id": "o",
                "source": "livebench-math",
                "question": "q?",
                "response_model": "m",
                "response_A": f"A{i}",
                "response_B": "B",
                "label": "B>A",
            }
            for i in range(2)
        ],
    )
    rmbench = tmp_path / "rm.json"
    rmbench.write_text(
        json.dumps(
            [
                {
                    "id": "math/1",
                    "prompt": "1+1?",
                    "chosen": ["2", "two", "**2**"],
                    "rejected": ["3", "three", "**3**"],
                    "domain": "math",
                }
            ]
        )
    )
    for data, fmt, items, subsets in (
        (llmbar, "llmbar", 3, {"my_adversarial"}),
        (judgebench, "judgebench", 2, {"math"}),
        (rmbench, "rmbench", 9, {"math"}),
    ):
        out = tmp_path / fmt
        assert _eval(tiny_judge, data, out) == 0
        assert _metrics(out)["overall"]["n_items"] == items and set(_metrics(out)["subsets"]) == subsets
        report = json.loads((out / "data.json").read_text())
        assert report["formats"] == {str(data): fmt} and report["judged"] == items


def test_duplicate_ids_are_an_error_not_a_lost_row(
    tiny_judge: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "dup.jsonl"
    write_jsonl(data, [_row(0), _row(1), _row(2), _row(1, response_a="other")])
    assert _eval(tiny_judge, data, tmp_path / "stop") == 2
    assert "row 3: duplicate id 's1' (first seen at row 1)" in capsys.readouterr().err
    assert _eval(tiny_judge, data, tmp_path / "skip", "--on-bad-row", "skip") == 0
    assert _metrics(tmp_path / "skip")["overall"]["n_items"] == 3
    report = json.loads((tmp_path / "skip" / "data.json").read_text())
    assert [s["index"] for s in report["skipped"]] == [3]


@pytest.mark.parametrize(
    ("tail", "reason"),
    [
        (b"{broken\n", "line 3 is not valid JSON"),
        (json.dumps(_row(9)).encode()[:30], "truncated last line"),
        (b'{"id": "\xff"}\n', "line 3 is not valid UTF-8"),
        (json.dumps(_row(9, conversation=[{"role": "user"}])).encode() + b"\n", "needs a string 'content'"),
        (json.dumps(_row(9, response_a=None)).encode() + b"\n", "response_a must be a string, got None"),
        (json.dumps(_row(9, response_b=2)).encode() + b"\n", "response_b must be a string, got 2"),
    ],
    ids=["malformed-json", "truncated", "invalid-utf8", "no-content", "null-response", "int-response"],
)
def test_bad_rows_stop_with_their_index_or_are_skipped(
    tail: bytes,
    reason: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from judgerl.cli import eval_data

    data = tmp_path / "d.jsonl"
    data.write_bytes(
        b"\xef\xbb\xbf" + b"".join(json.dumps(_row(i)).encode() + b"\n" for i in range(2)) + tail
    )
    # data errors come before the model is touched: the length check is stubbed to count them
    seen: list[int] = []
    monkeypatch.setattr(eval_data, "model_context", lambda model: (lambda m: seen.append(1) or 1, None))
    assert main(["eval", "--model", "m", "--data", str(data), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "row 2:" in err and reason in err and "Traceback" not in err and not seen


def test_skipped_bad_rows_are_reported_and_the_rest_judged(
    tiny_judge: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "d.jsonl"
    rows = [json.dumps(_row(i)).encode() for i in range(3)]
    data.write_bytes(b"\xef\xbb\xbf" + rows[0] + b"\n{bad\n" + rows[1] + b'\n{"id": "\xff"}\n' + rows[2][:20])
    assert _eval(tiny_judge, data, tmp_path / "o", "--on-bad-row", "skip") == 0
    assert _metrics(tmp_path / "o")["overall"]["n_items"] == 2
    report = json.loads((tmp_path / "o" / "data.json").read_text())
    assert [s["index"] for s in report["skipped"]] == [1, 3, 4]
    captured = capsys.readouterr()
    assert "d: 2 rows, 3 skipped" in captured.out and "3 bad rows skipped\n  row 1: line 2" in captured.err


def test_a_prompt_longer_than_the_context_is_an_error_or_a_counted_skip(
    tiny_judge: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "long.jsonl"
    write_jsonl(data, [_row(0), _row(1, response_b="answer " * 150_000), _row(2)])  # ~1 MB
    assert _eval(tiny_judge, data, tmp_path / "stop") == 2
    err = capsys.readouterr().err
    assert "row 1: prompt of sample 's1' is" in err and "context of 1024 tokens" in err
    assert _eval(tiny_judge, data, tmp_path / "skip", "--on-bad-row", "skip") == 0
    assert _metrics(tmp_path / "skip")["overall"]["n_items"] == 2
    report = json.loads((tmp_path / "skip" / "data.json").read_text())
    assert report["context"] == 1024 and [s["index"] for s in report["too_long"]] == [1]


def test_an_unknown_format_lists_columns_and_formats(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "odd.jsonl"
    write_jsonl(data, [{"query": "q", "left": "a", "right": "b"}])
    assert main(["eval", "--model", "m", "--data", str(data)]) == 2
    err = capsys.readouterr().err
    assert "['left', 'query', 'right']" in err and "llmbar" in err and "thinkj-alpaca" in err


def test_an_unreachable_hub_id_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # read once, at import
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    data = tmp_path / "d.jsonl"
    write_jsonl(data, [_row(0)])
    hub_id = "judgerl-tests/no-such-judge"
    assert main(["eval", "--model", hub_id, "--data", str(data), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"judgerl: error: cannot load the judge model '{hub_id}'") and "\n" not in err
    (tmp_path / "llmbar").mkdir()
    (tmp_path / "llmbar" / "Natural.json").write_text(
        json.dumps([{"input": "q", "output_1": "a", "output_2": "b", "label": 1}])
    )
    argv = ["eval", "rewardbench", "--model", hub_id, "--data", f"llmbar:{tmp_path / 'llmbar'}"]
    assert main([*argv, "--out", str(tmp_path / "r")]) == 2
    lines = [x for x in capsys.readouterr().err.splitlines() if not x.startswith("judgerl | ")]  # log lines
    # the tokenizer is read (for its chat template) before anything runs: the same one line as pairwise
    assert len(lines) == 1 and lines[0].startswith(f"judgerl: error: cannot load the judge model '{hub_id}'")


def test_rewardbench_help_shows_rewardbench_flags() -> None:
    parser = build_parser()
    text = subcommand(subcommand(parser, "eval"), "rewardbench").format_help()
    assert "--protocol {official,both-orders}" in text and "--v2-mode" in text
    assert "--draft" not in text and "--format" not in text and "--one-order" not in text
    pairwise = subcommand(parser, "eval").format_help()
    assert "--format" in pairwise and "--protocol" not in pairwise and "rewardbench" in pairwise
