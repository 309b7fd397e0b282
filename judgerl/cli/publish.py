"""`judgerl publish RUN_DIR/STAGE --repo ORG/NAME [--private] [--dry-run]`: model card, then the Hub.

Renders the checkpoint's model card from the run's manifests (with the metrics of the eval stages
that judged it) into a staging folder, RUN_DIR/.publish/STAGE, beside links to the checkpoint's
files, creates the model repo and uploads that folder through huggingface_hub. The finished stage's
folder is not written to. The token is huggingface_hub's own (HF_TOKEN or `hf auth login`). Imports
no torch.
"""

from __future__ import annotations

import argparse

NAME = "publish"
HELP = "upload a training stage's checkpoint with its model card to the Hugging Face Hub"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of `judgerl publish`. Usage: add_arguments(sub.add_parser("publish"))"""
    parser.description = HELP + " (token: HF_TOKEN or `hf auth login`)"
    parser.add_argument("stage_dir", metavar="RUN_DIR/STAGE", help="a finished training stage's folder")
    parser.add_argument(
        "--repo", required=True, metavar="ORG/NAME", help="the Hub model repo to create/update"
    )
    parser.add_argument("--private", action="store_true", help="create the repo private")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="stage the model card (RUN_DIR/.publish/STAGE) and list the files; upload nothing",
    )


def run(args: argparse.Namespace) -> int:
    """Stage the checkpoint with a fresh model card, then create the repo and upload it.

    Usage: judgerl publish runs/quickstart/sft --repo my-org/quickstart-judge --private
    """
    from judgerl.trainers.publish import publish

    plan = publish(args.stage_dir, args.repo, private=args.private, dry_run=args.dry_run)
    visibility = "private" if plan.private else "public"
    if args.dry_run:
        print(
            f"dry run: would upload {plan.checkpoint} to {plan.repo} ({visibility}), {len(plan.files)} files:"
        )
        for name in plan.files:
            print(f"  {name}")
        print(f"model card staged at {plan.folder / 'README.md'} (the checkpoint is unchanged)")
        return 0
    print(
        f"uploaded {plan.checkpoint} to {plan.url} ({visibility}, {len(plan.files)} files, "
        f"commit {plan.commit}; staged in {plan.folder})"
    )
    return 0
