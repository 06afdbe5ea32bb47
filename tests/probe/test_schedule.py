"""The probe schedule: every requested pair exactly once, no node twice in a round, few rounds."""

from __future__ import annotations

import math
import time
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seifer_iac.probe.schedule import (
    PAYLOAD_SHARE,
    PairsError,
    all_pairs,
    estimate,
    link_timeout_s,
    parse_pairs,
    schedule,
    tournament,
    transfer_seconds,
)

names = st.lists(st.text("abcdefghij-", min_size=1, max_size=4), min_size=2, max_size=14, unique=True)


def _check_rounds(rounds, wanted) -> None:
    flat = [pair for r in rounds for pair in r]
    assert Counter(flat) == Counter(set(wanted))  # every requested pair, exactly once
    for r in rounds:
        nodes = [n for pair in r for n in pair]
        assert len(nodes) == len(set(nodes)), r  # no node twice in a round
        assert r  # no empty round


@given(names)
def test_all_pairs_fill_the_optimal_number_of_rounds(nodes) -> None:
    rounds = schedule(nodes)
    _check_rounds(rounds, all_pairs(nodes))
    n = len(nodes)
    assert len(all_pairs(nodes)) == n * (n - 1)
    # a round holds at most floor(n/2) transfers, so this many rounds is the least possible
    assert len(rounds) == (2 * (n - 1) if n % 2 == 0 else 2 * n)
    assert len(rounds) == math.ceil(n * (n - 1) / (n // 2))
    assert rounds == tournament(nodes)


@given(names.flatmap(lambda ns: st.tuples(st.just(ns), st.lists(st.sampled_from(all_pairs(ns)), min_size=1))))
def test_a_subset_is_scheduled_once_each_within_both_bounds(case) -> None:
    nodes, pairs = case
    rounds = schedule(nodes, pairs)
    _check_rounds(rounds, pairs)
    degree = max(Counter(n for pair in set(pairs) for n in pair).values())
    assert len(rounds) <= len(tournament(nodes))
    assert len(rounds) <= 2 * degree - 1
    assert len(rounds) >= degree  # a node in d transfers needs d rounds


def test_the_schedule_is_deterministic() -> None:
    nodes = ["gw", "pi-1", "pi-2", "pi-3", "pi-4"]
    assert schedule(nodes) == schedule(list(nodes))
    assert schedule(nodes, [("pi-2", "gw"), ("gw", "pi-1")]) == schedule(
        nodes, [("gw", "pi-1"), ("pi-2", "gw")]
    )


def test_disjoint_pairs_share_one_round() -> None:
    assert len(schedule(["a", "b", "c", "d"], [("a", "b"), ("c", "d")])) == 1
    assert len(schedule(["a", "b", "c", "d"], [("a", "b"), ("b", "a")])) == 2


def test_parse_pairs_keeps_order_drops_repeats_and_names_what_is_wrong() -> None:
    nodes = ["gw", "pi-1", "pi-2"]
    assert parse_pairs("pi-1:pi-2, gw:pi-1,pi-1:pi-2", nodes) == (("pi-1", "pi-2"), ("gw", "pi-1"))
    with pytest.raises(PairsError, match="no node 'pi-9'"):
        parse_pairs("gw:pi-9", nodes)
    with pytest.raises(PairsError, match="not FROM:TO"):
        parse_pairs("gw-pi-1", nodes)
    with pytest.raises(PairsError, match="to itself"):
        parse_pairs("gw:gw", nodes)
    with pytest.raises(PairsError, match="no pair given"):
        parse_pairs(" , ", nodes)


def test_the_estimate_sums_each_rounds_slowest_transfer_and_states_its_assumption() -> None:
    rates = {("a", "b"): 8e6, ("b", "a"): 4e6, ("c", "d"): 2e6}
    rounds = schedule(["a", "b", "c", "d"], [("a", "b"), ("c", "d"), ("b", "a"), ("d", "c")])
    found = estimate(rounds, lambda s, t: rates.get((s, t), 0.0), 1_000_000, 3, assumed_bits_per_s=1e6)
    slow = transfer_seconds(2e6, 1_000_000, 3)
    missing = transfer_seconds(1e6, 1_000_000, 3)
    assert slow == pytest.approx(1 + 3 * 8e6 / (2e6 * PAYLOAD_SHARE))
    assert found.rounds == 2 and found.transfers == 4
    assert found.seconds == pytest.approx(slow + missing)  # round 1: a->b and c->d; round 2: b->a and d->c
    assert found.assumed == (("d", "c"),)
    assert "1 pairs have no bandwidth in the spec, counted at 1 Mbit/s" in found.describe()
    assert "4 transfers in 2 rounds" in found.describe()


def test_a_huge_pairs_text_is_parsed_in_linear_time_and_errors_stay_one_short_line() -> None:
    nodes = [f"n{i}" for i in range(100)]
    every = all_pairs(nodes)
    text = ",".join([",".join(f"{a}:{b}" for a, b in every)] * 20)  # 198,000 items, 1.5 MB
    started = time.perf_counter()
    assert parse_pairs(text, nodes) == every
    assert time.perf_counter() - started < 5  # a list's membership test took 20 s here
    for bad in ("x" * 1_000_000 + ":n1", "n1:" + "y" * 1_000_000, "z" * 1_000_000):
        with pytest.raises(PairsError) as caught:
            parse_pairs(bad, nodes)
        assert len(str(caught.value)) < 400 and "\n" not in str(caught.value)


def test_a_transfer_may_take_five_times_its_time_at_the_rate_and_a_missing_link_30_s() -> None:
    assert link_timeout_s(8e6, 1_000_000) == pytest.approx(10 + 5 * 8e6 / (8e6 * 0.9))
    assert link_timeout_s(0.0, 1_000_000) == 30.0
