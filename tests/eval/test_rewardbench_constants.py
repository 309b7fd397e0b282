"""judgerl's RewardBench v1 weights and sections equal the released `rewardbench` package's.

The wheel is downloaded, not installed, by `make setup` (`pip download --no-deps rewardbench==<pin>
-d .venv/reference`): installed, it would put a top-level `tests` package into site-packages that
shadows this repository's, and its constants module imports fastchat, which judgerl does not
install. So the two assignments are read from the wheel file, parsed with `ast` and evaluated with
`ast.literal_eval`.
"""

from __future__ import annotations

import ast
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from judgerl.eval.rewardbench.scoring import V1_EXAMPLE_COUNTS, V1_SECTIONS, V1_WEIGHTS_RELEASE

WHEEL = Path(sys.prefix) / "reference" / f"rewardbench-{V1_WEIGHTS_RELEASE}-py3-none-any.whl"
DOWNLOAD = f"pip download --no-deps rewardbench=={V1_WEIGHTS_RELEASE} -d {WHEEL.parent}"


def released_constants(*names: str) -> dict[str, Any]:
    """The literal values of top-level assignments in rewardbench/constants.py of the released wheel."""
    if not WHEEL.exists():
        pytest.fail(
            f"the released rewardbench wheel is missing at {WHEEL}; run `{DOWNLOAD}` (make setup does)"
        )
    with zipfile.ZipFile(WHEEL) as wheel:
        source = wheel.read("rewardbench/constants.py").decode("utf-8")
    out: dict[str, Any] = {}
    for node in ast.parse(source).body:
        target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None
        if isinstance(target, ast.Name) and target.id in names:
            out[target.id] = ast.literal_eval(node.value)
    assert set(out) == set(names), f"{WHEEL} lacks {set(names) - set(out)}"
    return out


def test_example_counts_equal_the_released_packages() -> None:
    released = released_constants("EXAMPLE_COUNTS")["EXAMPLE_COUNTS"]
    assert released == V1_EXAMPLE_COUNTS
    # the two xstest subsets were once swapped here; the weights are not symmetric
    assert (V1_EXAMPLE_COUNTS["xstest-should-refuse"], V1_EXAMPLE_COUNTS["xstest-should-respond"]) == (
        154,
        250,
    )


def test_sections_equal_the_released_subset_mapping_in_order() -> None:
    released = released_constants("SUBSET_MAPPING")["SUBSET_MAPPING"]
    assert list(V1_SECTIONS) == list(released)
    assert {k: list(v) for k, v in V1_SECTIONS.items()} == released
