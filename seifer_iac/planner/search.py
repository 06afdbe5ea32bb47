"""The exact search: a bottleneck-threshold search, then branch and bound for the latency tie-break.

Phase 1 minimises the bottleneck B by bisection over the sorted candidate values (every stage, link,
input and output time; seifer_iac/planner/threshold.py): for a probe T everything slower than T is removed
(Instance.capped) and the question becomes whether a chain of distinct hosts exists at all, a much smaller
search than optimising. The packing bound (packing.py) gives the first, proven, lower bound, so when it is
tight one feasibility search proves the optimum. On a shared medium (one channel
for all links) the link term is the sum of the chain's transfer times: the probe caps only the stages and
asks for a chain whose transfers add up to at most T.
Phase 2 keeps B <= B* (a capped instance) and minimises the end-to-end latency by branch and bound.

Both walk states (block boundary, last host, set of used hosts) depth first, children in order of their
relaxed bound (then the stage's own cost, then fewer stages, then host name), and prune a child when
- its bound (cost so far combined with the relaxed optimum to go) cannot beat the incumbent (or the probe),
- the same state was reached before at no higher cost (memo on the used-host bitmask), or
- the stages still needed (memory only) exceed the hosts or stages left, or
- the unused hosts' capacities (parameters, FLOPs) cannot hold the remaining blocks (pigeonhole).
When the cheap bound has not closed a search after PLAIN_VISITS states, it restarts with the no-return
bound (relax.to_go_no_return), which stops the relaxation from bouncing between two nodes (skipped where
that table would not fit: NO_RETURN_MAX_CELLS), and an additive search given a `penalty` adds the
Lagrangian bound for distinct hosts (lagrange.py) to every child it would enter.

Budgets count steps (seifer_iac/planner/budget.py), not wall time, so the same input gives the same plan on
any machine and under any load (a second `pulumi preview` shows no change).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from seifer_iac.planner.budget import Budget, Timeout, steps_for
from seifer_iac.planner.instance import INF, Instance
from seifer_iac.planner.lagrange import Penalised
from seifer_iac.planner.packing import Packing, build_packing
from seifer_iac.planner.relax import capacities, min_stages_to_go, to_go, to_go_no_return

# (first_block, last_block, host index) per stage
Path = tuple[tuple[int, int, int], ...]


class _TooLong(Exception):
    """The plain bound did not close the search quickly: worth building the stronger one."""


class _Found(Exception):
    """A feasibility search reached its goal."""


PLAIN_VISITS = 300  # visits allowed with the plain bound before switching to the no-return bound
NO_RETURN_MAX_CELLS = 16_000_000  # (P + 1) * (n + 1) * n floats of the no-return table: 128 MB at most


@dataclass(frozen=True)
class SearchResult:
    path: Path | None
    bottleneck: float
    latency: float
    lower_bound: float
    proven: bool  # the bottleneck is optimal (or, with no path, no plan exists)
    timed_out: bool
    steps: int = 0  # counted steps spent (budget.Budget)


@dataclass
class _Incumbent:
    value: float = INF
    path: Path | None = None


class _Search:
    """Depth-first B&B over one instance; improves `incumbent` in place; raises Timeout past the budget."""

    def __init__(
        self,
        inst: Instance,
        table: np.ndarray,
        additive: bool,
        budget: Budget,
        incumbent: _Incumbent,
        max_visits: int | None = None,
        goal: float = -INF,
        packing: Packing | None = None,
        penalised: Penalised | None = None,
    ) -> None:
        """table: to-go bounds [b, predecessor (n = dispatcher), holder]; a broadcast 2-D table caches.
        goal: stop (raise _Found) as soon as the incumbent is at most this (a feasibility search).
        penalised: an additive search's Lagrangian bound (lagrange.py), checked before entering a state."""
        self.penalised = penalised
        self.free_lam = penalised.total if penalised is not None else 0.0
        self.inst, self.table, self.additive = inst, table, additive
        self.budget, self.incumbent, self.goal = budget, incumbent, goal
        # a feasibility probe (bottleneck <= goal): every chain within the cap will do, so a state's
        # failure does not depend on the cost it was reached at, and longer stages (fewer hosts) go first
        self.probing = goal > -INF and not additive
        self.packing = packing
        self.avail = packing.counts.copy() if packing is not None else None
        self.max_visits, self.visits = max_visits, 0
        self.per_predecessor = table.strides[1] != 0
        self.combine = np.add if additive else np.maximum
        self.need = min_stages_to_go(inst)
        self.limit = min(inst.max_stages, inst.n_hosts)
        self.entering: dict[int, np.ndarray] = {}
        self.used = np.zeros(inst.n_hosts, dtype=bool)
        self.memo: dict[tuple[int, int, int], float] = {}
        p = inst.n_blocks
        self.params_left = np.append(inst.param_span[:, -1], 0.0) if p else np.zeros(1)  # blocks b..P-1
        self.flops_left = np.append(inst.flop_span[:, -1], 0.0) if p else np.zeros(1)
        self.caps_at: float | None = None
        self.caps: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None

    def enter_at(self, b: int, host: int) -> np.ndarray:
        """[w, end - b]: stage b..end on host w combined with the relaxed optimum after it."""
        row = self.inst.n_hosts if host < 0 else host
        if self.per_predecessor:
            return self.combine(self.inst.stage_s[:, b, b:], self.table[b + 1 :, row, :].T)
        if b not in self.entering:
            self.entering[b] = self.combine(self.inst.stage_s[:, b, b:], self.table[b + 1 :, row, :].T)
        return self.entering[b]

    def capacities(self) -> tuple[np.ndarray, np.ndarray]:
        """Per host and block, the most params / FLOPs one stage that could still beat the incumbent can
        take (see relax.capacities); recomputed when the incumbent improves, as they shrink with it."""
        if self.caps_at != self.incumbent.value or self.caps is None:
            inst = self.inst
            allowed = np.isfinite(inst.stage_s) if self.additive else inst.stage_s < self.incumbent.value
            self.budget.spend(table_steps(inst))
            params, flops = capacities(inst, allowed)
            self.caps = (params, flops, params.sum(axis=0), flops.sum(axis=0))
            self.caps_at = self.incumbent.value
        return self.caps[0], self.caps[1]

    def hopeless(self, chain: tuple[int, ...], hosts: np.ndarray, nexts: np.ndarray) -> np.ndarray:
        """[k]: after stage k (host hosts[k], next block nexts[k]) the unused hosts cannot hold the
        remaining blocks within the incumbent: pigeonhole on parameter bytes and on FLOPs."""
        params, flops = self.capacities()
        assert self.caps is not None
        used = list(chain)
        out = np.zeros(hosts.shape, dtype=bool)
        kinds = [(params, self.caps[2], self.params_left)]
        if self.inst.counts_compute:
            kinds.append((flops, self.caps[3], self.flops_left))
        for caps, total, left in kinds:
            free_room = total - caps[used].sum(axis=0) if used else total
            room = free_room[nexts] - caps[hosts, nexts]
            out |= room < left[nexts] * (1 - 1e-12)
        return out

    def run(self) -> None:
        self.visit(0, -1, 0.0, 0, ())

    def visit(self, b: int, host: int, cost: float, mask: int, path: Path) -> None:
        self.budget.spend()
        self.visits += 1
        if self.max_visits is not None and self.visits > self.max_visits:
            raise _TooLong
        inst, combine, best = self.inst, self.combine, self.incumbent.value
        p, depth = inst.n_blocks, len(path)
        left = self.limit - depth
        if left <= 0:
            return
        link = inst.in_s if host < 0 else inst.hop_s[b, host]
        head = combine(link, cost)
        rows = np.flatnonzero(~self.used & (head < best))
        if rows.size == 0:
            return
        bound = combine(self.enter_at(b, host)[rows], head[rows][:, None])
        too_many = self.need[b + 1 :] > left - 1
        if too_many.any():
            bound[:, too_many] = INF
        flat = np.flatnonzero(bound < best)
        if flat.size == 0:
            return
        values = bound.ravel()[flat]
        picked, cols = np.divmod(flat, p - b)
        hosts = rows[picked]
        steps = combine(link[hosts], inst.stage_s[hosts, b, b + cols])  # this stage's own link + compute
        if self.probing:
            order = np.lexsort((hosts, values, -cols))
        else:
            order = np.lexsort((hosts, steps, -cols, values))
        hosts, ends, values = hosts[order], b + cols[order], values[order]
        reached = combine(cost, steps[order])
        last = ends == p - 1
        totals = np.where(last, combine(reached, inst.out_s[hosts]), INF)
        doomed = self.hopeless(tuple(s[2] for s in path), hosts, np.minimum(ends + 1, p)) & ~last
        if self.packing is not None and self.avail is not None:
            earliest = self.packing.after_each(self.avail)[self.packing.labels[hosts]]
            doomed |= (earliest > ends + 1) & ~last
        columns = (hosts, ends, values, reached, totals, doomed)
        for w, end, value, arrived, total, skip in zip(*(c.tolist() for c in columns), strict=True):
            if value >= self.incumbent.value:
                break
            if end == p - 1:
                if total < self.incumbent.value:
                    self.incumbent.value, self.incumbent.path = total, (*path, (b, end, w))
                    if total <= self.goal:
                        raise _Found
                continue
            if skip:
                continue
            state = (end + 1, w, mask | (1 << w))
            if self.memo.get(state, INF) <= arrived:
                continue
            pen = self.penalised
            if pen is not None:
                free = self.free_lam - float(pen.lam[w])
                if arrived + pen.rest_bound(float(pen.table[end + 1, w]), free) >= self.incumbent.value:
                    continue
            self.memo[state] = -INF if self.probing else arrived
            self.used[w] = True
            if self.avail is not None and self.packing is not None:
                self.avail[self.packing.labels[w]] -= 1
            if pen is not None:
                self.free_lam -= float(pen.lam[w])
            self.visit(end + 1, w, arrived, state[2], (*path, (b, end, w)))
            if pen is not None:
                self.free_lam += float(pen.lam[w])
            if self.avail is not None and self.packing is not None:
                self.avail[self.packing.labels[w]] += 1
            self.used[w] = False


def _root_bound(inst: Instance, table: np.ndarray, additive: bool) -> float:
    """The relaxed optimum from the dispatcher under a [b, predecessor, holder] table."""
    combine = np.add if additive else np.maximum
    n = inst.n_hosts
    start = combine(inst.stage_s[:, 0, :], table[1:, n, :].T).min(axis=1)
    return float(combine(inst.in_s, start).min())


def _branch_and_bound(
    inst: Instance,
    plain: np.ndarray,
    additive: bool,
    budget: Budget,
    incumbent: _Incumbent,
    plain_visits: int = PLAIN_VISITS,
    seeds: Callable[[], list[Path]] | None = None,
    goal: float = -INF,
    packing: Packing | None = None,
    penalty: Callable[[], Penalised | None] | None = None,
) -> float:
    """Search with the cheap bound first; if that has not finished after PLAIN_VISITS states, take the
    best of the incumbent and the `seeds` heuristics' paths (so a cut-short search is never worse than
    them), build the no-return bound (and the Lagrangian one, `penalty`, an additive search's) and search
    again. Returns the best lower bound known (what a timed-out search can still promise). Raises _Found
    when the incumbent reaches `goal`."""
    p, n = inst.n_blocks, inst.n_hosts
    table = np.broadcast_to(plain[:, None, :], (p + 1, n + 1, n))
    stronger_fits = (p + 1) * (n + 1) * n <= NO_RETURN_MAX_CELLS

    def adopt_seeds() -> None:
        for seed in seeds() if seeds else []:
            value = path_value(inst, seed, additive)
            if value < incumbent.value:
                incumbent.value, incumbent.path = value, seed

    penalised = None if stronger_fits or penalty is None else penalty()
    try:
        limit = plain_visits if stronger_fits else None
        _Search(
            inst, table, additive, budget, incumbent, limit, goal=goal, packing=packing, penalised=penalised
        ).run()
        return _root_bound(inst, table, additive)
    except _TooLong:
        adopt_seeds()
    except Timeout:
        adopt_seeds()
        raise
    budget.spend(table_steps(inst, NO_RETURN_FACTOR))
    stronger = to_go_no_return(inst, additive)
    bound = _root_bound(inst, stronger, additive)
    penalised = penalty() if penalty is not None else None
    if penalised is not None:
        bound = max(bound, penalised.root)
        if penalised.root >= incumbent.value:
            return bound  # no chain of distinct hosts beats the incumbent
    try:
        _Search(
            inst, stronger, additive, budget, incumbent, goal=goal, packing=packing, penalised=penalised
        ).run()
    except Timeout as timeout:
        timeout.lower_bound = bound  # type: ignore[attr-defined]
        raise
    return bound


def table_steps(inst: Instance, factor: int = 1) -> int:
    """Counted steps for building one relaxation table: about n * P^2 + P * n^2 cell operations, at
    CELLS_PER_STEP cells per step (what costs as much as one visited state on the reference machine)."""
    p, n = inst.n_blocks, inst.n_hosts
    return 1 + factor * (n * p * p + p * n * n) // CELLS_PER_STEP


CELLS_PER_STEP = 20_000
NO_RETURN_FACTOR = 8  # the no-return table costs about as much as 8 plain ones (measured, 20-50 nodes)


def path_value(inst: Instance, path: Path, additive: bool) -> float:
    """Bottleneck (or latency) of a path, in the order the search combines it."""
    combine = (lambda a, b: a + b) if additive else max
    value, prev = 0.0, -1
    for first, last, w in path:
        link = inst.in_s[w] if prev < 0 else inst.hop_s[first, prev, w]
        value = combine(value, combine(float(link), float(inst.stage_s[w, first, last])))
        prev = w
    return combine(value, float(inst.out_s[prev]))


def solve(
    inst: Instance,
    budget_s: float,
    exact: bool,
    plain_visits: int = PLAIN_VISITS,
    seeds: Callable[[], list[Path]] | None = None,
) -> SearchResult:
    """Least bottleneck, then least latency; `seeds` (called once, before the search) give heuristic
    starting plans.

    exact: the bottleneck search runs to the end whatever it takes (a proven optimum); otherwise it stops
    after the steps of `budget_s` seconds with its incumbent and its proven lower bound. The latency
    tie-break always stops after the rest of the budget (at least a tenth of it), keeping the best found:
    it never changes the bottleneck.
    """
    from seifer_iac.planner.threshold import minimise_bottleneck

    work = steps_for(budget_s)
    budget = Budget() if exact else Budget.for_seconds(budget_s)
    found = minimise_bottleneck(inst, budget, seeds() if seeds else [], plain_visits)
    if found.path is None:
        return SearchResult(
            None,
            INF,
            INF,
            found.lower,
            proven=not found.timed_out,
            timed_out=found.timed_out,
            steps=budget.spent,
        )
    best, proven, timed_out, spent = found.value, not found.timed_out, found.timed_out, budget.spent
    path = found.path
    if proven and not inst.shared:
        second = _Incumbent()
        capped = inst.capped(best)
        left = min(max(work - spent, work // TIE_SHARE_MIN), work // TIE_SHARE_MAX)
        tie = Budget.for_seconds(budget_s)
        tie.steps_left = left
        try:
            tie.spend(table_steps(capped))
            packing = build_packing(capped)
            table = to_go(capped, additive=True)
            _branch_and_bound(capped, table, True, tie, second, plain_visits, packing=packing)
        except Timeout:
            timed_out = True
        spent += tie.spent
        path = second.path if second.path is not None else path
    return SearchResult(
        path=path,
        bottleneck=bottleneck_of(inst, path),
        latency=path_value(inst, path, True),
        lower_bound=best if proven else found.lower,
        proven=proven,
        timed_out=timed_out,
        steps=spent,
    )


TIE_SHARE_MAX = 10  # the latency tie-break gets what phase 1 left, at most a tenth of the budget
TIE_SHARE_MIN = 20  # and at least a twentieth


def bottleneck_of(inst: Instance, path: Path) -> float:
    """The objective of a path: the slowest stage or link, or on a shared medium the slowest stage or the
    sum of the transfers (added in chain order, as evaluate.assess does)."""
    if not inst.shared:
        return path_value(inst, path, False)
    slowest, airtime, prev = 0.0, 0.0, -1
    for first, last, w in path:
        airtime = airtime + float(inst.in_s[w] if prev < 0 else inst.hop_s[first, prev, w])
        slowest = max(slowest, float(inst.stage_s[w, first, last]))
        prev = w
    airtime = airtime + float(inst.out_s[prev])
    return max(slowest, airtime)
