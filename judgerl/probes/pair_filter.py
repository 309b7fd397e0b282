"""The `probe` pair filter: drop constructed DPO pairs whose probe score is below a threshold.

It plugs into the pair-filter hook of judgerl.data_prep.pair_filters (one pair at a time, keep or
drop with a reason), which names it lazily as "judgerl.probes.pair_filter:probe_pair_filter"; this
module registers nothing on import and imports the probe machinery only when a pair is scored, so
validating a recipe that names the filter stays light. Keeping the top fraction of all pairs
needs every score first: that is the `probe_filter` stage's job (judgerl.probes.stage).

    filters: [{name: duplicate}, {name: probe, path: runs/probe/probes, threshold: 0.5}]
"""

from __future__ import annotations

from typing import Any


def probe_pair_filter(
    pair: dict[str, Any],
    path: str,
    threshold: float = 0.5,
    score: str = "chosen",
    aspect: str = "",
    model: str = "",
    device: str = "cpu",
) -> tuple[bool, str]:
    """Keep a pair when its probe score (mean over aspects, each in [0, 1]) is >= `threshold`.

    `score` "chosen" scores the chosen side; "margin" scores chosen minus rejected (in [-1, 1]).
    The question is the pair's last user turn. Probes load once per process from `path`.

    Usage: probe_pair_filter(pair, path="runs/probe/probes", threshold=0.6) -> (True, "")
    """
    from judgerl.probes.reward import loaded_probes, normalized_score  # numpy and the extractor: on use
    from judgerl.probes.use import probe_features, row_texts

    if score not in ("chosen", "margin"):
        raise ValueError(f"probe pair filter: score must be 'chosen' or 'margin', got {score!r}")
    probes, pool = loaded_probes(str(path), model, device)
    if aspect:
        if aspect not in probes:
            raise ValueError(
                f"probe pair filter: no probe for aspect {aspect!r} at {path} (has {sorted(probes)})"
            )
        probes = {aspect: probes[aspect]}
    question, chosen, rejected = row_texts(pair, f"pair {pair.get('id')}")
    if score == "margin" and rejected is None:
        raise ValueError(
            f"probe pair filter: pair {pair.get('id')} has no rejected side to take a margin against"
        )
    sides = [chosen] if rejected is None or score == "chosen" else [chosen, rejected]
    values = []
    for probe in probes.values():
        x = probe_features(probe, [(question, s) for s in sides], pool.get(probe), progress=False)
        s = normalized_score(probe, x)
        values.append(float(s[0] - (s[1] if score == "margin" else 0.0)))
    value = sum(values) / len(values)
    if value >= threshold:
        return True, ""
    return False, f"probe {score} score {value:.3f} < {threshold}"
