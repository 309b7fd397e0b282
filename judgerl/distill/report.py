"""The statistics of a `distill` run (stats.json, the manifest's metrics) and their printed summary."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from judgerl.core.types import JudgeSample
from judgerl.distill.accept import OVER_BUDGET, Decision


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass
class DistillTally:
    """Counts gathered while the answers of a run are judged.

    Usage: tally.add(sample, decisions, kept=1); stats = tally.summary(items=10, orders=2)
    """

    answers: int = 0
    accepted: int = 0
    traces: int = 0
    trimmed: int = 0
    refused: list[dict[str, str]] = field(default_factory=list)
    parse_failures: Counter = field(default_factory=Counter)
    rejected: Counter = field(default_factory=Counter)
    finish_reasons: Counter = field(default_factory=Counter)
    usage: Counter = field(default_factory=Counter)
    per_item: dict[str, int] = field(default_factory=dict)
    by_subset: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    by_strength: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    thinking_tokens: list[int] = field(default_factory=list)

    def add(self, sample: JudgeSample, row: dict[str, Any], decisions: list[Decision], kept: int) -> None:
        """Count one finished job: its answers' decisions and how many traces it gave.

        Usage: tally.add(shown_sample, answers_row, decisions, kept=1)
        """
        self.per_item[sample.id] = self.per_item.get(sample.id, 0) + sum(d.accepted for d in decisions)
        if row.get("refused"):
            self.refused.append({"id": sample.id, "order": sample.order, "reason": row["refused"]})
        self.usage.update({k: v for k, v in (row.get("usage") or {}).items() if isinstance(v, int)})
        self.finish_reasons.update(str(a.get("finish_reason")) for a in row.get("answers", []))
        subset = self.by_subset[sample.subset or "(none)"]
        strength = self.by_strength[str(sample.abs_strength or "unknown")]
        for d in decisions:
            self.answers += 1
            self.accepted += d.accepted
            self.trimmed += d.trimmed
            for bucket in (subset, strength):
                bucket[0] += 1
                bucket[1] += d.accepted
            if d.reason.startswith("parse: "):
                self.parse_failures[d.reason.removeprefix("parse: ")] += 1
            elif d.reason:
                self.rejected[d.reason] += 1
            if d.accepted and d.thinking_tokens:
                self.thinking_tokens.append(d.thinking_tokens)
        self.traces += kept

    def summary(self, items: int, orders: int) -> dict[str, Any]:
        """The statistics dict written to stats.json and the manifest.

        Usage: write_json("stats.json", tally.summary(items=len(samples), orders=2))
        """
        counts = Counter(self.per_item.values())
        with_trace = sum(1 for v in self.per_item.values() if v)

        def rates(table: dict[str, list[int]]) -> dict[str, Any]:
            return {
                k: {"answers": a, "accepted": c, "rate": _rate(c, a)} for k, (a, c) in sorted(table.items())
            }

        return {
            "items": items,
            "samples": items * orders,
            "answers": self.answers,
            "accepted": self.accepted,
            "acceptance_rate": _rate(self.accepted, self.answers),
            "traces": self.traces,
            "items_with_trace": with_trace,
            "accepted_per_item": {
                "mean": round(self.accepted / items, 3) if items else None,
                "histogram": {str(k): counts[k] for k in sorted(counts)},
            },
            "acceptance_by_subset": rates(self.by_subset),
            "acceptance_by_strength": rates(self.by_strength),
            "parse_failures": dict(self.parse_failures),
            "rejected": dict(self.rejected),
            "trimmed": self.trimmed,
            "dropped": self.rejected.get(OVER_BUDGET, 0),
            "refused": len(self.refused),
            "refused_examples": self.refused[:20],
            "finish_reasons": dict(self.finish_reasons),
            "usage": dict(self.usage),
            "mean_thinking_tokens": (
                round(sum(self.thinking_tokens) / len(self.thinking_tokens), 1)
                if self.thinking_tokens
                else None
            ),
        }


def summary_line(stats: dict[str, Any]) -> str:
    """One readable paragraph of a run's statistics.

    >>> print(summary_line({"items": 2, "samples": 2, "answers": 4, "accepted": 3, "acceptance_rate": 0.75,
    ...     "traces": 2, "items_with_trace": 2, "parse_failures": {"no verdict sentence": 1}, "rejected": {},
    ...     "trimmed": 0, "dropped": 0, "refused": 0, "acceptance_by_subset": {}, "acceptance_by_strength": {}}))
    distill: 2 items (2 samples) -> 4 answers, 3 accepted (75.0%), 2 traces from 2 items; parse failures: no verdict sentence 1; rejected: none; trimmed 0, dropped 0, refused 0
    """

    def fmt(d: dict[str, Any]) -> str:
        return ", ".join(f"{k} {v}" for k, v in d.items()) or "none"

    rate = stats["acceptance_rate"]
    lines = [
        f"distill: {stats['items']} items ({stats['samples']} samples) -> {stats['answers']} answers, "
        f"{stats['accepted']} accepted ({'n/a' if rate is None else f'{100 * rate:.1f}%'}), "
        f"{stats['traces']} traces from {stats['items_with_trace']} items; "
        f"parse failures: {fmt(stats['parse_failures'])}; rejected: {fmt(stats['rejected'])}; "
        f"trimmed {stats['trimmed']}, dropped {stats['dropped']}, refused {stats['refused']}"
    ]
    for title in ("acceptance_by_subset", "acceptance_by_strength"):
        table = stats.get(title) or {}
        if len(table) > 1:
            shown = ", ".join(
                f"{k} {100 * (v['rate'] or 0):.0f}% of {v['answers']}" for k, v in table.items()
            )
            lines.append(f"  {title.replace('_', ' ')}: {shown}")
    return "\n".join(lines)
