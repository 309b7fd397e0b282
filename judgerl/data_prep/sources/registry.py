"""Dispatch a recipe's source spec ({"kind": ..., options}) to its loader in `SOURCE_LOADERS` (a Registry)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from judgerl.core.registry import Registry
from judgerl.data_prep.sources.base import LoadResult
from judgerl.data_prep.sources.gsm8k import load_gsm8k_solutions
from judgerl.data_prep.sources.hub import load_hub
from judgerl.data_prep.sources.llmbar import load_llmbar
from judgerl.data_prep.sources.local import load_local
from judgerl.data_prep.sources.rewardbench import load_rewardbench, load_rewardbench2_pairs
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


def load_source(spec: Mapping[str, Any]) -> LoadResult:
    """Load the source a spec describes; "kind" picks the loader, the other keys are its arguments.

    Usage: load_source({"kind": "llmbar", "dir_path": "data/llmbar", "on_bad_row": "skip"})
    """
    if not isinstance(spec, Mapping) or "kind" not in spec:
        raise ValueError(f"a source spec needs a 'kind' (one of {sorted(SOURCE_LOADERS)}), got {spec!r}")
    kind = spec["kind"]
    if kind not in SOURCE_LOADERS:
        raise ValueError(f"unknown source kind {kind!r}; known kinds: {SOURCE_LOADERS.names()}")
    loader = SOURCE_LOADERS.get(kind)
    options = {k: v for k, v in spec.items() if k != "kind"}
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
    return loader(**options)
