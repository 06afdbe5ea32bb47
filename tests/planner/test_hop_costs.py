"""Per-hop and codec costs: the committed measured figures, and how they enter a stage's time."""

from __future__ import annotations

import json
import random

import pytest

from seifer_iac.planner.cost import CostModel, HopCosts, hop_work_s, stage_cost_s
from seifer_iac.planner.hop_costs import FIGURES, codec_key, measured_hop_costs
from seifer_iac.planner.instance import build_instance
from seifer_iac.spec.model import Codec
from tests.planner.hard_instances import compute_bound_problem


def test_committed_figures_name_their_command_and_cover_every_codec():
    figures = json.loads(FIGURES.read_text())
    assert figures["command"].startswith("seifer bench hops")
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


def test_hop_work_is_zero_for_the_communication_objective():
    hops = HopCosts(1e-3, 2e-9, 3e-9)
    assert hop_work_s(CostModel(hops=hops, objective="communication"), 10**6, 10**6) == 0.0
    full = CostModel(hops=hops)
    assert hop_work_s(full, 10**6, 2 * 10**6) == pytest.approx(1e-3 + 2e-3 + 6e-3)
    assert stage_cost_s(full, 10**9, 1e9, 0, 0) == pytest.approx(1.0 + 1e-3)


def test_instance_stage_times_equal_the_scalar_ones_bit_for_bit():
    rng = random.Random(2)
    problem = compute_bound_problem(rng, 6, 4, CostModel(queue_depth=1, hops=HopCosts(2e-4, 3e-9, 5e-9)))
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
