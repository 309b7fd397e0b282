"""Server counters for GET /metrics: requests, latencies, batch sizes, parse failures."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

WINDOW = 10_000  # latencies and batch sizes kept for percentiles (bounded: memory stays flat)


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100) by nearest rank; None for no values.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50), percentile([], 99)
    (2.0, None)
    """
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil without floats drifting
    return ordered[int(min(rank, len(ordered))) - 1]


class ServerMetrics:
    """Thread-safe counters; `snapshot()` is the /metrics body.

    >>> m = ServerMetrics(); m.record_request("/v1/judge", 200, 0.5); m.record_batch(4)
    >>> m.snapshot()["requests"]["/v1/judge"]["200"], m.snapshot()["batches"]["mean_size"]
    (1, 4.0)
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[str, Counter[str]] = {}
        self._latency: dict[str, deque[float]] = {}
        self._batch_sizes: deque[int] = deque(maxlen=WINDOW)
        self._batches = 0
        self._batched_items = 0
        self._generation_seconds = 0.0
        self._stopped_batches = 0
        self._judgements = 0
        self._parse_failures: Counter[str] = Counter()

    def record_request(self, path: str, status: int | str, seconds: float) -> None:
        """Count one finished request and its latency (`status` an HTTP code or "disconnected")."""
        with self._lock:
            self._requests.setdefault(path, Counter())[str(status)] += 1
            self._latency.setdefault(path, deque(maxlen=WINDOW)).append(seconds)

    def record_batch(self, size: int, seconds: float = 0.0, stopped: bool = False) -> None:
        """Count one generation call of `size` prompts (`stopped`: every request in it gave up)."""
        with self._lock:
            self._stopped_batches += int(stopped)
            self._batch_sizes.append(size)
            self._batches += 1
            self._batched_items += size
            self._generation_seconds += seconds

    def record_parse(self, ok: bool, reason: str = "") -> None:
        """Count one parsed judgement (and its failure reason when it failed)."""
        with self._lock:
            self._judgements += 1
            if not ok:
                self._parse_failures[reason.split(":")[0] or "unknown"] += 1

    def snapshot(self) -> dict[str, Any]:
        """All counters as a JSON-ready dict."""
        with self._lock:
            latency = {}
            for path, values in self._latency.items():
                vals = list(values)
                latency[path] = {
                    "count": len(vals),
                    "p50": percentile(vals, 50),
                    "p95": percentile(vals, 95),
                    "p99": percentile(vals, 99),
                    "mean": sum(vals) / len(vals) if vals else None,
                }
            sizes = list(self._batch_sizes)
            return {
                "requests": {p: dict(c) for p, c in self._requests.items()},
                "latency_seconds": latency,
                "batches": {
                    "count": self._batches,
                    "items": self._batched_items,
                    "mean_size": self._batched_items / self._batches if self._batches else 0.0,
                    "max_size": max(sizes) if sizes else 0,
                    "generation_seconds": round(self._generation_seconds, 4),
                    "stopped": self._stopped_batches,
                },
                "judgements": self._judgements,
                "parse_failures": dict(self._parse_failures),
                "parse_failures_total": sum(self._parse_failures.values()),
            }


DISCONNECTED = "disconnected"  # the status a request is counted under when its client left before any reply


class RecordRequests:
    """Pure ASGI middleware, outermost: every request's path, status and latency, refusals included.

    `route_of` maps a path to the name it is counted under (so a scan of random paths cannot grow
    the counters without bound). A request whose client went away before it was answered is
    counted as "disconnected", apart from the 500s (an exception with no reply sent).

    Usage: app.add_middleware(RecordRequests, metrics=metrics, route_of=lambda p: p)
    """

    def __init__(self, app: Any, metrics: ServerMetrics, route_of: Callable[[str], str]) -> None:
        self.app = app
        self.metrics = metrics
        self.route_of = route_of

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status: int | str | None = None
        gone = False

        async def watch_receive() -> dict:
            nonlocal gone
            message = await receive()
            gone = gone or message["type"] == "http.disconnect"
            return message

        async def send_status(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, watch_receive, send_status)
        except Exception:
            status = status or 500
            raise
        finally:
            if status is None:
                status = DISCONNECTED if gone else 500
            self.metrics.record_request(
                self.route_of(scope.get("path", "")), status, time.perf_counter() - t0
            )
