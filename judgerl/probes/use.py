"""Using trained probes: per-aspect scores and total_score for samples, and the top-fraction filter.

`total_score` sums the aspects' continuous scores by default (the probability of the positive
class for a binary probe, the expected class for a multi-class one); `total="label"` sums the
predicted labels as the INSPECTOR seed did (0/1 or 1-5 per aspect), which ties often.

The top-fraction filter keeps round-half-up of n x fraction rows in input order by default;
`rounding="floor"` and `order="score"` are INSPECTOR's rule (int(n x fraction) rows, written
best first). Rounding half up keeps a fraction of a small file closest to what was asked (0.25
of 6 rows keeps 2, not 1), and input order keeps a filtered training file in its own order.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from judgerl.probes.aspects import probe_text
from judgerl.probes.linear import LinearProbe, ProbeFileError, load_probe
from judgerl.probes.truncation import Truncation

if TYPE_CHECKING:  # the extractor needs torch: imported when a pool loads one
    from judgerl.probes.features import FeatureExtractor

Total = Literal["score", "label"]
PairScore = Literal["chosen", "margin"]
TopRounding = Literal["half_up", "floor"]
TopOrder = Literal["input", "score"]
TOP_ROUNDINGS: tuple[str, ...] = ("half_up", "floor")
TOP_ORDERS: tuple[str, ...] = ("input", "score")
Pair = tuple[str, str]


def load_probes(path: str | os.PathLike[str]) -> dict[str, LinearProbe]:
    """Probes by aspect from one probe file or a folder of `*.safetensors` probe files.

    Usage: probes = load_probes("runs/probe")  # {"logicality": LinearProbe, ...}
    """
    p = Path(path)
    if p.is_dir():
        files = sorted(p.glob("*.safetensors"))
        if not files:
            raise ProbeFileError(f"{p}: no *.safetensors probe files in this folder")
    elif p.is_file():
        files = [p]
    else:
        raise ProbeFileError(f"{p}: no such probe file or folder")
    probes: dict[str, LinearProbe] = {}
    for f in files:
        probe = load_probe(f)
        if probe.aspect in probes:
            raise ProbeFileError(f"{f}: a second probe for aspect {probe.aspect!r} in {p}")
        probes[probe.aspect] = probe
    return probes


@dataclass
class ExtractorPool:
    """Feature extractors loaded on first use, one per (model, max_length) the probes name.

    `model` overrides the model id saved in the probes (a checkpoint that moved); `extractors`
    pre-fills the pool (tests, or a model already in memory), keyed by model id.

    Usage: pool = ExtractorPool(device="cpu", cache_dir="runs/cache"); fx = pool.get(probe)
    """

    model: str | None = None
    device: str = "cpu"
    batch_size: int = 16
    cache_dir: str | None = None
    extractors: dict[str, FeatureExtractor] = field(default_factory=dict)

    def truncation(self) -> Truncation:
        """Texts cut at max_length by the pool's extractors so far, all added up.

        Usage: pool.truncation().truncated
        """
        total = Truncation()
        for fx in {id(fx): fx for fx in self.extractors.values()}.values():
            total.add(fx.truncation)
        return total

    def get(self, probe: LinearProbe) -> FeatureExtractor:
        """The extractor for `probe`'s model. Usage: x = probe_features(probe, pairs, pool.get(probe))."""
        model_id = self.model or str(probe.meta["model_id"])
        if model_id in self.extractors:
            return self.extractors[model_id]
        # None (a converted INSPECTOR probe): the model's context, as INSPECTOR reads it
        saved = probe.meta.get("max_length")
        max_length = None if saved is None else int(saved)
        key = f"{model_id}|{max_length}"
        if key not in self.extractors:
            from judgerl.probes.features import FeatureExtractor

            self.extractors[key] = FeatureExtractor.load(
                model_id,
                device=self.device,
                max_length=max_length,
                batch_size=self.batch_size,
                cache_dir=self.cache_dir,
            )
        return self.extractors[key]


def probe_features(
    probe: LinearProbe, pairs: Sequence[Pair], extractor: FeatureExtractor, progress: bool = True
) -> np.ndarray:
    """The feature matrix `probe` reads for (question, prediction) pairs: its template, layers, pooling.

    Usage: x = probe_features(probe, [("What is 2+2?", "4")], extractor)
    """
    template, prompt = str(probe.meta["template"]), probe.meta.get("prompt")
    texts = [probe_text(q, p, probe.aspect, template, prompt) for q, p in pairs]
    layers = [int(la) for la in probe.meta["layers"]]
    feats = extractor.extract(texts, layers, str(probe.meta["pooling"]), progress=progress, desc=probe.aspect)
    return np.concatenate([feats[la] for la in layers], axis=1)


def score_pairs(
    pairs: Sequence[Pair], probes: dict[str, LinearProbe], pool: ExtractorPool, progress: bool = True
) -> dict[str, dict[str, np.ndarray]]:
    """Per aspect: predicted labels and continuous scores for each (question, prediction).

    Usage: out = score_pairs(pairs, probes, ExtractorPool()); out["logicality"]["score"]
    """
    out = {}
    for aspect, probe in probes.items():
        x = probe_features(probe, pairs, pool.get(probe), progress)
        out[aspect] = {"label": probe.predict(x), "score": probe.score(x)}
    return out


def _as_pool(
    extractor: FeatureExtractor | ExtractorPool | None, probes: dict[str, LinearProbe], **kwargs: Any
) -> ExtractorPool:
    if isinstance(extractor, ExtractorPool):
        return extractor
    pool = ExtractorPool(**kwargs)
    if extractor is not None:
        for probe in probes.values():
            pool.extractors[pool.model or str(probe.meta["model_id"])] = extractor
    return pool


def evaluate_samples(
    samples: Sequence[dict[str, Any]],
    probes: dict[str, LinearProbe] | str | os.PathLike[str],
    extractor: FeatureExtractor | ExtractorPool | None = None,
    total: Total = "score",
    question_key: str | None = None,
    prediction_key: str | None = None,
    model: str | None = None,
    device: str = "cpu",
    batch_size: int = 16,
    cache_dir: str | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Score each sample with every probe; returns copies of the samples with `<aspect>` (predicted
    label), `<aspect>_score` (continuous) and `total_score` added.

    Samples are {question, prediction} dicts, SFT traces or pairs (the chosen side is scored;
    see `row_texts`). `probes` is a dict from `load_probes` or a path to a probe file or folder.
    The model named in the probes loads on first use unless `extractor` is given.

    Usage: evaluate_samples([{"question": "What is 2+2?", "prediction": "4"}], "runs/probe")
    """
    probe_map = load_probes(probes) if isinstance(probes, (str, os.PathLike)) else probes
    if not probe_map:
        raise ValueError("evaluate_samples needs at least one probe")
    if total not in ("score", "label"):
        raise ValueError(f"total must be 'score' or 'label', got {total!r}")
    pairs = [row_texts(s, f"sample {i}", question_key, prediction_key)[:2] for i, s in enumerate(samples)]
    pool = _as_pool(
        extractor, probe_map, model=model, device=device, batch_size=batch_size, cache_dir=cache_dir
    )
    scored = score_pairs(pairs, probe_map, pool, progress)
    out = []
    for i, s in enumerate(samples):
        row = dict(s)
        for aspect, res in scored.items():
            row[aspect] = res["label"][i].item()
            row[f"{aspect}_score"] = round(float(res["score"][i]), 6)
        row["total_score"] = sum(row[a] if total == "label" else row[f"{a}_score"] for a in scored)
        out.append(row)
    return out


def keep_count(n: int, fraction: float, rounding: TopRounding = "half_up") -> int:
    """How many of n items the top `fraction` keeps: n * fraction rounded half up, or with
    `rounding="floor"` int(n * fraction) as INSPECTOR computes it.

    >>> keep_count(10, 0.25), keep_count(10, 0.3), keep_count(3, 1.0), keep_count(6, 0.25, "floor")
    (3, 3, 3, 1)
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"top fraction must be in (0, 1], got {fraction!r}")
    if rounding == "floor":
        return min(n, int(n * fraction))
    if rounding != "half_up":
        raise ValueError(f"top rounding must be one of {', '.join(TOP_ROUNDINGS)}; got {rounding!r}")
    return min(n, math.floor(n * fraction + 0.5))


def top_fraction(
    scores: Sequence[float],
    fraction: float,
    rounding: TopRounding = "half_up",
    order: TopOrder = "input",
) -> list[int]:
    """Indices of the top `fraction` by score; ties go to the earlier item.

    `order="input"` returns them in input order; `order="score"` best first (ties in input
    order), except that a fraction of 1.0 keeps input order, as INSPECTOR does.

    >>> top_fraction([0.2, 0.9, 0.5, 0.9, 0.1], 0.4)
    [1, 3]
    >>> top_fraction([1.0, 1.0, 1.0, 0.0], 0.5)
    [0, 1]
    >>> top_fraction([0.2, 0.5, 0.9], 0.67, order="score")
    [2, 1]
    """
    if order not in TOP_ORDERS:
        raise ValueError(f"top order must be one of {', '.join(TOP_ORDERS)}; got {order!r}")
    values = [float(s) for s in scores]
    if any(math.isnan(v) for v in values):
        raise ValueError("scores hold NaN; cannot rank")
    k = keep_count(len(values), fraction, rounding)
    ranked = sorted(range(len(values)), key=lambda i: (-values[i], i))
    if order == "score" and fraction < 1.0:
        return ranked[:k]
    return sorted(ranked[:k])


def above_threshold(scores: Sequence[float], threshold: float) -> list[int]:
    """Indices whose score is at least `threshold` (those below are dropped), in input order.

    >>> above_threshold([0.2, 0.9, 0.5], 0.5)
    [1, 2]
    """
    return [i for i, s in enumerate(scores) if float(s) >= threshold]


def _content(value: Any, where: str) -> str:
    """A string, or the last message's content of a chat-message list."""
    if isinstance(value, str):
        return value
    if (
        isinstance(value, list)
        and value
        and isinstance(value[-1], dict)
        and isinstance(value[-1].get("content"), str)
    ):
        return value[-1]["content"]
    raise ValueError(f"{where}: expected a string or a list of chat messages, got {value!r:.80}")


def _last_user(messages: list[dict[str, Any]], where: str) -> str:
    users = [m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    if not users or not isinstance(users[-1], str):
        raise ValueError(f"{where}: no user turn to read the question from")
    return users[-1]


def row_texts(
    row: dict[str, Any],
    where: str = "row",
    question_key: str | None = None,
    prediction_key: str | None = None,
    rejected_key: str = "rejected",
) -> tuple[str, str, str | None]:
    """(question, prediction, rejected-or-None) of a sample, SFT trace or DPO pair row.

    Recognised without keys: {question, prediction}; SFT {messages: [..., user, assistant]};
    pairs {prompt, chosen, rejected} with strings or chat-message lists; judge samples
    (conversation, response_a, response_b, label: the better response is the prediction, the
    other the rejected side). Keys override.

    >>> row_texts({"prompt": "Q?", "chosen": "good", "rejected": "bad"})
    ('Q?', 'good', 'bad')
    >>> row_texts({"messages": [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "A"}]})
    ('Q?', 'A', None)
    """
    if question_key or prediction_key:
        qk, pk = question_key or "question", prediction_key or "prediction"
        for k in (qk, pk):
            if k not in row:
                raise ValueError(f"{where}: missing key {k!r} (keys: {sorted(row)})")
        q = row[qk]
        question = _last_user(q, where) if isinstance(q, list) else _content(q, f"{where}.{qk}")
        rejected = row.get(rejected_key)
        return (
            question,
            _content(row[pk], f"{where}.{pk}"),
            None if rejected is None else _content(rejected, where),
        )
    if "question" in row and "prediction" in row:
        return _content(row["question"], where), _content(row["prediction"], where), None
    if "prompt" in row and "chosen" in row:
        p = row["prompt"]
        question = _last_user(p, where) if isinstance(p, list) else _content(p, f"{where}.prompt")
        rejected = row.get(rejected_key)
        return (
            question,
            _content(row["chosen"], f"{where}.chosen"),
            None if rejected is None else _content(rejected, where),
        )
    if isinstance(row.get("conversation"), list) and row.get("label") in ("a", "b") and "response_a" in row:
        better, worse = ("response_a", "response_b") if row["label"] == "a" else ("response_b", "response_a")
        question = _last_user(row["conversation"], where)
        return question, _content(row[better], where), _content(row.get(worse, ""), where)
    if isinstance(row.get("messages"), list) and row["messages"]:
        msgs = row["messages"]
        if msgs[-1].get("role") != "assistant":
            raise ValueError(f"{where}: the last message is not the assistant's trace")
        return _last_user(msgs[:-1], where), _content(msgs, where), None
    raise ValueError(
        f"{where}: cannot tell the question and the response apart (keys: {sorted(row)}); "
        "expected question/prediction, messages, or prompt/chosen/rejected, or pass question_key/prediction_key"
    )


@dataclass
class FilterResult:
    """Which rows a filter kept (indices, in the order written) and every row's total score."""

    kept: list[int]
    scores: list[float]
    details: list[dict[str, float]]
    truncation: Truncation = field(default_factory=Truncation)

    @property
    def dropped(self) -> list[int]:
        """Indices of the rows not kept."""
        keep = set(self.kept)
        return [i for i in range(len(self.scores)) if i not in keep]


def score_rows(
    rows: Sequence[dict[str, Any]],
    probes: dict[str, LinearProbe],
    pool: ExtractorPool,
    total: Total = "score",
    pair_score: PairScore = "chosen",
    question_key: str | None = None,
    prediction_key: str | None = None,
    progress: bool = True,
) -> tuple[list[float], list[dict[str, float]]]:
    """Each row's total score (and per-aspect scores): of its response, or for a pair of the chosen
    side (`pair_score="chosen"`) or chosen minus rejected (`"margin"`).

    Usage: totals, per_aspect = score_rows(pairs, probes, ExtractorPool(), pair_score="margin")
    """
    if pair_score not in ("chosen", "margin"):
        raise ValueError(f"pair_score must be 'chosen' or 'margin', got {pair_score!r}")
    parsed = [row_texts(r, f"row {i}", question_key, prediction_key) for i, r in enumerate(rows)]
    texts: list[Pair] = [(q, p) for q, p, _ in parsed]
    if pair_score == "margin":
        lacking = [i for i, (_, _, rej) in enumerate(parsed) if rej is None]
        if lacking:
            raise ValueError(f"pair_score 'margin' needs a rejected side; rows {lacking[:5]} have none")
        texts += [(q, rej) for q, _, rej in parsed if rej is not None]
    scored = score_pairs(texts, probes, pool, progress)
    key = "label" if total == "label" else "score"
    n = len(rows)
    details = []
    for i in range(n):
        d = {a: float(res[key][i]) for a, res in scored.items()}
        if pair_score == "margin":
            d = {a: d[a] - float(res[key][n + i]) for a, res in scored.items()}
        details.append(d)
    return [sum(d.values()) for d in details], details


def filter_rows(
    rows: Sequence[dict[str, Any]],
    probes: dict[str, LinearProbe] | str | os.PathLike[str],
    top: float | None = None,
    threshold: float | None = None,
    extractor: FeatureExtractor | ExtractorPool | None = None,
    total: Total = "score",
    pair_score: PairScore = "chosen",
    question_key: str | None = None,
    prediction_key: str | None = None,
    progress: bool = True,
    top_rounding: TopRounding = "half_up",
    top_order: TopOrder = "input",
    **pool_kwargs: Any,
) -> FilterResult:
    """Keep the `top` fraction of rows by total probe score, or the rows scoring >= `threshold`.

    Rows are samples, SFT traces or DPO pairs (see `row_texts`). Exactly one of top / threshold.
    `top_rounding` and `top_order` are those of `top_fraction`.

    Usage: result = filter_rows(read_jsonl("sft.jsonl"), "runs/probe", top=0.5); result.kept
    """
    if (top is None) == (threshold is None):
        raise ValueError("give exactly one of top (a fraction in (0, 1]) or threshold")
    if top is not None:
        top_fraction([0.0], top, top_rounding, top_order)  # bad options fail before any model loads
    probe_map = load_probes(probes) if isinstance(probes, (str, os.PathLike)) else probes
    pool = _as_pool(extractor, probe_map, **pool_kwargs)
    totals, details = score_rows(
        rows, probe_map, pool, total, pair_score, question_key, prediction_key, progress
    )
    if top is not None:
        kept = top_fraction(totals, top, top_rounding, top_order)
    else:
        kept = above_threshold(totals, float(threshold))  # type: ignore[arg-type]
    return FilterResult(kept, totals, details)
