"""The command line's papercuts (issue 24 item 6): overrides anywhere on the line, `judgerl stage --help`,
`judgerl ls` one line per recipe, each table printed once on stdout, and --chat-template on every
benchmark, checked on the tokenizer before the model's weights load."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from transformers import AutoModelForCausalLM

from judgerl.cli.command_parser import subcommand
from judgerl.cli.main import build_parser, main
from judgerl.models.tiny import TinyModelSpec, make_tiny_judge
from judgerl.stages import STAGE_KINDS

pytestmark = pytest.mark.usefixtures("one_torch_thread")

REPO = Path(__file__).resolve().parents[2]
SPEC = TinyModelSpec(hidden_size=32, layers=1, heads=2, intermediate_size=64, vocab_size=400)
TABLE_HEADER = "|  | single acc | pair acc |"


@pytest.fixture(scope="module")
def tiny_judge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts = ["Which is better? Response (a) is better, and the strength is [[2]]. question answer"] * 30
    return make_tiny_judge(tmp_path_factory.mktemp("cli") / "judge", texts, SPEC, seed=0)


@pytest.fixture(scope="module")
def bare_judge(tiny_judge: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny judge without a chat template (as a base model's checkpoint)."""
    out = tmp_path_factory.mktemp("bare") / "judge"
    out.mkdir()
    for f in tiny_judge.iterdir():
        if f.name != "chat_template.jinja":
            (out / f.name).write_bytes(f.read_bytes())
    config = json.loads((out / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (out / "tokenizer_config.json").write_text(json.dumps(config))
    return out


def test_overrides_may_come_before_or_after_flags() -> None:
    parser = build_parser()
    args = parser.parse_args(["run", "R", "--dry-run", "vars.data=x", "seed=2"])
    assert (args.recipe, args.overrides, args.dry_run) == ("R", ["vars.data=x", "seed=2"], True)
    args = parser.parse_args(["run", "R", "--from", "sft", "stages.sft.lr=1e-5"])
    assert (args.from_stage, args.overrides) == ("sft", ["stages.sft.lr=1e-5"])
    args = parser.parse_args(["run", "R", "stages.sft.lr=1e-5", "--only", "sft", "seed=1"])
    assert (args.only, args.overrides) == ("sft", ["stages.sft.lr=1e-5", "seed=1"])
    args = parser.parse_args(["stage", "R", "sft", "--force", "seed=2"])
    assert (args.recipe, args.stage, args.overrides, args.force) == ("R", "sft", ["seed=2"], True)
    assert parser.parse_args(["validate", "R"]).overrides == []
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "R", "--dry-run", "--nope"])


def test_a_dry_run_applies_overrides_given_after_the_flag(
    tiny_recipe: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(tiny_recipe), "--dry-run", f"run_dir={tmp_path / 'elsewhere'}"]) == 0
    assert f"stages under {tmp_path / 'elsewhere'}/" in capsys.readouterr().out


def test_stage_help_describes_its_arguments_and_the_stage_kinds() -> None:
    text = " ".join(subcommand(build_parser(), "stage").format_help().split())
    assert "recipe YAML file, or the name of a shipped recipe" in text
    assert "the name of a stage in the recipe" in text and "KEY=VALUE overrides" in text
    for kind in STAGE_KINDS:
        assert f"{kind} {' '.join(STAGE_KINDS[kind].summary.split())}" in text


def test_ls_prints_one_line_per_recipe_and_long_prints_the_descriptions(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    assert main(["ls"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = lines[: lines.index("")]
    assert len(rows) == len(list((REPO / "recipes").rglob("*.yaml"))) - len(
        list((REPO / "recipes").glob("accelerate/*.yaml"))
    )
    assert all(len(row) <= 100 for row in rows)
    quickstart = next(r for r in rows if r.startswith("quickstart.yaml"))
    assert quickstart.split(None, 1)[1] == "The embedded default, on a CPU in under 10 minutes"
    assert main(["ls", "--long"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    description = yaml.safe_load((REPO / "recipes" / "quickstart.yaml").read_text())["description"]
    assert f"quickstart.yaml {' '.join(description.split())}" in text


def test_an_eval_table_is_printed_once_on_stdout(tiny_judge: Path, tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "judgerl", "eval", "--model", str(tiny_judge), "--data", "synthetic:3"]
    cmd += ["--max-new-tokens", "2", "--out", str(tmp_path / "ev")]
    env = {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(TABLE_HEADER) == 1 and TABLE_HEADER not in done.stderr
    assert "judgerl | eval: 6 judgements" in done.stderr  # the log line stays on stderr
    assert (tmp_path / "ev" / "table.md").read_text().startswith(TABLE_HEADER)


@pytest.mark.parametrize("benchmark", ["pairwise", "rewardbench", "judgebench", "rmbench"])
def test_a_model_without_a_chat_template_stops_before_its_weights_load_naming_the_flag(
    benchmark: str,
    bare_judge: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def no_weights(*args, **kwargs):
        raise AssertionError("the model's weights were loaded before the chat template was checked")

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", no_weights)
    data = tmp_path / "bench.jsonl"
    data.write_text("{}\n")
    argv = ["eval", benchmark, "--model", str(bare_judge), "--out", str(tmp_path / "out")]
    argv += ["--data", "synthetic:2" if benchmark == "pairwise" else str(data)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"model {str(bare_judge)!r} has no chat template: pass `--chat-template` with" in err
    assert "recipe" not in err and "Traceback" not in err
    help_text = subcommand(subcommand(build_parser(), "eval"), benchmark).format_help()
    assert "--chat-template" in help_text


def test_chat_template_flag_gives_a_bare_model_its_template(bare_judge: Path, tmp_path: Path) -> None:
    out = tmp_path / "ev"
    argv = ["eval", "--model", str(bare_judge), "--data", "synthetic:2", "--chat-template", "chatml"]
    assert main([*argv, "--max-new-tokens", "2", "--out", str(out)]) == 0
    assert json.loads((out / "metrics.json").read_text())["overall"]["n_judgements"] == 4


def test_an_unexpected_error_is_one_line_with_its_traceback_in_error_log(tmp_path: Path) -> None:
    from judgerl.cli.eval import guarded
    from judgerl.core.errors import JudgeRLError

    with pytest.raises(JudgeRLError) as err:
        guarded(tmp_path, "judgerl eval rewardbench", lambda: 1 / 0)
    log = tmp_path / "error.log"
    assert (
        str(err.value)
        == f"judgerl eval rewardbench: ZeroDivisionError: division by zero (traceback in {log})"
    )
    assert log.read_text().startswith("Traceback")
