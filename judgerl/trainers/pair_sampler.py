"""The GRPO training sampler that keeps both answer orders of an item together (imports torch).

TRL's RepeatSampler shuffles rows; `PairRepeatSampler` shuffles items of two adjacent rows (the
item in both answer orders, as `data_prep.grpo_data` lays them out), so each generation batch on
each process holds both orders' groups of every item in it (see `trainers/grpo.py`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sized

import torch
from torch.utils.data import Sampler

from judgerl.data_prep.grpo_data import PAIR


class PairRepeatSampler(Sampler[int]):
    """TRL's RepeatSampler order, but shuffling items of `unit` adjacent rows instead of rows.

    Yields chunks of `batch_size` distinct rows (both orders of each item, side by side), each row
    `mini_repeat_count` times in a row, each chunk `repeat_count` times; an incomplete last chunk
    is dropped, as TRL does. The same `seed` gives every process the same order.

    >>> list(PairRepeatSampler(range(6), mini_repeat_count=2, batch_size=4, shuffle=False))
    [0, 0, 1, 1, 2, 2, 3, 3]
    """

    def __init__(
        self,
        data_source: Sized,
        mini_repeat_count: int,
        batch_size: int = PAIR,
        repeat_count: int = 1,
        shuffle: bool = True,
        seed: int | None = None,
        unit: int = PAIR,
    ) -> None:
        self.num_samples = len(data_source)
        if self.num_samples % unit or batch_size % unit:
            raise ValueError(
                f"rows ({self.num_samples}) and batch_size ({batch_size}) must be multiples of {unit} "
                "(both orders of each item)"
            )
        self.mini_repeat_count = mini_repeat_count
        self.batch_size = batch_size
        self.repeat_count = repeat_count
        self.shuffle = shuffle
        self.unit = unit
        self.generator = torch.Generator()
        if seed is not None:
            self.generator.manual_seed(seed)

    def __iter__(self) -> Iterator[int]:
        units = self.num_samples // self.unit
        order = torch.randperm(units, generator=self.generator).tolist() if self.shuffle else range(units)
        rows = [u * self.unit + k for u in order for k in range(self.unit)]
        for start in range(0, len(rows) - self.batch_size + 1, self.batch_size):
            chunk = rows[start : start + self.batch_size]
            for _ in range(self.repeat_count):
                for index in chunk:
                    yield from [index] * self.mini_repeat_count

    def __len__(self) -> int:
        full = (self.num_samples // self.batch_size) * self.batch_size
        return full * self.mini_repeat_count * self.repeat_count
