"""The `judgerl` command line: argument parsing only; every command calls into the package."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from judgerl.core.errors import JudgeRLError

EPILOG = """examples:
  judgerl ls                                        shipped recipes
  judgerl validate recipes/quickstart.yaml          check a recipe without running it
  judgerl run recipes/quickstart.yaml               run every stage (finished stages are skipped)
  judgerl run recipes/quickstart.yaml stages.sft.max_steps=200 --from sft
  judgerl eval --model runs/quickstart/sft/checkpoint --data runs/quickstart/data/test.jsonl
  judgerl eval rewardbench --model runs/quickstart/sft/checkpoint --data llmbar:../shared/data/llmbar
  judgerl scaling --candidates gsm8k:../shared/data/gsm8k/example_model_solutions.jsonl --judge oracle:0,oracle:0.5 --k 1,2,4
  judgerl autojudge mine|fit|compare ...            AutoJudge without a recipe (judgerl autojudge --help)
  torchrun --nproc_per_node 8 -m judgerl stage RECIPE sft
"""


def _recipes_dir() -> Path:
    here = Path("recipes")
    return here if here.is_dir() else Path(__file__).resolve().parents[1] / "recipes"


def cmd_ls(args: argparse.Namespace) -> int:
    """List the recipes under a folder with their one-line descriptions."""
    import yaml

    folder = Path(args.dir) if args.dir else _recipes_dir()
    files = sorted(folder.rglob("*.yaml"))
    if not files:
        print(f"no recipes under {folder}")
        return 1
    width = max(len(str(f.relative_to(folder))) for f in files)
    for f in files:
        try:
            doc = yaml.safe_load(f.read_text())
        except yaml.YAMLError:
            doc = {"description": "(not valid YAML)", "stages": {}}
        if isinstance(doc, dict) and "stages" in doc:
            print(
                f"{str(f.relative_to(folder)):<{width}}  {' '.join(str(doc.get('description', '')).split())}"
            )
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """Load and validate a recipe, then print its stages and their hand-offs."""
    from judgerl.recipe import load_recipe

    recipe = load_recipe(args.recipe, args.overrides)
    print(
        f"{recipe.source}: valid recipe {recipe.name!r}, run_dir {recipe.run_dir}, seed {recipe.header.seed}"
    )
    for name, stage in recipe.stages.items():
        deps = recipe.dependencies(name)
        print(f"  {name:<24} {stage.kind:<13}" + (f" reads {', '.join(deps)}" if deps else ""))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run a recipe and print the evaluation table."""
    from judgerl.pipeline import run_recipe, summary_table
    from judgerl.recipe import load_recipe

    recipe = load_recipe(args.recipe, args.overrides)
    if args.dry_run:
        from judgerl.pipeline import dry_run

        text, problems = dry_run(recipe)
        print(text)
        return 1 if problems else 0
    outcomes = run_recipe(recipe, only=args.only, from_stage=args.from_stage)
    print()
    for o in outcomes:
        wall = (o.manifest or {}).get("wall_seconds")
        print(
            f"  {o.name:<14} {o.status:<13}"
            + (f" {wall} s" if wall is not None and o.status == "ran" else "")
        )
    table = summary_table(recipe)
    if table:
        print("\n" + table)
    print(f"\noutputs under {recipe.run_dir}/")
    return 0


def cmd_stage(args: argparse.Namespace) -> int:
    """Run one stage of a recipe (the entry point for torchrun / accelerate / deepspeed)."""
    import os

    from judgerl.pipeline import run_launched_stage, run_stage
    from judgerl.recipe import load_recipe

    recipe = load_recipe(args.recipe, args.overrides)
    if args.stage not in recipe.stages:
        raise JudgeRLError(f"no stage {args.stage!r} in {args.recipe} (stages: {', '.join(recipe.stages)})")
    if args.launched or int(os.environ.get("WORLD_SIZE", "1")) > 1:
        run_launched_stage(recipe, args.stage, force=args.force)
    else:
        run_stage(recipe, args.stage, force=args.force)
    return 0


def _eval_data(spec: str) -> str | dict[str, Any]:
    kind, _, rest = spec.partition(":")
    if kind == "synthetic":
        return {"kind": "synthetic", "split": "test", "n_train": 1, "n_test": int(rest or 200)}
    if kind == "llmbar" and rest:
        return {"kind": "llmbar", "dir_path": rest}
    if kind in ("gsm8k", "local") and rest:
        return {"kind": kind, "path": rest}
    return spec


def _eval_rewardbench(args: argparse.Namespace) -> int:
    """`judgerl eval rewardbench`: RewardBench v1/v2 with leaderboard scoring; prints the table."""
    from judgerl.core.stage import StageContext
    from judgerl.data_prep.prompts import PromptSpec
    from judgerl.eval.rewardbench.stage import RewardBenchStage, run_rewardbench

    stage = RewardBenchStage(
        model=args.model,
        model_name=args.model_name,
        data=None if args.data is None else _eval_data(args.data),
        split=args.split,
        version=args.version,
        protocol=args.protocol,
        v2_mode=args.v2_mode,
        subsets=args.subsets.split(",") if args.subsets else None,
        prompt=PromptSpec(args.prompt, instruction=args.instruction),
        order_seed=args.order_seed,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        batch_size=args.batch_size,
        max_samples=args.max_samples,
        backend=args.backend,
        tensor_parallel_size=args.tensor_parallel_size,
    )
    out = Path(args.out or "runs/rewardbench")
    result = run_rewardbench(stage, StageContext(name="rewardbench", out_dir=out, seed=args.seed))
    print(Path(result.outputs["table"]).read_text())
    print(f"predictions, metrics, leaderboard.json and plots under {out}/")
    return 0


def _decoding(args: argparse.Namespace) -> dict[str, Any] | None:
    """The eval stage's `decoding` mapping from --draft/--window/--classifier/--threshold."""
    if args.draft is None:
        if args.classifier is not None or args.threshold is not None:
            raise JudgeRLError("judgerl eval: --classifier and --threshold need --draft and --backend judge")
        return None
    decoding: dict[str, Any] = {"draft": args.draft, "window": args.window}
    if args.classifier is not None:
        decoding["classifier"] = args.classifier
    if args.threshold is not None:
        decoding["threshold"] = args.threshold
    return decoding


def cmd_eval(args: argparse.Namespace) -> int:
    """Evaluate a judge checkpoint (pairwise in both answer orders, or RewardBench) and print the table."""
    from pydantic import ValidationError

    from judgerl.core.stage import StageContext
    from judgerl.data_prep.prompts import PromptSpec
    from judgerl.eval.stage import EvalStage, run_eval

    if args.benchmark == "rewardbench":
        if args.backend in ("speculative", "judge") or args.draft:
            raise JudgeRLError(
                "judgerl eval rewardbench: --backend hf or vllm (draft decoding is pairwise only)"
            )
        return _eval_rewardbench(args)
    if args.data is None:
        raise JudgeRLError("judgerl eval pairwise: --data is required (e.g. --data llmbar:DIR)")
    data = _eval_data(args.data)
    try:
        stage = EvalStage(
            model=args.model,
            data=data,
            prompt=PromptSpec(args.prompt, instruction=args.instruction),
            both_orders=not args.one_order,
            max_new_tokens=args.max_new_tokens,
            batch_size=args.batch_size,
            max_samples=args.max_samples,
            backend=args.backend,
            decoding=_decoding(args),
        )
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, x['loc'])) or 'input'}: {x['msg']}" for x in e.errors())
        raise JudgeRLError(f"judgerl eval: {problems}") from e
    out = Path(args.out or "runs/eval")
    result = run_eval(stage, StageContext(name="eval", out_dir=out, seed=args.seed))
    print(Path(result.outputs["table"]).read_text())
    print(f"predictions and metrics under {out}/")
    return 0


def _csv(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def cmd_scaling(args: argparse.Namespace) -> int:
    """Inference-time scaling by judge selection: delta vs k and T, with plots and a table."""
    from pydantic import ValidationError

    from judgerl.core.errors import RecipeError
    from judgerl.core.stage import StageContext
    from judgerl.data_prep.prompts import PromptSpec
    from judgerl.eval.scaling.stage import ScalingStage, run_scaling

    fields: dict[str, Any] = {
        "candidates": args.candidates,
        "policy": args.policy,
        "problems": args.problems,
        "n": args.n,
        "judges": [spec for group in args.judge for spec in _csv(group)],
        "k": [int(x) for x in _csv(args.k)],
        "T": [float(x) for x in _csv(args.T)],
        "repeats": args.repeats,
        "max_prompts": args.max_prompts,
        "plot_T": args.plot_T,
        "plot_k": args.plot_k,
        "theory": args.theory,
        "on_bad_row": args.on_bad_row,
        "prompt": PromptSpec(args.prompt, instruction=args.instruction),
        "backend": args.backend,
        "batch_size": args.batch_size,
        "score_max_new_tokens": args.score_max_new_tokens,
        "pairwise_max_new_tokens": args.pairwise_max_new_tokens,
        "both_orders": not args.one_order,
        "prm_separator": args.prm_separator,
        "trust_remote_code": args.trust_remote_code,
        "http_timeout": args.http_timeout,
        "http_retries": args.http_retries,
    }
    try:
        stage = ScalingStage(**{k: v for k, v in fields.items() if v is not None})
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, x['loc'])) or 'input'}: {x['msg']}" for x in e.errors())
        raise RecipeError(f"judgerl scaling: {problems}") from e
    out = Path(args.out)
    result = run_scaling(stage, StageContext(name="scaling", out_dir=out, seed=args.seed))
    print(Path(result.outputs["table"]).read_text())
    print(f"points.json, table.md, delta_vs_k.png and delta_vs_T.png under {out}/")
    return 0


def _add_scaling_parser(sub: Any) -> None:
    sc = sub.add_parser(
        "scaling",
        help="inference-time scaling by judge selection: delta vs k and T, plots and a table",
        description="Select among k candidates per prompt by softmax(judge score / T) and report "
        "delta = -E[accuracy of the selected answer] for every judge, k and T.",
    )
    src = sc.add_argument_group("candidates")
    src.add_argument("--candidates", help="candidates JSONL (prompt, candidates, correctness) or gsm8k:FILE")
    src.add_argument("--policy", help="sample candidates from this checkpoint instead (with --problems)")
    src.add_argument("--problems", help="GSM8K-style JSONL (question, answer) to sample for")
    src.add_argument("--n", type=int, help="candidates per problem when sampling (default 8)")
    sc.add_argument(
        "--judge",
        action="append",
        required=True,
        help="comma-separated judge specs: oracle:EPS, generative:PATH, prm:PATH, http:URL, pairwise:PATH, probe:NAME",
    )
    sc.add_argument("--k", default="1,2,4", help="candidate counts (default 1,2,4)")
    sc.add_argument(
        "--T", default="0,0.5,1,2,5,10", help="selection temperatures; 0 = best-of-k, inf = uniform"
    )
    sc.add_argument(
        "--repeats", type=int, help="random k-subsets per prompt when not all are used (default 32)"
    )
    sc.add_argument("--max-prompts", type=int, help="use only the first N prompts")
    sc.add_argument("--plot-T", type=float, help="T of the delta-vs-k plot (default: the first T)")
    sc.add_argument("--plot-k", type=int, help="k of the delta-vs-T plot (default: the largest k)")
    sc.add_argument("--theory", action="store_true", help="overlay an a + b/k^2 fit on the delta-vs-k plot")
    sc.add_argument("--on-bad-row", choices=["skip", "stop"], help="malformed candidate rows (default stop)")
    sc.add_argument("--out", default="runs/scaling", help="output folder (default: runs/scaling)")
    sc.add_argument("--seed", type=int, default=0)
    jm = sc.add_argument_group("model-backed judges")
    jm.add_argument("--backend", choices=["hf", "vllm"])
    jm.add_argument("--batch-size", type=int)
    jm.add_argument("--score-max-new-tokens", type=int, help="generative 0-10 scorer (default 8)")
    jm.add_argument("--pairwise-max-new-tokens", type=int, help="pairwise judge (default 512)")
    jm.add_argument(
        "--prompt", default="strength", choices=["cot", "strength", "direct"], help="pairwise prompt"
    )
    jm.add_argument("--instruction", default="full", choices=["full", "compact"])
    jm.add_argument("--one-order", action="store_true", help="pairwise: judge each pair in one order only")
    jm.add_argument("--prm-separator", help="PRM step separator token (default <extra_0>)")
    jm.add_argument("--trust-remote-code", action="store_true", help="PRM models with their own code")
    jm.add_argument("--http-timeout", type=float, help="seconds per HTTP request (default 30)")
    jm.add_argument("--http-retries", type=int, help="HTTP retries with backoff (default 3)")
    sc.set_defaults(func=cmd_scaling)


def _probe_common(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "question_key": args.question_key,
        "prediction_key": args.prediction_key,
        "model": args.model,
        "device": args.device,
        "batch_size": args.batch_size,
        "cache_dir": args.cache,
        "total": args.total,
    }


def cmd_probe(args: argparse.Namespace) -> int:
    """`judgerl probe train|score|filter|label`: INSPECTOR probes on hidden states."""
    from pydantic import ValidationError

    from judgerl.probes import commands

    try:
        if args.action == "train":
            cfg = commands.ProbeTrainConfig(
                data=args.data,
                model=args.model,
                out=args.out,
                **_probe_train_fields(args),
            )
            reports = commands.train_probes(cfg)
            for name, report in reports.items():
                print(f"\n## {name}\n\n{report.table()}")
            print(f"\nprobes, report.json and report.md under {args.out}/")
        elif args.action == "score":
            rows = commands.score_file(args.probes, args.data, args.out, **_probe_common(args))
            print(f"scored {len(rows)} rows -> {args.out}")
        elif args.action == "filter":
            common = _probe_common(args)
            result = commands.filter_file(
                args.probes,
                args.data,
                args.out,
                top=args.top,
                threshold=args.threshold,
                scores_out=args.scores_out,
                pair_score=args.pair_score,
                **common,
            )
            print(f"kept {len(result.kept)} of {len(result.scores)} rows -> {args.out}")
        else:
            keys = {
                "question_key": args.question_key or "question",
                "prediction_key": args.prediction_key or "prediction",
                "id_key": args.id_key,
            }
            report = commands.label_file(
                args.data,
                args.out,
                aspects=_csv(args.aspects) if args.aspects else None,
                endpoint=args.endpoint,
                api_model=args.api_model,
                judge=args.judge,
                backend=args.backend,
                api_key_env=args.api_key_env,
                timeout=args.timeout,
                workers=args.workers,
                max_new_tokens=args.max_new_tokens,
                device=args.device,
                **keys,
            )
            print(report.summary() + f" -> {args.out}")
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, x['loc'])) or 'input'}: {x['msg']}" for x in e.errors())
        raise JudgeRLError(f"probe {args.action}: {problems}") from None
    except (ValueError, FileNotFoundError) as e:
        raise JudgeRLError(f"probe {args.action}: {e}") from None
    return 0


def _probe_train_fields(args: argparse.Namespace) -> dict[str, Any]:
    train: dict[str, Any] = {
        "classifier": args.classifier,
        "folds": args.folds,
        "test_size": args.test_size,
        "seed": args.seed,
    }
    if args.C:
        train["Cs"] = [float(c) for c in _csv(args.C)]
    fields = {
        "aspects": _csv(args.aspects) if args.aspects else None,
        "column": args.column,
        "threshold": None if args.threshold in (None, "none") else float(args.threshold),
        "template": args.template,
        "layers": [int(x) if x.lstrip("-").isdigit() else x for x in _csv(args.layers)],
        "layer_mode": args.layer_mode,
        "pooling": args.pooling,
        "max_length": args.max_length,
        "batch_size": args.batch_size,
        "device": args.device,
        "cache_dir": args.cache,
        "balance": not args.no_balance,
        "question_key": args.question_key,
        "prediction_key": args.prediction_key,
        "group_key": args.group_key,
        "train": train,
    }
    fields = {k: v for k, v in fields.items() if v is not None}
    return fields | ({"threshold": None} if args.threshold == "none" else {})


def _add_probe_parser(sub: Any) -> None:
    pr = sub.add_parser("probe", help="INSPECTOR probes on hidden states: train, score, filter, label")
    acts = pr.add_subparsers(dest="action", required=True, metavar="ACTION")
    tr = acts.add_parser("train", help="fit one probe per aspect (or a label column), sweeping layers")
    tr.add_argument("--data", required=True, help="labels JSONL (aspect scores or a column), or gsm8k:FILE")
    tr.add_argument("--model", required=True, help="any HF model folder or hub id (causal LM or encoder)")
    tr.add_argument("--out", required=True, help="folder for <aspect>.safetensors, report.json, report.md")
    tr.add_argument("--aspects", help="comma-separated ROSCOE aspects (default: all five)")
    tr.add_argument("--column", help="a label column instead of aspect scores, e.g. is_correct")
    tr.add_argument(
        "--threshold", help="binary label = score >= this (default 4 for aspects; 'none' keeps classes)"
    )
    tr.add_argument(
        "--template", choices=["aspect", "plain"], help="default: aspect for scores, plain for a column"
    )
    tr.add_argument(
        "--layers", default="all", help="comma-separated layers, 'all' or 'middle' (default: all)"
    )
    tr.add_argument("--layer-mode", default="sweep", choices=["sweep", "concat"])
    tr.add_argument("--pooling", default="mean", choices=["mean", "last", "min", "max", "concat"])
    tr.add_argument("--classifier", default="logreg", choices=["logreg", "svm"])
    tr.add_argument("--C", help="comma-separated C grid (default 1e-3,1e-2,1e-1,1)")
    tr.add_argument("--folds", type=int, default=5)
    tr.add_argument("--test-size", type=float, default=0.2)
    tr.add_argument("--max-length", type=int, default=512)
    tr.add_argument(
        "--no-balance", action="store_true", help="keep every row (default: downsample to the smallest class)"
    )
    tr.add_argument("--group-key", help="split group column (default: the question text)")
    for name, act in (
        ("score", "score rows with the probes: <aspect>, <aspect>_score, total_score"),
        ("filter", "keep the top fraction (or those >= a threshold) of samples, SFT traces or pairs"),
    ):
        c = acts.add_parser(name, help=act)
        c.add_argument("--probes", required=True, help="a probe file or a folder of them")
        c.add_argument(
            "--data",
            required=True,
            help="JSONL of {question, prediction}, {messages} or {prompt, chosen, rejected}",
        )
        c.add_argument("--out", required=True, help="output JSONL")
        c.add_argument(
            "--total", default="score", choices=["score", "label"], help="sum aspect scores or labels"
        )
        if name == "filter":
            rule = c.add_mutually_exclusive_group(required=True)
            rule.add_argument(
                "--top", type=float, help="fraction to keep, e.g. 0.5 (ties go to the earlier row)"
            )
            rule.add_argument("--threshold", type=float, help="keep rows whose total score is >= this")
            c.add_argument("--pair-score", default="chosen", choices=["chosen", "margin"])
            c.add_argument("--scores-out", help="also write every row's scores and keep flag here")
    lb = acts.add_parser("label", help="score rows 1-5 per aspect with a strong LLM judge (resumable)")
    lb.add_argument("--data", required=True, help="JSONL of {id, question, prediction}")
    lb.add_argument("--out", required=True, help="output JSONL (rows + scores)")
    lb.add_argument("--aspects", help="comma-separated ROSCOE aspects (default: all five)")
    lb.add_argument("--endpoint", help="OpenAI-compatible base URL, e.g. https://api.deepseek.com/v1")
    lb.add_argument("--api-model", help="model name the endpoint serves")
    lb.add_argument(
        "--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key"
    )
    lb.add_argument("--timeout", type=float, default=60.0)
    lb.add_argument("--workers", type=int, default=4, help="parallel requests")
    lb.add_argument("--judge", help="a local judgerl judge checkpoint instead of an endpoint")
    lb.add_argument("--backend", default="hf", choices=["hf", "vllm"])
    lb.add_argument("--max-new-tokens", type=int, default=256)
    lb.add_argument("--id-key", default="id")
    for c in (tr, *[acts.choices[n] for n in ("score", "filter")], lb):
        c.add_argument("--question-key", help="column of the question (default: auto / question)")
        c.add_argument("--prediction-key", help="column of the response (default: auto / prediction)")
        c.add_argument("--device", default="cpu" if c is not lb else "auto")
        if c is not lb:
            c.add_argument("--batch-size", type=int, default=16)
            c.add_argument("--cache", help="feature cache folder (train default: OUT/cache)")
        if c is not tr and c is not lb:
            c.add_argument("--model", help="use this model instead of the one saved in the probes")
    tr.add_argument("--seed", type=int, default=0)
    pr.set_defaults(func=cmd_probe)


def cmd_serve(args: argparse.Namespace) -> int:
    """`judgerl serve`: serve a judge checkpoint as an HTTP reward endpoint until interrupted."""
    import os

    from judgerl.data_prep.prompts import PromptSpec
    from judgerl.serving.server import serve

    token = args.token if args.token is not None else os.environ.get("JUDGERL_SERVE_TOKEN") or None
    serve(
        args.model,
        host=args.host,
        port=args.port,
        token=token,
        max_batch=args.max_batch,
        max_wait_ms=args.max_wait_ms,
        backend=args.backend,
        device=args.device,
        prompt=PromptSpec(args.prompt, instruction=args.instruction),
        max_new_tokens=args.max_new_tokens,
        request_timeout=args.request_timeout,
    )
    return 0


def _add_serve_parser(sub: Any) -> None:
    sv = sub.add_parser(
        "serve",
        help="serve a judge checkpoint as a reward endpoint (/v1/judge, /v1/score, /get_reward)",
        description="Serve a judge over HTTP with dynamic batching. Binds 127.0.0.1 unless told "
        "otherwise; binding beyond loopback requires --token (or $JUDGERL_SERVE_TOKEN).",
    )
    sv.add_argument("--model", required=True, help="judge checkpoint folder or hub id")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument("--token", help="bearer token clients must send (default: $JUDGERL_SERVE_TOKEN)")
    sv.add_argument("--max-batch", type=int, default=32, help="prompts per generate call")
    sv.add_argument("--max-wait-ms", type=float, default=10.0, help="how long a batch waits to fill")
    sv.add_argument("--max-new-tokens", type=int, default=512)
    sv.add_argument("--request-timeout", type=float, default=120.0, help="seconds per request")
    sv.add_argument("--backend", default="hf", choices=["hf", "vllm"])
    sv.add_argument("--device", default="auto", help="hf backend device (auto, cpu, cuda)")
    sv.add_argument("--prompt", default="strength", choices=["cot", "strength", "direct"])
    sv.add_argument("--instruction", default="full", choices=["full", "compact"])
    sv.set_defaults(func=cmd_serve)


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of `judgerl`. Usage: build_parser().parse_args(["ls"])."""
    p = argparse.ArgumentParser(
        prog="judgerl",
        description="Train generative LLM judges end to end: data, SFT, DPO, GRPO and evaluation from one recipe.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ls = sub.add_parser("ls", help="list shipped recipes with one-line descriptions")
    ls.add_argument("dir", nargs="?", help="folder to list (default: recipes/)")
    ls.set_defaults(func=cmd_ls)

    for name, func, text in (
        ("validate", cmd_validate, "check a recipe (schema, interpolation, overrides) without running it"),
        (
            "run",
            cmd_run,
            "run a recipe's stages in order; finished stages with an unchanged config are skipped",
        ),
    ):
        c = sub.add_parser(name, help=text, description=text)
        c.add_argument("recipe", help="recipe YAML file")
        c.add_argument("overrides", nargs="*", help="KEY=VALUE overrides, e.g. seed=1 stages.sft.lr=1e-5")
        c.set_defaults(func=func)
        if name == "run":
            c.add_argument("--only", metavar="STAGE", help="run only this stage (its inputs must exist)")
            c.add_argument("--from", dest="from_stage", metavar="STAGE", help="rerun from this stage on")
            c.add_argument(
                "--dry-run",
                action="store_true",
                help="print each stage's command, environment, inputs and outputs; check files; load no model",
            )

    st = sub.add_parser("stage", help="run one stage (entry point for torchrun/accelerate/deepspeed)")
    st.add_argument("recipe")
    st.add_argument("stage")
    st.add_argument("overrides", nargs="*")
    st.add_argument("--force", action="store_true", help="rerun even if it finished with the same config")
    st.add_argument(
        "--launched",
        action="store_true",
        help="run as one rank of a launcher (set by the pipeline; implied when WORLD_SIZE > 1)",
    )
    st.set_defaults(func=cmd_stage)

    ev = sub.add_parser(
        "eval",
        help="evaluate a judge checkpoint: pairwise (both orders) or rewardbench (v1/v2, leaderboard scoring)",
        usage="judgerl eval [pairwise|rewardbench] --model MODEL [--data DATA] [options]",
        description="Evaluate a judge checkpoint. pairwise (the default): judge samples in both answer orders. "
        "rewardbench: RewardBench v1 (official or both-orders protocol) or v2, scored as the leaderboard.",
    )
    ev.add_argument(
        "benchmark",
        nargs="?",
        default="pairwise",
        choices=["pairwise", "rewardbench"],
        help="pairwise: judge samples in both orders (default); rewardbench: RewardBench v1 or v2",
    )
    ev.add_argument("--model", required=True, help="checkpoint folder or hub id")
    ev.add_argument(
        "--data",
        help="pairwise (required): judge-sample JSONL, llmbar:DIR, gsm8k:FILE, local:FILE, synthetic[:N_TEST]; "
        "rewardbench: a RewardBench-column .jsonl/.json/.parquet file, a hub id, or llmbar:DIR "
        "(default: allenai/reward-bench or allenai/reward-bench-2)",
    )
    ev.add_argument("--out", help="output folder (default: runs/eval, rewardbench: runs/rewardbench)")
    ev.add_argument("--prompt", default="strength", choices=["cot", "strength", "direct"])
    ev.add_argument("--instruction", default="full", choices=["full", "compact"])
    ev.add_argument("--max-new-tokens", type=int, default=512)
    ev.add_argument("--batch-size", type=int, default=32)
    ev.add_argument("--max-samples", type=int)
    ev.add_argument(
        "--backend",
        default="hf",
        choices=["hf", "vllm", "speculative", "judge"],
        help="generation backend (default hf); speculative and judge (AutoJudge) need --draft, judge also "
        "--classifier; they decode greedily, one prompt at a time (pairwise only)",
    )
    ev.add_argument("--draft", help="speculative/judge: draft checkpoint sharing the model's tokenizer")
    ev.add_argument("--window", type=int, default=16, help="speculative/judge: draft tokens per cycle")
    ev.add_argument("--classifier", help="judge: folder of a fitted AutoJudge classifier")
    ev.add_argument("--threshold", type=float, help="judge: accept threshold (default: the classifier's)")
    ev.add_argument("--one-order", action="store_true", help="judge only the given order")
    ev.add_argument("--seed", type=int, default=0)
    rb = ev.add_argument_group("rewardbench options")
    rb.add_argument("--version", type=int, default=1, choices=[1, 2], help="RewardBench version (default 1)")
    rb.add_argument(
        "--protocol",
        default="official",
        choices=["official", "both-orders"],
        help="v1: official (each example once, seeded A/B order, unreadable = 0.5) or both-orders (Think-J)",
    )
    rb.add_argument("--v2-mode", default="four-way", choices=["four-way", "ratings"], help="v2 judging mode")
    rb.add_argument("--order-seed", type=int, help="seed of the A/B order and v2 slots (default: --seed)")
    rb.add_argument("--split", help="dataset split (default: filtered for v1, test for v2)")
    rb.add_argument("--subsets", help="comma-separated subset names to keep")
    rb.add_argument("--temperature", type=float, default=0.0)
    rb.add_argument("--tensor-parallel-size", type=int, default=1, help="vLLM tensor parallel size")
    rb.add_argument("--model-name", help="model name written to leaderboard.json (default: --model)")
    ev.set_defaults(func=cmd_eval)
    _add_scaling_parser(sub)
    _add_probe_parser(sub)
    _add_serve_parser(sub)
    from judgerl.autojudge.commands import add_parser as add_autojudge_parser

    add_autojudge_parser(sub)  # judgerl autojudge mine|fit|compare (parser and commands live there)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `judgerl` console script. Usage: main(["validate", "recipes/quickstart.yaml"])."""
    args = build_parser().parse_args(argv)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # inside the try, so that a reader that went away is handled below
        return code
    except JudgeRLError as e:
        print(f"judgerl: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader went away (`judgerl ls | head`): stop quietly, as other CLI tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
