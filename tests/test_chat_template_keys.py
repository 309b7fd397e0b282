"""The `chat_template` recipe key: recipe-wide or per stage; a model without one gets a one-line error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from judgerl.core.errors import RecipeError, StageError
from judgerl.pipeline import run_recipe
from judgerl.recipe import load_recipe


def test_recipe_wide_template_reaches_every_stage_that_takes_one(tiny_recipe: Path) -> None:
    recipe = load_recipe(tiny_recipe, ["chat_template=gemma", "stages.eval_sft.chat_template=chatml"])
    assert (
        recipe.stages["sft"].chat_template == "gemma" and recipe.stages["eval_base"].chat_template == "gemma"
    )
    assert recipe.stages["eval_sft"].chat_template == "chatml"  # a stage's own key wins
    assert load_recipe(tiny_recipe).stages["sft"].chat_template is None
    with pytest.raises(RecipeError, match="chat_template"):
        load_recipe(tiny_recipe, ["chat_template=no-such-template"])


@pytest.mark.slow
def test_sft_on_a_model_without_template_says_which_key_to_set_then_trains_with_it(tiny_recipe: Path) -> None:
    recipe = load_recipe(tiny_recipe)
    run_recipe(recipe, only="data")
    run_recipe(recipe, only="model")
    checkpoint = recipe.stage_dir("model") / "checkpoint"
    config_file = checkpoint / "tokenizer_config.json"
    config = json.loads(config_file.read_text())
    config.pop("chat_template", None)
    config_file.write_text(json.dumps(config))
    (checkpoint / "chat_template.jinja").unlink(missing_ok=True)
    with pytest.raises(StageError) as e:
        run_recipe(recipe, only="sft")
    message = str(e.value)
    assert "has no chat template" in message and "chat_template" in message and "rerun" not in message
    assert "\n" not in message
    fixed = load_recipe(tiny_recipe, ["stages.sft.chat_template=chatml"])
    [outcome] = [o for o in run_recipe(fixed, only="sft") if o.name == "sft"]
    saved = outcome.manifest["outputs"]["checkpoint"]
    assert (
        "<|im_start|>"
        in json.loads((Path(saved) / "tokenizer_config.json").read_text()).get("chat_template", "")
        or "<|im_start|>" in (Path(saved) / "chat_template.jinja").read_text()
    )
