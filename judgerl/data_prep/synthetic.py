"""The built-in verifiable judge task: which of two answers to "a + b" is right, and how wrong is the other.

Questions add two two-digit numbers. One response holds the true sum; the other has one digit
wrong, and the place of that digit sets the strength: units -> 1 (slightly better), tens -> 2,
hundreds -> 3 (much better), so strength grows with the size of the flaw.

The thinking trace is programmatic and written so that a ~1M-parameter model can learn it in a
few CPU minutes: the sum is computed digit by digit with carries (the tens digit in two
two-operand steps: a three-operand sum left off-by-one errors), then each response is padded
to three digits and compared with the sum one digit pair at a time, each pair side by side,
stopping at the first wrong digit with its strength. (A tiny model that compares whole numbers
far apart in the sequence stays near chance; one that must recall which place went wrong
several tokens later errs on a quarter of the verdicts.)
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from judgerl.core.types import JudgeSample
from judgerl.judge_spec.verdicts import format_trace

PLACES = ("hundreds", "tens", "units")
STRENGTH_OF_PLACE = {"units": 1, "tens": 2, "hundreds": 3}
SOURCE = "synthetic-addition"


@dataclass(frozen=True)
class SyntheticSplits:
    """Train and test samples whose questions (unordered operand pairs) never overlap."""

    train: list[JudgeSample]
    test: list[JudgeSample]


def _digits3(n: int) -> str:
    return f"{n:03d}"


def _with_digit(n: int, place: str, rng: random.Random) -> int:
    """`n` with the digit at `place` replaced by a different one (never a negative number)."""
    s = list(_digits3(n))
    i = PLACES.index(place)
    s[i] = rng.choice([d for d in "0123456789" if d != s[i]])
    return int("".join(s))


def addition_trace(x: int, y: int, shown_a: int, shown_b: int) -> tuple[str, str, int]:
    """The thinking trace for "x + y" with responses (a)=shown_a and (b)=shown_b.

    Returns (thinking, winner, strength). Each response is compared with the sum from the
    hundreds digit down and the comparison stops at the first wrong digit, whose place gives the
    strength right there, so every step of the trace is a local one.

    >>> thinking, winner, k = addition_trace(47, 38, 85, 95)
    >>> winner, k
    ('a', 2)
    >>> thinking.splitlines()[-1]
    '(b) 095: hundreds 0=0 tens 9!8 wrong, strength 2'
    """
    total = x + y
    u = x % 10 + y % 10
    t = x // 10 + y // 10 + u // 10
    lines = [
        f"{x}+{y}",
        f"units {x % 10}+{y % 10}={u} write {u % 10} carry {u // 10}",
        f"tens {x // 10}+{y // 10}={x // 10 + y // 10}, {x // 10 + y // 10}+{u // 10}={t} write {t % 10} carry {t // 10}",
        f"sum {_digits3(total)}",
    ]
    strengths: dict[str, int | None] = {}
    for name, shown in (("a", shown_a), ("b", shown_b)):
        parts = [f"({name}) {_digits3(shown)}:"]
        strengths[name] = None
        for place, d_resp, d_sum in zip(PLACES, _digits3(shown), _digits3(total), strict=True):
            if d_resp != d_sum:
                strengths[name] = STRENGTH_OF_PLACE[place]
                parts.append(f"{place} {d_resp}!{d_sum} wrong, strength {strengths[name]}")
                break
            parts.append(f"{place} {d_resp}={d_sum}")
        else:
            parts.append("right")
        lines.append(" ".join(parts))
    if (strengths["a"] is None) == (strengths["b"] is None):
        raise ValueError(f"exactly one response must be right: {x}+{y}, a={shown_a}, b={shown_b}")
    winner = "a" if strengths["a"] is None else "b"
    k = strengths["b" if winner == "a" else "a"]
    assert k is not None
    return "\n".join(lines), winner, k


def make_addition_sample(x: int, y: int, rng: random.Random, index: int, split: str) -> JudgeSample:
    """One judge sample for "x + y": the right sum and a sum with one wrong digit, in random order.

    >>> s = make_addition_sample(47, 38, random.Random(0), 0, "train")
    >>> s.label in ("a", "b") and 1 <= abs(s.strength) <= 3
    True
    """
    total = x + y
    place = rng.choice(PLACES)
    wrong = _with_digit(total, place, rng)
    label = rng.choice(("a", "b"))
    shown_a, shown_b = (total, wrong) if label == "a" else (wrong, total)
    thinking, winner, k = addition_trace(x, y, shown_a, shown_b)
    assert winner == label and k == STRENGTH_OF_PLACE[place]
    return JudgeSample(
        id=f"add-{split}-{index:05d}",
        source=SOURCE,
        conversation=[{"role": "user", "content": f"What is {x}+{y}?"}],
        response_a=f"The sum is {shown_a}.",
        response_b=f"The sum is {shown_b}.",
        label=label,
        strength=-k if label == "a" else k,
        subset=f"addition-strength-{k}",
        metadata={"thinking": thinking, "x": x, "y": y, "flaw_place": place},
    )


def make_synthetic_splits(n_train: int = 4000, n_test: int = 200, seed: int = 0) -> SyntheticSplits:
    """Seeded train/test splits of the addition judge task with disjoint questions.

    Test questions are distinct unordered pairs {x, y}; no test pair appears in train in either
    order ("12 + 34" in test keeps "34 + 12" out of train). Train questions are ordered pairs.

    >>> sp = make_synthetic_splits(50, 10, seed=1)
    >>> len(sp.train), len(sp.test)
    (50, 10)
    """
    pairs = sorted({(min(x, y), max(x, y)) for x in range(10, 100) for y in range(10, 100)})
    if n_train < 1 or n_test < 0:
        raise ValueError(f"synthetic source: need n_train >= 1 and n_test >= 0, got {n_train}, {n_test}")
    if n_test > len(pairs) // 2:
        raise ValueError(f"synthetic source: n_test must be at most {len(pairs) // 2}, got {n_test}")
    rng = random.Random(seed)
    rng.shuffle(pairs)
    test_pairs = [(x, y) if rng.random() < 0.5 else (y, x) for x, y in pairs[:n_test]]
    train_pool = sorted({q for x, y in pairs[n_test:] for q in ((x, y), (y, x))})
    if n_train > len(train_pool):
        raise ValueError(
            f"synthetic source: n_train must be at most {len(train_pool)} with n_test={n_test}, got {n_train}"
        )
    rng.shuffle(train_pool)
    test = [make_addition_sample(x, y, rng, i, "test") for i, (x, y) in enumerate(test_pairs)]
    train = [make_addition_sample(x, y, rng, i, "train") for i, (x, y) in enumerate(train_pool[:n_train])]
    return SyntheticSplits(train=train, test=test)


def synthetic_sft_trace(sample: JudgeSample) -> str:
    """The full assistant completion (thinking + verdict) for a synthetic sample in its current order.

    Works for swapped samples too: the trace is recomputed for the shown order.
    """
    x, y = int(sample.metadata["x"]), int(sample.metadata["y"])
    shown_a = int(sample.response_a.rstrip(".").split()[-1])
    shown_b = int(sample.response_b.rstrip(".").split()[-1])
    thinking, winner, k = addition_trace(x, y, shown_a, shown_b)
    return format_trace(thinking, winner, k)
