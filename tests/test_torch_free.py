"""Validating recipes loads no torch, transformers, trl, peft, datasets or deepspeed.

`judgerl validate` (and everything that only reads a recipe) imports judgerl.recipe, which imports
the stage index judgerl.stages and every stage's config class; none of that may pull in the heavy
engines, which are imported only when a stage runs. The check runs in a fresh interpreter, and a
failure names the import chain that pulled each heavy module in.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "trl", "peft", "datasets", "deepspeed")

# Runs in a subprocess: records who imports each heavy module first, then loads and validates
# every recipe as `judgerl validate` does and prints a JSON report.
PROBE = r"""
import json, sys, traceback
HEAVY = set(sys.argv[1].split(","))
chains = {}

class Watch:
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in HEAVY and top not in chains:
            chains[top] = [f"{f.filename}:{f.lineno}" for f in traceback.extract_stack()[:-1]
                           if "/judgerl/" in f.filename]
        return None

sys.meta_path.insert(0, Watch())
import importlib
import judgerl.recipe
for extra in filter(None, sys.argv[2].split(",")):  # planted imports (the checker's own test)
    importlib.import_module(extra)
from judgerl.recipe import load_recipe
from judgerl.stages import STAGE_KINDS

validated = {}
for path in sys.argv[3:]:
    recipe = load_recipe(path)
    validated[path] = {name: [stage.kind, recipe.dependencies(name)] for name, stage in recipe.stages.items()}
configs = {kind: STAGE_KINDS[kind].config.__name__ for kind in STAGE_KINDS}
loaded = sorted(m for m in sys.modules if m.partition(".")[0] in HEAVY)
print(json.dumps({"validated": validated, "configs": configs, "loaded": loaded, "chains": chains}))
"""


def recipe_files() -> list[Path]:
    """Every recipe under recipes/ (YAML files with a `stages` mapping, as `judgerl ls` lists them)."""
    out = []
    for path in sorted((REPO / "recipes").rglob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        if isinstance(doc, dict) and "stages" in doc:
            out.append(path)
    return out


def _run_probe(paths: list[Path], also_import: str = "") -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(HEAVY), also_import, *map(str, paths)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_recipes_directory_has_recipes_to_check() -> None:
    names = {p.relative_to(REPO / "recipes").as_posix() for p in recipe_files()}
    assert {"quickstart.yaml", "quickstart_dpo.yaml", "autojudge_quickstart.yaml"} <= names
    assert not any(
        n.startswith(("accelerate/", "deepspeed/")) for n in names
    )  # launcher configs, not recipes


def test_validating_every_recipe_loads_no_heavy_engine() -> None:
    paths = recipe_files()
    report = _run_probe(paths)
    assert sorted(report["validated"]) == sorted(map(str, paths))  # every recipe loaded and validated
    assert all(stages for stages in report["validated"].values())
    chains = "\n".join(f"{m}: " + " <- ".join(reversed(c)) for m, c in report["chains"].items())
    assert report["loaded"] == [], f"heavy modules loaded while validating recipes:\n{chains}"


def test_the_stage_index_names_every_kind_with_its_config_class() -> None:
    report = _run_probe([])
    from judgerl.stages import STAGE_KINDS

    assert report["loaded"] == []
    assert report["configs"] == {kind: STAGE_KINDS[kind].config.__name__ for kind in STAGE_KINDS}
    assert set(report["configs"]) >= {
        "prep",
        "sft",
        "eval",
        "grpo",
        "dpo",
        "pairs",
        "policy_grpo",
        "autojudge",
    }


@pytest.mark.parametrize("kind", sorted(__import__("judgerl.stages", fromlist=["STAGE_KINDS"]).STAGE_KINDS))
def test_every_stage_entry_resolves_to_a_function_of_its_config(kind: str) -> None:
    """The lazily named entry function exists and takes the kind's config class and a StageContext."""
    from judgerl.stages import STAGE_KINDS

    stage_kind = STAGE_KINDS[kind]
    run = stage_kind.run
    fn = getattr(run, "func", run)
    assert fn.__name__ == stage_kind.entry_name and callable(run)
    params = list(inspect.signature(fn).parameters.values())
    assert params[0].annotation in (stage_kind.config.__name__, stage_kind.config)
    assert params[1].annotation in ("StageContext", "StageContext | None")
    # the config class's `kind` literal is the registered name
    assert stage_kind.config.model_fields["kind"].default == kind


def test_the_check_names_the_chain_that_pulls_torch_in() -> None:
    report = _run_probe([], also_import="judgerl.probes.features")
    assert "torch" in report["loaded"] and "transformers" in report["loaded"]
    assert report["chains"]["torch"][-1].startswith(str(REPO / "judgerl" / "probes" / "features.py") + ":")


PLUGINS = r"""
import json, sys
import judgerl.autojudge.pair_filter, judgerl.autojudge.stage
import judgerl.probes, judgerl.probes.pair_filter, judgerl.probes.reward, judgerl.probes.stage
from judgerl.data_prep.pair_filters import PAIR_FILTERS, parse_pair_filters
from judgerl.rewards.registry import REWARDS

registered_on_import = {
    "pair filter autojudge": PAIR_FILTERS.is_loaded("autojudge"),
    "pair filter probe": PAIR_FILTERS.is_loaded("probe"),
    "reward probe": REWARDS.is_loaded("probe"),
}
specs = parse_pair_filters(
    [{"name": "autojudge", "model": "m", "classifier": "c"}, {"name": "probe", "path": "p", "threshold": 0.4}]
)
print(json.dumps({
    "registered_on_import": registered_on_import,
    "specs": [[s.name, s.options] for s in specs],
    "targets": {n: PAIR_FILTERS.lazy_target(n) for n in ("autojudge", "probe")},
    "loaded": sorted(m for m in sys.modules if m.partition(".")[0] in set(sys.argv[1].split(","))),
}))
"""


def test_plugin_modules_register_nothing_on_import_and_validate_torch_free() -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-c", PLUGINS, ",".join(HEAVY)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["registered_on_import"] == {
        "pair filter autojudge": False,
        "pair filter probe": False,
        "reward probe": False,
    }
    assert report["specs"] == [
        ["autojudge", {"model": "m", "classifier": "c"}],
        ["probe", {"path": "p", "threshold": 0.4}],
    ]
    assert report["targets"] == {
        "autojudge": "judgerl.autojudge.pair_filter:autojudge_importance",
        "probe": "judgerl.probes.pair_filter:probe_pair_filter",
    }
    assert report["loaded"] == []  # naming the plugin filters in a recipe loads no engine
