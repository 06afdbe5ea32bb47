"""Per-hop and codec costs: the committed measured figures, and how they enter a stage's time."""

from __future__ import annotations

import json
import math
import random
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seifer_iac.planner.cost import CostModel, HopCosts, hop_work_s, stage_cost_s
from seifer_iac.planner.errors import PlanningError
from seifer_iac.planner.hop_costs import FIGURES, codec_key, hop_costs_from, measured_hop_costs
from seifer_iac.planner.instance import build_instance
from seifer_iac.planner.optimise import optimise
from seifer_iac.spec.model import Codec, PlannerOptions
from tests.planner.hard_instances import compute_bound_problem
from tests.planner.oracle import brute_force


def test_committed_figures_name_their_command_and_cover_every_codec():
    figures = json.loads(FIGURES.read_text())
    assert figures["command"].removeprefix("sudo ").startswith("seifer bench hops")
    assert set(figures["codecs"]) == {
        "none",
        "lz4",
        "zfp/rate",
        "zfp/precision",
        "zfp/tolerance",
        "zfp/reversible",
    }
    none, zfp = measured_hop_costs(Codec()), measured_hop_costs(Codec("zfp", mode="rate", rate=16))
    assert none.fixed_s > 0 and zfp.encode_s_per_byte > none.encode_s_per_byte
    assert codec_key(Codec("zfp", mode="tolerance", tolerance=1e-3)) == "zfp/tolerance"


def test_committed_figures_carry_the_stage_relay_and_the_measuring_hosts_speed():
    figures = json.loads(FIGURES.read_text())
    assert figures["host_flops_per_s"] > 1e9
    assert {"none", "curve"} <= set(figures["relay"])
    clear, curve = measured_hop_costs(Codec(), "none"), measured_hop_costs(Codec(), "curve")
    assert clear.host_flops_per_s == curve.host_flops_per_s == figures["host_flops_per_s"]
    # encryption costs CPU on both ends of every byte
    assert curve.decode_s_per_byte > clear.decode_s_per_byte
    assert curve.encode_s_per_byte > clear.encode_s_per_byte
    # a codec adds its own work beyond `none`'s to the relay's
    lz4 = measured_hop_costs(Codec("lz4"), "none")
    assert lz4.encode_s_per_byte >= clear.encode_s_per_byte


def test_the_relay_and_codec_figures_combine_as_documented():
    figures = {
        "host_flops_per_s": 1e11,
        "fixed_s": 9.0,
        "codecs": {
            "none": {"decode_s_per_byte": 1e-10, "encode_s_per_byte": 2e-10},
            "lz4": {"decode_s_per_byte": 5e-10, "encode_s_per_byte": 2e-9},
        },
        "relay": {"curve": {"fixed_s": 1e-3, "in_s_per_byte": 2e-9, "out_s_per_byte": 1.5e-9}},
    }
    hops = hop_costs_from(figures, Codec("lz4"), "curve")
    assert hops.fixed_s == 1e-3 and hops.host_flops_per_s == 1e11
    assert hops.decode_s_per_byte == pytest.approx(2e-9 + 4e-10)
    assert hops.encode_s_per_byte == pytest.approx(1.5e-9 + 1.8e-9)
    old = {key: value for key, value in figures.items() if key not in ("relay", "host_flops_per_s")}
    assert hop_costs_from(old, Codec("lz4"), "curve") == HopCosts(9.0, 5e-10, 2e-9)


def test_hop_work_is_zero_for_the_communication_objective():
    hops = HopCosts(1e-3, 2e-9, 3e-9)
    assert hop_work_s(CostModel(hops=hops, objective="communication"), 10**6, 10**6, 1e9) == 0.0
    full = CostModel(hops=hops)
    assert hop_work_s(full, 10**6, 2 * 10**6, 1e9) == pytest.approx(1e-3 + 2e-3 + 6e-3)
    assert stage_cost_s(full, 10**9, 1e9, 0, 0) == pytest.approx(1.0 + 1e-3)


def test_hop_work_scales_with_the_node_speed_relative_to_the_measuring_host():
    hops = HopCosts(1e-3, 2e-9, 3e-9, host_flops_per_s=100e9)
    full = CostModel(hops=hops)
    at_host = hop_work_s(full, 10**6, 10**6, 100e9)
    assert at_host == pytest.approx(1e-3 + 2e-3 + 3e-3)
    # a node 25x slower than the measuring host (a Pi-class 4 GFLOP/s) pays 25x the relay work
    assert hop_work_s(full, 10**6, 10**6, 4e9) == pytest.approx(25 * at_host)
    assert stage_cost_s(full, 4 * 10**9, 4e9, 10**6, 10**6) == pytest.approx(1.0 + 25 * at_host)
    assert HopCosts(1e-3).scale(4e9) == 1.0  # no measuring host's speed: unscaled, as before
    with pytest.raises(ValueError):
        HopCosts(host_flops_per_s=-1.0)


def test_instance_stage_times_equal_the_scalar_ones_bit_for_bit():
    rng = random.Random(2)
    hops = HopCosts(2e-4, 3e-9, 5e-9, host_flops_per_s=7.3e9)  # scaled differently on every node
    problem = compute_bound_problem(rng, 6, 4, CostModel(queue_depth=1, hops=hops))
    inst = build_instance(problem)
    checked = 0
    for w in range(inst.n_hosts):
        for i in range(6):
            for j in range(i, 6):
                blocks = problem.profile.blocks[i : j + 1]
                raw_in = problem.profile.input_bytes if i == 0 else problem.profile.blocks[i - 1].output_bytes
                expected = stage_cost_s(
                    problem.cost,
                    sum(b.flops for b in blocks),
                    inst.speeds[w],
                    raw_in,
                    blocks[-1].output_bytes,
                )
                if inst.stage_s[w, i, j] != float("inf"):
                    assert inst.stage_s[w, i, j] == expected
                    checked += 1
    assert checked > 0


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from([2e9, 1e11]), st.sampled_from(["switched", "shared"]))
def test_the_planner_finds_the_brute_force_optimum_with_hop_work_scaled_per_node(seed, host_flops, medium):
    rng = random.Random(seed)
    hops = HopCosts(rng.choice([1e-4, 2e-3]), 3e-9, 5e-9, host_flops_per_s=host_flops)
    problem = compute_bound_problem(
        rng, rng.randint(1, 6), rng.randint(1, 5), CostModel(queue_depth=1, medium=medium, hops=hops)
    )
    best, _, _ = brute_force(problem)
    plan_problem = replace(problem, options=PlannerOptions(time_budget_s=30.0))
    if math.isinf(best):
        with pytest.raises(PlanningError):
            optimise(plan_problem, with_backups=False)
        return
    plan = optimise(plan_problem, with_backups=False)
    assert plan.proven_optimal
    assert plan.bottleneck_s == pytest.approx(best, rel=1e-12)
    for stage in plan.stages:  # what the plan reports is the node-scaled work
        speed = problem.cluster.node(stage.node).flops_per_s
        assert stage.overhead_s == hop_work_s(
            problem.cost,
            problem.profile.input_bytes
            if stage.first_block == 0
            else problem.profile.blocks[stage.first_block - 1].output_bytes,
            problem.profile.blocks[stage.last_block].output_bytes,
            speed,
        )
