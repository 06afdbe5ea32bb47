"""The optimiser: proven optimum against brute force, constraints, determinism, errors that say the fix."""

from __future__ import annotations

import math
import random
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seifer_iac.planner.errors import PlanningError
from seifer_iac.planner.evaluate import stage_memory
from seifer_iac.planner.optimise import optimise
from seifer_iac.spec.model import Cluster, Link, Node
from tests.planner.helpers import MIB, make_problem, make_profile, random_cluster, random_profile
from tests.planner.oracle import brute_force

SMALL = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def small_problems(draw):
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    n_blocks = draw(st.integers(1, 6))
    n_hosts = draw(st.integers(1, 4))
    objective = draw(st.sampled_from(["full", "communication"]))
    sparse = draw(st.sampled_from([0.0, 0.0, 0.3]))
    memory = draw(st.sampled_from([(20_000, 80_000), (40_000, 200_000), (150_000, 400_000)]))
    max_stages = draw(st.sampled_from([None, None, 2]))
    profile = random_profile(rng, n_blocks)
    cluster = random_cluster(rng, n_hosts, memory=memory, sparse=sparse)
    return make_problem(profile, cluster, objective=objective, max_stages=max_stages)


@SMALL
@given(small_problems())
def test_equals_brute_force_optimum(problem):
    best_b, best_lat, _ = brute_force(problem)
    if math.isinf(best_b):
        with pytest.raises(PlanningError):
            optimise(problem)
        return
    plan = optimise(problem)
    assert plan.proven_optimal
    assert plan.bottleneck_s == pytest.approx(best_b, rel=1e-9)
    assert plan.latency_s == pytest.approx(best_lat, rel=1e-9)
    assert plan.gap == 0.0


@SMALL
@given(small_problems())
def test_every_stage_fits_and_is_non_empty(problem):
    try:
        plan = optimise(problem)
    except PlanningError:
        return
    expected_first = 0
    nodes = [s.node for s in plan.stages]
    assert len(set(nodes)) == len(nodes)
    for stage in plan.stages:
        assert stage.first_block == expected_first
        assert stage.last_block >= stage.first_block
        assert stage.memory_bytes == stage_memory(problem, stage.first_block, stage.last_block)
        assert stage.memory_bytes <= problem.cluster.node(stage.node).usable_memory_bytes
        expected_first = stage.last_block + 1
    assert expected_first == len(problem.profile.blocks)
    if problem.options.max_stages:
        assert len(plan.stages) <= problem.options.max_stages


@SMALL
@given(small_problems())
def test_identical_input_gives_identical_plan(problem):
    try:
        first = optimise(problem)
    except PlanningError as error:
        with pytest.raises(PlanningError, match=re.escape(str(error))):
            optimise(problem)
        return
    second = optimise(problem)
    assert first == second
    assert first.plan_hash == second.plan_hash
    assert first.to_dict() == second.to_dict()


def test_medium_instances_are_proven_and_never_beaten_by_relaxation():
    rng = random.Random(7)
    for _ in range(4):
        problem = make_problem(random_profile(rng, 25), random_cluster(rng, 8))
        plan = optimise(problem)
        assert plan.proven_optimal
        assert plan.lower_bound_s == plan.bottleneck_s
        assert plan.stages and all(s.backups is not None for s in plan.stages)


def _line_cluster(memories: dict[str, int], schedulable_dispatcher: bool = False) -> Cluster:
    nodes = [Node(name=n, memory_bytes=m, flops_per_s=1e9) for n, m in memories.items()]
    nodes.append(Node(name="disp", memory_bytes=10**9, flops_per_s=1e9, schedulable=schedulable_dispatcher))
    return Cluster(nodes=tuple(nodes), default_bits_per_s=10e6)


def test_block_too_big_names_block_node_and_figures():
    profile = make_profile([(10 * MIB, 1000, 1000, 1), (40 * MIB, 1000, 1000, 1)])
    problem = make_problem(profile, _line_cluster({"pi-1": 16 * MIB, "pi-3": 32 * MIB}))
    with pytest.raises(PlanningError) as info:
        optimise(problem)
    message = str(info.value)
    assert "block toy_b1 alone needs 40.0 MiB" in message
    assert "largest node (pi-3) has 32.0 MiB" in message
    assert "add a node with >= 41 MiB or shrink the model" in message


def test_too_few_nodes_says_how_many_stages():
    profile = make_profile([(10 * MIB, 1000, 1000, 1)] * 4)
    problem = make_problem(profile, _line_cluster({"a": 12 * MIB, "b": 12 * MIB}))
    with pytest.raises(PlanningError, match=r"at least 4 stages.*only 2 nodes are schedulable"):
        optimise(problem)


def test_max_stages_limit_is_named():
    profile = make_profile([(10 * MIB, 1000, 1000, 1)] * 3)
    problem = make_problem(profile, _line_cluster({n: 12 * MIB for n in "abcd"}), max_stages=2)
    with pytest.raises(PlanningError, match="maxStages is 2: raise it to >= 3"):
        optimise(problem)


def test_no_schedulable_node():
    profile = make_profile([(1000, 1000, 1000, 1)])
    cluster = Cluster(nodes=(Node(name="disp", memory_bytes=10**9, flops_per_s=1.0, schedulable=False),))
    with pytest.raises(PlanningError, match="no schedulable node"):
        optimise(make_problem(profile, cluster))


def test_missing_dispatcher_link_is_named():
    profile = make_profile([(1000, 1000, 1000, 1)])
    nodes = (Node("a", 10**8, 1e9), Node("disp", 10**9, 1e9, schedulable=False))
    cluster = Cluster(nodes=nodes, links=(Link("a", "disp", 1e6),))
    with pytest.raises(PlanningError, match=r"dispatcher disp has no link to any node .*\(a\)"):
        optimise(make_problem(profile, cluster))


def test_stage_on_the_dispatcher_node_costs_no_link():
    profile = make_profile([(1000, 1000, 1000, 0)] * 3)
    problem = make_problem(profile, _line_cluster({"a": 10**8}, schedulable_dispatcher=True), "communication")
    plan = optimise(problem)
    assert [s.node for s in plan.stages] == ["disp"]
    assert plan.bottleneck_s == 0.0 and plan.input_link_s == 0.0


def test_communication_objective_ignores_compute():
    profile = make_profile([(1000, 1000, 1000, 10**12)] * 2)
    cluster = _line_cluster({"a": 10**8, "b": 10**8})
    full = optimise(make_problem(profile, cluster, "full"))
    comm = optimise(make_problem(profile, cluster, "communication"))
    assert full.bottleneck.startswith("stage") and full.bottleneck_s > 100
    assert comm.bottleneck.startswith("link") and comm.bottleneck_s < 1


def test_large_cluster_reports_a_known_gap():
    rng = random.Random(3)
    problem = make_problem(random_profile(rng, 30), random_cluster(rng, 20), time_budget_s=0.5)
    plan = optimise(problem)
    assert plan.lower_bound_s <= plan.bottleneck_s
    if plan.proven_optimal:
        assert plan.gap == 0.0
    else:
        assert plan.gap == pytest.approx(plan.bottleneck_s / plan.lower_bound_s - 1)


def test_budgeted_search_is_deterministic():
    """Budgets count visited states, not seconds: a cut-short search gives the same plan every time."""
    rng = random.Random(14)
    problem = make_problem(random_profile(rng, 40), random_cluster(rng, 10), time_budget_s=0.005)
    first, second = optimise(problem), optimise(problem)
    assert not first.proven_optimal and first.gap > 0
    assert first == second


def test_cut_short_search_is_never_worse_than_the_heuristics():
    from seifer_iac.planner.baselines import greedy, two_phase
    from seifer_iac.planner.evaluate import assess
    from seifer_iac.planner.instance import build_instance

    rng = random.Random(4)
    problem = make_problem(random_profile(rng, 40), random_cluster(rng, 16), time_budget_s=0.2)
    plan = optimise(problem, with_backups=False)
    inst = build_instance(problem)
    for placement in (greedy(problem, inst), two_phase(problem, inst, 0.04, exact=False)):
        if placement is not None:
            assert plan.bottleneck_s <= assess(problem, placement).bottleneck_s
