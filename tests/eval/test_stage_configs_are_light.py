"""Recipe validation imports the eval stage configs: they must not pull in torch, transformers,
datasets, nor the HTTP client and model code that only some scaling judges need."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ["torch", "transformers", "datasets", "httpx", "judgerl.eval.scaling.judges.http"]


def _loaded_after(code: str) -> list[str]:
    probe = f"import sys, json\n{code}\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


def test_stage_config_modules_import_nothing_heavy() -> None:
    modules = [
        "judgerl.eval.scaling.stage",
        "judgerl.eval.rewardbench.stage",
        "judgerl.eval.stage",
        "judgerl.eval.policy_eval",
    ]
    assert _loaded_after("\n".join(f"import {m}" for m in modules)) == []


def test_the_http_judge_is_imported_when_first_asked_for() -> None:
    loaded = _loaded_after("from judgerl.eval.scaling.judges import HTTPJudge, parse_judge_spec")
    assert loaded == ["httpx", "judgerl.eval.scaling.judges.http"]
