"""AutoJudge's own mined important-token file (`torch.save` of a list of dicts) read as mining records."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from judgerl.autojudge.features import mismatch_features, mismatch_sequences
from judgerl.autojudge.mining import mining_summary
from judgerl.autojudge.mining_files import is_torch_file, read_autojudge_file, read_mining_file
from judgerl.core.errors import DataError
from judgerl.core.jsonl import write_jsonl
from judgerl.models.tiny import TinyModelSpec, build_tiny_model
from judgerl.models.tokenizer import train_tokenizer
from tests.autojudge.autojudge_pt_fixture import FIXTURE, N_ITEMS, fixture_items


def test_the_fixture_file_is_what_its_builder_writes() -> None:
    loaded = torch.load(FIXTURE, weights_only=True)
    built = fixture_items()
    assert len(loaded) == len(built) == N_ITEMS
    for a, b in zip(loaded, built, strict=True):
        assert a.keys() == b.keys() and a["changed_token_indices"] == b["changed_token_indices"]
        assert torch.equal(a["current_response"], b["current_response"])


def test_reads_the_layout_with_absolute_positions() -> None:
    assert is_torch_file(FIXTURE)
    records = read_mining_file(FIXTURE)
    assert [r["id"] for r in records] == [str(i) for i in range(N_ITEMS)]
    rec = records[3]
    assert rec["prompt_ids"] == [] and rec["final_ids"] == [
        1,
        13,
        21,
        31,
        41,
        51,
        61,
        71,
        103,
        110,
        120,
        203,
        130,
        2,
    ]
    assert rec["mismatches"] == [
        {"position": 8, "important": True, "target_token": 103, "draft_token": 153},
        {"position": 11, "important": False, "target_token": 163, "draft_token": 203},
    ]
    # The feature context is current_response[:p] + draft token: what AutoJudge's calc_hiddens encodes at p.
    seqs, labels, groups = mismatch_sequences([rec])
    assert seqs == [[1, 13, 21, 31, 41, 51, 61, 71, 153], [1, 13, 21, 31, 41, 51, 61, 71, 103, 110, 120, 203]]
    assert labels == [1, 0] and groups == ["3", "3"]
    # Answers compare as AutoJudge compares them (answer-span token ids): odd items' drafts differ.
    summary = mining_summary(records)
    assert summary["mismatches"] == 20 and summary["important_share"] == 0.5
    assert summary["draft_agrees_with_target"] == 0.5 and summary["final_agrees_with_target"] == 1.0


def test_features_equal_autojudge_encoding_of_the_swapped_sequence() -> None:
    """AutoJudge puts the draft token at p in the whole current_response and reads row p: same numbers."""
    tok = train_tokenizer([f"{a} + {b} = {a + b}" for a in range(40) for b in range(10)], vocab_size=300)
    target = build_tiny_model(TinyModelSpec(hidden_size=32, layers=1, heads=2, vocab_size=300), tok, seed=0)
    draft = build_tiny_model(TinyModelSpec(hidden_size=16, layers=1, heads=2, vocab_size=300), tok, seed=1)
    records = read_autojudge_file(FIXTURE)[:2]
    ds = mismatch_features(records, target, draft, setup="DD-DT")
    row = 0
    for rec in records:
        for m in rec["mismatches"]:
            swapped = torch.tensor([rec["final_ids"]])
            swapped[0, m["position"]] = m["draft_token"]
            with torch.no_grad():
                d = draft.model(input_ids=swapped).last_hidden_state[0, m["position"]]
                t = target.model(input_ids=swapped).last_hidden_state[0, m["position"]]
            np.testing.assert_allclose(ds.X[row], torch.cat([d, t]).numpy(), atol=1e-5)
            row += 1
    assert ds.y.tolist() == [1, 0, 1, 0]


def test_jsonl_is_still_read_as_jsonl(tmp_path: Path) -> None:
    rec = {"id": "a", "prompt_ids": [1], "final_ids": [2], "mismatches": []}
    write_jsonl(tmp_path / "mining.jsonl", [rec])
    assert not is_torch_file(tmp_path / "mining.jsonl")
    assert read_mining_file(tmp_path / "mining.jsonl") == [rec]
    with pytest.raises(DataError, match="not found"):
        read_mining_file(tmp_path / "none.pt")
    # Anything else is refused untouched (a JSONL reader would cut a "torn last line" off it).
    (tmp_path / "notes.txt").write_bytes(b"position 8 important")
    with pytest.raises(DataError, match="neither a judgerl mining.jsonl .JSON lines. nor an AutoJudge"):
        read_mining_file(tmp_path / "notes.txt")
    assert (tmp_path / "notes.txt").read_bytes() == b"position 8 important"


def test_skip_items_and_calc_hiddens_checkpoints(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    items = fixture_items()[:3]
    items[1]["skip"] = True
    torch.save({"last_batch_end": 0, "data": items}, tmp_path / "ckpt.pt")
    records = read_mining_file(tmp_path / "ckpt.pt")
    assert [r["id"] for r in records] == ["0", "2"]
    assert "skipped 1 of 3 items marked 'skip'" in caplog.text
    # LiveCodeBench files carry pass/fail scores instead of answer spans; an item without id gets its index.
    lcb = {k: v for k, v in fixture_items()[0].items() if k not in ("target_answer", "draft_answer", "id")}
    torch.save([lcb | {"target_score": 1, "draft_score": 0}], tmp_path / "lcb.pt")
    (rec,) = read_mining_file(tmp_path / "lcb.pt")
    assert rec["id"] == "0" and rec["target_answer"] == 1 and rec["draft_answer"] == 0


def _one_line(err: pytest.ExceptionInfo[DataError]) -> str:
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def test_files_that_need_more_than_plain_data_are_refused(tmp_path: Path) -> None:
    items = fixture_items()[:1]
    items[0]["target_float_ans"] = np.float64(5.0)  # a numpy scalar: weights_only refuses it
    torch.save(items, tmp_path / "np.pt")
    with pytest.raises(DataError) as err:
        read_mining_file(tmp_path / "np.pt")
    assert "holds a numpy" in _one_line(err) and "weights-only" in _one_line(err)
    (tmp_path / "plain.pkl").write_bytes(pickle.dumps([{"a": 1}]))
    with pytest.raises(DataError) as err:
        read_mining_file(tmp_path / "plain.pkl")
    assert (
        _one_line(err) == f"{tmp_path / 'plain.pkl'}: not a readable torch.save file: Unsupported operand 149"
    )
    (tmp_path / "torn.pt").write_bytes((tmp_path / "np.pt").read_bytes()[:200])
    with pytest.raises(DataError) as err:
        read_mining_file(tmp_path / "torn.pt")
    assert "not a readable torch.save file: PytorchStreamReader failed reading zip archive" in _one_line(err)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("current_response"), "lacks current_response"),
        (lambda d: d.update(changed_token_indices=[(8, True, 108)]), r"expected \(position, important"),
        (lambda d: d.update(changed_token_indices=[(14, True, 1, 2)]), "position 14 is outside"),
        # Positions counted from the completion (judgerl's own convention) are not AutoJudge's.
        (lambda d: d.update(changed_token_indices=[(2, True, 100, 150)]), "expected the target token 100"),
        (
            lambda d: d.update(current_response=torch.zeros(2, 3, dtype=torch.long)),
            r"shape \[1, L\] or \[L\]",
        ),
        (lambda d: d.update(current_response="1 2 3"), "expected token ids"),
    ],
)
def test_malformed_items_name_the_item(tmp_path: Path, change, message: str) -> None:
    items = fixture_items()[:2]
    change(items[1])
    torch.save(items, tmp_path / "bad.pt")
    with pytest.raises(DataError, match=message) as err:
        read_mining_file(tmp_path / "bad.pt")
    assert "item 1" in _one_line(err)
    torch.save({"not": "a list"}, tmp_path / "dict.pt")
    with pytest.raises(DataError, match="expected a list of AutoJudge important-token dicts, got dict"):
        read_mining_file(tmp_path / "dict.pt")
