"""Every bench script that records bench/RESULTS.md takes the one flag `--no-record` (with `--no-results-md`,
the old name of some, as an alias), declared once in bench/results_md.py."""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture
def results_md(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(BENCH))  # as when a bench script runs
    import results_md

    yield results_md
    sys.modules.pop("results_md", None)


def test_both_spellings_set_no_record(results_md) -> None:
    parser = argparse.ArgumentParser()
    results_md.add_record_flag(parser)
    assert parser.parse_args([]).no_record is False
    assert parser.parse_args(["--no-record"]).no_record is True
    assert parser.parse_args(["--no-results-md"]).no_record is True


def test_every_recording_bench_script_uses_the_one_flag() -> None:
    recording = []
    for script in sorted(BENCH.glob("*.py")):
        if script.name == "results_md.py" or "RESULTS.md" not in script.read_text():
            continue
        recording.append(script.name)
        tree = ast.parse(script.read_text())
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
        flags = [
            a.value
            for c in calls
            if isinstance(c.func, ast.Attribute) and c.func.attr == "add_argument"
            for a in c.args
            if isinstance(a, ast.Constant) and isinstance(a.value, str)
        ]
        assert not {"--no-record", "--no-results-md"} & set(flags), f"{script.name} declares its own flag"
        assert any(isinstance(c.func, ast.Name) and c.func.id == "add_record_flag" for c in calls), (
            script.name
        )
        assert "no_results_md" not in script.read_text(), script.name
    assert len(recording) >= 7  # eval_throughput, serve_load, parser_speed, validate_speed, ...
