"""The pair-filter hook: registry, YAML-style specs validated against signatures, ordered application
with per-filter drop counts, and the shipped length_ratio and duplicate filters."""

from __future__ import annotations

import pytest

from judgerl.data_prep import pair_filters as F


def pair(pid: str, chosen: str = "right trace", rejected: str = "wrong trace", q: str = "q") -> dict:
    return {"id": pid, "prompt": [{"role": "user", "content": q}], "chosen": chosen, "rejected": rejected}


def test_filters_run_in_order_and_the_first_to_drop_is_charged() -> None:
    pairs = [
        pair("ok"),
        pair("long", rejected="x" * 200),
        pair("same", chosen="t", rejected="t"),
        pair("again"),  # repeats "ok"
        pair("other-q", q="another question"),
    ]
    specs = F.parse_pair_filters([{"name": "length_ratio", "max_ratio": 3.0}, {"name": "duplicate"}])
    result = F.apply_pair_filters(pairs, specs)
    assert [p["id"] for p in result.kept] == ["ok", "other-q"]
    assert result.dropped == {"length_ratio": 1, "duplicate": 2}
    assert [(e["id"], e["filter"]) for e in result.examples] == [
        ("long", "length_ratio"),
        ("same", "duplicate"),
        ("again", "duplicate"),
    ]
    assert result.examples[1]["reason"] == "chosen and rejected are the same text"
    assert result.examples[2]["reason"] == "repeats an earlier pair"


def test_no_filters_keep_everything_and_each_run_has_fresh_duplicate_memory() -> None:
    pairs = [pair("1"), pair("2")]
    assert F.apply_pair_filters(pairs, []).kept == pairs
    specs = F.parse_pair_filters([{"name": "duplicate"}])
    assert len(F.apply_pair_filters(pairs[:1], specs).kept) == 1
    assert len(F.apply_pair_filters(pairs[:1], specs).kept) == 1  # not "seen" from the previous run


def test_length_ratio_in_words_and_its_option_checks() -> None:
    p = pair("w", chosen="one two three four", rejected="one")
    assert F.length_ratio(p, max_ratio=3.0, unit="words") == (False, "length ratio 4.00 > 3.0 (words)")
    assert F.length_ratio(p, max_ratio=5.0, unit="words") == (True, "")
    with pytest.raises(ValueError, match="unit"):
        F.length_ratio(p, unit="tokens")


def test_the_same_filter_twice_is_counted_per_position() -> None:
    specs = F.parse_pair_filters([{"name": "length_ratio", "max_ratio": 10}, {"name": "length_ratio"}])
    result = F.apply_pair_filters([pair("a", rejected="x" * 50)], specs)
    assert result.dropped == {"length_ratio#0": 0, "length_ratio#1": 1}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"name": "nope"}, r"filters\[0\]: unknown pair filter 'nope' \(known: .*duplicate"),
        ({"max_ratio": 2}, r"filters\[0\]: expected a mapping with a 'name'"),
        (
            {"name": "length_ratio", "max_ratoi": 2},
            "unknown option 'max_ratoi' \\(options: max_ratio, unit\\)",
        ),
        ({"name": "duplicate", "state": {}}, "unknown option 'state'"),
    ],
)
def test_bad_filter_specs_name_the_entry_and_what_is_expected(spec: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        F.parse_pair_filters([spec])


def test_a_plugin_filter_registers_with_options_and_state() -> None:
    name = "test_min_chosen_chars"

    def min_chosen(p: dict, min_chars: int, state: dict) -> tuple[bool, str]:
        state["calls"] = state.get("calls", 0) + 1
        ok = len(p["chosen"]) >= min_chars
        return ok, "" if ok else f"chosen shorter than {min_chars} (call {state['calls']})"

    try:
        F.register_pair_filter(name, min_chosen)
        assert name in F.pair_filter_names()
        with pytest.raises(ValueError, match="missing required option"):
            F.parse_pair_filters([{"name": name}])
        specs = F.parse_pair_filters([{"name": name, "min_chars": 5}])
        result = F.apply_pair_filters([pair("a", chosen="long enough"), pair("b", chosen="shr")], specs)
        assert [p["id"] for p in result.kept] == ["a"]
        assert result.examples[0]["reason"] == "chosen shorter than 5 (call 2)"
        with pytest.raises(ValueError, match="already registered"):
            F.register_pair_filter(name, lambda p: (True, ""))
    finally:
        F.PAIR_FILTERS.remove(name)
