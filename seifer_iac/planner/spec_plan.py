"""The one call the deployment side makes: spec + profile -> the Plan to deploy (lock rule applied)."""

from __future__ import annotations

from collections.abc import Iterable

from seifer_iac.planner.lock import lock_path, read_lock
from seifer_iac.planner.optimise import optimise
from seifer_iac.planner.plan import Plan
from seifer_iac.planner.problem import problem_from_spec
from seifer_iac.planner.stability import Decision, decide
from seifer_iac.profile import Profile
from seifer_iac.spec.model import Spec


def decide_for_spec(
    spec: Spec, profile: Profile, without: Iterable[str] = (), use_lock: bool = True
) -> Decision:
    """Optimise, then apply the stability rule against the lock beside the spec (if any)."""
    problem = problem_from_spec(spec, profile, without)
    optimum = optimise(problem)
    lock = read_lock(lock_path(spec.source_path)) if use_lock and spec.source_path else None
    return decide(problem, optimum, lock)


def plan_spec(spec: Spec, profile: Profile, without: Iterable[str] = (), use_lock: bool = True) -> Plan:
    """The placement to deploy: the locked one while it is within the stability margin, else the optimum."""
    return decide_for_spec(spec, profile, without, use_lock).plan
