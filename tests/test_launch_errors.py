"""A launcher failure names the rank that failed: each rank's traceback file is read back."""

from __future__ import annotations

from pathlib import Path

from judgerl.pipeline import _error_log_name, _rank_errors


def test_rank_errors_lists_the_last_line_of_each_rank_traceback(tmp_path: Path) -> None:
    (tmp_path / "error.log").write_text("Traceback (most recent call last):\n  ...\nValueError: rank zero\n")
    (tmp_path / "error.rank1.log").write_text("Traceback:\nRuntimeError: gloo connection closed\n")
    (tmp_path / "error.rank2.log").write_text("")
    assert _rank_errors(tmp_path) == (
        "error.log: ValueError: rank zero; error.rank1.log: RuntimeError: gloo connection closed"
    )
    assert _rank_errors(tmp_path / "missing") == ""


def test_error_log_name_follows_the_rank(monkeypatch) -> None:
    monkeypatch.setenv("RANK", "0")
    assert _error_log_name() == "error.log"
    monkeypatch.setenv("RANK", "3")
    assert _error_log_name() == "error.rank3.log"
    monkeypatch.delenv("RANK")
    assert _error_log_name() == "error.log"
