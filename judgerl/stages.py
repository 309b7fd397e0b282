"""The stage kinds a recipe can name: each kind's typed config, entry function and named outputs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from judgerl.autojudge import stage as autojudge
from judgerl.core.config import StrictModel
from judgerl.core.stage import StageContext, StageResult
from judgerl.data_prep import stage as prep
from judgerl.eval import policy_eval
from judgerl.eval import stage as evaluation
from judgerl.eval.rewardbench import stage as rewardbench
from judgerl.eval.scaling import stage as scaling_report
from judgerl.probes import stage as probe_filter
from judgerl.serving.process import JudgeServerProcess
from judgerl.trainers import dpo, grpo, pair_construction, policy_grpo, sft, tiny_model


@dataclass(frozen=True)
class StageKind:
    """One kind of stage: its config class, its entry function and the outputs later stages may name."""

    config: type[StrictModel]
    run: Callable[[Any, StageContext], StageResult]
    outputs: dict[str, str]
    summary: str


STAGE_KINDS: dict[str, StageKind] = {
    "prep": StageKind(prep.PrepStage, prep.run_prep, prep.OUTPUTS, "data source -> train/test judge samples"),
    "tiny_model": StageKind(
        tiny_model.TinyModelStage,
        tiny_model.run_tiny_model,
        tiny_model.OUTPUTS,
        "a small judge built from config with a locally trained tokenizer",
    ),
    "sft": StageKind(
        sft.SFTStage, sft.run_sft, sft.OUTPUTS, "supervised fine-tuning on thinking traces (TRL)"
    ),
    "eval": StageKind(
        evaluation.EvalStage, evaluation.run_eval, evaluation.OUTPUTS, "pairwise evaluation in both orders"
    ),
    "rewardbench": StageKind(
        rewardbench.RewardBenchStage,
        rewardbench.run_rewardbench,
        rewardbench.OUTPUTS,
        "RewardBench v1 (official or both-orders protocol) or v2, scored as the leaderboard",
    ),
    "grpo": StageKind(
        grpo.GRPOStage,
        grpo.run_grpo,
        grpo.OUTPUTS,
        "GRPO with judge rewards (TRL, or verl with backend: verl)",
    ),
    "pairs": StageKind(
        pair_construction.PairsStage,
        pair_construction.run_pairs,
        pair_construction.OUTPUTS,
        "Think-J DPO pairs from judge and critic samples (or judge-only rejection sampling)",
    ),
    "dpo": StageKind(dpo.DPOStage, dpo.run_dpo, dpo.OUTPUTS, "DPO on judgement pairs (TRL)"),
    "scaling": StageKind(
        scaling_report.ScalingStage,
        scaling_report.run_scaling,
        scaling_report.OUTPUTS,
        "inference-time scaling by judge selection: delta vs k and T, plots and a table",
    ),
    "probe_filter": StageKind(
        probe_filter.ProbeFilterStage,
        probe_filter.run_probe_filter,
        probe_filter.OUTPUTS,
        "keep the top fraction (or those above a threshold) of samples, SFT traces or pairs by probe score",
    ),
    "autojudge": StageKind(
        autojudge.AutoJudgeStage,
        autojudge.run_autojudge,
        autojudge.OUTPUTS,
        "AutoJudge: mine important tokens, fit the classifier, compare judge/speculative/target decoding",
    ),
    # trainers may not import judgerl.serving: the stage gets the server process class from here
    "policy_grpo": StageKind(
        policy_grpo.PolicyGRPOStage,
        partial(policy_grpo.run_policy_grpo, server_factory=JudgeServerProcess),
        policy_grpo.OUTPUTS,
        "GRPO of a policy with a served judge as its reward (server started and stopped by the stage)",
    ),
    "policy_eval": StageKind(
        policy_eval.PolicyEvalStage,
        policy_eval.run_policy_eval,
        policy_eval.OUTPUTS,
        "exact-match accuracy of a policy's greedy answers on held-out questions",
    ),
}
