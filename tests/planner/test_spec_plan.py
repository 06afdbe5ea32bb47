"""plan_spec: the deployment side's call, with the lock beside the spec honoured."""

from __future__ import annotations

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
