"""RewardBench with a real (tiny, untrained) judge: the full v1 path on LLMBar, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from judgerl.cli.main import main
from judgerl.core.stage import StageContext
from judgerl.data_prep.sources import load_llmbar
from judgerl.eval.rewardbench.scoring import V1_SUBSETS, official_pair_score
from judgerl.eval.rewardbench.stage import OUTPUTS, RewardBenchStage, run_rewardbench
from judgerl.models.tiny import TinyModelSpec, make_tiny_judge

from .test_rewardbench import write_v1_file, write_v2_file

pytestmark = pytest.mark.usefixtures("one_torch_thread")

LLMBAR_COUNTS = {
    "llmbar-natural": 100,
    "llmbar-adver-neighbor": 134,
    "llmbar-adver-GPTInst": 92,
    "llmbar-adver-GPTOut": 47,
    "llmbar-adver-manual": 46,
}
LLMBAR = (
    Path(__file__).resolve().parents[3] / "shared" / "data" / "llmbar"
)  # as tests/conftest.py's shared_data
SPEC = TinyModelSpec(
    hidden_size=32, layers=1, heads=2, intermediate_size=64, vocab_size=1000, max_position=4096
)


@pytest.fixture(scope="module")
def tiny_judge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny untrained judge whose tokenizer is trained on LLMBar's text when it is there (short prompts)."""
    texts = ["Response (a) is better. Therefore, Response (b) is better, and the strength is [[2]]."] * 20
    if LLMBAR.is_dir():
        texts += [s.question + " " + s.response_a + " " + s.response_b for s in load_llmbar(LLMBAR).samples]
    return make_tiny_judge(tmp_path_factory.mktemp("rb") / "judge", texts, SPEC, seed=0)


def test_full_v1_path_on_llmbar_under_its_rewardbench_subset_names(
    shared_data: Path, tiny_judge: Path, tmp_path: Path
) -> None:
    # ../shared/data/llmbar holds 419 pairs (100 + 134 + 92 + 47 + 46); the "466" counts one
    # more GPTOut file (419 + 47): these five files are exactly RewardBench's five LLMBar subsets.
    stage = RewardBenchStage(
        model=str(tiny_judge),
        data={"kind": "llmbar", "dir_path": str(shared_data / "llmbar")},
        max_new_tokens=3,
        batch_size=8,  # prompts up to ~2,000 tokens: small batches pad less
    )
    result = run_rewardbench(stage, StageContext("rewardbench", tmp_path, seed=7))
    m = json.loads((tmp_path / OUTPUTS["metrics"]).read_text())
    assert m["n_examples"] == 419 and m["order_seed"] == 7 and m["n_skipped_rows"] == 0
    assert {k: v["n"] for k, v in m["subsets"].items()} == LLMBAR_COUNTS
    chat_hard = m["sections"]["Chat Hard"]
    assert chat_hard["score"] is None and chat_hard["missing"] == ["mt-bench-hard"]
    assert (
        chat_hard["partial_score"] is not None and m["overall"] is None and result.metrics["overall"] is None
    )
    assert m["sections"]["Chat"]["partial_score"] is None and len(m["missing_subsets"]) == 18
    rows = [json.loads(x) for x in (tmp_path / OUTPUTS["predictions"]).read_text().splitlines()]
    assert len(rows) == 419 and all(r["order"] == "ab" for r in rows)
    assert (
        150 < sum(r["label"] == "b" for r in rows) < 270
    )  # the seeded coin put chosen in (b) about half the time
    for subset, sub in m["subsets"].items():
        mine = [r for r in rows if r["subset"] == subset]
        expected = sum(official_pair_score(r["verdict"]["choice"], r["label"]) for r in mine) / len(mine)
        assert sub["accuracy"] == pytest.approx(expected)
        assert sub["parse_failure_rate"] == pytest.approx(
            sum(r["verdict"]["choice"] is None for r in mine) / len(mine)
        )
    board = json.loads((tmp_path / OUTPUTS["leaderboard"]).read_text())
    assert set(board) - {"model", "model_type", "chat_template"} == set(LLMBAR_COUNTS)
    assert len(list((tmp_path / "plots").glob("*.png"))) == 4


def test_cli_eval_rewardbench_v1_both_orders_and_v2_ratings(
    tiny_judge: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    v1 = write_v1_file(tmp_path / "rb.jsonl")
    out = tmp_path / "v1"
    args = ["eval", "rewardbench", "--model", str(tiny_judge), "--data", str(v1), "--out", str(out)]
    assert main([*args, "--protocol", "both-orders", "--max-new-tokens", "2", "--order-seed", "5"]) == 0
    assert "RewardBench v1 (both-orders)" in capsys.readouterr().out
    m = json.loads((out / "metrics.json").read_text())
    assert (m["protocol"], m["n_generated"], m["order_seed"], m["sampling"]["max_new_tokens"]) == (
        "both-orders",
        92,
        5,
        2,
    )
    assert set(m["subsets"]) == set(V1_SUBSETS) and m["overall"] is not None
    for name in ("predictions.jsonl", "leaderboard.json", "table.md", "plots/reasoning.png"):
        assert (out / name).is_file()

    v2 = write_v2_file(tmp_path / "rb2.jsonl")
    out2 = tmp_path / "v2"
    args2 = ["eval", "rewardbench", "--model", str(tiny_judge), "--data", str(v2), "--out", str(out2)]
    assert main([*args2, "--version", "2", "--v2-mode", "ratings", "--max-new-tokens", "2"]) == 0
    m2 = json.loads((out2 / "metrics.json").read_text())
    assert (m2["version"], m2["protocol"], m2["n_generated"]) == (2, "ratings", 30)
    assert set(m2["subsets"]) == {"Factuality", "Precise IF", "Math", "Safety", "Focus", "Ties"}


def test_cli_eval_keeps_pairwise_as_the_default_and_explains_a_missing_data(
    tiny_judge: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["eval", "--model", str(tiny_judge)]) == 2
    assert "--data is required" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["eval", "--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    assert "judgerl eval [pairwise|rewardbench" in text and "--format" in text
    # each benchmark's --help shows its own flags (issue 15: it printed the pairwise ones)
    with pytest.raises(SystemExit) as e:
        main(["eval", "rewardbench", "--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    assert "--protocol {official,both-orders}" in text and "--one-order" not in text
