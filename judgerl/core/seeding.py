"""Seeding of every random source a stage touches."""

from __future__ import annotations

import importlib.util
import os
import random

SEED_MAX = 2**32 - 1  # numpy's limit, and so every seed's


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (when installed); a seed outside 0..2**32-1 is a ValueError.

    Usage: seed_everything(0)
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
        raise ValueError(f"seed {seed!r}: expected an integer from 0 to 2**32-1 ({SEED_MAX})")
    random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    # no `except ImportError` around the imports: Ctrl-C during an import can come out as one
    if importlib.util.find_spec("numpy") is not None:
        import numpy as np

        np.random.seed(seed)
    if importlib.util.find_spec("torch") is not None:
        import torch

        torch.manual_seed(seed)
