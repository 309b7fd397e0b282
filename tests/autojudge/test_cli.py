"""`judgerl autojudge mine|fit|compare` through the CLI entry on tiny models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from judgerl.autojudge.classifier import ImportanceClassifier
from judgerl.autojudge.mining import read_records
from judgerl.cli.main import main
from judgerl.core.samples import write_samples
from judgerl.data_prep.synthetic import make_synthetic_splits
from judgerl.models.tiny import TinyModelSpec, build_tiny_model
from judgerl.models.tokenizer import train_tokenizer
from tests.autojudge.autojudge_pt_fixture import FIXTURE


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A sharpened tiny target and a perturbed copy as draft (same tokenizer), with 12 train / 3 test samples."""
    root = tmp_path_factory.mktemp("aj_cli")
    splits = make_synthetic_splits(12, 3, seed=0)
    texts = [f"{s.conversation[-1]['content']} {s.response_a} {s.response_b}" for s in splits.train]
    tok = train_tokenizer(texts * 4, vocab_size=300)
    target = build_tiny_model(TinyModelSpec(hidden_size=32, layers=1, heads=2, vocab_size=300), tok, seed=0)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in target.parameters():
            if p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=gen) * p.shape[1] ** -0.5 * 3)
    target.save_pretrained(str(root / "target"))
    tok.save_pretrained(str(root / "target"))
    with torch.no_grad():
        for p in target.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=gen))
    target.save_pretrained(str(root / "draft"))
    tok.save_pretrained(str(root / "draft"))
    write_samples(root / "train.jsonl", splits.train)
    write_samples(root / "test.jsonl", splits.test)
    return {k: root / k for k in ("target", "draft")} | {
        "train": root / "train.jsonl",
        "test": root / "test.jsonl",
    }


def test_help_lists_the_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["autojudge", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert all(w in out for w in ("mine", "fit", "compare (bench)", "judgerl autojudge mine --draft"))
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "autojudge" in capsys.readouterr().out


def test_mine_fit_compare(pair: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    models = ["--target", str(pair["target"]), "--draft", str(pair["draft"])]
    common = ["--max-new-tokens", "16", "--threads", "1"]
    out = tmp_path / "aj"
    rc = main(
        ["autojudge", "mine", *models, "--data", str(pair["train"]), "--out", str(out), "--quiet", *common]
    )
    assert rc == 0
    records = read_records(out / "mining.jsonl")
    summary = json.loads((out / "mining_summary.json").read_text())
    assert len(records) == 12 and summary["items"] == 12
    assert summary["mismatches"] == sum(len(r["mismatches"]) for r in records) > 0
    assert "mined 12 items" in capsys.readouterr().out

    # The random tiny judge writes no verdicts: label by the last number instead, so both classes appear.
    out2 = tmp_path / "aj2"
    assert (
        main(
            [
                "autojudge",
                "mine",
                *models,
                "--data",
                str(pair["train"]),
                "--out",
                str(out2),
                "--quiet",
                "--checker",
                "gsm8k",
                "--batch-size",
                "5",
                *common,
            ]
        )
        == 0
    )
    labels = {m["important"] for r in read_records(out2 / "mining.jsonl") for m in r["mismatches"]}
    assert labels == {True, False}
    clf_dir = tmp_path / "clf"
    fit = ["autojudge", "fit", "--target", str(pair["target"]), "--mining", str(out2 / "mining.jsonl")]
    assert main([*fit, "--out", str(clf_dir), "--threads", "1"]) == 0
    clf = ImportanceClassifier.load(clf_dir)
    assert clf.setup == "DT" and clf.coef.shape == (32,) and 0 <= clf.threshold <= 1
    assert "validation ROC-AUC" in capsys.readouterr().out

    cmp_out = tmp_path / "cmp"
    rc = main(
        [
            "autojudge",
            "bench",
            *models,
            "--classifier",
            str(clf_dir),
            "--data",
            str(pair["test"]),
            "--window",
            "4",
            "--thresholds",
            "0",
            "--out",
            str(cmp_out),
            *common,
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert "| speculative |" in printed and "| judge (threshold 0.0) |" in printed
    res = json.loads((cmp_out / "results.json").read_text())
    assert list(res["decoders"]) == [
        "target",
        "speculative",
        "judge (saved)",
        "judge (threshold 0.0)",
        "draft only",
    ]
    # Lossless speculative and threshold-0 judge decoding reproduce target-only greedy.
    assert res["decoders"]["speculative"]["same_as_target"] == 1.0
    assert res["decoders"]["judge (threshold 0.0)"]["same_as_target"] == 1.0
    assert (cmp_out / "table.md").read_text().startswith("| decoder |")


def test_fit_reads_autojudges_own_file_and_dddt_decodes(
    pair: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`fit --mining important_tokens.pt` needs no conversion; a DD-DT classifier drives judge decoding."""
    fit = ["autojudge", "fit", "--target", str(pair["target"]), "--mining", str(FIXTURE), "--threads", "1"]
    assert main([*fit, "--out", str(tmp_path / "dt"), "--c-tie-break", "smallest"]) == 0
    dt = ImportanceClassifier.load(tmp_path / "dt")
    assert dt.counts["train"] + dt.counts["val"] == 20 and dt.counts["val_important"] >= 1
    assert dt.c_tie_break == "smallest" and dt.coef.shape == (32,)
    assert "classifier (DT, 20 mismatches, 10 important)" in capsys.readouterr().out
    dddt = ["--setup", "DD-DT", "--draft", str(pair["draft"]), "--out", str(tmp_path / "dddt")]
    assert main([*fit, *dddt]) == 0
    assert ImportanceClassifier.load(tmp_path / "dddt").coef.shape == (64,)
    capsys.readouterr()
    models = ["--target", str(pair["target"]), "--draft", str(pair["draft"])]
    rc = main(
        [
            "autojudge",
            "compare",
            *models,
            "--classifier",
            str(tmp_path / "dddt"),
            "--data",
            str(pair["test"]),
            "--window",
            "4",
            "--thresholds",
            "0",
            "--max-new-tokens",
            "12",
            "--threads",
            "1",
            "--out",
            str(tmp_path / "cmp"),
        ]
    )
    assert rc == 0 and "DD-DT features" in capsys.readouterr().out
    res = json.loads((tmp_path / "cmp" / "results.json").read_text())["decoders"]
    assert res["judge (threshold 0.0)"]["same_as_target"] == 1.0
    # The DD-DT cost: one more draft forward per cycle than lossless speculative decoding's.
    judge, spec = res["judge (threshold 0.0)"], res["speculative"]
    assert judge["draft_calls"] == spec["draft_calls"] + judge["cycles"]
    assert main([*fit, "--out", str(tmp_path / "x"), "--c-tie-break", "largest"]) == 2
    assert "--c-tie-break must be one of grid-order, smallest, got 'largest'" in capsys.readouterr().err


def test_cli_errors_exit_2(pair: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(
        [
            "autojudge",
            "fit",
            "--target",
            str(pair["target"]),
            "--mining",
            str(tmp_path / "none.jsonl"),
            "--out",
            str(tmp_path / "c"),
        ]
    )
    assert rc == 2 and "no mining records" in capsys.readouterr().err
    rc = main(
        [
            "autojudge",
            "compare",
            "--target",
            str(pair["target"]),
            "--draft",
            str(pair["draft"]),
            "--classifier",
            str(tmp_path / "missing"),
            "--data",
            str(pair["test"]),
        ]
    )
    assert rc == 2 and "classifier.safetensors not found" in capsys.readouterr().err
    rc = main(
        [
            "autojudge",
            "mine",
            "--target",
            str(pair["target"]),
            "--draft",
            str(pair["draft"]),
            "--data",
            str(pair["train"]),
            "--out",
            str(tmp_path / "m"),
            "--batch-size",
            "0",
        ]
    )
    assert rc == 2 and "--batch-size must be >= 1" in capsys.readouterr().err
