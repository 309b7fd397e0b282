"""A served judge never outlives the process that started it: same process group, stopped on SIGTERM
(then the signal goes on to the handler it replaced), at normal exit without a stop, and when the
parent is SIGKILLed; each time its port is closed. The fast tests use a stub server (tests/serving/
stub_server.py); the slow ones a real `judgerl serve`, under `judgerl distill` and a killed parent."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from judgerl.core.samples import write_samples
from judgerl.data_prep.synthetic import make_synthetic_splits
from judgerl.serving.process import port_closed
from tests.serving.stub_server import StubServer

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _gone(pid: int) -> bool:
    """True when `pid` has exited (reaped, or a zombie waiting for its new parent to reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def _wait_gone(pid: int, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while not _gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@contextlib.contextmanager
def _parent(mode: str):
    """A parent process that starts a stub server; yields (parent, port, server pid); kills leftovers."""
    parent = subprocess.Popen(
        [sys.executable, "-m", "tests.serving.stub_server", "parent", mode],
        stdout=subprocess.PIPE,
        env=ENV,
        cwd=REPO,
        text=True,
    )
    port, pid = (int(x) for x in parent.stdout.readline().split())
    try:
        yield parent, port, pid
    finally:
        for p in (parent.pid, pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGKILL)
        parent.wait(timeout=30)


def test_the_server_runs_in_its_parents_process_group() -> None:
    server = StubServer("stub", ready_timeout=30).start()
    try:
        assert os.getpgid(server.proc.pid) == os.getpgrp()
    finally:
        server.stop()
    assert server.proc.poll() is not None and port_closed(server.host, server.port, timeout=0)


def test_sigterm_stops_running_servers_then_reaches_the_replaced_handler() -> None:
    heard: list[int] = []
    original = signal.signal(signal.SIGTERM, lambda signum, frame: heard.append(signum))
    try:
        servers = [StubServer("stub", ready_timeout=30).start() for _ in range(2)]
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.1)  # the handler runs in the main thread, at the next bytecode
        assert heard == [signal.SIGTERM]  # the handler that was there before still hears it
        for s in servers:
            assert s.proc.poll() is not None and port_closed(s.host, s.port, timeout=0)
        assert signal.getsignal(signal.SIGTERM) is not original  # ours gave the place back
        assert signal.getsignal(signal.SIGTERM).__name__ == "<lambda>"
    finally:
        for s in servers:
            s.stop(kill=True)
        signal.signal(signal.SIGTERM, original)


def test_sigterm_to_the_parent_stops_its_server_and_the_parent_dies_of_it() -> None:
    with _parent("sleep") as (parent, port, pid):
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(timeout=30) == -signal.SIGTERM
        assert _wait_gone(pid) and port_closed("127.0.0.1", port)


def test_a_parent_that_exits_without_stopping_takes_its_server_along() -> None:
    with _parent("exit") as (parent, port, pid):
        assert parent.wait(timeout=30) == 0
        assert _wait_gone(pid) and port_closed("127.0.0.1", port)


def test_a_sigkilled_parent_takes_its_server_along() -> None:
    with _parent("sleep") as (parent, port, pid):
        parent.send_signal(signal.SIGKILL)
        assert parent.wait(timeout=30) == -signal.SIGKILL
        assert _wait_gone(pid) and port_closed("127.0.0.1", port)


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(stat.parent.name))
    return kids


@pytest.mark.slow
def test_sigterm_during_distill_stops_its_served_teacher(tiny_judge: Path, tmp_path: Path) -> None:
    """The issue's case: `kill PID` of `judgerl distill --serve CKPT` left the teacher listening."""
    data = tmp_path / "train.jsonl"
    write_samples(data, make_synthetic_splits(200, 1, seed=1).train)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "judgerl", "distill", "--data", str(data), "--out", str(out),
           "--serve", str(tiny_judge), "--max-new-tokens", "16", "--concurrency", "1",
           "--prompt", "cot", "--temperature", "0"]  # fmt: skip
    distill = subprocess.Popen(cmd, env=ENV, cwd=REPO)
    server = None
    try:
        deadline = time.monotonic() + 180
        while not (out / "answers.jsonl").exists() or not (out / "answers.jsonl").read_text():
            assert distill.poll() is None and time.monotonic() < deadline, "distill never asked its teacher"
            time.sleep(0.1)
        (server,) = _children(distill.pid)
        args = Path(f"/proc/{server}/cmdline").read_bytes().decode().split("\0")
        port = int(args[args.index("--port") + 1])
        assert httpx.get(f"http://127.0.0.1:{port}/health", trust_env=False).status_code == 200
        distill.send_signal(signal.SIGTERM)
        assert distill.wait(timeout=60) == 143  # judgerl's one-line exit for SIGTERM (issue 25 item 9)
        assert _wait_gone(server) and port_closed("127.0.0.1", port)
    finally:
        for pid in (distill.pid, server):
            with contextlib.suppress(ProcessLookupError, TypeError):
                os.kill(pid, signal.SIGKILL)
        distill.wait(timeout=30)
