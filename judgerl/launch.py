"""Launchers: how the pipeline runs a training stage as torchrun / accelerate / deepspeed processes.

A stage with `launcher: {kind: torchrun, nproc_per_node: 8}` is run by the pipeline as a
subprocess of that launcher around `python -m judgerl stage RECIPE STAGE --launched`; every rank
runs the stage's trainer and only rank 0 writes the manifest and final artifacts. The same entry
point works by hand: `torchrun --nproc_per_node 8 -m judgerl stage RECIPE sft`.
"""

from __future__ import annotations

import os
import shlex
import sys
from typing import Literal

from pydantic import Field, model_validator

from judgerl.core.config import StrictModel

LAUNCHABLE_KINDS = ("sft", "dpo", "grpo")


class LauncherSpec(StrictModel):
    """Recipe key `launcher` of a training stage.

    kind none runs in the pipeline's own process. `config_file` is an accelerate config (YAML)
    for kind accelerate; for kind deepspeed the ZeRO JSON goes in the stage's own `deepspeed:` key.
    """

    kind: Literal["none", "torchrun", "accelerate", "deepspeed"] = "none"
    nproc_per_node: int = Field(1, ge=1)
    nnodes: int = Field(1, ge=1)
    node_rank: int | str = 0
    master_addr: str = "127.0.0.1"
    master_port: int = Field(29500, ge=1, le=65535)
    config_file: str | None = None
    cpu: bool = False
    env: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> LauncherSpec:
        if self.config_file is not None and self.kind != "accelerate":
            raise ValueError(f"config_file is an accelerate config; launcher kind is {self.kind!r}")
        return self


def stage_entry(recipe_path: str, stage: str, overrides: list[str]) -> list[str]:
    """The module arguments every launcher runs: `judgerl stage RECIPE STAGE [overrides] --launched`."""
    return ["judgerl", "stage", recipe_path, stage, *overrides, "--launched"]


def build_command(spec: LauncherSpec, recipe_path: str, stage: str, overrides: list[str]) -> list[str]:
    """The full command line for a launched stage.

    >>> spec = LauncherSpec(kind="torchrun", nproc_per_node=2)
    >>> " ".join(build_command(spec, "r.yaml", "sft", [])[1:6])
    '-m torch.distributed.run --nnodes 1 --node_rank 0'
    """
    entry = stage_entry(recipe_path, stage, overrides)
    py = sys.executable
    if spec.kind == "torchrun":
        return [
            py, "-m", "torch.distributed.run",
            "--nnodes", str(spec.nnodes), "--node_rank", str(spec.node_rank),
            "--nproc_per_node", str(spec.nproc_per_node),
            "--master_addr", spec.master_addr, "--master_port", str(spec.master_port),
            "-m", *entry,
        ]  # fmt: skip
    if spec.kind == "accelerate":
        cmd = [py, "-m", "accelerate.commands.launch"]
        if spec.config_file:
            cmd += ["--config_file", spec.config_file]
        else:
            # with use_cpu=True in the trainer this still gives a CPU world of N gloo processes
            cmd += ["--multi_gpu", "--mixed_precision", "no", "--dynamo_backend", "no"]
        cmd += [
            "--num_processes", str(spec.nproc_per_node * spec.nnodes), "--num_machines", str(spec.nnodes),
            "--machine_rank", str(spec.node_rank), "--main_process_ip", spec.master_addr,
            "--main_process_port", str(spec.master_port), "-m", *entry,
        ]  # fmt: skip
        return cmd
    if spec.kind == "deepspeed":
        return [
            py, "-m", "deepspeed.launcher.runner",
            "--num_nodes", str(spec.nnodes), "--num_gpus", str(spec.nproc_per_node),
            # ranks read LOCAL_RANK from the environment; `judgerl stage` takes no --local_rank flag
            "--no_local_rank",
            "--master_addr", spec.master_addr, "--master_port", str(spec.master_port),
            "--module", *entry,
        ]  # fmt: skip
    raise ValueError(f"launcher kind {spec.kind!r} runs in-process and has no command")


def launch_env(spec: LauncherSpec) -> dict[str, str]:
    """The environment of a launched stage: the current one, the spec's `env`, and the launched flag."""
    env = dict(os.environ)
    env.update(spec.env)
    env["JUDGERL_LAUNCHED"] = "1"
    if spec.cpu:
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def format_command(cmd: list[str], env: dict[str, str] | None = None) -> str:
    """A copy-pasteable shell line. Usage: print(format_command(build_command(...)))."""
    extra = {
        k: v
        for k, v in (env or {}).items()
        if k in ("CUDA_VISIBLE_DEVICES", "JUDGERL_LAUNCHED") or k.startswith("NCCL")
    }
    prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(extra.items()))
    return (prefix + " " if prefix else "") + " ".join(shlex.quote(c) for c in cmd)
