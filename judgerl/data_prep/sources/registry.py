"""Dispatch a recipe's source spec ({"kind": ..., options}) to its loader in `SOURCE_LOADERS` (a Registry).

A spec is validated against its kind's typed model (specs.SOURCE_SPECS) before its loader runs;
JudgeBench and RM-Bench are registered lazily by name (their modules import when first used).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from judgerl.core.config import format_validation_error
from judgerl.core.registry import Registry
from judgerl.data_prep.sources.base import LoadResult
from judgerl.data_prep.sources.gsm8k import load_gsm8k_solutions
from judgerl.data_prep.sources.hub import load_hub
from judgerl.data_prep.sources.llmbar import load_llmbar
from judgerl.data_prep.sources.local import load_local
from judgerl.data_prep.sources.rewardbench import load_rewardbench, load_rewardbench2_pairs
from judgerl.data_prep.sources.specs import SOURCE_SPECS, parse_source_spec
from judgerl.data_prep.sources.synthetic import load_synthetic

# kind -> loader; the spec's other keys are the loader's keyword arguments. Other modules add
# their kinds with SOURCE_LOADERS.add("my_kind", load_my_kind) (a taken kind is an error).
SOURCE_LOADERS: Registry[Callable[..., LoadResult]] = Registry("source kind")
for _kind, _loader in (
    ("local", load_local),
    ("llmbar", load_llmbar),
    ("gsm8k", load_gsm8k_solutions),
    ("hub", load_hub),
    ("synthetic", load_synthetic),
    ("rewardbench", load_rewardbench),
    ("rewardbench2", load_rewardbench2_pairs),
):
    SOURCE_LOADERS.add(_kind, _loader)
SOURCE_LOADERS.add_lazy("judgebench", "judgerl.data_prep.sources.judgebench:load_judgebench")
SOURCE_LOADERS.add_lazy("rmbench", "judgerl.data_prep.sources.rmbench:load_rmbench")


def load_source(spec: Mapping[str, Any]) -> LoadResult:
    """Load the source a spec describes; "kind" picks the loader, the other keys are its arguments.

    The spec is checked against its kind's typed model first: a bad key is a ValueError naming it
    ("source.n_test: Input should be greater than or equal to 1").

    Usage: load_source({"kind": "llmbar", "path": "data/llmbar", "on_bad_row": "skip"})
    """
    if not isinstance(spec, Mapping) or "kind" not in spec:
        raise ValueError(f"a source spec needs a 'kind' (one of {sorted(SOURCE_LOADERS)}), got {spec!r}")
    kind = spec["kind"]
    if kind not in SOURCE_LOADERS:
        raise ValueError(f"unknown source kind {kind!r}; known kinds: {SOURCE_LOADERS.names()}")
    try:
        typed = parse_source_spec(spec, extra_kinds=(kind,) if kind not in SOURCE_SPECS else ())
    except ValidationError as e:
        raise ValueError(
            f"source kind {kind!r}: {format_validation_error(e, 'source', values=True)}"
        ) from None
    loader = SOURCE_LOADERS.get(kind)
    options = typed.loader_options()
    if kind not in SOURCE_SPECS:
        _check_signature(kind, loader, options)
    return loader(**options)


def _check_signature(kind: str, loader: Callable[..., LoadResult], options: Mapping[str, Any]) -> None:
    params = inspect.signature(loader).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    unknown = sorted(set(options) - set(params))
    if unknown and not takes_any:
        raise ValueError(f"source kind {kind!r} got unknown option(s) {unknown}; it accepts {sorted(params)}")
    missing = [
        n
        for n, p in params.items()
        if p.default is inspect.Parameter.empty
        and p.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
        and n not in options
    ]
    if missing:
        raise ValueError(f"source kind {kind!r} needs option(s) {missing}")
