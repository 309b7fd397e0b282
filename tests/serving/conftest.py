"""Fixtures of the serving tests: a tiny judge checkpoint, a scripted generator, a live server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from judgerl.data_prep.synthetic import make_synthetic_splits, synthetic_sft_trace
from judgerl.models.generation import SamplingSpec
from judgerl.models.tiny import TinyModelSpec, make_tiny_judge
from judgerl.serving.process import free_port
from tests.prompts import user_text


@pytest.fixture(scope="session")
def tiny_judge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-layer, hidden-32 random judge with a tokenizer trained on synthetic prompts."""
    samples = make_synthetic_splits(n_train=60, n_test=1, seed=0).train
    texts = [user_text(s) + synthetic_sft_trace(s) for s in samples]
    spec = TinyModelSpec(hidden_size=32, layers=1, heads=2, vocab_size=400, max_position=2048)
    return make_tiny_judge(tmp_path_factory.mktemp("serve_judge"), texts, spec)


class ScriptedGenerator:
    """A Generator that answers from the prompt text: deterministic completions for value tests.

    A pairwise prompt whose response (a) contains 'GOOD' gets '(a) is better, strength 3' (else
    '(b)', strength 1); one containing 'GARBLE' gets unparseable text. A score prompt gets '7'.
    Records every batch size it was called with; `delay` seconds per call.
    """

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.batches: list[int] = []
        self.lock = threading.Lock()

    def generate(self, prompts, spec: SamplingSpec, progress: bool = True, desc: str = "") -> list[list[str]]:
        with self.lock:
            self.batches.append(len(prompts))
        if self.delay:
            time.sleep(self.delay)
        outs = []
        for p in prompts:
            text = p[-1]["content"]
            if "GARBLE" in text:
                out = "<think>hmm</think> no idea"
            elif "[The Start of Solution]" in text:
                out = "7"
            else:
                a_part = text.split("[The Start of Response (a)]")[1].split("[The End of Response (a)]")[0]
                if "GOOD" in a_part:
                    out = (
                        "<think>a wins</think>\nTherefore, Response (a) is better, and the strength is [[3]]."
                    )
                else:
                    out = (
                        "<think>b wins</think>\nTherefore, Response (b) is better, and the strength is [[1]]."
                    )
            outs.append([out] * spec.n)
        return outs


@contextmanager
def live_server(app, port: int | None = None, **config) -> Iterator[str]:
    """Run `app` under a real uvicorn server on 127.0.0.1 in a thread; yields its base URL.

    `config`: more uvicorn.Config options (e.g. `http=header_timeout_protocol(0.5)`)."""
    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", **config)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
