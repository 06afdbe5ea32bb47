"""Plan lock file: path beside the spec, JSON round trip, refusing what is not a lock."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from seifer_iac.planner.lock import PlanLock, lock_from_dict, lock_from_plan, lock_path, read_lock, write_lock
from seifer_iac.planner.optimise import optimise
from tests.planner.helpers import make_problem
from tests.planner.test_stability import PROFILE, chain_cluster


def test_lock_path_sits_beside_the_spec():
    assert lock_path("stacks/dev.pipeline.yaml") == Path("stacks/dev.pipeline.lock.json")
    assert lock_path("a/b.yml") == Path("a/b.lock.json")
    assert lock_path("spec.json") == Path("spec.lock.json")


def test_round_trip(tmp_path):
    plan = optimise(make_problem(PROFILE, chain_cluster()))
    path = write_lock(tmp_path / "x.lock.json", plan)
    lock = read_lock(path)
    assert lock == lock_from_plan(plan)
    assert lock.placement == plan.placement and lock.plan_hash == plan.plan_hash
    assert read_lock(tmp_path / "missing.json") is None
    with pytest.raises(ValueError, match="not a plan lock"):
        lock_from_dict({"format": "other"})
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError):
        read_lock(tmp_path / "bad.json")
    assert json.loads(path.read_text())["format"] == "seifer.plan-lock/v1"


def test_lock_is_a_value():
    lock = lock_from_plan(optimise(make_problem(PROFILE, chain_cluster())))
    assert isinstance(lock, PlanLock) and replace(lock) == lock
