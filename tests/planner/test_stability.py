"""Stability rule: jitter keeps the lock, a lost node moves only its stage, a big gain re-plans."""

from __future__ import annotations

from seifer_iac.planner.diff import diff
from seifer_iac.planner.lock import lock_from_plan
from seifer_iac.planner.optimise import optimise
from seifer_iac.planner.stability import decide, repair
from seifer_iac.spec.model import Cluster, Link, Node
from tests.planner.helpers import MIB, make_problem, make_profile


def chain_cluster(scale: dict[str, float] | None = None, nodes: int = 5) -> Cluster:
    names = [f"n{i}" for i in range(nodes)]
    hosts = [Node(name=n, memory_bytes=64 * MIB, flops_per_s=1e10) for n in names]
    hosts.append(Node(name="disp", memory_bytes=10**10, flops_per_s=1e9, schedulable=False))
    links = []
    everyone = [*names, "disp"]
    for i, a in enumerate(everyone):
        for j, b in enumerate(everyone):
            if a != b:
                bw = (10 + 3 * ((i * 7 + j * 3) % 11)) * 1e6
                for node, factor in (scale or {}).items():
                    if node in (a, b):
                        bw *= factor
                links.append(Link(a, b, bw))
    return Cluster(nodes=tuple(hosts), links=tuple(links))


PROFILE = make_profile([(20 * MIB, 400_000, 800_000, 10**8)] * 6, input_bytes=600_000)


def test_jitter_keeps_the_locked_placement():
    before = optimise(make_problem(PROFILE, chain_cluster()))
    lock = lock_from_plan(before)
    used = before.stages[0].node
    problem = make_problem(PROFILE, chain_cluster({used: 0.99}))
    decision = decide(problem, optimise(problem), lock)
    assert decision.kept and decision.plan.placement == lock.placement
    result = diff(lock, decision)
    assert not result.moves and not result.stale


def test_losing_a_node_moves_only_its_stage_when_that_is_good_enough():
    uniform = Cluster(
        nodes=(
            *tuple(Node(name=f"n{i}", memory_bytes=64 * MIB, flops_per_s=1e10) for i in range(5)),
            Node(name="disp", memory_bytes=10**10, flops_per_s=1e9, schedulable=False),
        ),
        default_bits_per_s=20e6,
    )
    problem = make_problem(PROFILE, uniform)
    lock = lock_from_plan(optimise(problem))
    gone = lock.stages[1].node
    smaller = problem.without({gone})
    decision = decide(smaller, optimise(smaller), lock)
    changes = diff(lock, decision).changes
    assert [c.index for c in changes] == [2]
    old, new = changes[0].old, changes[0].new
    assert (old.first_block, old.last_block) == (new.first_block, new.last_block)
    assert new.node not in {s.node for s in lock.stages}
    assert "not in the cluster" in decision.reason and "moved only stage 2" in decision.reason
    assert diff(lock, decision).stale
    lines = diff(lock, decision).lines()
    assert lines[0].startswith(f"stage 2: node {gone} -> ") and lines[-1].startswith("why: ")


def test_much_better_optimum_moves_and_says_why():
    before = optimise(make_problem(PROFILE, chain_cluster()))
    lock = lock_from_plan(before)
    used = {s.node for s in before.stages}
    problem = make_problem(PROFILE, chain_cluster(dict.fromkeys(used, 0.3)))
    decision = decide(problem, optimise(problem), lock)
    assert not decision.kept
    assert "faster than the locked placement" in decision.reason or "re-planned" in decision.reason


def test_changed_model_blocks_replan():
    plan = optimise(make_problem(PROFILE, chain_cluster()))
    lock = lock_from_plan(plan)
    other = make_profile([(20 * MIB, 400_000, 800_000, 10**8)] * 6, name="other", input_bytes=600_000)
    problem = make_problem(other, chain_cluster())
    decision = decide(problem, optimise(problem), lock)
    assert "blocks changed" in decision.reason


def test_no_lock_and_repair_edge_cases():
    problem = make_problem(PROFILE, chain_cluster())
    optimum = optimise(problem)
    assert decide(problem, optimum, None).reason == "no plan lock yet"
    assert repair(problem, optimum.placement) is None  # nothing broken
    assert diff(None, decide(problem, optimum, None)).stale
