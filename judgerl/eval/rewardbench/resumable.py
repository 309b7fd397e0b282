"""Resumable generation: one completion per keyed request, appended to a partial file chunk by chunk
(one batch by default), so a repeated call after an interruption generates only what is missing."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from judgerl.models.generation.base import Messages


def _read_partial(path: Path) -> dict[str, str]:
    done: dict[str, str] = {}
    if path.exists():
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:  # a line cut by a crash: generate that prompt again
                    continue
                done[row["key"]] = row["completion"]
    return done


def generate_resumable(
    generator: Any,
    requests: list[tuple[str, Messages]],
    sampling: Any,
    partial_path: Path | None = None,
    chunk_size: int | None = None,
) -> dict[str, str]:
    """One completion per (key, messages) request, appended to `partial_path` (and fsynced) after every
    `chunk_size` requests (default: one batch, `sampling.batch_size`), so a repeated call after an
    interruption generates only what is missing.

    Usage: completions = generate_resumable(gen, v2_requests(items, "ratings", 0, "full"), SamplingSpec())
    """
    chunk_size = chunk_size or getattr(sampling, "batch_size", 32)
    done = _read_partial(partial_path) if partial_path else {}
    todo = [(k, m) for k, m in requests if k not in done]
    out_f = open(partial_path, "a+", encoding="utf-8") if partial_path else None  # noqa: SIM115
    if out_f and out_f.tell() > 0:
        out_f.seek(out_f.tell() - 1)
        if out_f.read(1) != "\n":
            out_f.write("\n")
    try:
        for start in range(0, len(todo), chunk_size):
            chunk = todo[start : start + chunk_size]
            offset = len(requests) - len(todo) + start
            texts = generator.generate(
                [m for _, m in chunk],
                sampling,
                desc=f"judging {offset + 1}-{offset + len(chunk)} of {len(requests)}",
            )
            for (key, _), completions in zip(chunk, texts, strict=True):
                done[key] = completions[0]
                if out_f:
                    out_f.write(
                        json.dumps({"key": key, "completion": completions[0]}, ensure_ascii=False) + "\n"
                    )
            if out_f:
                out_f.flush()
                os.fsync(out_f.fileno())
    finally:
        if out_f:
            out_f.close()
    return {k: done[k] for k, _ in requests}
