"""What `judgerl run RECIPE --dry-run` prints: each stage's command, environment, inputs and outputs,
and the referenced files or configs that do not exist. Loads no model and takes no lock.

judgerl run recipes/think_j/qwen2.5-7b.yaml --dry-run
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from judgerl.launch import build_command, format_command, launch_env
from judgerl.recipe import PATH_KEYS, Recipe
from judgerl.stages import STAGE_KINDS


def _paths(obj: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(obj, dict):
        return [p for k, v in obj.items() for p in _paths(v, f"{prefix}.{k}" if prefix else str(k))]
    if isinstance(obj, str) and prefix.split(".")[-1] in PATH_KEYS:
        return [(prefix, obj)]
    return []


def _check_path(recipe: Recipe, value: str, key: str = "") -> tuple[str, bool]:
    for stage in recipe.stages:
        if Path(value).is_relative_to(recipe.stage_dir(stage)):
            return f"from stage {stage}", True
    if Path(value).exists():
        return "exists", True
    is_config = key.split(".")[-1] in ("deepspeed", "config_file")
    looks_like_hub_id = (
        value.count("/") == 1
        and not value.startswith((".", "/", "~"))
        and not value.endswith((".json", ".jsonl", ".parquet", ".yaml", ".yml", ".csv", ".txt"))
    )
    if looks_like_hub_id and not is_config:
        return "hub id (not checked offline)", True
    return "MISSING", False


def dry_run(recipe: Recipe) -> tuple[str, list[str]]:
    """What `judgerl run --dry-run` prints: each stage's command, environment, inputs and outputs,
    and the list of problems (referenced files or configs that do not exist). Loads no model.

    Usage: text, problems = dry_run(load_recipe("recipes/think_j/qwen2.5-7b.yaml"))
    """
    lines = [f"recipe {recipe.source} ({recipe.name}): {len(recipe.stages)} stages under {recipe.run_dir}/"]
    problems = []
    for name, config in recipe.stages.items():
        kind = STAGE_KINDS[config.kind]
        launcher = recipe.launchers.get(name)
        lines.append(f"\n[{name}] {config.kind}: {kind.summary}")
        if launcher is not None and launcher.kind != "none":
            env = launch_env(launcher)
            lines.append(
                "  command: "
                + format_command(build_command(launcher, recipe.source, name, recipe.overrides), env)
            )
            if launcher.env:
                lines.append("  env: " + " ".join(f"{k}={v}" for k, v in sorted(launcher.env.items())))
            if launcher.config_file:
                lines.append(
                    f"  launcher config: {launcher.config_file} ({_check_path(recipe, launcher.config_file)[0]})"
                )
                if not Path(launcher.config_file).exists():
                    problems.append(
                        f"stages.{name}.launcher.config_file: {launcher.config_file} does not exist"
                    )
        else:
            from judgerl.trainers.verl import dry_run_commands  # torch-free

            external = dry_run_commands(config, recipe.stage_dir(name), recipe.header.seed, name)
            where = "in-process, then runs" if external else "in-process"
            entry = " ".join([recipe.source, name, *recipe.overrides])
            lines.append(f"  command: {where} (judgerl stage {entry})")
            lines += [f"  runs: {command}" for command in external]
        for key, value in _paths(config.model_dump(mode="json")):
            status, ok = _check_path(recipe, value, key)
            lines.append(f"  input {key}: {value} ({status})")
            if not ok:
                problems.append(f"stages.{name}.{key}: {value} does not exist and no earlier stage writes it")
        for out, file in kind.outputs.items():
            lines.append(f"  output {out}: {recipe.stage_dir(name) / file}")
        if config.kind == "model":  # a named GGUF package (and the gguf reader) must be installed
            from judgerl.models.model_refs import source_problems

            problems += [f"stages.{name}.source: {p}" for p in source_problems(config.source)]  # type: ignore[attr-defined]
    lines.append("\n" + ("problems:\n  " + "\n  ".join(problems) if problems else "no problems found"))
    return "\n".join(lines), problems
