"""The scaling report: the sweep's curves, the points.json content, the table and the two plots."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from judgerl.eval.scaling.candidates import CandidateLoad, PromptCandidates
from judgerl.eval.scaling.report import (
    PERFECT,
    ScalingSweep,
    T_label,
    points_report,
    scaling_table,
    short_label,
    write_scaling_outputs,
)
from judgerl.eval.scaling.theory import DeltaPoint

PNG = b"\x89PNG\r\n\x1a\n"


def _sweep(with_perfect: bool = True) -> ScalingSweep:
    points = [
        DeltaPoint("oracle:0", 1, 0.0, -0.5, 0.1, 0.05, 2, 0),
        DeltaPoint("oracle:0", 2, 0.0, -0.75, 0.1, 0.05, 2, 0),
        DeltaPoint("oracle:0", 2, math.inf, -0.5, 0.0, 0.0, 2, 0),
    ]
    if with_perfect:
        points += [
            DeltaPoint(PERFECT, 1, 0.0, -0.5, 0.0, 0.0, 2, 0),
            DeltaPoint(PERFECT, 2, 0.0, -1.0, 0, 0, 2, 0),
        ]
    return ScalingSweep(points, ["oracle:0"], [1, 2], [0.0, math.inf], 0.0, 2, {"oracle:0": (-1.0, 2.0)})


def test_curves_add_the_perfect_judge_only_when_its_points_are_there() -> None:
    assert _sweep().curves == ["oracle:0", PERFECT]
    assert _sweep(with_perfect=False).curves == ["oracle:0"]
    assert (T_label(0.5), T_label(math.inf)) == ("0.5", "inf")
    assert short_label("prm:" + "/".join(["runs"] * 12) + "/model/checkpoint") == "prm:.../model/checkpoint"
    assert short_label("oracle:0.1") == "oracle:0.1"


def test_table_holds_mean_and_sem_and_the_perfect_judge_only_in_the_k_table() -> None:
    s = _sweep()
    table = scaling_table(s.points, s.curves, s.ks, s.Ts, s.plot_T, s.plot_k)
    k_part, T_part = table.split("delta at k = 2")
    assert "| oracle:0 | -0.500 ± 0.050 | -0.750 ± 0.050 |" in k_part
    assert f"| {PERFECT} | -0.500 ± 0.000 | -1.000 ± 0.000 |" in k_part
    assert "| judge | T=0 | T=inf |" in T_part and "| oracle:0 | -0.750 ± 0.050 | -0.500 ± 0.000 |" in T_part
    assert PERFECT not in T_part


def test_points_report_and_every_output_file(tmp_path: Path) -> None:
    items = [
        PromptCandidates("a", "1+1?", ["2", "3"], [1.0, 0.0]),
        PromptCandidates("b", "2+2?", ["4", "4.0", "5", "6"], [1.0, 1.0, 0.0, 0.0]),
    ]
    load = CandidateLoad("user.jsonl", items, skipped=[(2, "bad row")], info={"sha256": "x"})
    sweep = _sweep()
    report = points_report(load, items, sweep, [{"judge": "oracle:0", "failures": 0}], repeats=4, seed=7)
    assert report["candidates"] == {
        "source": "user.jsonl",
        "prompts": 2,
        "skipped_rows": [(2, "bad row")],
        "sha256": "x",
    }
    assert report["pool_size"] == {"min": 2, "max": 4, "mean": 3.0}
    assert report["mean_accuracy"] == pytest.approx(3 / 6)
    assert (
        report["T"] == [0.0, "inf"]
        and report["k"] == [1, 2]
        and (report["repeats"], report["seed"]) == (4, 7)
    )
    assert report["theory_fits"] == {"oracle:0": {"a": -1.0, "b": 2.0, "form": "a + b / k^2"}}
    assert len(report["points"]) == 5 and report["points"][2]["T"] == "inf"
    paths = {
        k: tmp_path / v
        for k, v in {"points": "p.json", "table": "t.md", "plot_k": "k.png", "plot_T": "T.png"}.items()
    }
    write_scaling_outputs(sweep, report, paths, title="demo")
    assert json.loads(paths["points"].read_text())["mean_accuracy"] == pytest.approx(0.5)
    assert paths["table"].read_text().startswith("delta (minus the expected accuracy")
    assert paths["plot_k"].read_bytes()[:8] == PNG and paths["plot_T"].read_bytes()[:8] == PNG
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "T.png",
        "k.png",
        "p.json",
        "t.md",
    ]  # no temp files left
