"""Verdict parsing, reward functions, the reward registry and the TRL/verl adapters (no torch, no httpx).

The served-judge reward lives in `judgerl.rewards.remote`, imported when first named.
"""

from judgerl.judge_spec.parser import FAILURE_REASONS, parse_failure_rate, parse_verdict, verdict_is_strict
from judgerl.rewards.adapters import (
    completion_text,
    policy_to_trl,
    policy_to_verl,
    to_trl,
    to_verl,
    to_verl_batch,
)
from judgerl.rewards.functions import (
    RewardResult,
    consistency_reward,
    correctness_reward,
    format_reward,
    strength_reward,
)
from judgerl.rewards.policy import PolicyReward, PolicySample
from judgerl.rewards.registry import (
    REWARDS,
    RewardNameError,
    RewardSpec,
    combined_reward,
    get_reward,
    list_rewards,
    load_reward_plugins,
    parse_reward_specs,
    register_reward,
    register_reward_plugin,
)

__all__ = [
    "FAILURE_REASONS",
    "REWARDS",
    "PolicyReward",
    "PolicySample",
    "RewardNameError",
    "RewardResult",
    "RewardSpec",
    "combined_reward",
    "completion_text",
    "consistency_reward",
    "correctness_reward",
    "format_reward",
    "get_reward",
    "list_rewards",
    "load_reward_plugins",
    "parse_failure_rate",
    "parse_reward_specs",
    "parse_verdict",
    "policy_to_trl",
    "policy_to_verl",
    "register_reward",
    "register_reward_plugin",
    "strength_reward",
    "to_trl",
    "to_verl",
    "to_verl_batch",
    "verdict_is_strict",
]
