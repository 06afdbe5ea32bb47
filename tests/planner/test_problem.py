"""The Problem value: hosts sorted by name, stage limit, nodes taken away."""

from __future__ import annotations

from seifer_iac.planner.problem import Problem
from seifer_iac.spec.model import Cluster, Node
from tests.planner.helpers import make_profile


def test_hosts_sorted_and_limited():
    cluster = Cluster(
        nodes=(Node("b", 1, 1.0), Node("a", 1, 1.0), Node("c", 1, 1.0, schedulable=False)),
        default_bits_per_s=1.0,
    )
    problem = Problem(make_profile([(1, 1, 1, 1)]), cluster, "c")
    assert [h.name for h in problem.hosts] == ["a", "b"]
    assert problem.max_stages == 2
    assert [h.name for h in problem.without(["a"]).hosts] == ["b"]
