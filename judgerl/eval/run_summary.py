"""A run's summary: every finished evaluation stage side by side, in one table and one PNG.

Each evaluation kind gives one row: its headline score and the parts its benchmark reports
(`pairwise`: pair accuracy, per subset when there are several, e.g. LLMBar's five; RewardBench:
the sections or v2 subsets; JudgeBench: the four categories; RM-Bench: easy / normal / hard and
each domain), with the judge's position bias (the share of verdicts for (a) minus the labels'
share, signed, in points) where the benchmark judges pairs. The numbers come from the stage's
metrics.json (named in its manifest), or, when that file is gone, from the metrics its manifest
recorded.

    print(run_summary(manifests, title="quickstart: evaluation"))   # manifests: stage name -> manifest
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from judgerl.core.jsonl import atomic_path, read_json
from judgerl.data_prep.sources.judgebench import CATEGORIES as JUDGEBENCH_CATEGORIES
from judgerl.data_prep.sources.rmbench import DOMAINS as RMBENCH_DOMAINS
from judgerl.eval.metrics import signed_pct
from judgerl.eval.rewardbench.scoring import V1_SECTIONS, V2_SUBSETS

SUMMARY_KINDS: tuple[str, ...] = ("eval", "rewardbench", "judgebench", "rmbench")
Part = tuple[str, "float | None"]
BIAS = "pos bias"  # a signed difference, not a score: drawn apart


@dataclass
class SummaryEntry:
    """One evaluation stage in the run summary: its headline (name, value) and its parts (fractions)."""

    stage: str
    benchmark: str
    headline: Part
    parts: list[Part] = field(default_factory=list)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def _cell(label: str, x: float | None) -> str:
    return signed_pct(x) if label == BIAS else _pct(x)


def _bias(*sources: Mapping[str, Any] | None) -> list[Part]:
    """The position-bias part from the first source that has one (none when no source has the key)."""
    for source in sources:
        if source and "position_bias" in source:
            return [(BIAS, source["position_bias"])]
    return []


def stage_metrics(manifest: Mapping[str, Any]) -> dict[str, Any] | None:
    """The stage's metrics.json (from its manifest's outputs), or None when it has none or it is unreadable.

    Usage: full = stage_metrics(read_manifest(recipe.stage_dir("judgebench")))
    """
    path = (manifest.get("outputs") or {}).get("metrics")
    if not path or not Path(path).is_file():
        return None
    try:
        data = read_json(path)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _eval_entry(name: str, manifest: Mapping[str, Any], full: Mapping[str, Any] | None) -> SummaryEntry:
    config = manifest.get("config") or {}
    overall = (full or {}).get("overall") or manifest.get("metrics") or {}
    subsets: Mapping[str, Any] = (full or {}).get("subsets") or {}
    both = overall.get("pair_accuracy") is not None
    key, label = ("pair_accuracy", "pair acc") if both else ("single_accuracy", "single acc")
    parts: list[Part] = []
    if both:
        parts.append(("single acc", overall.get("single_accuracy")))
        parts.append(("agreement", overall.get("agreement")))
        if overall.get("consistent_accuracy") is not None:
            parts.append(("consistent acc", overall["consistent_accuracy"]))
    parts += _bias(overall)
    parts.append(("parse fail", overall.get("parse_failure_rate")))
    if overall.get("strength_accuracy") is not None:
        parts.append(("strength acc", overall["strength_accuracy"]))
    if len(subsets) > 1:
        parts += [(subset, m.get(key)) for subset, m in subsets.items()]
    llmbar = bool(subsets) and all(s.startswith("llmbar") for s in subsets)
    notes = [Path(config["data"]).stem] if isinstance(config.get("data"), str) else []
    notes += [] if config.get("both_orders", True) else ["one order"]
    stage = f"{name} ({', '.join(notes)})" if notes else name
    return SummaryEntry(
        stage, "LLMBar (pairwise)" if llmbar else "pairwise", (label, overall.get(key)), parts
    )


def _rewardbench_entry(name: str, m: Mapping[str, Any], from_file: bool) -> SummaryEntry:
    benchmark = f"RewardBench v{m.get('version', 1)} ({m.get('protocol', '?')})"
    if m.get("overall") is None and m.get("partial_overall") is not None:
        headline: Part = ("overall (partial)", m["partial_overall"])
    else:
        headline = ("overall", m.get("overall"))
    parts: list[Part] = []
    sections = m.get("sections")
    if isinstance(sections, Mapping):  # v1 metrics.json
        for section, s in sections.items():
            if s.get("score") is None and s.get("partial_score") is not None:
                parts.append((f"{section} (partial)", s["partial_score"]))
            else:
                parts.append((section, s.get("score")))
    elif from_file:  # v2 metrics.json
        parts += [(k, v.get("accuracy")) for k, v in (m.get("subsets") or {}).items()]
    else:  # the manifest's summary: v1 section scores or v2 subset scores at the top level
        names = V1_SECTIONS if m.get("version", 1) == 1 else V2_SUBSETS
        parts += [(k, m[k]) for k in names if k in m]
    parts += _bias(m.get("pairwise_overall"), m.get("position_overall"), m)
    return SummaryEntry(name, benchmark, headline, parts)


def _judgebench_entry(name: str, m: Mapping[str, Any]) -> SummaryEntry:
    categories: Mapping[str, Any] = m.get("categories") or {}

    def score(c: str) -> float | None:
        value = categories.get(c)
        return value.get("accuracy") if isinstance(value, Mapping) else value

    names = [*JUDGEBENCH_CATEGORIES, *(c for c in categories if c not in JUDGEBENCH_CATEGORIES)]
    parts: list[Part] = [(c, score(c)) for c in names]
    fail = (m.get("pairwise_overall") or {}).get("parse_failure_rate", m.get("parse_failure_rate"))
    parts += _bias(m.get("pairwise_overall"), m)
    parts.append(("parse fail", fail))
    return SummaryEntry(name, f"JudgeBench ({m.get('protocol', '?')})", ("accuracy", m.get("overall")), parts)


def _rmbench_entry(name: str, m: Mapping[str, Any]) -> SummaryEntry:
    domains: Mapping[str, Any] = m.get("domains") or {}

    def score(d: str) -> float | None:
        value = domains.get(d)
        return value.get("average") if isinstance(value, Mapping) else value

    parts: list[Part] = [(level, m.get(level)) for level in ("easy", "normal", "hard")]
    parts += [(d, score(d)) for d in [*RMBENCH_DOMAINS, *(d for d in domains if d not in RMBENCH_DOMAINS)]]
    parts += _bias(m.get("pairwise_overall"), m)
    return SummaryEntry(name, f"RM-Bench ({m.get('protocol', '?')})", ("average", m.get("average")), parts)


def summary_entry(name: str, manifest: Mapping[str, Any]) -> SummaryEntry | None:
    """The summary row of a stage's manifest; None unless it is a finished evaluation stage.

    Usage: entry = summary_entry("judgebench", read_manifest(recipe.stage_dir("judgebench")))
    """
    kind = manifest.get("kind")
    if kind not in SUMMARY_KINDS or manifest.get("status") != "complete":
        return None
    full = stage_metrics(manifest)
    if kind == "eval":
        return _eval_entry(name, manifest, full)
    m = full if full is not None else (manifest.get("metrics") or {})
    if kind == "rewardbench":
        return _rewardbench_entry(name, m, from_file=full is not None)
    if kind == "judgebench":
        return _judgebench_entry(name, m)
    return _rmbench_entry(name, m)


def summary_table(entries: list[SummaryEntry], title: str = "") -> str:
    """One markdown table, a row per evaluation stage: benchmark, headline score and its parts (percent).

    Usage: print(summary_table([summary_entry(n, m) for n, m in manifests.items()]))
    """
    lines = [title, ""] if title else []
    lines += ["| stage | benchmark | headline | score | parts |", "|---|---|---|---:|---|"]
    for e in entries:
        parts = " · ".join(f"{label} {_cell(label, value)}" for label, value in e.parts) or "-"
        cells = [e.stage, e.benchmark, e.headline[0], _pct(e.headline[1]), parts]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _color(index: int, label: str, value: float | None) -> str:
    if value is None:
        return "#bbbbbb"
    if label in ("parse fail", BIAS):  # lower is better (the bias: nearer 0): not drawn as a score
        return "#c44e52"
    return "#2d4e80" if index == 0 else "#7aa6d8"


def plot_summary(entries: list[SummaryEntry], path: str | os.PathLike[str], title: str = "") -> Path:
    """One PNG with a panel per evaluation stage: its headline bar (dark) and its parts; missing ones grey,
    parse failures red.

    Usage: plot_summary(entries, "runs/quickstart/summary.png", title="quickstart")
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not entries:
        raise ValueError("plot_summary: no evaluation stages to plot")
    cols = min(3, len(entries))
    rows = math.ceil(len(entries) / cols)
    widest = max(len(e.parts) + 1 for e in entries)
    fig, axes = plt.subplots(
        rows, cols, figsize=(cols * max(3.5, 0.55 * widest + 1.5), rows * 3.6), squeeze=False
    )
    try:
        for ax in axes.flat[len(entries) :]:
            ax.set_visible(False)
        for ax, e in zip(axes.flat, entries, strict=False):
            bars = [e.headline, *e.parts]
            values = [v for _, v in bars]
            heights = [0.0 if v is None else 100 * v for v in values]
            colors = [_color(i, label, v) for i, (label, v) in enumerate(bars)]
            drawn = ax.bar(range(len(bars)), heights, color=colors)
            for bar, v in zip(drawn, values, strict=True):
                ax.annotate(
                    "missing" if v is None else f"{100 * v:.1f}",
                    (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center",
                    va="bottom",
                    fontsize=7,
                )
            ax.set_xticks(range(len(bars)))
            ax.set_xticklabels([label for label, _ in bars], rotation=35, ha="right", fontsize=7)
            ax.set_ylim(min(0.0, *heights) * 1.15, 108)  # a negative position bias goes below 0
            ax.set_ylabel("%")
            ax.set_title(f"{e.stage}\n{e.benchmark}", fontsize=8)
        if title:
            fig.suptitle(title, fontsize=10)
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=100)
    finally:
        plt.close(fig)
    return Path(path)


def run_summary(
    manifests: Mapping[str, Mapping[str, Any] | None],
    title: str = "",
    png: str | os.PathLike[str] | None = None,
) -> str:
    """The summary table of every finished evaluation stage among `manifests` (in their order), and,
    with `png`, the same numbers as a PNG; "" when there is none.

    Usage: run_summary({n: read_manifest(recipe.stage_dir(n)) for n in recipe.stages}, png="summary.png")
    """
    entries = [e for name, m in manifests.items() if m and (e := summary_entry(name, m)) is not None]
    if not entries:
        return ""
    if png is not None:
        plot_summary(entries, png, title)
    return summary_table(entries, title)
