"""The optimiser: the placement with the least bottleneck (then latency, fewer stages, node names).

The bottleneck is proven optimal whenever the search finishes within the work of
PlannerOptions.time_budget_s (counted steps, calibrated to about that many seconds on the reference
machine: seifer_iac/planner/budget.py), at every cluster size; otherwise the plan is the best found, never
worse than the greedy heuristic, with the proven lower bound, so Plan.gap says how far from optimal it can
be and Plan.budget_exhausted says the budget ran out. The latency tie-break is always limited by the budget
(see search.solve).
"""

from __future__ import annotations

from seifer_iac.planner import diagnose
from seifer_iac.planner.backups import backups_for
from seifer_iac.planner.baselines import greedy
from seifer_iac.planner.errors import PlanningError
from seifer_iac.planner.evaluate import build_plan
from seifer_iac.planner.instance import Instance, build_instance
from seifer_iac.planner.plan import Plan
from seifer_iac.planner.problem import Problem
from seifer_iac.planner.search import Path, SearchResult, solve


def heuristic_paths(problem: Problem, inst: Instance) -> list[Path]:
    """The greedy placement as a search path: the first upper bound."""
    index = {name: i for i, name in enumerate(inst.names)}
    found = [greedy(problem, inst)]
    return [tuple((a, b, index[node]) for a, b, node in placement) for placement in found if placement]


def search(problem: Problem, time_budget_s: float | None = None) -> SearchResult:
    """Run the search; raise PlanningError with the fix when no plan exists."""
    inst = build_instance(problem)
    reason = diagnose.before_search(problem, inst)
    if reason:
        raise PlanningError(reason)
    budget = problem.options.time_budget_s if time_budget_s is None else time_budget_s
    result = solve(inst, budget, exact=False, seeds=lambda: heuristic_paths(problem, inst))
    if result.path is None:
        if result.timed_out and not result.proven:
            raise PlanningError(
                f"no plan found within the time budget of {budget:g} s on {inst.n_hosts} nodes:"
                " raise planner.timeBudget"
            )
        raise PlanningError(diagnose.after_search(problem, inst))
    return result


def optimise(problem: Problem, *, with_backups: bool = True, time_budget_s: float | None = None) -> Plan:
    """The best plan for the problem (see the module docstring for what "best" and "proven" mean)."""
    result = search(problem, time_budget_s)
    names = [h.name for h in problem.hosts]
    assert result.path is not None
    placement = tuple((first, last, names[w]) for first, last, w in result.path)
    algorithm = "threshold search + branch-and-bound"
    if result.timed_out:
        cut = "latency tie-break" if result.proven else "bottleneck search"
        algorithm += f" ({cut} stopped by the time budget)"
    return build_plan(
        problem,
        placement,
        lower_bound_s=result.lower_bound,
        algorithm=algorithm,
        proven_optimal=result.proven,
        budget_exhausted=result.timed_out,
        backups=backups_for(problem, placement) if with_backups else None,
    )
