"""The openai teacher against a REAL `judgerl serve` on loopback (POST /v1/chat/completions): traces
written, wrong verdicts rejected, the server killed mid-run (retried, then reported), the distill
process killed mid-run (resumed without asking again), and a teacher the stage serves itself.

The served judge is a tiny model trained to always answer "<think>ok</think> ... Response (a) is
better.", so its verdict is right exactly on the samples labelled (a).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from judgerl.cli.main import main
from judgerl.core.errors import StageError
from judgerl.core.jsonl import read_json, read_jsonl
from judgerl.core.samples import read_samples, write_samples
from judgerl.core.stage import StageContext
from judgerl.distill.config import DistillStage
from judgerl.distill.stage import run_distill, served_model_id
from judgerl.judge_spec.families import PromptSpec
from judgerl.models.tiny import TinyModelSpec, make_tiny_judge
from judgerl.serving.process import JudgeServerProcess
from judgerl.stages import STAGE_KINDS
from judgerl.trainers.sft import SFTStage, run_sft
from tests.prompts import user_text

from .conftest import make_sample

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
SPEC = PromptSpec("cot", instruction="compact")
SERVE_ARGS = ["--max-new-tokens", "48", "--device", "cpu", "--max-wait-ms", "5"]
ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def always_a(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny judge that says "(a) is better" to every prompt (60 SFT steps on one constant target)."""
    root = tmp_path_factory.mktemp("always_a")
    samples = [make_sample(i, "a", strength=None) for i in range(32)]
    samples = [type(s).from_dict({**s.to_dict(), "metadata": {"thinking": "ok"}}) for s in samples]
    data = root / "data" / "train.jsonl"
    write_samples(data, samples)
    target = "<think>\nok\n</think>\n\nTherefore, Response (a) is better."
    texts = [user_text(s, SPEC) for s in samples] + [target] * 5
    model = make_tiny_judge(
        root / "model", texts, TinyModelSpec(hidden_size=64, layers=2, heads=2, vocab_size=300)
    )
    stage = SFTStage(
        model=str(model), data=str(data), prompt=SPEC, max_steps=60, lr=5e-3,
        batch_size=8, warmup_ratio=0.1, logging_steps=10, save_steps=1000, max_length=256,
    )  # fmt: skip
    return Path(run_sft(stage, StageContext("sft", root / "sft")).outputs["checkpoint"])


@pytest.fixture(scope="module")
def server(always_a: Path, tmp_path_factory: pytest.TempPathFactory):
    """`judgerl serve` of the always-(a) judge, as a child process."""
    log = tmp_path_factory.mktemp("serve") / "server.log"
    proc = JudgeServerProcess(always_a, extra_args=SERVE_ARGS, log_path=log, env=ENV)
    with proc:
        yield proc


def _data(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "train.jsonl"
    write_samples(path, [make_sample(i, "ab"[i % 2], strength=None) for i in range(n)])
    return path


def _stage(data: Path, url: str, **teacher) -> DistillStage:
    spec = {"kind": "openai", "base_url": url, "model_name": served_model_id(url), **teacher}
    return DistillStage(data=str(data), teacher=spec, prompt=SPEC, temperature=0, max_new_tokens=48)


def _wait_for_lines(path: Path, k: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().count("\n") >= k:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} never reached {k} lines")


def test_traces_from_the_served_judge_and_wrong_verdicts_rejected(tmp_path: Path, server) -> None:
    result = run_distill(_stage(_data(tmp_path, 4), server.url + "/v1"), StageContext("d", tmp_path / "out"))
    stats = result.metrics
    assert (stats["answers"], stats["accepted"], stats["rejected"]) == (4, 2, {"wrong verdict": 2})
    traces = read_samples(result.outputs["traces"])
    assert [t.id for t in traces] == ["q0", "q2"] and {t.metadata["thinking"] for t in traces} == {"ok"}
    raw = read_jsonl(result.outputs["answers"])
    assert all(r["answers"][0]["finish_reason"] in ("stop", "length") for r in raw)
    assert raw[1]["answers"][0]["content"].endswith("Response (a) is better.")  # q1 is labelled (b)


def test_a_server_killed_mid_run_is_retried_then_reported_and_the_rerun_resumes(
    tmp_path: Path, server
) -> None:
    data, out = _data(tmp_path, 6), tmp_path / "out"
    stage = _stage(data, server.url + "/v1", concurrency=1, retries=2, backoff=0.2)
    killer = threading.Thread(
        target=lambda: (_wait_for_lines(out / "answers.jsonl", 2), server.stop(kill=True))
    )
    killer.start()
    with pytest.raises(StageError, match=r"failed on sample q\d \(order ab\) after 3 attempt"):
        run_distill(stage, StageContext("d", out))
    killer.join()
    done = len(read_jsonl(out / "answers.jsonl"))
    assert 2 <= done < 6
    server.start()  # the same port
    stats = run_distill(stage, StageContext("d", out)).metrics
    assert (stats["resumed_jobs"], stats["asked_jobs"]) == (done, 6 - done)
    assert sorted(r["id"] for r in read_jsonl(out / "answers.jsonl")) == [f"q{i}" for i in range(6)]
    assert stats["traces"] == 3


def test_a_killed_distill_process_resumes_without_asking_again(tmp_path: Path, server) -> None:
    data, out = _data(tmp_path, 6), tmp_path / "out"
    url = server.url + "/v1"
    args = ["distill", "--data", str(data), "--out", str(out), "--base-url", url, "--model-name", served_model_id(url),
            "--prompt", "cot", "--instruction", "compact", "--temperature", "0", "--max-new-tokens", "48",
            "--concurrency", "1"]  # fmt: skip
    env = {**os.environ, **ENV, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "judgerl", *args], env=env, cwd=REPO)
    try:
        _wait_for_lines(out / "answers.jsonl", 2)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    before = read_jsonl(out / "answers.jsonl")
    assert proc.returncode == -signal.SIGKILL and 2 <= len(before) < 6
    assert main(args) == 0
    stats = read_json(out / "stats.json")
    assert stats["resumed_jobs"] == len(before) and stats["asked_jobs"] == 6 - len(before)
    after = read_jsonl(out / "answers.jsonl")
    assert after[: len(before)] == before and len(after) == 6  # finished answers kept, none asked twice


def test_the_stage_serves_its_teacher_and_stops_it(tmp_path: Path, always_a: Path) -> None:
    made: list[JudgeServerProcess] = []

    def factory(*args, **kwargs) -> JudgeServerProcess:
        made.append(JudgeServerProcess(*args, **kwargs))
        return made[-1]

    kind = STAGE_KINDS["distill"]
    assert kind.run.keywords["server_factory"] is JudgeServerProcess  # the wiring judgerl.stages does
    teacher = {"kind": "openai", "serve": {"model": str(always_a), "device": "cpu", "threads": 1}}
    stage = DistillStage(
        data=str(_data(tmp_path, 2)), teacher=teacher, prompt=SPEC, temperature=0, max_new_tokens=48
    )
    result = kind.run.func(stage, StageContext("d", tmp_path / "out"), server_factory=factory)
    assert result.metrics["traces"] == 1 and result.metrics["teacher"].endswith("@judgerl serve")
    assert len(made) == 1 and made[0].proc is not None and made[0].proc.poll() is not None  # stopped
    assert (tmp_path / "out" / "teacher_server.log").stat().st_size > 0


def test_a_local_hf_teacher_gives_the_same_traces(tmp_path: Path, always_a: Path) -> None:
    teacher = {"kind": "hf", "model": str(always_a), "chunk_size": 3}
    stage = DistillStage(
        data=str(_data(tmp_path, 4)), teacher=teacher, prompt=SPEC, temperature=0, max_new_tokens=48
    )
    stats = run_distill(stage, StageContext("d", tmp_path / "out")).metrics
    assert (stats["answers"], stats["traces"], stats["rejected"]) == (4, 2, {"wrong verdict": 2})
    assert stats["teacher"] == f"hf:{always_a}"
