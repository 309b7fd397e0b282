"""Start and stop a `judgerl serve` subprocess (for a training stage, a benchmark or a test).

Usage:
    with JudgeServerProcess("runs/quickstart/sft/checkpoint") as server:
        funcs = [remote_trl_reward(server.url)]
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from judgerl.core.errors import StageError
from judgerl.core.http import HTTPClient, HTTPError
from judgerl.core.serve_options import BIND_DEFAULTS, ServeBind, serve_args


def free_port(host: str = "127.0.0.1") -> int:
    """An ephemeral TCP port free on `host` right now.

    Usage: port = free_port()

    >>> 0 < free_port() < 65536
    True
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


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
        self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + self.ready_timeout
        with HTTPClient(self.url, timeout=2, retries=0) as health:  # this loop is the retry
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise StageError(
                        f"judge server exited with code {self.proc.returncode}{self._log_tail()}"
                    )
                try:
                    health.get_json("/health")
                    return self
                except HTTPError:
                    time.sleep(0.2)
        self.stop()
        raise StageError(f"judge server not healthy after {self.ready_timeout} s{self._log_tail()}")

    def stop(self, kill: bool = False) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s; `kill` sends SIGKILL at once).

        Usage: server.stop(kill=True)   # a crash mid-run, in a test
        """
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

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
