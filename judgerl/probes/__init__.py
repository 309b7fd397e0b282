"""INSPECTOR probes: linear classifiers on a model's hidden states as a cheap judge, a data filter and a reward.

features.py (pooled hidden states + disk cache; truncation.py the count of cut texts),
aspects.py (ROSCOE aspect prompts), rows.py (JSON list / JSON lines row files), labels.py (1-5
scores or any column, balancing), labelling.py (LLM labelling), train.py (grid search, layer
sweep), linear.py (the probe as plain arrays), inspector.py with restricted_pickle.py (INSPECTOR's
released classifier pickles converted without running them), use.py (evaluate_samples, filters),
reward.py (the `probe` reward, named lazily in judgerl.rewards.registry) and pair_filter.py (the
`probe` pair filter, named lazily in judgerl.data_prep.pair_filters), stage.py (the
`probe_filter` stage). Nothing registers on import, and importing the package loads no torch:
the names below are imported from their modules when first asked for.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ASPECTS": "judgerl.probes.aspects",
    "aspect_prompt": "judgerl.probes.aspects",
    "probe_text": "judgerl.probes.aspects",
    "FeatureExtractor": "judgerl.probes.features",
    "pool_hidden": "judgerl.probes.features",
    "LinearProbe": "judgerl.probes.linear",
    "convert_classifier": "judgerl.probes.inspector",
    "read_sample_rows": "judgerl.probes.rows",
    "ProbeFileError": "judgerl.probes.linear",
    "load_probe": "judgerl.probes.linear",
    "TrainSpec": "judgerl.probes.train",
    "train_probe": "judgerl.probes.train",
    "evaluate_samples": "judgerl.probes.use",
    "filter_rows": "judgerl.probes.use",
    "load_probes": "judgerl.probes.use",
    "top_fraction": "judgerl.probes.use",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
