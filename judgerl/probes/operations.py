"""End-to-end probe operations behind `judgerl probe train|score|filter|label` and the filter stage."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from judgerl.core.config import StrictModel
from judgerl.core.errors import DataError
from judgerl.core.jsonl import write_json, write_jsonl, write_text_atomic
from judgerl.core.logging import get_logger
from judgerl.probes.aspects import ASPECTS, probe_text
from judgerl.probes.features import POOLINGS, FeatureExtractor
from judgerl.probes.labelling import (
    ChatClient,
    GeneratorClient,
    LabellingReport,
    OpenAIChatClient,
    label_rows,
)
from judgerl.probes.labels import (
    LabelSet,
    balance_by_downsampling,
    gsm8k_solution_rows,
    make_targets,
    parse_labels,
    read_labels,
)
from judgerl.probes.rows import read_sample_rows, write_sample_rows
from judgerl.probes.train import LayerKey, ProbeReport, TrainSpec, layer_label, train_probe
from judgerl.probes.truncation import Truncation
from judgerl.probes.use import ExtractorPool, FilterResult, Total, evaluate_samples, filter_rows

log = get_logger("judgerl.probe")


class ProbeTrainConfig(StrictModel):
    """What `judgerl probe train` fits: labels, model, layers, pooling, classifier.

    `data` is a labels file (JSON lines or a JSON list; aspect scores, or rows with `column`), or
    `gsm8k:FILE` (OpenAI's GSM8K model solutions, label column is_correct, grouped by question).
    Aspect scores become binary at `threshold` (None keeps the 1-5 classes); a column is used
    as-is unless a threshold is given. `layer_mode` "sweep" fits one probe per layer and keeps
    the best by CV macro-F1; "concat" fits one probe on all listed layers side by side.

    `layers` are hidden_states indices (0 = embeddings) unless `layer_numbering` is "inspector"
    (INSPECTOR's block numbers: its l is hidden_states[l + 1]). `max_length` None is the model's
    context. INSPECTOR's rules, each an option: `balance_on="score"` balances the 1-5 score
    levels before the threshold (40% positive at threshold 4) where "target" balances the
    classes the probe learns (50%); `split="row"` splits rows where "question" keeps every
    answer to a question on one side; `on_failed_score` skips (counts) or stops at a failed
    label {"score": null}.

    >>> ProbeTrainConfig(data="gsm8k:sols.jsonl", model="m", out="o", column="is_correct").template
    'plain'
    """

    data: str
    model: str
    out: str
    aspects: list[str] | None = None
    column: str | None = None
    threshold: float | None = 4.0
    template: Literal["aspect", "plain"] | None = None
    layers: list[int | str] | int | str = "all"
    layer_mode: Literal["sweep", "concat"] = "sweep"
    layer_numbering: Literal["hidden_states", "inspector"] = "hidden_states"
    pooling: str = "mean"
    max_length: int | None = Field(None, ge=8)
    batch_size: int = Field(16, ge=1)
    device: str = "cpu"
    cache_dir: str | None = None
    balance: bool = True
    balance_on: Literal["target", "score"] = "target"
    split: Literal["question", "row"] = "question"
    question_key: str = "question"
    prediction_key: str = "prediction"
    id_key: str = "id"
    group_key: str | None = None
    on_bad_row: Literal["skip", "stop"] = "stop"
    on_failed_score: Literal["skip", "stop"] = "skip"
    train: TrainSpec = Field(default_factory=TrainSpec)

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        d = dict(data)
        if str(d.get("data", "")).startswith("gsm8k:") and d.get("column") is None:
            d["column"] = "is_correct"
        column = d.get("column")
        if column is not None and d.get("aspects") is not None:
            raise ValueError("give aspects (scores per aspect) or column (one label column), not both")
        if column is not None:
            d.setdefault("threshold", None)
            if d.setdefault("template", "plain") == "aspect":
                raise ValueError(
                    "template 'aspect' renders a ROSCOE aspect prompt; a column probe needs 'plain'"
                )
        elif d.get("template") is None:
            d["template"] = "aspect"
        if d.get("pooling", "mean") not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {d.get('pooling')!r}")
        return d


def load_label_set(cfg: ProbeTrainConfig) -> LabelSet:
    """The labels `cfg` names (a gsm8k: source flattened to one row per model solution).

    Usage: labels = load_label_set(cfg)
    """
    if cfg.data.startswith("gsm8k:"):
        path = cfg.data.split(":", 1)[1]
        rows = gsm8k_solution_rows(path)
        return parse_labels(rows, path, column=cfg.column, group_key="group", on_bad_row=cfg.on_bad_row)
    return read_labels(
        cfg.data,
        aspects=cfg.aspects if cfg.column is None else None,
        column=cfg.column,
        question_key=cfg.question_key,
        prediction_key=cfg.prediction_key,
        id_key=cfg.id_key,
        group_key=cfg.group_key,
        on_bad_row=cfg.on_bad_row,
        on_failed_score=cfg.on_failed_score,
    )


def _feature_sets(feats: dict[int, np.ndarray], mode: str) -> dict[LayerKey, np.ndarray]:
    if mode == "sweep":
        return dict(feats)
    layers = tuple(feats)
    return {layers: np.concatenate([feats[la] for la in layers], axis=1)}


def train_probes(
    cfg: ProbeTrainConfig, extractor: FeatureExtractor | None = None, progress: bool = True
) -> dict[str, ProbeReport]:
    """Fit one probe per aspect (or the column), save `<out>/<name>.safetensors`, report.json, report.md.

    Usage: train_probes(ProbeTrainConfig(data="gsm8k:sols.jsonl", model="path/to/encoder", out="runs/probe"))
    """
    out = Path(cfg.out)
    labels = load_label_set(cfg)
    log.info(labels.summary())
    if extractor is None:
        extractor = FeatureExtractor.load(
            cfg.model,
            device=cfg.device,
            max_length=cfg.max_length,
            batch_size=cfg.batch_size,
            cache_dir=cfg.cache_dir or str(out / "cache"),
        )
    layers = extractor.resolve_layers(cfg.layers, cfg.layer_numbering)
    reports: dict[str, ProbeReport] = {}
    for name in labels.names:
        rows = [r for r in labels.rows if name in r.labels]
        y = make_targets([r.labels[name] for r in rows], cfg.threshold)
        keep = _balanced(cfg, [r.labels[name] for r in rows], y)
        rows, y = [rows[i] for i in keep], [y[i] for i in keep]
        if len(set(y)) < 2:
            raise DataError(
                f"{cfg.data}: labels of {name!r} hold one class only after balancing ({len(y)} rows)"
            )
        texts = [probe_text(r.question, r.prediction, name, cfg.template or "plain") for r in rows]
        feats = extractor.extract(texts, layers, cfg.pooling, progress=progress, desc=name)
        truncation = extractor.last_truncation.as_dict()
        meta: dict[str, Any] = {
            "aspect": name,
            "model_id": cfg.model,
            "pooling": cfg.pooling,
            "template": cfg.template,
            "max_length": extractor.max_length,
            "threshold": cfg.threshold,
            "balanced": cfg.balance,
            "balance_on": cfg.balance_on,
            "split": cfg.split,
            "data": cfg.data,
        }
        groups = [r.group for r in rows] if cfg.split == "question" else None
        report = train_probe(_feature_sets(feats, cfg.layer_mode), y, groups, cfg.train, meta)
        report.metrics["truncation"] = truncation  # the same dict as the probe's meta["metrics"]
        report.probe.save(out / f"{name}.safetensors")
        reports[name] = report
        log.info(f"{name}: best layer {layer_label(report.best_layer)}, held-out {report.metrics['test']}")
    write_json(out / "report.json", {name: r.metrics for name, r in reports.items()})
    md = [f"# Probe report ({cfg.model}, pooling {cfg.pooling})", ""]
    for name, r in reports.items():
        md += [f"## {name}", "", r.table(), ""]
    write_text_atomic(out / "report.md", "\n".join(md))
    return reports


def _balanced(cfg: ProbeTrainConfig, scores: list[int], targets: list[int]) -> list[int]:
    """The rows training keeps: all, or balanced over the targets (judgerl) or the score levels (INSPECTOR)."""
    if not cfg.balance:
        return list(range(len(targets)))
    if cfg.balance_on == "score":
        return balance_by_downsampling(scores, cfg.train.seed, class_order="first_seen")
    return balance_by_downsampling(targets, cfg.train.seed)


@dataclass
class ScoredFile:
    """The rows `score_file` wrote, and how many of the texts it read were cut at max_length."""

    rows: list[dict[str, Any]]
    truncation: Truncation


def _pool(kwargs: dict[str, Any]) -> ExtractorPool:
    """An extractor pool from the pool keys among `kwargs` (removed from it)."""
    keys = ("model", "device", "batch_size", "cache_dir")
    return ExtractorPool(**{k: kwargs.pop(k) for k in keys if k in kwargs})


def score_file(probes: str, data: str, out: str, total: Total = "score", **kwargs: Any) -> ScoredFile:
    """Score every row of a data file (JSON lines or a JSON list) with the probes and write the rows
    with the scores added (a JSON list when `out` ends in .json, else JSON lines).

    Usage: score_file("runs/probe", "results.json", "results_scored.json").truncation.truncated
    """
    pool = _pool(kwargs)
    scored = evaluate_samples(read_sample_rows(data), probes, extractor=pool, total=total, **kwargs)
    write_sample_rows(out, scored)
    truncation = pool.truncation()
    log.info(f"probe score: {len(scored)} rows from {data}; {_cut(truncation)}")
    return ScoredFile(scored, truncation)


def _cut(t: Truncation) -> str:
    return f"{t.truncated} of {t.texts} texts cut at max_length (longest {t.longest} tokens)"


def filter_file(
    probes: str,
    data: str,
    out: str,
    top: float | None = None,
    threshold: float | None = None,
    scores_out: str | None = None,
    **kwargs: Any,
) -> FilterResult:
    """Keep the top fraction (or those >= threshold) of a JSONL file of samples, SFT traces or pairs.

    Writes the kept rows unchanged to `out` (a JSON list when it ends in .json), and each row's
    index, total score, per-aspect scores and keep flag to `scores_out` when given.

    Usage: filter_file("runs/probe", "sft.jsonl", "sft_top.jsonl", top=0.5)
    """
    rows = read_sample_rows(data)
    pool = _pool(kwargs)
    result = filter_rows(rows, probes, top=top, threshold=threshold, extractor=pool, **kwargs)
    result.truncation = pool.truncation()
    write_sample_rows(out, (rows[i] for i in result.kept))
    if scores_out is not None:
        kept = set(result.kept)
        write_jsonl(
            scores_out,
            (
                {"index": i, "total_score": round(s, 6), "aspects": result.details[i], "kept": i in kept}
                for i, s in enumerate(result.scores)
            ),
        )
    log.info(
        f"probe filter: kept {len(result.kept)} of {len(rows)} rows from {data}; {_cut(result.truncation)}"
    )
    return result


def label_file(
    data: str,
    out: str,
    aspects: list[str] | None = None,
    endpoint: str | None = None,
    api_model: str | None = None,
    judge: str | None = None,
    backend: Literal["hf", "vllm"] = "hf",
    api_key_env: str = "OPENAI_API_KEY",
    timeout: float = 60.0,
    workers: int = 4,
    max_new_tokens: int = 256,
    device: str = "auto",
    **keys: Any,
) -> LabellingReport:
    """Label a file of (question, prediction) rows (JSON lines or a JSON list) with 1-5 aspect scores.

    The judge is an OpenAI-compatible `endpoint` with `api_model`, or a local judgerl `judge`
    checkpoint run through the shared generation backend. `keys` are question_key,
    prediction_key and id_key.

    Usage: label_file("sols.jsonl", "scored.jsonl", endpoint="https://api.deepseek.com/v1", api_model="deepseek-chat")
    """
    from judgerl.models.generation import SamplingSpec, make_generator

    if (endpoint is None) == (judge is None):
        raise ValueError("give exactly one judge: --endpoint URL (with --api-model) or --judge CHECKPOINT")
    client: ChatClient
    if endpoint is not None:
        if not api_model:
            raise ValueError("--endpoint needs --api-model (the model name the endpoint serves)")
        client = OpenAIChatClient(
            endpoint, api_model, api_key_env=api_key_env, timeout=timeout, workers=workers
        )
    else:
        kwargs = {"device": device} if backend == "hf" else {}
        gen = make_generator(backend, str(judge), **kwargs)
        client = GeneratorClient(gen, SamplingSpec(max_new_tokens=max_new_tokens, temperature=0.0))
    return label_rows(read_sample_rows(data), client, out, aspects=aspects or list(ASPECTS), **keys)
