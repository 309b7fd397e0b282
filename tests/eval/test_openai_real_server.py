"""`--backend openai` against a REAL `judgerl serve` on loopback: `judgerl eval` and the three benchmark
commands (rewardbench, judgebench, rmbench) give the same greedy completions, verdicts and metrics as the
same tiny judge run in-process.

The judge is a tiny random model whose weights are drawn at unit scale, so its greedy completions differ
from prompt to prompt (a default-init tiny model repeats one token for every prompt). Both sides decode
one prompt at a time (--batch-size 1 here, --max-batch 1 on the server), so no padding differs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from judgerl.cli.main import main
from judgerl.core.jsonl import read_jsonl
from judgerl.core.samples import write_samples
from judgerl.judge_spec.families import PromptSpec
from judgerl.models.tiny import TinyModelSpec, build_tiny_model
from judgerl.models.tokenizer import train_tokenizer
from judgerl.serving.process import JudgeServerProcess
from tests.distill.conftest import make_sample
from tests.models.conftest import sharpen
from tests.prompts import user_text

from .test_judgebench import jb_row, write_judgebench
from .test_rewardbench import write_v1_file
from .test_rmbench import rm_row, write_rmbench

pytestmark = pytest.mark.slow
TOKENS = "8"
SERVED = "tiny-judge"
SAMPLES = [make_sample(i, "ab"[i % 2], strength=None) for i in range(6)]
JB_ROWS = [jb_row("k1", "mmlu-pro-law"), jb_row("r1", "livebench-reasoning", "B>A")]
RM_ROWS = [rm_row("chat/1", "chat")]


@pytest.fixture(scope="module")
def judge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("served") / "judge"
    texts = [user_text(s, PromptSpec("cot")) for s in SAMPLES] * 4
    texts += [" ".join(str(v) for v in r.values()) for r in JB_ROWS + RM_ROWS]
    tokenizer = train_tokenizer(texts, vocab_size=400)
    spec = TinyModelSpec(
        hidden_size=64, layers=2, heads=4, tie_embeddings=False, vocab_size=400, max_position=4096
    )
    model = build_tiny_model(spec, tokenizer, seed=0)
    sharpen(model, seed=1)
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    return out


@pytest.fixture(scope="module")
def server(judge: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`judgerl serve` of the judge as a child process; yields its API root (…/v1)."""
    log = tmp_path_factory.mktemp("serve") / "server.log"
    args = ["--max-new-tokens", TOKENS, "--device", "cpu", "--max-batch", "1", "--max-wait-ms", "0",
            "--served-model-name", SERVED]  # fmt: skip
    env = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with JudgeServerProcess(judge, extra_args=args, log_path=log, env=env) as proc:
        yield proc.url + "/v1"


def _both(command: list[str], judge: Path, url: str, out: Path, *more: str) -> tuple[Path, Path]:
    """Run `command` in-process and over the endpoint; the two output folders."""
    common = ["--max-new-tokens", TOKENS, "--batch-size", "1", "--model-name", SERVED, *more]
    local, remote = out / "local", out / "remote"
    assert main([*command, "--model", str(judge), "--out", str(local), *common]) == 0
    assert main([*command, "--backend", "openai", "--base-url", url, "--out", str(remote), *common]) == 0
    return local, remote


def _metrics(folder: Path) -> dict[str, Any]:
    metrics = json.loads((folder / "metrics.json").read_text())
    for key in ("seconds", "decoding", "judging_attempts"):
        metrics.pop(key, None)
    metrics.get("sampling", {}).pop("backend", None)
    return metrics


def _same(local: Path, remote: Path, rows: int) -> dict[str, Any]:
    predictions = read_jsonl(local / "predictions.jsonl")
    assert len(predictions) == rows and predictions == read_jsonl(remote / "predictions.jsonl")
    assert len({json.dumps(p.get("completion", p)) for p in predictions}) > 1  # the judge's outputs vary
    assert _metrics(local) == _metrics(remote)
    decoding = json.loads((remote / "metrics.json").read_text())["decoding"]
    assert decoding["backend"] == "openai" and decoding["requests"] == rows
    assert decoding["prompt_tokens"] > 0 and decoding["completion_tokens"] > 0 and decoding["wall_s"] > 0
    return decoding


def test_judgerl_eval_gives_the_same_verdicts_over_judgerl_serve(
    judge: Path, server: str, tmp_path: Path
) -> None:
    data = tmp_path / "samples.jsonl"
    write_samples(data, SAMPLES)
    # a judge spec other than the default, from a file, rendered client-side; the server only generates
    spec = tmp_path / "cot_compact_mine.json"
    spec.write_text(json.dumps({"extends": "cot-compact", "name": "mine", "verdict": {"strength": "none"}}))
    local, remote = _both(["eval"], judge, server, tmp_path, "--data", str(data), "--judge-spec", str(spec))
    _same(local, remote, 12)
    metrics = json.loads((remote / "metrics.json").read_text())
    assert metrics["model"] == SERVED and metrics["judge_spec"] == "mine"


def test_the_three_benchmarks_give_the_same_verdicts_over_judgerl_serve(
    judge: Path, server: str, tmp_path: Path
) -> None:
    rb = write_v1_file(tmp_path / "rb.jsonl")
    local, remote = _both(["eval", "rewardbench"], judge, server, tmp_path / "rb", "--data", str(rb),
                          "--max-samples", "10", "--no-plots")  # fmt: skip
    _same(local, remote, 10)
    assert json.loads((remote / "leaderboard.json").read_text()) == json.loads(
        (local / "leaderboard.json").read_text()
    )
    jb = write_judgebench(tmp_path / "jb.jsonl", JB_ROWS)
    _same(*_both(["eval", "judgebench"], judge, server, tmp_path / "jb", "--data", str(jb)), 4)
    rm = write_rmbench(tmp_path / "rm.json", RM_ROWS)
    _same(*_both(["eval", "rmbench"], judge, server, tmp_path / "rm", "--data", str(rm)), 18)
