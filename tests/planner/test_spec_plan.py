"""plan_spec: the deployment side's call, with the lock beside the spec honoured."""

from __future__ import annotations

import pytest

from seifer_iac.planner import plan_spec
from seifer_iac.planner.lock import lock_path, write_lock
from seifer_iac.profile import load_profile
from seifer_iac.spec import load_spec
from tests.planner.conftest import spec_document


def test_plan_spec_uses_the_lock(spec_dir):
    path = spec_dir(spec_document())
    spec = load_spec(path)
    profile = load_profile(spec.model.profile)
    plan = plan_spec(spec, profile)
    assert plan.pipeline == "toy-dev" and plan.model_version == "1.0.0"
    # a lock with another (still good) placement is kept
    swapped = tuple(reversed([s.node for s in plan.stages]))
    from dataclasses import replace

    other = replace(plan, stages=tuple(replace(s, node=n) for s, n in zip(plan.stages, swapped, strict=True)))
    write_lock(lock_path(path), other)
    assert plan_spec(spec, profile).placement == other.placement
    assert plan_spec(spec, profile, use_lock=False).placement == plan.placement


def _plan(spec_dir, document, **kwargs):
    spec = load_spec(spec_dir(document))
    return spec, plan_spec(spec, load_profile(spec.model.profile), **kwargs)


def _used(plan) -> set[str]:
    return {s.node for s in plan.stages} | {b for s in plan.stages for b in s.backups}


def test_nodes_the_image_is_not_built_for_are_neither_placed_nor_backups(spec_dir):
    document = spec_document()
    document["cluster"]["nodes"][1].update(arch="arm", speed=50.0, memory="1Gi")  # pi-1: fast, 32-bit
    _, plan = _plan(spec_dir, document)
    assert "pi-1" not in _used(plan)
    document["runtime"]["platforms"] = ["linux/amd64", "linux/arm64", "linux/arm"]
    _, plan = _plan(spec_dir, document)
    assert "pi-1" in {s.node for s in plan.stages}  # the same node, allowed: the rule is what kept it off


def test_a_stage_beside_the_dispatcher_must_fit_with_it(spec_dir):
    document = spec_document()
    gateway = document["cluster"]["nodes"][0]
    gateway.update(schedulable=True, speed=50.0, memory="2Gi")  # fast and no link to cross: first choice
    spec, plan = _plan(spec_dir, document)
    on_gateway = [s for s in plan.stages if s.node == "gateway"]
    assert on_gateway
    from seifer_iac.planner.problem import problem_from_spec

    share = problem_from_spec(spec, load_profile(spec.model.profile)).dispatcher_bytes
    assert share > 64 * 2**20  # the dispatcher's measured base and its in-flight buffers
    assert on_gateway[0].memory_available_bytes == 2 * 2**30 - share
    # room for the dispatcher or for a stage, not for both: the gateway is never used
    gateway["memory"] = f"{(share + 10 * 2**20) // 2**20}Mi"
    _, plan = _plan(spec_dir, document)
    assert "gateway" not in _used(plan)


def test_a_lock_over_the_weight_budget_is_not_kept(spec_dir):
    document = spec_document()
    for node in document["cluster"]["nodes"]:
        node["memory"] = "1Gi"
    document["planner"]["objective"] = "communication"
    path = spec_dir(document)
    spec = load_spec(path)
    profile = load_profile(spec.model.profile)
    write_lock(lock_path(path), plan_spec(spec, profile))  # a budget of 64 MiB: two stages of 60 MiB
    assert len(plan_spec(spec, profile).stages) == 2
    document["weights"] = {"maxTotal": "40Mi"}
    spec, plan = _plan(spec_dir, document)
    assert len(plan.stages) == 3 and max(s.param_bytes for s in plan.stages) <= 40 * 2**20


def test_a_corrupt_lock_is_a_planning_error_for_every_caller(spec_dir):
    from seifer_iac.planner import PlanningError
    from seifer_iac.release import RELEASE_ERRORS

    path = spec_dir(spec_document())
    lock_path(path).write_text("[1, 2]")
    spec = load_spec(path)
    with pytest.raises(RELEASE_ERRORS) as error:  # render, up and the Pulumi program catch these
        plan_spec(spec, load_profile(spec.model.profile))
    assert isinstance(error.value, PlanningError)
    assert str(error.value).startswith(f"{lock_path(path)}: not a valid plan lock: field (top level): ")
