"""planner.onNodeLoss on both stacks and a 7-node spec: `repair` moves only the lost node's stage while
that plan is within repairMargin of the optimum (and re-plans otherwise), `replan` takes the optimum; the
diff says which rule did what."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from seifer_iac.planner.diff import diff
from seifer_iac.planner.evaluate import assess
from seifer_iac.planner.lock import lock_from_plan
from seifer_iac.planner.optimise import optimise
from seifer_iac.planner.problem import problem_from_spec
from seifer_iac.planner.spec_plan import plan_spec
from seifer_iac.planner.stability import decide
from seifer_iac.profile import load_profile
from seifer_iac.spec import load_spec, spec_from_data
from tests.planner.helpers import MIB, make_profile

ROOT = Path(__file__).resolve().parents[2]
PROFILES = ROOT / "seifer_iac" / "bench" / "profiles"
STACKS = [("edge-lab", "ResNet50"), ("dev", "MobileNetV2")]


def seven_nodes() -> dict:
    nodes = [{"name": "gw", "memory": "4Gi", "speed": 1.0, "schedulable": False}]
    nodes += [{"name": f"n{i}", "memory": "192Mi", "speed": 1.0 + 0.25 * (i % 3)} for i in range(1, 8)]
    links = [
        {"from": a["name"], "to": b["name"], "bandwidth": f"{20 + (i * 7 + j * 3) % 11 * 4}Mbps"}
        for i, a in enumerate(nodes)
        for j, b in enumerate(nodes)
        if i < j
    ]
    return {
        "apiVersion": "seifer.dev/v1alpha1",
        "kind": "Pipeline",
        "metadata": {"name": "seven"},
        "model": {"application": "MobileNetV2", "version": "1"},  # planned with a synthetic profile
        "cluster": {"nodes": nodes, "bandwidth": {"links": links}},
        "dispatcher": {"node": "gw"},
        "runtime": {"image": "ghcr.io/seifer-iac/runtime:test", "codec": "none", "queueDepth": 1},
        "planner": {"objective": "full", "referenceSpeed": "2GFLOPS"},
    }


def seven_node_case():
    profile = make_profile([(20 * MIB, 200_000, 400_000, 3 * 10**8)] * 8, name="seven", input_bytes=300_000)
    return spec_from_data(seven_nodes(), base_dir=ROOT), profile


def stack_case(stack: str, model: str):
    return load_spec(ROOT / "stacks" / f"{stack}.pipeline.yaml"), load_profile(PROFILES / f"{model}.json")


CASES = {
    "edge-lab": lambda: stack_case(*STACKS[0]),
    "dev": lambda: stack_case(*STACKS[1]),
    "7-node": seven_node_case,
}


def losses(spec, profile, rule: str, margin: float = 0.10):
    """(lost node, locked plan, decision) for every node the optimum uses, under the rule."""
    spec = replace(spec, planner=replace(spec.planner, on_node_loss=rule, repair_margin=margin))
    plan = optimise(problem_from_spec(spec, profile))
    lock = lock_from_plan(plan)
    for stage in plan.stages:
        problem = problem_from_spec(spec, profile, [stage.node])
        optimum = optimise(problem)
        yield stage, lock, optimum, decide(problem, optimum, lock)


@pytest.mark.parametrize("case", sorted(CASES))
def test_repair_moves_only_the_lost_stage_within_the_margin_else_replans(case):
    spec, profile = CASES[case]()
    repaired = 0
    for lost, lock, optimum, decision in losses(spec, profile, "repair"):
        changes = diff(lock, decision)
        moved = [c for c in changes.changes if c.moves]
        slower = decision.plan.bottleneck_s / optimum.bottleneck_s - 1.0
        assert slower <= 0.10 + 1e-12
        assert assess(problem_from_spec(spec, profile, [lost.node]), decision.plan.placement).feasible
        if "moved only" in decision.reason:
            repaired += 1
            assert [c.index for c in moved] == [lost.index]
            assert (moved[0].new.first_block, moved[0].new.last_block) == (lost.first_block, lost.last_block)
            assert f"moved only stage {lost.index} (planner.onNodeLoss: repair;" in changes.lines()[-1]
        else:
            assert decision.plan.placement == optimum.placement and "re-planned" in decision.reason
    assert repaired >= 1


@pytest.mark.parametrize("case", sorted(CASES))
def test_replan_takes_the_optimum_and_says_so(case):
    spec, profile = CASES[case]()
    for _, _, optimum, decision in losses(spec, profile, "replan"):
        assert decision.plan.placement == optimum.placement
        assert decision.reason.endswith("re-planned (planner.onNodeLoss: replan)")


def test_a_repair_beyond_the_margin_replans_and_says_by_how_much():
    spec, profile = seven_node_case()
    outcomes = [d for *_, d in losses(spec, profile, "repair", margin=0.0)]
    assert any("slower than the optimum (repairMargin 0%), so re-planned" in d.reason for d in outcomes)


def test_edge_lab_on_boards_that_hold_the_whole_model_still_plans_within_the_weight_budget():
    spec, profile = stack_case(*STACKS[0])
    roomy = tuple(replace(n, memory_bytes=2**31) if n.schedulable else n for n in spec.cluster.nodes)
    spec = replace(spec, cluster=replace(spec.cluster, nodes=roomy), source_path=None)
    budget = spec.weights.max_configmap_total_bytes
    unlimited = replace(spec, weights=replace(spec.weights, max_configmap_total_bytes=2**40))
    assert len(plan_spec(unlimited, profile, without=["rpi-2"]).stages) == 1  # what render would refuse
    plan = plan_spec(spec, profile, without=["rpi-2"])
    assert len(plan.stages) >= 2 and all(s.param_bytes <= budget for s in plan.stages)
