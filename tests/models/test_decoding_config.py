"""Recipe selection of the AutoJudge backends (speculative, judge) in the eval and pairs stages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from judgerl.autojudge.classifier import ImportanceClassifier
from judgerl.core.samples import write_samples
from judgerl.core.stage import StageContext
from judgerl.data_prep.synthetic import make_synthetic_splits
from judgerl.eval.stage import EvalStage, run_eval
from judgerl.models.decoding_config import DecodingSpec, check_backend, generator_kwargs
from judgerl.recipe import validate_recipe
from judgerl.trainers.grpo_config import GRPOStage
from judgerl.trainers.pair_construction import PairsStage


@pytest.fixture(scope="module")
def spec_setup(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A draft (a perturbed copy of the tiny target, same tokenizer), a DT classifier, 3 samples."""
    from judgerl.models.loading import load_model_and_tokenizer

    root = tmp_path_factory.mktemp("decoding")
    target, tok = load_model_and_tokenizer(str(tiny_checkpoint), dtype="float32", device="cpu")
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in target.parameters():
            p.add_(0.005 * torch.randn(p.shape, generator=gen))
    target.save_pretrained(str(root / "draft"))
    tok.save_pretrained(str(root / "draft"))
    dim = target.config.hidden_size
    rng = np.random.default_rng(0)
    ImportanceClassifier(
        mean=np.zeros(dim), scale=np.ones(dim), coef=rng.normal(size=dim), intercept=0.0, threshold=0.7, C=1.0
    ).save(root / "classifier")
    write_samples(root / "test.jsonl", make_synthetic_splits(4, 3, seed=0).test)
    return {
        "model": str(tiny_checkpoint),
        "draft": str(root / "draft"),
        "classifier": str(root / "classifier"),
        "data": str(root / "test.jsonl"),
    }


def _predictions(stage: EvalStage, out: Path) -> list[dict]:
    res = run_eval(stage, StageContext(name="eval", out_dir=out, progress=False))
    return [json.loads(x) for x in Path(res.outputs["predictions"]).read_text().splitlines()]


def _decoding(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())["decoding"]


def test_eval_stage_speculative_and_judge_threshold_0_equal_hf_greedy(
    spec_setup: dict[str, str], tmp_path: Path
) -> None:
    base = {
        "model": spec_setup["model"],
        "data": spec_setup["data"],
        "max_new_tokens": 20,
        "dtype": "float32",
    }
    reference = _predictions(EvalStage(**base), tmp_path / "hf")
    assert len(reference) == 6 and len({r["completion"] for r in reference}) > 1
    speculative = EvalStage(
        **base, backend="speculative", decoding={"draft": spec_setup["draft"], "window": 4}
    )
    assert _predictions(speculative, tmp_path / "spec") == reference
    stats = _decoding(tmp_path / "spec")
    assert stats["backend"] == "speculative" and stats["prompts"] == 6 and stats["accepted_per_cycle"] > 0.5
    judge = EvalStage(
        **base,
        backend="judge",
        decoding={
            "draft": spec_setup["draft"],
            "classifier": spec_setup["classifier"],
            "window": 4,
            "threshold": 0,
        },
    )
    assert _predictions(judge, tmp_path / "judge") == reference
    stats = _decoding(tmp_path / "judge")
    assert stats["backend"] == "judge" and stats["accepted_mismatches"] == 0 and stats["cycles"] > 0
    assert "decoding" not in json.loads((tmp_path / "hf" / "metrics.json").read_text())


def test_decoding_errors_name_key_value_and_expectation() -> None:
    with pytest.raises(ValidationError, match=r"backend 'judge' needs decoding.classifier"):
        EvalStage(model="m", data="d.jsonl", backend="judge", decoding={"draft": "d"})
    with pytest.raises(ValidationError, match=r"backend 'speculative' needs a decoding mapping"):
        EvalStage(model="m", data="d.jsonl", backend="speculative")
    with pytest.raises(
        ValidationError, match=r"decoding \(draft 'd'\) applies to backend speculative or judge"
    ):
        EvalStage(model="m", data="d.jsonl", decoding={"draft": "d"})
    with pytest.raises(ValidationError, match=r"decodes greedily, but temperature = 0.7"):
        EvalStage(model="m", data="d.jsonl", temperature=0.7, backend="speculative", decoding={"draft": "d"})
    with pytest.raises(ValidationError, match=r"decoding.threshold = 0.2 applies to backend judge only"):
        EvalStage(model="m", data="d.jsonl", backend="speculative", decoding={"draft": "d", "threshold": 0.2})
    with pytest.raises(ValidationError, match="window"):
        EvalStage(model="m", data="d.jsonl", backend="speculative", decoding={"draft": "d", "window": 0})
    with pytest.raises(ValidationError, match=r"critic_temperature = 1.0"):
        PairsStage(
            judge="j", critic="c", data="d", temperature=0, backend="speculative", decoding={"draft": "d"}
        )
    ok = PairsStage(
        judge="j",
        critic="c",
        data="d",
        temperature=0,
        critic_temperature=0,
        backend="judge",
        decoding={"draft": "d", "classifier": "clf", "window": 8, "threshold": 0.1},
    )
    assert generator_kwargs(ok.backend, ok.decoding) == {
        "draft_path": "d",
        "window": 8,
        "classifier": "clf",
        "threshold": 0.1,
    }
    with pytest.raises(ValidationError, match=r"GRPO generates its rollouts inside TRL's GRPOTrainer"):
        GRPOStage(model="m", data="d", backend="judge")
    assert check_backend("vllm", None) is None and DecodingSpec(draft="d").window == 16


def test_recipe_load_reports_the_stage_key(tmp_path: Path) -> None:
    from judgerl.core.errors import RecipeError

    raw = {
        "name": "t",
        "run_dir": str(tmp_path),
        "stages": {
            "ev": {
                "kind": "eval",
                "model": "m",
                "data": "d.jsonl",
                "backend": "judge",
                "decoding": {"draft": "x"},
            }
        },
    }
    with pytest.raises(RecipeError, match=r"stages\.ev\.decoding = .*needs decoding.classifier"):
        validate_recipe(raw, "r.yaml")
    raw["stages"]["ev"]["decoding"]["classifier"] = "c"
    assert validate_recipe(raw, "r.yaml").stages["ev"].decoding.classifier == "c"


def test_pairs_stage_speculative_and_judge_threshold_0_generations_equal_hf(
    spec_setup: dict[str, str], tmp_path: Path
) -> None:
    from judgerl.trainers.pair_construction import run_pairs

    base = {
        "judge": spec_setup["model"],
        "critic": spec_setup["model"],
        "data": spec_setup["data"],
        "temperature": 0,
        "critic_temperature": 0,
        "max_new_tokens": 16,
        "dtype": "float32",
    }

    def generations(stage: PairsStage, out: Path) -> list[dict]:
        run_pairs(stage, StageContext(name="pairs", out_dir=out, progress=False))
        return [json.loads(x) for x in (out / "generations.jsonl").read_text().splitlines()]

    reference = generations(PairsStage(**base), tmp_path / "hf")
    assert len(reference) == 6 and {r["role"] for r in reference} >= {"judge"}
    spec = PairsStage(**base, backend="speculative", decoding={"draft": spec_setup["draft"], "window": 4})
    assert generations(spec, tmp_path / "spec") == reference
    # judge decoding that accepts no mismatch is the target's greedy output as well
    never = {
        "draft": spec_setup["draft"],
        "window": 4,
        "classifier": spec_setup["classifier"],
        "threshold": 0.0,
    }
    assert generations(PairsStage(**base, backend="judge", decoding=never), tmp_path / "judge0") == reference


def test_cli_eval_takes_the_draft_backends(
    spec_setup: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from judgerl.cli.main import main

    common = ["eval", "--model", spec_setup["model"], "--data", spec_setup["data"], "--max-new-tokens", "12"]
    assert main([*common, "--out", str(tmp_path / "hf")]) == 0
    assert (
        main(
            [
                *common,
                "--out",
                str(tmp_path / "sp"),
                "--backend",
                "speculative",
                "--draft",
                spec_setup["draft"],
            ]
        )
        == 0
    )
    hf, sp = ((tmp_path / d / "predictions.jsonl").read_text() for d in ("hf", "sp"))
    assert sp == hf and _decoding(tmp_path / "sp")["backend"] == "speculative"
    capsys.readouterr()
    assert main([*common, "--backend", "judge", "--draft", spec_setup["draft"]]) == 2
    assert "needs decoding.classifier" in capsys.readouterr().err
    assert main([*common, "--classifier", spec_setup["classifier"]]) == 2
    assert "--classifier and --threshold need --draft" in capsys.readouterr().err
    # draft decoding is pairwise only: `judgerl eval rewardbench` offers hf, vllm and openai
    with pytest.raises(SystemExit) as e:
        main(["eval", "rewardbench", "--model", "m", "--backend", "judge"])
    assert (
        e.value.code == 2
        and "invalid choice: 'judge' (choose from 'hf', 'vllm', 'openai')" in capsys.readouterr().err
    )
