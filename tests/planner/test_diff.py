"""The diff against the lock: which stages move (node, blocks), the bottleneck, why; stale or not."""

from __future__ import annotations

from dataclasses import replace

from seifer_iac.planner.diff import StageChange, diff
from seifer_iac.planner.lock import LockedStage, lock_from_plan
from seifer_iac.planner.optimise import optimise
from seifer_iac.planner.stability import Decision
from tests.planner.helpers import make_problem
from tests.planner.test_stability import PROFILE, chain_cluster


def test_descriptions():
    a = LockedStage(2, 3, 4, "l3", "l4", "a", ("x", "y"), 100 * 2**20)
    b = replace(a, last_block=5, node="b")
    assert StageChange(2, a, b).describe() == "stage 2: node a -> b, blocks 3..4 -> 3..5"
    c = replace(a, backups=("y",), memory_bytes=120 * 2**20)
    assert StageChange(2, a, c).describe() == "stage 2: backups [x, y] -> [y], memory 100.0 -> 120.0 MiB"
    assert not StageChange(2, a, c).moves and StageChange(2, a, b).moves
    assert StageChange(3, None, a).describe() == "stage 3: new on a (blocks 3..4)"
    assert StageChange(3, a, None).describe() == "stage 3: removed from a (blocks 3..4)"


def test_same_plan_is_not_stale():
    plan = optimise(make_problem(PROFILE, chain_cluster()))
    result = diff(lock_from_plan(plan), Decision(plan, True, "kept"))
    assert not result.moves and not result.stale
    assert result.lines()[0] == "nothing rolls"
    data = result.to_dict()
    assert data["stages"] == [] and data["stale"] is False and data["reason"] == "kept"


def test_image_model_and_dispatcher_changes_roll_and_show():
    plan = optimise(make_problem(PROFILE, chain_cluster()))
    lock = replace(lock_from_plan(plan), image="old:1", model_version="0", dispatcher_memory_bytes=1)
    result = diff(lock, Decision(replace(plan, image="new:2"), True, "kept"))
    assert result.stale and not result.moves and not result.changes
    assert result.lines()[:3] == [
        f"model version 0 -> {plan.model_version}: every pod rolls",
        "image old:1 -> new:2: every pod rolls",
        f"dispatcher: memory 0.0 -> {plan.dispatcher_memory_bytes / 2**20:.1f} MiB",
    ]


def test_jitter_in_the_figures_is_not_stale():
    plan = optimise(make_problem(PROFILE, chain_cluster()))
    lock = replace(lock_from_plan(plan), bottleneck_s=plan.bottleneck_s * 1.01, plan_hash="f" * 16)
    assert not diff(lock, Decision(plan, True, "kept")).stale


def test_no_lock_everything_is_new():
    plan = optimise(make_problem(PROFILE, chain_cluster()))
    result = diff(None, Decision(plan, False, "no plan lock yet"))
    assert result.stale and len(result.changes) == len(plan.stages)
    assert "bottleneck none -> " in result.lines()[-2]
