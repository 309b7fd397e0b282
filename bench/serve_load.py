"""Load test of `judgerl serve` on loopback: throughput, latency percentiles, batch size, memory.

A tiny judge (Qwen2 shape, built from config with a tokenizer trained on the synthetic task; it
is untrained, so every judgement decodes `--max-new-tokens` tokens: a fixed amount of work per
request) is served by a `judgerl serve` subprocess on 127.0.0.1. A client keeps `--concurrency`
POST /v1/judge requests in flight until `--requests` are done, and records each latency and
error. The server's resident memory is sampled through the run (psutil). The same load then runs
against a server with `--max-batch 1` (one request per generate call) for the batching ratio;
both servers run side by side and the load alternates between them in `--rounds` rounds, so
drifting background load on a shared machine hits both alike.

Results are printed and written to this script's own section of bench/RESULTS.md (the rest of
the file is left alone; rerunning replaces the section).

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 .venv/bin/python bench/serve_load.py
    OMP_NUM_THREADS=1 .venv/bin/python bench/serve_load.py --requests 200 --single-requests 50 --no-record
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import os
import platform
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
from results_md import add_record_flag

from judgerl.core.jsonl import write_text_atomic
from judgerl.data_prep.synthetic import make_synthetic_splits, synthetic_sft_trace
from judgerl.judge_spec.presets import DEFAULT_SPEC, builtin_spec
from judgerl.judge_spec.render import judge_prompt, prompt_text
from judgerl.models.tiny import TinyModelSpec, make_tiny_judge
from judgerl.serving.metrics import percentile
from judgerl.serving.process import JudgeServerProcess

DEFAULT = builtin_spec(DEFAULT_SPEC)  # the prompt the benchmark judges render

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
NOTE = (
    "Both servers run side by side and the load alternates between them in rounds, so background load on "
    "the shared machine hits both alike; each throughput counts only its own rounds. "
    "The one-at-a-time server gets fewer requests to bound its time (throughput is a rate). Mean batch "
    "stays below max batch because generation dominates: the clients whose requests were in one batch "
    "resend while the next batch runs, so the queue settles into alternating batches (a longer "
    "`--max-wait-ms` fills them at the cost of latency). Server memory is sampled every 0.5 s during the run."
)
HEADING = "## Serving: load test of `judgerl serve` on loopback (bench/serve_load.py)"
OVERSIZED_HEADING = "## Serving: oversized requests in a burst (bench/serve_load.py --phase oversized)"


def build_judge(folder: Path, hidden: int, layers: int) -> tuple[Path, list[dict[str, str]]]:
    """A tiny judge checkpoint and request bodies from the synthetic test split."""
    splits = make_synthetic_splits(n_train=300, n_test=200, seed=0)
    texts = [prompt_text(judge_prompt(DEFAULT, s)) + synthetic_sft_trace(s) for s in splits.train]
    spec = TinyModelSpec(hidden_size=hidden, layers=layers, heads=4, vocab_size=1024)
    path = make_tiny_judge(folder, texts, spec)
    bodies = [
        {"question": s.question, "response_a": s.response_a, "response_b": s.response_b} for s in splits.test
    ]
    return path, bodies


def server_rss(pid: int) -> float:
    """A process's resident memory now, MiB."""
    return psutil.Process(pid).memory_info().rss / 2**20


class MemorySampler:
    """Samples a process's RSS (MiB) every `every` seconds in a thread."""

    def __init__(self, pid: int, every: float = 0.5) -> None:
        self.proc = psutil.Process(pid)
        self.every = every
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self.proc.memory_info().rss / 2**20)
            self._stop.wait(self.every)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(self.proc.memory_info().rss / 2**20)


async def load(
    url: str, bodies: list[dict[str, str]], n: int, concurrency: int, statuses: list[int] | None = None
) -> dict[str, Any]:
    """Send `n` requests with `concurrency` in flight; latencies (s), error messages, wall time.

    `statuses`, when given, collects every reply's HTTP status; `waits` holds every request's time,
    refusals and errors included.
    """
    latencies: list[float] = []
    errors: list[str] = []
    waits: list[float] = []
    counter = iter(range(n))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        for i in counter:
            t0 = time.perf_counter()
            try:
                r = await client.post(url + "/v1/judge", json=bodies[i % len(bodies)])
                waits.append(time.perf_counter() - t0)
                if statuses is not None:
                    statuses.append(r.status_code)
                if r.status_code != 200 or "verdict" not in r.json():
                    errors.append(f"HTTP {r.status_code}: {r.text[:200]}")
                    continue
            except httpx.HTTPError as err:
                waits.append(time.perf_counter() - t0)
                errors.append(f"{type(err).__name__}: {err}")
                continue
            latencies.append(time.perf_counter() - t0)

    async with httpx.AsyncClient(timeout=300, limits=limits, trust_env=False) as client:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    return {"latencies": latencies, "errors": errors, "wall": wall, "waits": waits}


def run_oversized(model: Path, bodies: list[dict[str, str]], args: argparse.Namespace) -> dict[str, Any]:
    """The stall of issue 16: requests of three 32,000-character fields (legal by the schema's caps,
    far over the model's context) mixed into a burst of ordinary ones, then a second burst.

    Every reply must come within the request timeout (an oversized prompt is refused with 413 before
    it is queued), and the server's memory must come back to the plateau of an ordinary burst.
    """
    big = {"question": "x " * 16_000, "response_a": "y " * 16_000, "response_b": "z " * 16_000}
    extra = ["--request-timeout", str(args.request_timeout)]
    server = _server(model, args.max_batch, args, extra)
    with server:
        assert server.proc is not None
        asyncio.run(load(server.url, bodies, 2 * args.max_batch, args.concurrency))  # warm-up
        with MemorySampler(server.proc.pid) as plain_mem:
            plain = asyncio.run(load(server.url, bodies, args.burst, args.concurrency))
        plateau = max(plain_mem.samples)
        mixed = [big] * args.oversized + bodies
        statuses: list[int] = []
        bursts, ends = [], []
        with MemorySampler(server.proc.pid) as burst_mem:
            for _ in range(args.bursts):  # memory must level off, not grow burst after burst
                n = args.oversized + args.burst
                bursts.append(asyncio.run(load(server.url, mixed, n, args.concurrency, statuses)))
                ends.append(server_rss(server.proc.pid))
            after = asyncio.run(load(server.url, bodies, args.burst, args.concurrency))
        waits = [w for b in [*bursts, after] for w in b["waits"]]
    return {
        "timeout_s": args.request_timeout,
        "oversized": args.oversized,
        "burst": args.burst,
        "statuses": {str(k): statuses.count(k) for k in sorted(set(statuses))},
        "stalled": sum(1 for w in waits if w > args.request_timeout),
        "slowest_s": max(waits),
        "plain_p95_ms": 1000 * (percentile(plain["latencies"], 95) or 0),
        "after_p95_ms": 1000 * (percentile(after["latencies"], 95) or 0),
        "after_errors": len(after["errors"]),
        "plateau_mib": plateau,
        "burst_max_mib": max(burst_mem.samples),
        "after_each_burst_mib": ends,
        "end_mib": burst_mem.samples[-1],
    }


def record_oversized(row: dict[str, Any], args: argparse.Namespace, load_avg: str) -> None:
    """Replace the oversized phase's section of RESULTS.md."""
    lines = [
        OVERSIZED_HEADING,
        "",
        f"Machine: {platform.machine()}, {psutil.cpu_count()} CPUs; date "
        f"{datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}; load average at start {load_avg}.",
        f"Judge: tiny Qwen2 (hidden {args.hidden}, {args.layers} layers, context 1,024 tokens), "
        f"{args.max_new_tokens} new tokens, max batch {args.max_batch}, request timeout {args.request_timeout} s. "
        f"{row['oversized']} requests with three 32,000-character fields go first in a burst of "
        f"{row['burst']} ordinary ones ({args.concurrency} in flight), {args.bursts} such bursts in a row, "
        "then an ordinary burst.",
        f"Command: `OMP_NUM_THREADS=1 .venv/bin/python bench/serve_load.py --phase oversized "
        f"--oversized {args.oversized} --burst {args.burst} --bursts {args.bursts} "
        f"--request-timeout {args.request_timeout}`",
        "",
        "| replies by status | stalled past the timeout | slowest reply (s) | p95 ms: ordinary burst / after "
        "| errors after | server RSS MiB: ordinary plateau / after each mixed burst / max / end |",
        "|---|---|---|---|---|---|",
        f"| {', '.join(f'{k}: {v}' for k, v in row['statuses'].items())} | {row['stalled']} "
        f"| {row['slowest_s']:.2f} | {row['plain_p95_ms']:.0f} / {row['after_p95_ms']:.0f} | {row['after_errors']} "
        f"| {row['plateau_mib']:.0f} / {' / '.join(f'{m:.0f}' for m in row['after_each_burst_mib'])} "
        f"/ {row['burst_max_mib']:.0f} / {row['end_mib']:.0f} |",
        "",
        "Before the token rule (issue 16), one such request timed out with 504 after 120 s while its "
        "generation kept running, every request behind it got 504 for over 8 minutes, and RSS grew "
        "418 -> 1,080 MB. Now the prompt is counted with the served tokenizer and refused with 413 "
        "before it is queued; a request that times out is cancelled and its batch stopped.",
        "",
    ]
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    start = text.find(OVERSIZED_HEADING)
    if start >= 0:
        end = text.find("\n## ", start + len(OVERSIZED_HEADING))
        text = text[:start] + "\n".join(lines) + ("\n" + text[end + 1 :] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(lines)
    write_text_atomic(RESULTS, text.rstrip("\n") + "\n")


def _server(
    model: Path, max_batch: int, args: argparse.Namespace, more: list[str] | None = None
) -> JudgeServerProcess:
    extra = ["--max-batch", str(max_batch), "--max-wait-ms", str(args.max_wait_ms), *(more or [])]
    extra += ["--max-new-tokens", str(args.max_new_tokens), "--device", "cpu"]
    env = {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    return JudgeServerProcess(model, extra_args=extra, env=env)


def run_interleaved(
    model: Path, bodies: list[dict[str, str]], args: argparse.Namespace
) -> list[dict[str, Any]]:
    """Serve `model` twice (max batch N and 1) and alternate the load between them in rounds.

    On a shared machine the background load drifts; alternating rounds gives both servers the
    same conditions, so their throughput ratio is fair. Returns one measurement row per server.
    """
    configs = [(args.max_batch, args.requests), (1, args.single_requests)]
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(_server(model, mb, args)) for mb, _ in configs]
        for server, (mb, _) in zip(servers, configs, strict=True):
            asyncio.run(load(server.url, bodies, 2 * mb, args.concurrency))  # warm-up
        before = [httpx.get(s.url + "/metrics", trust_env=False).json()["batches"] for s in servers]
        samplers = [stack.enter_context(MemorySampler(s.proc.pid)) for s in servers if s.proc is not None]
        results = [{"latencies": [], "errors": [], "wall": 0.0} for _ in servers]
        for r in range(args.rounds):
            for k, (server, (_, n)) in enumerate(zip(servers, configs, strict=True)):
                share = n // args.rounds + (1 if r < n % args.rounds else 0)
                res = asyncio.run(load(server.url, bodies, share, args.concurrency))
                for key in ("latencies", "errors"):
                    results[k][key] += res[key]
                results[k]["wall"] += res["wall"]
        after = [httpx.get(s.url + "/metrics", trust_env=False).json()["batches"] for s in servers]
        for sampler in samplers:
            sampler.__exit__(None, None, None)
    rows = []
    for k, (mb, n) in enumerate(configs):
        lat, res, mem = results[k]["latencies"], results[k], samplers[k].samples
        batches = after[k]["count"] - before[k]["count"]
        rows.append(
            {
                "max_batch": mb,
                "requests": n,
                "concurrency": args.concurrency,
                "ok": len(lat),
                "errors": len(res["errors"]),
                "first_errors": res["errors"][:3],
                "wall_s": res["wall"],
                "throughput_rps": len(lat) / res["wall"],
                "p50_ms": 1000 * (percentile(lat, 50) or 0),
                "p95_ms": 1000 * (percentile(lat, 95) or 0),
                "p99_ms": 1000 * (percentile(lat, 99) or 0),
                "mean_batch": (after[k]["items"] - before[k]["items"]) / batches if batches else 0.0,
                "mem_max_mib": max(mem),
                "mem_quartiles_mib": [mem[round(q * (len(mem) - 1))] for q in (0, 0.25, 0.5, 0.75, 1)],
            }
        )
    return rows


def record(rows: list[dict[str, Any]], ratio: float, args: argparse.Namespace, load_avg: str) -> None:
    """Replace this script's section of RESULTS.md (other sections are kept as they are)."""
    cmd = (
        "OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 .venv/bin/python bench/serve_load.py "
        f"--requests {args.requests} --single-requests {args.single_requests} --concurrency {args.concurrency} "
        f"--rounds {args.rounds} "
        f"--max-new-tokens {args.max_new_tokens} --hidden {args.hidden} --layers {args.layers}"
    )
    lines = [
        HEADING,
        "",
        f"Machine: {platform.machine()}, {psutil.cpu_count()} CPUs, {platform.system()} {platform.release()}; "
        f"date {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}; load average at start {load_avg} "
        "(the machine is shared: absolute numbers are low, the ratio is what the test checks).",
        f"Judge: tiny Qwen2 (hidden {args.hidden}, {args.layers} layers, untrained), greedy, "
        f"{args.max_new_tokens} new tokens per judgement, HF backend on CPU, max wait {args.max_wait_ms} ms.",
        f"Command: `{cmd}`",
        "",
        "| max batch | requests | concurrency | errors | throughput (req/s) | p50 ms | p95 ms | p99 ms "
        "| mean batch | server RSS at 0/25/50/75/100% of the run (max) MiB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['max_batch']} | {r['requests']} | {r['concurrency']} | {r['errors']} | {r['throughput_rps']:.1f} "
            f"| {r['p50_ms']:.0f} | {r['p95_ms']:.0f} | {r['p99_ms']:.0f} | {r['mean_batch']:.1f} "
            f"| {' / '.join(f'{m:.0f}' for m in r['mem_quartiles_mib'])} ({r['mem_max_mib']:.0f}) |"
        )
    lines += ["", f"Dynamic batching / one-at-a-time throughput: **{ratio:.1f}x**. {NOTE}", ""]
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    start = text.find(HEADING)
    if start >= 0:
        end = text.find("\n## ", start + len(HEADING))
        text = text[:start] + "\n".join(lines) + ("\n" + text[end + 1 :] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(lines)
    write_text_atomic(RESULTS, text.rstrip("\n") + "\n")


def main() -> None:
    """Run the load test for dynamic batching and for max batch 1; print and record the results."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=2000, help="requests against the batching server")
    p.add_argument("--single-requests", type=int, default=400, help="requests against max-batch 1")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--rounds", type=int, default=4, help="alternations between the two servers")
    p.add_argument("--max-batch", type=int, default=32)
    p.add_argument("--max-wait-ms", type=float, default=10.0)
    p.add_argument("--max-new-tokens", type=int, default=16)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--phase", choices=["load", "oversized", "both"], default="both")
    p.add_argument("--oversized", type=int, default=5, help="oversized requests in the burst")
    p.add_argument("--burst", type=int, default=200, help="ordinary requests per burst (oversized phase)")
    p.add_argument("--bursts", type=int, default=3, help="mixed bursts in a row (oversized phase)")
    p.add_argument("--request-timeout", type=float, default=30.0)
    add_record_flag(p)
    args = p.parse_args()
    load_avg = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory() as tmp:
        model, bodies = build_judge(Path(tmp) / "judge", args.hidden, args.layers)
        if args.phase != "load":
            row = run_oversized(model, bodies, args)
            print(row)
            if not args.no_record:
                record_oversized(row, args, load_avg)
            if args.phase == "oversized":
                return
        rows = run_interleaved(model, bodies, args)
    ratio = rows[0]["throughput_rps"] / rows[1]["throughput_rps"]
    for r in rows:
        print({k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()})
    print(f"batching / one-at-a-time throughput: {ratio:.2f}x (load average at start {load_avg})")
    if not args.no_record:
        record(rows, ratio, args, load_avg)
        print(f"recorded in {RESULTS}")


if __name__ == "__main__":
    main()
