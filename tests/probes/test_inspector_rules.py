"""INSPECTOR's rules as judgerl options, each on a hand-computed case: top_percent rounding and order,
balancing over score levels, the row split, failed labels, its layer numbering, and truncation that
is always reported."""

from __future__ import annotations

import json
import logging
import random

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from judgerl.cli.main import main
from judgerl.core.errors import DataError
from judgerl.core.jsonl import read_json, write_jsonl
from judgerl.probes.features import FeatureExtractor, resolve_layer_spec
from judgerl.probes.labels import balance_by_downsampling, parse_labels, read_labels
from judgerl.probes.operations import ProbeTrainConfig, train_probes
from judgerl.probes.train import TrainSpec, split_indices
from judgerl.probes.use import keep_count, top_fraction
from tests.probes.conftest import inspector_features

SCORES = [0.3, 0.9, 0.5, 0.2, 0.95, 0.1]  # ranked: 4 (0.95), 1 (0.9), 2 (0.5), 0, 3, 5


def test_top_percent_rounding_and_order_judgerl_default_and_inspector_rule() -> None:
    # 6 rows at 0.25: 1.5 rows. judgerl rounds half up and keeps input order; INSPECTOR keeps int(1.5) = 1.
    assert keep_count(6, 0.25) == 2 and keep_count(6, 0.25, "floor") == 1
    assert top_fraction(SCORES, 0.25) == [1, 4]
    assert top_fraction(SCORES, 0.25, "floor", "score") == [4]
    assert top_fraction(SCORES, 0.5) == [1, 2, 4]  # input order
    assert top_fraction(SCORES, 0.5, "floor", "score") == [4, 1, 2]  # best first, as INSPECTOR writes
    assert top_fraction(SCORES, 1.0, "floor", "score") == [0, 1, 2, 3, 4, 5]  # INSPECTOR leaves 1.0 alone
    # INSPECTOR's int() of the float product: 100 x 0.29 is 28.999999999999996 in binary floating point
    assert keep_count(100, 0.29, "floor") == 28 and keep_count(100, 0.29) == 29
    # ties stay in input order in both (Python's sort is stable, reverse=True included)
    assert top_fraction([0.5, 0.7, 0.5, 0.5], 0.5, "floor", "score") == [1, 0]
    with pytest.raises(ValueError, match="top rounding must be one of half_up, floor; got 'ceil'"):
        keep_count(6, 0.5, "ceil")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="top order must be one of input, score; got 'best'"):
        top_fraction(SCORES, 0.5, order="best")  # type: ignore[arg-type]


LEVELS = [5, 4, 1, 5, 2, 3, 4, 1, 2, 3, 5, 4, 5]  # 5: 4 rows, 4: 3, 1: 2, 2: 2, 3: 2


def test_balancing_over_score_levels_vs_over_targets() -> None:
    # INSPECTOR: every level cut to the smallest (2) -> 10 rows, of which levels 4 and 5 (4 rows) are positive.
    by_level = balance_by_downsampling(LEVELS, seed=731, class_order="first_seen")
    assert len(by_level) == 10 and sum(LEVELS[i] >= 4 for i in by_level) == 4  # 40% positive
    assert sorted(np.bincount([LEVELS[i] for i in by_level]).tolist()) == [0, 2, 2, 2, 2, 2]
    # judgerl: the binary targets (7 positive, 6 negative) cut to 6 each -> 12 rows, 50% positive.
    targets = [int(s >= 4) for s in LEVELS]
    by_target = balance_by_downsampling(targets, seed=731)
    assert len(by_target) == 12 and sum(targets[i] for i in by_target) == 6
    # first_seen with seed 731 is INSPECTOR's draw: random.seed(731), then random.sample per level
    # in the order the levels first appear, rows kept in file order.
    random.seed(731)
    groups: dict[int, list[int]] = {}
    for i, s in enumerate(LEVELS):
        groups.setdefault(s, []).append(i)
    reference = sorted(i for s in groups for i in random.sample(groups[s], 2))
    assert by_level == reference
    with pytest.raises(ValueError, match="class_order must be 'sorted' or 'first_seen'"):
        balance_by_downsampling(LEVELS, class_order="random")  # type: ignore[arg-type]


def test_split_by_row_is_inspectors_split_and_lets_questions_cross() -> None:
    y = [i % 2 for i in range(40)]
    questions = [f"q{i // 4}" for i in range(40)]  # 10 questions, 4 answers each
    train, test = split_indices(y, None, 0.2, seed=731)
    ref_train, ref_test = train_test_split(list(range(40)), test_size=0.2, stratify=y, random_state=731)
    assert test.tolist() == sorted(ref_test) and train.tolist() == sorted(ref_train)
    crossing = {questions[i] for i in test} & {questions[i] for i in train}
    assert crossing  # by row, answers to one question land on both sides
    train_q, test_q = split_indices(y, questions, 0.2, seed=731)
    assert not {questions[i] for i in test_q} & {questions[i] for i in train_q}


def test_a_failed_score_is_a_counted_skip_by_default_or_stops() -> None:
    rows = [
        {"id": 1, "question": "q", "prediction": "p", "roscoe5dim_score": {"logicality": {"score": 4}}},
        {
            "id": 2,
            "question": "q2",
            "prediction": "p2",
            "roscoe5dim_score": {
                "logicality": {"score": None, "justification": None},
                "fluency": {"score": 5},
            },
        },
    ]
    labels = parse_labels(rows, "mem", aspects=["logicality", "fluency"])
    assert [r.labels for r in labels.rows] == [{"logicality": 4}, {"fluency": 5}]
    assert labels.failed == {"logicality": 1} and labels.missing == {"fluency": 1} and not labels.skipped
    assert 'failed ({"score": null}) logicality: 1' in labels.summary()
    with pytest.raises(DataError, match=r"mem: row 1: 'logicality' is a failed label \{\"score\": null\}"):
        parse_labels(rows, "mem", aspects=["logicality"], on_failed_score="stop")
    with pytest.raises(ValueError, match="on_failed_score must be 'skip' or 'stop'"):
        parse_labels(rows, "mem", on_failed_score="drop")  # type: ignore[arg-type]


def test_labels_read_from_a_json_list(tmp_path) -> None:
    rows = [
        {"id": i, "question": f"q{i}", "prediction": "p", "scores": {"fluency": 1 + i % 5}} for i in range(5)
    ]
    (tmp_path / "scored.json").write_text(json.dumps(rows, indent=4))
    labels = read_labels(tmp_path / "scored.json", aspects=["fluency"])
    assert [r.labels["fluency"] for r in labels.rows] == [1, 2, 3, 4, 5]


def test_layer_numbering_hidden_states_and_inspector() -> None:
    assert resolve_layer_spec([0, 3, -1], 3) == [0, 3]  # -1 is 3 again: duplicates are dropped
    assert resolve_layer_spec([0, 2, -1, "all"], 3, "inspector") == [1, 3, 2]
    assert resolve_layer_spec("all", 3, "inspector") == [1, 2, 3]
    with pytest.raises(ValueError, match="INSPECTOR layer 3 is out of range for a 3-block model"):
        resolve_layer_spec([3], 3, "inspector")
    with pytest.raises(ValueError, match="layer numbering must be one of hidden_states, inspector"):
        resolve_layer_spec([1], 3, "seed")  # type: ignore[arg-type]


def test_probe_help_documents_the_layer_numbering() -> None:
    from judgerl.cli.command_parser import subcommand
    from judgerl.cli.main import build_parser

    text = subcommand(build_parser(), "probe").format_help()
    assert "0 is the\nembedding output" in text and "hidden_states[l + 1]" in text
    assert "--layer-numbering inspector" in text


def test_inspector_numbered_layers_give_inspectors_features(tiny_backbone) -> None:
    texts = ["What is 4 plus 5? 4 plus 5 makes 9.", "idk maybe 3", "A box holds 6 eggs."]
    fx = FeatureExtractor.load(tiny_backbone, batch_size=2)
    for layer in (0, 1, 2):
        want = inspector_features(tiny_backbone, texts, layer)
        (hs,) = fx.resolve_layers([layer], "inspector")
        got = fx.extract(texts, [hs], "mean", progress=False)[hs]
        assert np.allclose(got, want, atol=1e-5)
        same_number = fx.extract(texts, [layer], "mean", progress=False)[layer]
        assert not np.allclose(same_number, want, atol=1e-3)  # judgerl's l is a different layer
    last = inspector_features(tiny_backbone, texts, 1, "last")
    assert np.allclose(fx.extract(texts, [2], "last", progress=False)[2], last, atol=1e-5)


def test_max_length_defaults_to_the_context_and_every_cut_is_reported(tiny_backbone, caplog) -> None:
    fx = FeatureExtractor.load(tiny_backbone)
    assert fx.max_length == 1024  # the tiny model's max_position_embeddings
    long_text = " ".join(["four plus five makes nine"] * 20)
    short = FeatureExtractor.load(tiny_backbone, max_length=8)
    with caplog.at_level(logging.WARNING, logger="judgerl.probe"):
        feats = short.extract([long_text, "ok", long_text + " again"], [1], "mean", progress=False)
    assert feats[1].shape[0] == 3
    assert short.last_truncation.truncated == 2 and short.last_truncation.texts == 3
    assert short.last_truncation.longest > 8
    assert "2 of 3 texts are longer than max_length 8 tokens and were cut" in caplog.text
    # every call counts its own cuts, and the extractor adds them up
    short.extract([long_text], [1], "mean", progress=False)
    assert short.last_truncation.truncated == 1 and short.truncation.truncated == 3


def test_training_with_inspectors_rules_end_to_end(tiny_backbone, tmp_path) -> None:
    rng = random.Random(0)
    rows = []
    for i, level in enumerate(LEVELS * 5):
        good = level >= 4
        text = (
            "Step by step: 4 plus 5 makes 9, so the answer is 9."
            if good
            else f"idk maybe {rng.randint(0, 9)}"
        )
        rows.append({"id": i, "question": f"q{i // 3}", "prediction": text, "scores": {"fluency": level}})
    rows.append({"id": 99, "question": "q", "prediction": "p", "scores": {"fluency": {"score": None}}})
    (tmp_path / "scored.json").write_text(json.dumps(rows))
    cfg = ProbeTrainConfig(
        data=str(tmp_path / "scored.json"),
        model=str(tiny_backbone),
        out=str(tmp_path / "probes"),
        aspects=["fluency"],
        layers=[0, 2],
        layer_numbering="inspector",
        balance_on="score",
        split="row",
        max_length=12,
        train=TrainSpec(Cs=[1.0], folds=2, seed=731),
    )
    report = train_probes(cfg, progress=False)["fluency"]
    assert report.metrics["class_counts"] == {"0": 30, "1": 20}  # 5 levels x 10 rows, 40% positive
    assert report.metrics["n_test"] == 10 and report.metrics["n_train"] == 40
    assert [r["layer"] for r in report.metrics["layers"]] == ["1", "3"]  # stored as hidden_states
    assert report.metrics["truncation"]["truncated"] > 0  # the question + step text is longer than 12
    saved = read_json(tmp_path / "probes" / "report.json")["fluency"]
    assert saved["truncation"] == report.metrics["truncation"]
    assert report.probe.meta["split"] == "row" and report.probe.meta["max_length"] == 12


def test_cli_filter_with_inspectors_top_rule(tiny_backbone, tmp_path, capsys) -> None:
    from tests.probes.test_inspector_files import write_random_probe

    probes = write_random_probe(tiny_backbone, tmp_path / "probes")
    rows = [{"question": f"What is {i} + 1?", "prediction": f"It is {i + 1}." * (i + 1)} for i in range(6)]
    write_jsonl(tmp_path / "rows.jsonl", rows)
    common = [
        "probe",
        "filter",
        "--probes",
        str(probes),
        "--data",
        str(tmp_path / "rows.jsonl"),
        "--top",
        "0.25",
    ]
    assert main([*common, "--out", str(tmp_path / "a.jsonl"), "--scores-out", str(tmp_path / "s.jsonl")]) == 0
    assert "kept 2 of 6 rows" in capsys.readouterr().out
    scores = [json.loads(line)["total_score"] for line in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert (
        main([*common, "--out", str(tmp_path / "b.json"), "--top-rounding", "floor", "--top-order", "score"])
        == 0
    )
    printed = capsys.readouterr().out
    assert "kept 1 of 6 rows" in printed and "0 of 6 texts cut at max_length" in printed
    assert json.loads((tmp_path / "b.json").read_text()) == [rows[int(np.argmax(scores))]]
