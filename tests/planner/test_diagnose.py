"""Infeasibility found only by searching still gets a one-line message with the fix."""

from __future__ import annotations

import pytest

from seifer_iac.planner.errors import PlanningError
from seifer_iac.planner.optimise import optimise
from seifer_iac.spec.model import Cluster, Link, Node
from tests.planner.helpers import MIB, make_problem, make_profile


def test_distinct_node_rule_is_explained():
    profile = make_profile([(10 * MIB, 1000, 1000, 1), (10 * MIB, 1000, 1000, 1)])
    cluster = Cluster(
        nodes=(
            Node("big", 12 * MIB, 1e9),
            Node("small", 1 * MIB, 1e9),
            Node("disp", 10**9, 1e9, schedulable=False),
        ),
        default_bits_per_s=1e6,
    )
    with pytest.raises(PlanningError, match=r"no chain of distinct nodes .* at least 2 stages; 2 nodes"):
        optimise(make_problem(profile, cluster))


def test_missing_return_link_is_explained():
    profile = make_profile([(1000, 1000, 1000, 1)])
    nodes = (Node("a", 10**8, 1e9), Node("disp", 10**9, 1e9, schedulable=False))
    cluster = Cluster(nodes=nodes, links=(Link("disp", "a", 1e6),))
    with pytest.raises(PlanningError, match="link back to dispatcher disp"):
        optimise(make_problem(profile, cluster))


def test_message_is_one_line():
    profile = make_profile([(50 * MIB, 1000, 1000, 1)])
    cluster = Cluster(
        nodes=(Node("a", MIB, 1e9), Node("disp", 10**9, 1e9, schedulable=False)), default_bits_per_s=1.0
    )
    with pytest.raises(PlanningError) as info:
        optimise(make_problem(profile, cluster))
    assert "\n" not in str(info.value)


def test_block_that_only_fits_with_its_neighbour_is_not_refused():
    """Memory is not monotone: block 0's big output needs no buffer once block 1 (tiny output) joins it."""
    profile = make_profile([(1000, 400_000, 1000, 1), (1000, 100, 1000, 1)], input_bytes=100)
    cluster = Cluster(
        nodes=(Node("a", 500_000, 1e9), Node("disp", 10**9, 1e9, schedulable=False)), default_bits_per_s=1e6
    )
    plan = optimise(make_problem(profile, cluster))  # queue_depth 1: block 0 alone needs > 800 kB
    assert plan.placement == ((0, 1, "a"),)
