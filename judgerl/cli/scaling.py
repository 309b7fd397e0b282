"""`judgerl scaling`: inference-time scaling by judge selection, delta vs k and T, plots and a table.

    judgerl scaling --candidates gsm8k:FILE --judge oracle:0,oracle:0.5 --k 1,2,4 --T 0,1,inf

Every key of the `scaling` stage (ScalingStage) is a flag derived from the config; an unset flag
leaves the stage's default.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from judgerl.cli.common import add_endpoint_flags, add_prompt_flags, endpoint_config, judge_keys
from judgerl.cli.config_flags import add_config_flags, config_values

NAME = "scaling"
HELP = "inference-time scaling by judge selection: delta vs k and T, plots and a table"
CANDIDATES_HELP = {
    "candidates": "candidates JSONL (prompt, candidates, correctness), gsm8k:FILE, or lm-eval samples: "
    "a samples_*.jsonl file, a glob, lm-eval:GLOB; {k} in it reads one run per k",
    "lm_eval_filter": "lm-eval samples: the filter whose rows are read (default: each file's first)",
    "policy": "sample candidates from this checkpoint instead (with --problems)",
    "problems": "GSM8K-style JSONL (question, answer) to sample for",
    "n": "candidates per problem when sampling (default 8)",
}
SELECTION_HELP = {
    "judges": "comma-separated judge specs: oracle:EPS, generative:PATH, prm:PATH, http:URL, pairwise:PATH, hook:NAME",
    "k": "candidate counts (default 1,2,4)",
    "T": "selection temperatures; 0 = best-of-k, inf = uniform",
    "repeats": "random k-subsets per prompt when not all are used (default 32)",
    "max_prompts": "use only the first N prompts",
    "plot_T": "T of the delta-vs-k plot (default: the first T)",
    "plot_k": "k of the delta-vs-T plot (default: the largest k)",
    "theory": "overlay an a + b/k^2 fit on the delta-vs-k plot",
    "on_bad_row": "malformed candidate rows (default stop)",
}
JUDGE_MODEL_HELP = {
    "score_max_new_tokens": "generative 0-10 scorer (default 8)",
    "pairwise_max_new_tokens": "pairwise judge (default 512)",
    "both_orders": "pairwise: judge each pair in one order only",
    "prm_separator": "PRM step separator token (default <extra_0>)",
    "trust_remote_code": "PRM models with their own code",
    "http_timeout": "seconds per HTTP request (default 30)",
    "http_retries": "HTTP retries with backoff (default 3)",
}
SEED_RULES_HELP = {
    "tie_rule": "T = 0 ties: share (default) or first (the seed's argmax)",
    "answer_extraction": "GSM8K answers: last (default: last ####, math-verify, last number) or first "
    "(the seed's: 'The answer is N', then ####, then the first number)",
    "prm_steps": "prm: steps are lines (default) or equals (the seed's sentences containing '=')",
    "judge_noise": "eps levels: each judge also scored r + 10*eps*N(0,1), clamped to [0, 10] (default 0)",
}
CANDIDATE_FIELDS = (
    "candidates",
    "lm_eval_filter",
    "policy",
    "problems",
    "n",
    "policy_temperature",
    "policy_max_new_tokens",
)
JUDGE_MODEL_FIELDS = ("backend", "batch_size", "score_max_new_tokens", "pairwise_max_new_tokens")
JUDGE_MODEL_MORE = (
    "both_orders",
    "prm_separator",
    "trust_remote_code",
    "http_timeout",
    "http_retries",
    "dtype",
    "device",
)


def stage_fields() -> list[str]:
    """Every ScalingStage key that has a flag of its own (all but `kind`, `prompt`, which --prompt and
    --instruction set, and `endpoint`, which the endpoint flags set).

    Usage: ScalingStage(**config_values(args, stage_fields()), **judge_keys(args))
    """
    from judgerl.eval.scaling.stage import ScalingStage

    return [f for f in ScalingStage.model_fields if f not in ("kind", "prompt", "judge_spec", "endpoint")]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of `judgerl scaling`. Usage: add_arguments(sub.add_parser("scaling"))"""
    from judgerl.eval.scaling.stage import ScalingStage

    parser.description = (
        "Select among k candidates per prompt by softmax(judge score / T) and report "
        "delta = -E[accuracy of the selected answer] for every judge, k and T."
    )
    grouped = {*CANDIDATE_FIELDS, *JUDGE_MODEL_FIELDS, *JUDGE_MODEL_MORE, *SEED_RULES_HELP}
    selection = [
        *SELECTION_HELP,
        *(f for f in stage_fields() if f not in grouped and f not in SELECTION_HELP),
    ]
    add_config_flags(
        parser.add_argument_group("candidates"), ScalingStage, CANDIDATE_FIELDS, help=CANDIDATES_HELP
    )
    add_config_flags(
        parser,
        ScalingStage,
        selection,
        help=SELECTION_HELP,
        aliases={"judges": ["--judge"]},
        required={"judges"},
        repeatable={"judges"},
    )
    add_config_flags(
        parser.add_argument_group("the Demystifying seed's rules (docs/seeds/demystifying.md)"),
        ScalingStage,
        list(SEED_RULES_HELP),
        help=SEED_RULES_HELP,
    )
    parser.add_argument("--out", default="runs/scaling", help="output folder (default: runs/scaling)")
    parser.add_argument("--seed", type=int, default=0)
    models = parser.add_argument_group("model-backed judges")
    add_config_flags(models, ScalingStage, JUDGE_MODEL_FIELDS, help=JUDGE_MODEL_HELP)
    add_prompt_flags(models, prompt_help="pairwise prompt")
    add_config_flags(
        models,
        ScalingStage,
        JUDGE_MODEL_MORE,
        help=JUDGE_MODEL_HELP,
        negated={"both_orders": "--one-order"},
    )
    add_endpoint_flags(parser)


def run(args: argparse.Namespace) -> int:
    """Inference-time scaling by judge selection: delta vs k and T, with plots and a table.

    Usage: judgerl scaling --candidates c.jsonl --judge oracle:0,oracle:0.5 --k 1,2,4 --out runs/scaling
    """
    from pydantic import ValidationError

    from judgerl.core.config import format_validation_error
    from judgerl.core.errors import RecipeError
    from judgerl.core.stage import StageContext
    from judgerl.eval.scaling.stage import ScalingStage, run_scaling

    try:
        stage = ScalingStage(
            **config_values(args, stage_fields()), **judge_keys(args), endpoint=endpoint_config(args)
        )
    except ValidationError as e:
        raise RecipeError(f"judgerl scaling: {format_validation_error(e)}") from e
    out = Path(args.out)
    result = run_scaling(stage, StageContext(name="scaling", out_dir=out, seed=args.seed))
    print(Path(result.outputs["table"]).read_text())
    print(f"points.json, table.md, delta_vs_k.png and delta_vs_T.png under {out}/")
    return 0
