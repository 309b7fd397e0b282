"""INSPECTOR probes: linear classifiers on a model's hidden states as a cheap judge, a data filter and a reward.

features.py (pooled hidden states + disk cache), aspects.py (ROSCOE aspect prompts), labels.py
(1-5 scores or any column, balancing), labelling.py (LLM labelling), train.py (grid search,
layer sweep), linear.py (the probe as plain arrays), use.py (evaluate_samples, filters),
reward.py (the `probe` reward) and pair_filter.py (the `probe` pair filter), both registered on
import, stage.py (the `probe_filter` stage).
"""

from judgerl.probes import pair_filter as _pair_filter  # noqa: F401 - registers the `probe` pair filter
from judgerl.probes import reward as _reward  # noqa: F401 - registers the `probe` reward
from judgerl.probes.aspects import ASPECTS, aspect_prompt, probe_text
from judgerl.probes.features import FeatureExtractor, pool_hidden
from judgerl.probes.linear import LinearProbe, ProbeFileError, load_probe
from judgerl.probes.train import TrainSpec, train_probe
from judgerl.probes.use import evaluate_samples, filter_rows, load_probes, top_fraction

__all__ = [
    "ASPECTS",
    "FeatureExtractor",
    "LinearProbe",
    "ProbeFileError",
    "TrainSpec",
    "aspect_prompt",
    "evaluate_samples",
    "filter_rows",
    "load_probe",
    "load_probes",
    "pool_hidden",
    "probe_text",
    "top_fraction",
    "train_probe",
]
