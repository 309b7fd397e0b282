"""The pair-filter hook: named filters that keep or drop constructed DPO pairs, configured in YAML.

A filter is a plain function of one pairs row (the dict written to pairs.jsonl: id, sample,
prompt, chosen, rejected, chosen_source, rejected_source, branch, chosen_verdict,
rejected_verdict) and its options, returning (keep, reason):

    @register_pair_filter("max_chars")
    def max_chars(pair: dict, limit: int = 4000) -> tuple[bool, str]:
        longest = max(len(pair["chosen"]), len(pair["rejected"]))
        return (True, "") if longest <= limit else (False, f"{longest} chars > {limit}")

A recipe lists filters in the order they run; each pair meets them in turn and the first that
drops it is charged with the drop:

    filters: [{name: length_ratio, max_ratio: 3.0}, {name: duplicate}]

A filter that must remember earlier pairs (or hold a loaded model) declares a keyword parameter
`state`: it then receives a dict private to that filter for one run. Options are checked against
the function's signature when the recipe is validated, so a misspelt option fails before
anything runs. Filters live in `PAIR_FILTERS` (a `judgerl.core.registry.Registry`: a name taken
by another function is an error). The AutoJudge and probe filters live in higher layers and are
registered here lazily by name ("judgerl.autojudge.pair_filter:autojudge_importance",
"judgerl.probes.pair_filter:probe_pair_filter"): their module is imported the first time a recipe
names them, and nothing has to be imported for its side effect.
"""

from __future__ import annotations

import inspect
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from judgerl.core.registry import Registry

PairFilter = Callable[..., tuple[bool, str]]
_RESERVED = ("pair", "state")

PAIR_FILTERS: Registry[PairFilter] = Registry(
    "pair filter",
    lazy={
        "autojudge": "judgerl.autojudge.pair_filter:autojudge_importance",
        "probe": "judgerl.probes.pair_filter:probe_pair_filter",
    },
)


def register_pair_filter(
    name: str, fn: PairFilter | None = None
) -> Callable[[PairFilter], PairFilter] | PairFilter:
    """Register `fn` as the pair filter `name` (usable as a decorator); another function under a
    taken name is a `RegistryError` (a ValueError), the same function again is harmless.

    Usage: @register_pair_filter("my_filter") def my_filter(pair, threshold=0.5): ...
    """

    def add(f: PairFilter) -> PairFilter:
        if not name or not isinstance(name, str):
            raise ValueError(f"a pair filter needs a non-empty name, got {name!r}")
        if not list(inspect.signature(f).parameters):
            raise ValueError(f"pair filter {name!r} must take the pair as its first argument")
        return PAIR_FILTERS.add(name, f)

    return add(fn) if fn is not None else add


def pair_filter_names() -> list[str]:
    """The registered filter names (lazy ones too), sorted.

    Usage: pair_filter_names() -> ['autojudge', 'duplicate', 'length_ratio', 'probe']
    """
    return PAIR_FILTERS.names()


@dataclass(frozen=True)
class FilterSpec:
    """One configured filter: its registered name and options.

    >>> FilterSpec("length_ratio", {"max_ratio": 2.0}).label
    'length_ratio'
    """

    name: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How the filter is named in statistics."""
        return self.name


def parse_pair_filters(specs: list[dict[str, Any]] | None) -> list[FilterSpec]:
    """Validate YAML filter entries ({name: ..., **options}) against the registry and each signature.

    >>> [f.name for f in parse_pair_filters([{"name": "duplicate"}, {"name": "length_ratio", "max_ratio": 2}])]
    ['duplicate', 'length_ratio']
    >>> parse_pair_filters([{"name": "length_ratio", "max_ratoi": 2}])
    Traceback (most recent call last):
    ...
    ValueError: filters[0] (length_ratio): unknown option 'max_ratoi' (options: max_ratio, unit)
    """
    out = []
    for i, spec in enumerate(specs or []):
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise ValueError(f"filters[{i}]: expected a mapping with a 'name', got {spec!r}")
        name = spec["name"]
        if name not in PAIR_FILTERS:
            raise ValueError(
                f"filters[{i}]: unknown pair filter {name!r} (known: {', '.join(pair_filter_names())})"
            )
        options = {k: v for k, v in spec.items() if k != "name"}
        params = inspect.signature(PAIR_FILTERS.get(name)).parameters
        accepted = [p for p in list(params)[1:] if p != "state"]
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        for key in options:
            if key in _RESERVED or (key not in accepted and not takes_any):
                raise ValueError(
                    f"filters[{i}] ({name}): unknown option {key!r} (options: {', '.join(accepted) or 'none'})"
                )
        missing = [
            p.name
            for p in list(params.values())[1:]
            if p.default is inspect.Parameter.empty
            and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
            and p.name != "state"
            and p.name not in options
        ]
        if missing:
            raise ValueError(f"filters[{i}] ({name}): missing required option(s) {', '.join(missing)}")
        out.append(FilterSpec(name, options))
    return out


@dataclass
class FilterResult:
    """Kept pairs, drops per filter (in filter order) and a few dropped examples with their reasons."""

    kept: list[dict[str, Any]]
    dropped: dict[str, int]
    examples: list[dict[str, str]] = field(default_factory=list)


def apply_pair_filters(
    pairs: list[dict[str, Any]], specs: list[FilterSpec], max_examples: int = 20
) -> FilterResult:
    """Run the filters in order over `pairs`; a pair dropped by one filter is not shown to the next.

    >>> a = {"id": "1", "prompt": [], "chosen": "x", "rejected": "y"}
    >>> r = apply_pair_filters([a, dict(a, id="2")], parse_pair_filters([{"name": "duplicate"}]))
    >>> [p["id"] for p in r.kept], r.dropped
    (['1'], {'duplicate': 1})
    """
    labels = [s.label for s in specs]
    counts: Counter[str] = Counter()
    dropped = {label if labels.count(label) == 1 else f"{label}#{i}": 0 for i, label in enumerate(labels)}
    keys = list(dropped)
    funcs = []
    for spec in specs:
        fn = PAIR_FILTERS.get(spec.name)
        kwargs = dict(spec.options)
        if "state" in inspect.signature(fn).parameters:
            kwargs["state"] = {}
        funcs.append((fn, kwargs))
    kept, examples = [], []
    for pair in pairs:
        for key, (fn, kwargs) in zip(keys, funcs, strict=True):
            keep, reason = fn(pair, **kwargs)
            if not keep:
                counts[key] += 1
                if len(examples) < max_examples:
                    examples.append({"id": str(pair.get("id")), "filter": key, "reason": reason})
                break
        else:
            kept.append(pair)
    dropped.update(counts)
    return FilterResult(kept=kept, dropped=dropped, examples=examples)


# ---- built-in filters -----------------------------------------------------------------------


@register_pair_filter("length_ratio")
def length_ratio(pair: dict[str, Any], max_ratio: float = 3.0, unit: str = "chars") -> tuple[bool, str]:
    """Drop a pair whose longer side is more than `max_ratio` times its shorter side (in chars or words).

    A large ratio lets DPO learn length instead of judgement (a truncated or runaway trace).

    >>> length_ratio({"chosen": "a" * 10, "rejected": "b" * 40}, max_ratio=3.0)
    (False, 'length ratio 4.00 > 3.0 (chars)')
    """
    if unit not in ("chars", "words"):
        raise ValueError(f"length_ratio: unit must be 'chars' or 'words', got {unit!r}")
    if max_ratio < 1:
        raise ValueError(f"length_ratio: max_ratio must be >= 1, got {max_ratio}")

    def size(text: str) -> int:
        return len(text) if unit == "chars" else len(text.split())

    a, b = size(pair["chosen"]), size(pair["rejected"])
    ratio = max(a, b) / max(1, min(a, b))
    if ratio > max_ratio:
        return False, f"length ratio {ratio:.2f} > {max_ratio} ({unit})"
    return True, ""


@register_pair_filter("duplicate")
def duplicate(pair: dict[str, Any], state: dict[str, Any]) -> tuple[bool, str]:
    """Drop a pair whose chosen and rejected texts are the same, or that repeats an earlier pair
    (same prompt, chosen and rejected).

    >>> st = {}
    >>> p = {"prompt": [{"role": "user", "content": "q"}], "chosen": "x", "rejected": "y"}
    >>> duplicate(p, st), duplicate(dict(p), st)
    ((True, ''), (False, 'repeats an earlier pair'))
    """
    if pair["chosen"].strip() == pair["rejected"].strip():
        return False, "chosen and rejected are the same text"
    seen = state.setdefault("seen", set())
    key = json.dumps([pair["prompt"], pair["chosen"], pair["rejected"]], sort_keys=True, ensure_ascii=False)
    if key in seen:
        return False, "repeats an earlier pair"
    seen.add(key)
    return True, ""
