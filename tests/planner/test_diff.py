"""The diff against the lock: which stages move (node, blocks), the bottleneck, why; stale or not."""

from __future__ import annotations

from seifer_iac.planner.diff import StageChange, diff
from seifer_iac.planner.lock import lock_from_plan
from seifer_iac.planner.optimise import optimise
from seifer_iac.planner.stability import Decision
from tests.planner.helpers import make_problem
from tests.planner.test_stability import PROFILE, chain_cluster


def test_descriptions():
    assert StageChange(2, (3, 4, "a"), (3, 5, "b")).describe() == "stage 2: node a -> b, blocks 3..4 -> 3..5"
    assert StageChange(3, None, (5, 5, "c")).describe() == "stage 3: new on c (blocks 5..5)"
    assert StageChange(3, (5, 5, "c"), None).describe() == "stage 3: removed from c (blocks 5..5)"


def test_same_plan_is_not_stale():
    plan = optimise(make_problem(PROFILE, chain_cluster()))
    result = diff(lock_from_plan(plan), Decision(plan, True, "kept"))
    assert not result.moves and not result.stale
    assert result.lines()[0] == "no stage moves"
    data = result.to_dict()
    assert data["moves"] == [] and data["stale"] is False and data["reason"] == "kept"


def test_no_lock_everything_is_new():
    plan = optimise(make_problem(PROFILE, chain_cluster()))
    result = diff(None, Decision(plan, False, "no plan lock yet"))
    assert result.stale and len(result.changes) == len(plan.stages)
    assert "bottleneck none -> " in result.lines()[-2]
