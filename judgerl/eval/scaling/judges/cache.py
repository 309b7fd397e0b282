"""The score cache: a judge's scores for every prompt on disk, so an interrupted sweep resumes and a
rerun with the same judge (same fingerprint, same checkpoint files) does not score again.

`score_all` fills a judge's gaps (NaN) with its `missing` score and reports how many there were.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from judgerl.core.jsonl import write_jsonl
from judgerl.eval.scaling.candidates import PromptCandidates
from judgerl.eval.scaling.judges.base import SCORE_LOW, PromptScores, scores_with_gaps

J = TypeVar("J")


@dataclass
class ScoredPool:
    """A judge's scores for every prompt (gaps filled with its `missing` score) and how they went."""

    judge: str
    rewards: list[list[float]]
    failures: int = 0
    calls: int = 0
    candidates: int = 0
    reused_prompts: int = 0
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The JSON-ready record of this scoring run (without the scores). Usage: pool.summary()"""
        return {
            "judge": self.judge,
            "candidates": self.candidates,
            "failures": self.failures,
            "failure_rate": round(self.failures / max(1, self.calls), 4),
            "calls": self.calls,
            "reused_prompts": self.reused_prompts,
            "seconds": round(self.seconds, 2),
        } | self.details


def checkpoint_stamp(path: str, edge: int = 1 << 20) -> list[list[Any]]:
    """Name, size and a content hash (the first and last `edge` bytes) of every file of a local
    checkpoint folder ([] for a hub id): a model retrained into the same folder gets a new stamp,
    so its cached scores are not reused; an identical rebuild keeps it. Fast on multi-GB weights.

    Usage: checkpoint_stamp("runs/quickstart/sft/checkpoint")
    """
    folder = Path(path)
    if not folder.is_dir():
        return []
    stamp: list[list[Any]] = []
    for f in sorted(folder.iterdir()):
        if f.is_file():
            size = f.stat().st_size
            h = hashlib.sha256()
            with open(f, "rb") as fh:
                h.update(fh.read(edge))
                if size > edge:
                    fh.seek(max(edge, size - edge))
                    h.update(fh.read(edge))
            stamp.append([f.name, size, h.hexdigest()[:16]])
    return stamp


def judge_cache_name(judge: Any) -> str:
    """The cache file name of a judge's scores: a readable slug plus a hash of its fingerprint
    (and of its checkpoint's files, for judges built from a local folder by `build_judge`).

    >>> from judgerl.eval.scaling.judges.oracle import OracleJudge
    >>> judge_cache_name(OracleJudge([], 0.1))
    'oracle_0.1-256a0d52.jsonl'

    Usage: cache = out_dir / "scores" / judge_cache_name(judge)
    """
    fp = judge.fingerprint() if hasattr(judge, "fingerprint") else {"name": getattr(judge, "name", "judge")}
    if getattr(judge, "checkpoint_stamp", None):
        fp = fp | {"checkpoint": judge.checkpoint_stamp}
    digest = hashlib.sha256(json.dumps(fp, sort_keys=True, default=str).encode()).hexdigest()[:8]
    slug = re.sub(r"[^A-Za-z0-9.]+", "_", str(fp.get("name", "judge"))).strip("_")[-60:]
    return f"{slug}-{digest}.jsonl"


def _cached_rows(path: Path | None) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    if path is None:
        return rows
    for p in (path, path.with_name(path.name + ".partial")):
        if p.exists():
            with open(p, encoding="utf-8") as f:
                for line in f:
                    try:
                        row = json.loads(line)
                        rows[str(row["id"])] = row
                    except (json.JSONDecodeError, KeyError, TypeError):
                        continue  # a line cut by a crash: that prompt is scored again
    return rows


def stamped(judge: J, path: str) -> J:
    """`judge` with the `checkpoint_stamp` of the folder it was loaded from (see `judge_cache_name`).

    Usage: judge = stamped(PRMJudge(model, tok), "runs/prm/checkpoint")
    """
    judge.checkpoint_stamp = checkpoint_stamp(path)  # type: ignore[attr-defined]
    return judge


def _as_batch(judge: Any, prompts: list[str], cands: list[list[str]]) -> list[PromptScores]:
    if hasattr(judge, "score_batch"):
        return judge.score_batch(prompts, cands)
    return [scores_with_gaps(judge.score(p, c)) for p, c in zip(prompts, cands, strict=True)]


def score_all(
    judge: Any,
    items: Sequence[PromptCandidates],
    cache_path: str | os.PathLike[str] | None = None,
    chunk_size: int = 64,
    progress: bool = True,
) -> ScoredPool:
    """Score every prompt's candidates with `judge`, resumably.

    With `cache_path`, each finished chunk is appended to `<cache_path>.partial`; prompts whose
    id and candidate hash are already cached are not scored again; the full cache is written
    atomically at the end. NaN scores (no score) are filled with the judge's `missing` score and
    counted in `failures`.

    Usage: pool = score_all(OracleJudge(items, 0.1), items, "runs/scaling/scores/oracle.jsonl")
    """
    from tqdm.auto import tqdm

    name = getattr(judge, "name", type(judge).__name__)
    missing = float(getattr(judge, "missing", SCORE_LOW))
    path = Path(cache_path) if cache_path is not None else None
    cached = _cached_rows(path)
    rows: dict[str, dict[str, Any]] = {}
    for item in items:
        row = cached.get(item.id)
        if row is not None and row.get("key") == item.key and len(row.get("scores", [])) == item.pool_size:
            rows[item.id] = row
    reused = len(rows)
    todo = [item for item in items if item.id not in rows]
    start = time.time()
    partial = path.with_name(path.name + ".partial") if path else None
    if partial:
        partial.parent.mkdir(parents=True, exist_ok=True)
    f = open(partial, "a", encoding="utf-8") if partial else None  # noqa: SIM115
    try:
        with tqdm(total=len(todo), desc=f"scoring with {name}", disable=not progress or not todo) as bar:
            for s in range(0, len(todo), chunk_size):
                chunk = todo[s : s + chunk_size]
                results = _as_batch(judge, [i.prompt for i in chunk], [list(i.candidates) for i in chunk])
                if len(results) != len(chunk):
                    raise ValueError(f"{name} scored {len(results)} prompts of {len(chunk)}")
                for item, res in zip(chunk, results, strict=True):
                    if len(res.scores) != item.pool_size:
                        raise ValueError(
                            f"{name} gave {len(res.scores)} scores for {item.pool_size} candidates"
                        )
                    row = {
                        "id": item.id,
                        "key": item.key,
                        "scores": [None if math.isnan(x) else x for x in res.scores],
                        "failures": res.failures,
                        "calls": res.calls,
                    }
                    rows[item.id] = row
                    if f:
                        f.write(json.dumps(row) + "\n")
                if f:
                    f.flush()
                    os.fsync(f.fileno())
                bar.update(len(chunk))
    finally:
        if f:
            f.close()
    ordered = [rows[item.id] for item in items]
    if path is not None and (todo or not path.exists()):
        write_jsonl(path, ordered)
    if partial:
        partial.unlink(missing_ok=True)
    rewards = [[missing if x is None else float(x) for x in row["scores"]] for row in ordered]
    gaps = sum(x is None for row in ordered for x in row["scores"])
    return ScoredPool(
        judge=name,
        rewards=rewards,
        failures=sum(int(row.get("failures", 0)) for row in ordered),
        calls=sum(int(row.get("calls", 0)) for row in ordered),
        candidates=sum(item.pool_size for item in items),
        reused_prompts=reused,
        seconds=time.time() - start,
        details={"missing_score": missing, "filled": gaps},
    )
