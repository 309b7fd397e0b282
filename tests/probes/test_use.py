"""Using probes: training end to end on a tiny model, evaluate_samples, filters, the reward, the pair
filter, the `probe_filter` stage and the `judgerl probe` CLI."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from judgerl.cli.main import main
from judgerl.core.jsonl import read_json, read_jsonl, write_jsonl
from judgerl.core.stage import StageContext
from judgerl.core.types import JudgeSample
from judgerl.data_prep.pair_filters import apply_pair_filters, parse_pair_filters
from judgerl.models.tiny import TinyModelSpec, build_tiny_model
from judgerl.models.tokenizer import train_tokenizer
from judgerl.probes.linear import ProbeFileError
from judgerl.probes.operations import ProbeTrainConfig, train_probes
from judgerl.probes.stage import ProbeFilterStage
from judgerl.probes.train import TrainSpec
from judgerl.probes.use import (
    above_threshold,
    evaluate_samples,
    filter_rows,
    keep_count,
    load_probes,
    row_texts,
    top_fraction,
)
from judgerl.rewards.registry import combined_reward, list_rewards, parse_reward_specs
from judgerl.stages import STAGE_KINDS

GOOD = "Step by step: {a} plus {b} makes {c}, checked twice, so the answer is {c}."
BAD = "idk lol maybe {c} or whatever"


def _row(i: int, good: bool, rng: random.Random) -> dict:
    a, b = rng.randint(1, 60), rng.randint(1, 60)
    text = (GOOD if good else BAD).format(a=a, b=b, c=a + b)
    return {"id": f"r{i}", "question": f"What is {a} + {b}?", "prediction": text, "ok": good}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    """A tiny causal LM saved to disk, and an `ok` probe trained on it from a labels file (60% good)."""
    root = tmp_path_factory.mktemp("probe")
    rng = random.Random(0)
    rows = [_row(i, rng.random() < 0.6, rng) for i in range(120)]
    tok = train_tokenizer([r["question"] + " " + r["prediction"] for r in rows], vocab_size=300)
    model = build_tiny_model(TinyModelSpec(hidden_size=32, layers=2, heads=2, intermediate_size=64), tok, 0)
    ckpt = root / "tiny"
    model.save_pretrained(str(ckpt))
    tok.save_pretrained(str(ckpt))
    write_jsonl(root / "labels.jsonl", rows)
    cfg = ProbeTrainConfig(
        data=str(root / "labels.jsonl"),
        model=str(ckpt),
        out=str(root / "probes"),
        column="ok",
        layers=[1, 2],
        balance=False,
        train=TrainSpec(Cs=[0.01, 1.0], folds=3),
    )
    reports = train_probes(cfg, progress=False)
    return {"root": root, "ckpt": ckpt, "probes": root / "probes", "report": reports["ok"]}


def test_training_end_to_end_learns_the_label_on_held_out_rows(trained) -> None:
    m = trained["report"].metrics
    assert m["test"]["accuracy"] >= 0.95 and m["test"]["macro_f1"] >= 0.95
    assert m["majority"]["macro_f1"] < 0.45 and m["test"]["accuracy"] > m["majority"]["accuracy"] + 0.3
    assert (trained["probes"] / "ok.safetensors").is_file()
    assert set(read_json(trained["probes"] / "report.json")) == {"ok"}
    assert "| majority class |" in (trained["probes"] / "report.md").read_text()
    probe = load_probes(trained["probes"])["ok"]
    assert probe.meta["template"] == "plain" and probe.meta["model_id"] == str(trained["ckpt"])
    assert probe.meta["layers"] in ([1], [2]) and probe.meta["threshold"] is None
    assert (trained["probes"] / "cache" / "index.json").is_file()


def test_evaluate_samples_scores_each_aspect_and_totals(trained) -> None:
    rng = random.Random(7)
    samples = [_row(i, i % 2 == 0, rng) for i in range(8)]
    out = evaluate_samples(samples, str(trained["probes"]), progress=False)
    assert [r["ok"] for r in out] == [True, False] * 4  # the original column is kept...
    assert all(0.0 <= r["ok_score"] <= 1.0 and r["total_score"] == r["ok_score"] for r in out)
    good = [r["ok_score"] for r in out[0::2]]
    bad = [r["ok_score"] for r in out[1::2]]
    assert min(good) > max(bad)
    by_label = evaluate_samples(samples, str(trained["probes"]), total="label", progress=False)
    assert [r["total_score"] for r in by_label] == [1, 0] * 4
    assert samples[0].get("total_score") is None  # inputs are not mutated


def test_filter_keeps_the_good_half_of_sft_traces_and_pairs(trained) -> None:
    rng = random.Random(3)
    rows = [_row(i, i in (1, 4, 5), rng) for i in range(6)]
    sft = [
        {
            "messages": [
                {"role": "user", "content": r["question"]},
                {"role": "assistant", "content": r["prediction"]},
            ]
        }
        for r in rows
    ]
    result = filter_rows(sft, str(trained["probes"]), top=0.5, progress=False)
    assert result.kept == [1, 4, 5] and result.dropped == [0, 2, 3]
    pairs = [
        {
            "prompt": [{"role": "user", "content": r["question"]}],
            "chosen": r["prediction"],
            "rejected": rows[1]["prediction"],
        }
        for r in rows
    ]
    margin = filter_rows(pairs, str(trained["probes"]), threshold=-0.5, pair_score="margin", progress=False)
    assert margin.kept == [1, 4, 5] and all(abs(margin.scores[i]) < 0.5 for i in (1, 4, 5))
    with pytest.raises(ValueError, match="exactly one of top"):
        filter_rows(sft, str(trained["probes"]), progress=False)
    with pytest.raises(ValueError, match="row 0: cannot tell the question and the response apart"):
        filter_rows([{"text": "x"}], str(trained["probes"]), top=0.5, progress=False)


def test_row_texts_reads_samples_traces_pairs_and_judge_samples() -> None:
    sample = JudgeSample("1", "t", [{"role": "user", "content": "What is 2+3?"}], "6", "5", "b", 2)
    assert row_texts(sample.to_dict()) == ("What is 2+3?", "5", "6")
    assert row_texts(
        {"q": [{"role": "user", "content": "Q"}], "a": "A"}, question_key="q", prediction_key="a"
    ) == (
        "Q",
        "A",
        None,
    )
    with pytest.raises(ValueError, match="row 3: the last message is not the assistant's trace"):
        row_texts({"messages": [{"role": "user", "content": "Q"}]}, "row 3")


def test_top_fraction_keeps_exactly_the_top_with_ties_broken_by_input_order() -> None:
    scores = [0.5, 0.9, 0.5, 0.1, 0.5, 0.9, 0.3, 0.5]
    assert keep_count(8, 0.5) == 4 and keep_count(8, 0.3) == 2 and keep_count(7, 0.5) == 4
    assert top_fraction(scores, 0.5) == [0, 1, 2, 5]  # two 0.9s, then the first two of four 0.5s
    assert top_fraction(scores, 0.3) == [1, 5]
    assert top_fraction(scores, 1.0) == list(range(8))
    assert top_fraction(list(reversed(scores)), 0.5) == [0, 2, 3, 6]  # 0.9s at 2 and 6, then 0.5s at 0 and 3
    assert above_threshold(scores, 0.5) == [0, 1, 2, 4, 5, 7]
    with pytest.raises(ValueError, match=r"top fraction must be in \(0, 1\]"):
        top_fraction(scores, 0.0)
    with pytest.raises(ValueError, match="NaN"):
        top_fraction([0.1, float("nan")], 0.5)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.0]), min_size=1, max_size=40),
    st.floats(min_value=0.01, max_value=1.0),
)
def test_top_fraction_property(scores, fraction) -> None:
    kept = top_fraction(scores, fraction)
    k = keep_count(len(scores), fraction)
    assert len(kept) == k == min(len(scores), int(np.floor(len(scores) * fraction + 0.5)))
    assert kept == sorted(kept)
    dropped = [i for i in range(len(scores)) if i not in kept]
    # every kept row ranks above every dropped one: higher score, or equal score and earlier
    assert all((scores[i], -i) > (scores[j], -j) for i in kept for j in dropped)


def test_probe_reward_is_registered_and_in_range(trained) -> None:
    assert "probe" in list_rewards()
    sample = JudgeSample("1", "t", [{"role": "user", "content": "What is 2 + 3?"}], "5", "6", "a", -1)
    good = "Step by step: 2 plus 3 makes 5, checked twice, so the answer is 5. Response (a) is better."
    bad = "idk lol maybe 6 or whatever. Response (a) is better."
    reward = combined_reward(parse_reward_specs([{"name": "probe", "path": str(trained["probes"])}]))
    r_good, r_bad = reward(sample, good), reward(sample, bad)
    assert 0.0 <= r_bad.score < r_good.score <= 1.0
    assert r_good.details["components"]["probe"]["aspects"]["ok"] == pytest.approx(r_good.score)
    assert r_good.details["correct"] is True
    pair_ctx = combined_reward(
        [{"name": "probe", "path": str(trained["probes"]), "context": "pair", "aspect": "ok"}]
    )
    assert 0.0 <= pair_ctx(sample, good).score <= 1.0
    with pytest.raises(ValueError, match="needs path="):
        combined_reward(["probe"])(sample, good)
    with pytest.raises(ValueError, match="no probe for aspect 'fluency'"):
        combined_reward([{"name": "probe", "path": str(trained["probes"]), "aspect": "fluency"}])(
            sample, good
        )


def test_probe_pair_filter_through_the_pair_filter_hook(trained) -> None:
    rng = random.Random(5)
    rows = [_row(i, i % 2 == 0, rng) for i in range(4)]
    pairs = [
        {
            "id": r["id"],
            "prompt": [{"role": "user", "content": r["question"]}],
            "chosen": r["prediction"],
            "rejected": "x y",
        }
        for r in rows
    ]
    specs = parse_pair_filters([{"name": "probe", "path": str(trained["probes"]), "threshold": 0.5}])
    result = apply_pair_filters(pairs, specs)
    assert [p["id"] for p in result.kept] == ["r0", "r2"] and result.dropped == {"probe": 2}
    assert result.examples[0]["reason"].startswith("probe chosen score 0.")
    with pytest.raises(ValueError, match="unknown option 'treshold'"):
        parse_pair_filters([{"name": "probe", "path": "p", "treshold": 0.5}])


def test_probe_filter_stage_and_recipe_validation(trained, tmp_path) -> None:
    from judgerl.recipe import load_recipe

    rng = random.Random(11)
    rows = [_row(i, i < 3, rng) for i in range(10)]
    write_jsonl(tmp_path / "samples.jsonl", rows)
    kind = STAGE_KINDS["probe_filter"]
    stage = kind.config(data=str(tmp_path / "samples.jsonl"), probes=str(trained["probes"]), top=0.3)
    result = kind.run(stage, StageContext(name="filter", out_dir=tmp_path / "stage", progress=False))
    kept = read_jsonl(result.outputs["kept"])
    assert kept == rows[:3] and result.metrics["kept"] == 3 and result.metrics["dropped"] == 7
    scores = read_jsonl(result.outputs["scores"])
    assert [s["kept"] for s in scores] == [True] * 3 + [False] * 7
    with pytest.raises(ValueError, match="exactly one of top"):
        ProbeFilterStage(data="x", probes="y")

    recipe = {
        "name": "probe_filter_check",
        "run_dir": str(tmp_path / "run"),
        "stages": {"top": {"kind": "probe_filter", "data": "samples.jsonl", "probes": "probes", "top": 0.5}},
    }
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    assert "top" in load_recipe(tmp_path / "r.yaml").stages


def test_a_damaged_probe_in_a_folder_is_named(trained, tmp_path) -> None:
    bad = tmp_path / "probes"
    bad.mkdir()
    (bad / "ok.safetensors").write_bytes((trained["probes"] / "ok.safetensors").read_bytes()[:-9])
    with pytest.raises(ProbeFileError, match=r"probes/ok.safetensors: not a readable safetensors probe file"):
        load_probes(bad)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ProbeFileError, match=r"empty: no \*\.safetensors probe files"):
        load_probes(tmp_path / "empty")


def test_cli_probe_train_score_filter(trained, tmp_path, capsys) -> None:
    rng = random.Random(13)
    rows = [_row(i, i % 3 == 0, rng) for i in range(60)]
    write_jsonl(tmp_path / "labels.jsonl", rows)
    out = tmp_path / "cli_probes"
    assert (
        main(
            [
                "probe",
                "train",
                "--data",
                str(tmp_path / "labels.jsonl"),
                "--model",
                str(trained["ckpt"]),
                "--out",
                str(out),
                "--column",
                "ok",
                "--layers",
                "2",
                "--folds",
                "3",
                "--C",
                "0.1,1",
                "--pooling",
                "max",
                "--classifier",
                "svm",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "## ok" in printed and "| 2 (best) |" in printed
    probe = load_probes(out)["ok"]
    assert (
        probe.meta["pooling"] == "max"
        and probe.meta["classifier"] == "svm"
        and probe.meta["balanced"] is True
    )

    assert (
        main(
            [
                "probe",
                "score",
                "--probes",
                str(out),
                "--data",
                str(tmp_path / "labels.jsonl"),
                "--out",
                str(tmp_path / "scored.jsonl"),
            ]
        )
        == 0
    )
    scored = read_jsonl(tmp_path / "scored.jsonl")
    assert len(scored) == 60 and all("ok_score" in r and "total_score" in r for r in scored)

    assert (
        main(
            [
                "probe",
                "filter",
                "--probes",
                str(out),
                "--data",
                str(tmp_path / "labels.jsonl"),
                "--out",
                str(tmp_path / "kept.jsonl"),
                "--top",
                "0.25",
            ]
        )
        == 0
    )
    kept = read_jsonl(tmp_path / "kept.jsonl")
    assert len(kept) == 15 and all(r["ok"] for r in kept)

    assert (
        main(
            [
                "probe",
                "filter",
                "--probes",
                str(tmp_path / "nope"),
                "--data",
                str(tmp_path / "labels.jsonl"),
                "--out",
                str(tmp_path / "x.jsonl"),
                "--top",
                "0.5",
            ]
        )
        == 2
    )
    assert "no such probe file or folder" in capsys.readouterr().err
    assert (
        main(
            [
                "probe",
                "train",
                "--data",
                "x.jsonl",
                "--model",
                "m",
                "--out",
                str(tmp_path / "o"),
                "--pooling",
                "mean",
                "--column",
                "ok",
                "--template",
                "aspect",
            ]
        )
        == 2
    )
    assert "needs 'plain'" in capsys.readouterr().err


def test_paths_in_the_probe_are_used_or_overridden(trained, tmp_path) -> None:
    moved = tmp_path / "moved"
    moved.mkdir()
    for f in Path(trained["ckpt"]).iterdir():
        (moved / f.name).write_bytes(f.read_bytes())
    rng = random.Random(2)
    samples = [_row(0, True, rng)]
    a = evaluate_samples(samples, str(trained["probes"]), progress=False)
    b = evaluate_samples(samples, str(trained["probes"]), model=str(moved), progress=False)
    assert a[0]["ok_score"] == pytest.approx(b[0]["ok_score"], abs=1e-6)
