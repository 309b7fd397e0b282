"""A stand-in for `judgerl serve` (no model: /health only), to test the server process's lifecycle fast.

python -m tests.serving.stub_server serve PORT        # the stub server itself
python -m tests.serving.stub_server parent MODE       # a parent that starts one, prints "PORT PID",
                                                      # then exits (MODE exit) or sleeps (MODE sleep)
"""

from __future__ import annotations

import http.server
import sys
import time

from judgerl.serving.process import JudgeServerProcess, die_with_parent


class StubServer(JudgeServerProcess):
    """JudgeServerProcess whose command is the stub server (same start, stop and signal handling)."""

    def command(self) -> list[str]:
        return [sys.executable, "-m", "tests.serving.stub_server", "serve", str(self.port)]


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server protocol
        body = b'{"status": "ok"}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def main(argv: list[str]) -> None:
    if argv[0] == "serve":
        die_with_parent()  # as `judgerl serve` does first
        http.server.HTTPServer(("127.0.0.1", int(argv[1])), _Health).serve_forever()
    server = StubServer("stub", ready_timeout=30).start()
    print(server.port, server.proc.pid, flush=True)
    if argv[1] == "sleep":
        time.sleep(600)


if __name__ == "__main__":
    main(sys.argv[1:])
