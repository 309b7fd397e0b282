"""Start and stop a `judgerl serve` subprocess (for a training stage, a benchmark or a test).

The server never outlives the process that started it. It runs in its parent's process group (a
Ctrl-C at the terminal, or `kill -- -PGID`, reaches both), and it is stopped:
- when the `with` block or the stage's `finally` ends (`stop`), after success, an error or a
  KeyboardInterrupt (SIGINT);
- on SIGTERM to the parent: while a server runs, a SIGTERM handler stops every running server,
  then hands the signal on to the handler it replaced (by default the process then dies of it,
  as it would have);
- at interpreter exit (atexit), for a caller that never stopped it;
- when the parent dies of anything, SIGKILL included: the server asks the kernel (Linux
  PR_SET_PDEATHSIG) for a SIGTERM when its parent goes (`die_with_parent`).
`stop` waits for the process to exit and then for its port to close.

Usage:
    with JudgeServerProcess("runs/quickstart/sft/checkpoint") as server:
        funcs = [remote_trl_reward(server.url)]
"""

from __future__ import annotations

import atexit
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from judgerl.core.errors import StageError
from judgerl.core.http import HTTPClient, HTTPError
from judgerl.core.logging import get_logger
from judgerl.core.serve_options import BIND_DEFAULTS, ServeBind, serve_args

log = get_logger(__name__)
PARENT_ENV = "JUDGERL_SERVE_PARENT_PID"  # set for a server whose parent wants it gone with it
PR_SET_PDEATHSIG = 1  # linux/prctl.h
_RUNNING: list[JudgeServerProcess] = []  # servers this process started and has not stopped
_REPLACED: dict[int, Any] = {}  # the SIGTERM handler ours replaced, while ours is installed


def free_port(host: str = "127.0.0.1") -> int:
    """An ephemeral TCP port free on `host` right now.

    Usage: port = free_port()

    >>> 0 < free_port() < 65536
    True
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def die_with_parent() -> None:
    """In a server started by JudgeServerProcess: have the kernel send this process SIGTERM when its
    parent dies (Linux; elsewhere a no-op), and exit now if the parent is already gone.

    Usage: die_with_parent()   # first thing in `judgerl serve`
    """
    parent = os.environ.get(PARENT_ENV)
    if not parent or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != int(parent):  # the parent died before the request took effect
        sys.exit(0)


def port_closed(host: str, port: int, timeout: float = 5.0) -> bool:
    """True once nothing accepts connections on host:port (checked until `timeout` seconds pass).

    Usage: assert port_closed("127.0.0.1", server.port)
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                pass
        except OSError:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def _stop_running(signum: int, frame: FrameType | None) -> None:
    """SIGTERM while servers run: stop them, then act as the replaced handler would."""
    for server in list(_RUNNING):
        log.warning(f"signal {signal.Signals(signum).name}: stopping the judge server at {server.url}")
        server.stop()
    previous = _REPLACED.pop(signum, signal.SIG_DFL)
    if signal.getsignal(signum) is _stop_running:
        signal.signal(signum, previous)
    if callable(previous):
        previous(signum, frame)
    elif previous == signal.SIG_DFL:
        os.kill(os.getpid(), signum)  # die of the signal, as without a server


def _watch(server: JudgeServerProcess) -> None:
    _RUNNING.append(server)
    in_main = threading.current_thread() is threading.main_thread()
    if in_main and signal.SIGTERM not in _REPLACED:
        previous = signal.getsignal(signal.SIGTERM)
        if previous != signal.SIG_IGN:
            _REPLACED[signal.SIGTERM] = previous
            signal.signal(signal.SIGTERM, _stop_running)


def _unwatch(server: JudgeServerProcess) -> None:
    if server in _RUNNING:
        _RUNNING.remove(server)
    in_main = threading.current_thread() is threading.main_thread()
    if not _RUNNING and in_main and signal.SIGTERM in _REPLACED:
        previous = _REPLACED.pop(signal.SIGTERM)
        if signal.getsignal(signal.SIGTERM) is _stop_running:
            signal.signal(signal.SIGTERM, previous)


@atexit.register
def _stop_at_exit() -> None:
    for server in list(_RUNNING):
        server.stop()


class JudgeServerProcess:
    """A `python -m judgerl serve` child process on loopback, ready once /health answers.

    `extra_args` are more `judgerl serve` flags, e.g. `JudgeServerSpec.cli_args(prompt)`.
    """

    def __init__(
        self,
        model: str | os.PathLike[str],
        port: int | None = None,
        extra_args: list[str] | None = None,
        log_path: str | os.PathLike[str] | None = None,
        ready_timeout: float = 180.0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.model = str(model)
        self.host = BIND_DEFAULTS.host
        self.port = port or free_port()
        self.extra_args = list(extra_args or [])
        self.log_path = Path(log_path) if log_path else None
        self.ready_timeout = ready_timeout
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The server's base URL. Usage: httpx.get(server.url + "/health")"""
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        """The server's command line: python -m judgerl serve --model M --host H --port P, then `extra_args`.

        Usage: subprocess.Popen(JudgeServerProcess("ckpt", port=8001).command())
        """
        bind = serve_args(ServeBind(host=self.host, port=self.port), fields=("host", "port"))
        return [sys.executable, "-m", "judgerl", "serve", "--model", self.model, *bind, *self.extra_args]

    def start(self) -> JudgeServerProcess:
        """Launch the server and wait for /health (StageError with its log tail if it dies or hangs).

        Usage: server = JudgeServerProcess("runs/quickstart/sft/checkpoint").start()
        """
        cmd = self.command()
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        env = dict(self.env)
        if threading.current_thread() is threading.main_thread():
            # the kernel's parent-death signal follows the thread that started the child
            env[PARENT_ENV] = str(os.getpid())
        # process_group left alone: the child stays in this process's group
        self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        if out is not subprocess.DEVNULL:
            out.close()  # the child holds its own copy
        _watch(self)
        try:
            self._wait_healthy()
        except BaseException:  # died, hung, or interrupted while loading: not left running
            self.stop()
            raise
        return self

    def _wait_healthy(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + self.ready_timeout
        with HTTPClient(self.url, timeout=2, retries=0) as health:  # this loop is the retry
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise StageError(
                        f"judge server exited with code {self.proc.returncode}{self._log_tail()}"
                    )
                try:
                    health.get_json("/health")
                    return
                except HTTPError:
                    time.sleep(0.2)
        raise StageError(f"judge server not healthy after {self.ready_timeout} s{self._log_tail()}")

    def stop(self, kill: bool = False) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s; `kill` sends SIGKILL at once), wait for it
        to exit and for its port to close (a warning names the port if something still holds it).

        Usage: server.stop(kill=True)   # a crash mid-run, in a test
        """
        if self.proc is None:
            return
        _unwatch(self)
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if not port_closed(self.host, self.port):
            log.warning(f"judge server {self.proc.pid} exited but port {self.port} still accepts connections")

    def _log_tail(self) -> str:
        if self.log_path is None or not self.log_path.is_file():
            return ""
        return "; log tail:\n" + "\n".join(self.log_path.read_text(errors="replace").splitlines()[-20:])

    def __enter__(self) -> JudgeServerProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
