"""Plan lock file: path beside the spec, JSON round trip, refusing what is not a lock."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from seifer_iac.planner.lock import (
    LockError,
    PlanLock,
    lock_from_dict,
    lock_from_plan,
    lock_path,
    lock_problem,
    read_lock,
    write_lock,
)
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
    with pytest.raises(LockError, match=r'field format: "other" is not seifer\.plan-lock/v2'):
        lock_from_dict({"format": "other"})
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(LockError, match=r"bad\.json: not a valid plan lock"):
        read_lock(tmp_path / "bad.json")
    data = json.loads(path.read_text())
    assert data["format"] == "seifer.plan-lock/v2"
    assert [s["backups"] for s in data["stages"]] == [list(s.backups) for s in plan.stages]
    assert [s["memory_bytes"] for s in data["stages"]] == [s.memory_bytes for s in plan.stages]


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d["stages"][0].pop("backups"), "field stages[0]: 'backups' is a required property"),
        (lambda d: d["stages"][0].update(memory_bytes="1Gi"), "field stages[0].memory_bytes: '1Gi'"),
        (lambda d: d.update(model_hash="xyz"), "field model_hash: 'xyz' does not match"),
        (lambda d: d["dispatcher"].update(node=None), "field dispatcher.node: None is not of type"),
        (lambda d: d.update(extra=1), "field (top level): Additional properties"),
        (lambda d: d["stages"].reverse(), "field stages[0]: numbered 1.. in chain order"),
    ],
)
def test_a_wrong_lock_names_its_field(tmp_path, edit, field):
    plan = optimise(make_problem(PROFILE, chain_cluster()))
    data = lock_from_plan(plan).to_dict()
    edit(data)
    path = tmp_path / "x.lock.json"
    path.write_text(json.dumps(data))
    with pytest.raises(LockError) as error:
        read_lock(path)
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"{path}: not a valid plan lock: {field}")


def test_the_lock_schema_accepts_what_the_planner_writes():
    plan = optimise(make_problem(PROFILE, chain_cluster()))
    assert lock_problem(json.loads(lock_from_plan(plan).to_json())) is None


def test_lock_is_a_value():
    lock = lock_from_plan(optimise(make_problem(PROFILE, chain_cluster())))
    assert isinstance(lock, PlanLock) and replace(lock) == lock
