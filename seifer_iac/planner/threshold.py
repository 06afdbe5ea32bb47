"""Phase 1 of the search: the least bottleneck by bisection over candidate bottleneck values.

The optimum is one of the instance's values (a stage's time, a link's time, or on a shared medium a sum
of transfers). For a probe T, everything slower than T is removed (Instance.capped) and a feasibility
search (search._Search with goal T, stopping at the first chain of distinct hosts it finds) answers
whether a plan with bottleneck <= T exists. A chain found sets the upper bound to its real bottleneck
(<= T); none found proves the optimum exceeds T, so the lower bound moves to the next candidate value above
T. Before probing, the packing bound (packing.py: whole blocks on distinct hosts, links dropped) is
bisected over the candidates on its own, which is cheap; its least admissible value is a proven lower bound
and the first probe, and inside each probe it prunes chains whose unused hosts cannot cover the rest. Each
probe may spend a quarter of what is left (an undecided probe proves nothing); a second pass gives the
probes left undecided everything that remains.

On a shared medium the link term is the sum of the chain's transfers, so a probe T caps only the stages
and asks the additive branch and bound for a chain whose transfers add up to at most T (stage times
count 0 there); the candidates are the stage times, plus the sums such searches find. Each such probe first
asks the switched feasibility search, links ignored, for any chain whose stages fit under T (none: the probe
is decided; one whose transfers add up to at most T: found) when the relaxed transfers are far below T, and
once its search runs long it adds the
Lagrangian bound of lagrange.py, which counts that a chain of distinct hosts cannot send every transfer
over the same fast links.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from seifer_iac.planner.budget import Budget, Timeout
from seifer_iac.planner.instance import INF, Instance
from seifer_iac.planner.lagrange import ROUNDS, Penalised, comes_back, penalise
from seifer_iac.planner.packing import Packing, build_packing
from seifer_iac.planner.relax import relaxed_optimum, to_go
from seifer_iac.planner.search import (
    PLAIN_VISITS,
    Path,
    _branch_and_bound,
    _Found,
    _Incumbent,
    bottleneck_of,
    path_value,
    table_steps,
)

GATHER_MAX = 4_000_000  # candidate values kept at once; above it probes use value midpoints


@dataclass(frozen=True)
class Found:
    path: Path | None
    value: float  # the path's bottleneck (inf without one)
    lower: float  # proven: no plan has a smaller bottleneck
    timed_out: bool


def _value_arrays(inst: Instance, shared: bool) -> Iterator[np.ndarray]:
    """Every candidate value array (finite entries matter): stages, and on a switched medium the links."""
    yield inst.stage_s.reshape(-1)
    if shared:
        return
    yield inst.in_s
    yield inst.out_s
    for b in range(1, inst.n_blocks):
        yield inst.hop_s[b].reshape(-1)


def candidates_between(inst: Instance, lo: float, hi: float, shared: bool) -> np.ndarray | None:
    """Sorted distinct values v with lo < v < hi, or None when there are more than GATHER_MAX."""
    kept, count = [], 0
    for values in _value_arrays(inst, shared):
        inside = values[(values > lo) & (values < hi)]
        count += inside.size
        if count > GATHER_MAX:
            return None
        kept.append(inside)
    return np.unique(np.concatenate(kept)) if kept else np.zeros(0)


def _snap(inst: Instance, lo: float, hi: float, shared: bool) -> float:
    """Without the candidate list: the largest value <= the geometric midpoint of (lo, hi), else the
    smallest value above lo (so every probe is a real candidate and the interval always shrinks)."""
    mid = (
        float(np.sqrt(lo * hi))
        if lo > 0 and np.isfinite(hi)
        else (lo + hi) / 2
        if np.isfinite(hi)
        else lo * 2
    )
    below, above = -INF, INF
    for values in _value_arrays(inst, shared):
        low = values[(values > lo) & (values <= mid)]
        if low.size:
            below = max(below, float(low.max()))
        high = values[(values > lo) & (values < hi)]
        if high.size:
            above = min(above, float(high.min()))
    return below if below > -INF else above


def _feasible_switched(
    inst: Instance, probe: float, budget: Budget, plain_visits: int, packing: Packing | None
) -> Path | None:
    """A chain whose every stage and link takes at most `probe`, or None (proven) when there is none.
    `packing`: the packing bound of the instance capped at `probe` (None: not available)."""
    capped = inst.capped(probe)
    budget.spend(table_steps(inst))
    table = to_go(capped, additive=False)
    if not np.isfinite(relaxed_optimum(capped, table, additive=False)):
        return None
    if packing is not None and packing.earliest(packing.counts) > 0:
        return None
    incumbent = _Incumbent(value=float(np.nextafter(probe, INF)))
    with contextlib.suppress(_Found):
        _branch_and_bound(capped, table, False, budget, incumbent, plain_visits, goal=probe, packing=packing)
    return incumbent.path


def _packing(capped: Instance, budget: Budget) -> Packing | None:
    """The packing bound of a capped instance, its work counted (seifer_iac/planner/packing.py)."""
    packing = build_packing(capped)
    if packing is not None:
        grid = packing.table.size * len(packing.counts) * packing.rounds // PACKING_CELL_OPS_PER_STEP
        budget.spend(2 * table_steps(capped) + PACKING_FIXED_STEPS + grid)  # classes, spans, then the grid
    return packing


PACKING_CELL_OPS_PER_STEP = 30_000  # grid cell updates per counted step (about 3 ns each, measured)
PACKING_FIXED_STEPS = 20  # classes and per-class spans (about 2 ms, measured)
PACKING_SHARE = 2  # the packing bound's bisection may spend at most half of the budget


def packing_bound(inst: Instance, lower: float, upper: float, budget: Budget, shared: bool = False) -> float:
    """The least candidate value in [lower, upper) at which the packing bound admits a covering (it is
    monotone in the cap): a proven lower bound, often far above the relaxation's on compute-bound
    clusters; `upper` when none below it does. `shared`: only stage values (the packing looks at stages
    only, so on a shared medium it bounds the slowest stage, hence the bottleneck)."""
    budget.spend(table_steps(inst))
    pool = candidates_between(inst, float(np.nextafter(lower, -INF)), upper, shared)
    if pool is None or pool.size == 0:
        return lower
    lo, hi = 0, pool.size  # pool[hi] would be `upper`; every value below pool[lo] is ruled out
    own = Budget(None if budget.steps_left is None else budget.steps_left // PACKING_SHARE, budget.deadline)
    try:
        while lo < hi:
            mid = (lo + hi) // 2
            packing = _packing(inst.capped(float(pool[mid])), own)
            if packing is None:
                break
            if packing.earliest(packing.counts) == 0:
                hi = mid
            else:
                lo = mid + 1
    except Timeout:
        pass  # what was ruled out stays ruled out; the probes get the rest of the budget
    budget.spend(own.spent)
    return float(pool[lo]) if lo < pool.size else upper


def _least_airtime(
    inst: Instance,
    stage_cap: float,
    below: float,
    budget: Budget,
    plain_visits: int,
    goal: float,
    warm: list[np.ndarray] | None = None,
) -> Path | None:
    """Shared medium: among chains whose stages take at most `stage_cap`, one with the least sum of
    transfers under `below` (stopping early once it is <= goal); None when none is under `below`.
    `warm` carries the Lagrangian penalties from one probe to the next (lagrange.py)."""
    stages = np.where(inst.stage_s <= stage_cap, 0.0, INF)
    zeroed = replace(inst, stage_s=stages, shared=False)
    budget.spend(table_steps(inst))
    table = to_go(zeroed, additive=True)
    relaxed = relaxed_optimum(zeroed, table, additive=True)
    if not relaxed < below:
        return None
    packing = _packing(zeroed, budget)
    if packing is not None and packing.earliest(packing.counts) > 0:
        return None
    incumbent = _Incumbent(value=below)
    covering: Path | None = ()
    if relaxed * STAGES_SLACK <= below:  # the transfers hardly bind: whether the stages fit decides
        try:
            covering = _stages_within(inst, stage_cap, budget, plain_visits, packing)
        except Timeout:
            covering = ()  # undecided: the airtime search below decides alone
    if covering is None:
        return None  # no chain of distinct hosts keeps its stages within the cap at all
    if covering:
        airtime = path_value(zeroed, covering, additive=True)
        if airtime < incumbent.value:
            incumbent.value, incumbent.path = airtime, covering
            if airtime <= goal:
                return covering

    def penalty() -> (
        Penalised | None
    ):  # distinct hosts: the relaxation may not send each transfer on fast links
        rounds = ROUNDS
        if budget.steps_left is not None:  # a round costs a table: at most 1/PENALTY_SHARE of what is left
            rounds = min(rounds, budget.steps_left // (PENALTY_SHARE * table_steps(zeroed)))
        if rounds < 2 or not comes_back(zeroed, table):
            return None
        penalised = penalise(zeroed, budget, incumbent.value, rounds, start=warm[0] if warm else None)
        if warm is not None:
            warm[:] = [penalised.lam]
        return penalised

    with contextlib.suppress(_Found):
        _branch_and_bound(
            zeroed, table, True, budget, incumbent, plain_visits, goal=goal, packing=packing, penalty=penalty
        )
    return incumbent.path


PENALTY_SHARE = 8  # the Lagrangian penalties of a long airtime search may take 1/8 of what it has left
STAGES_SLACK = 4  # the links-free check runs when the relaxed airtime is at most 1/4 of the probe
STAGES_SHARE = 16  # the links-free check of a shared probe: cheap when it decides, abandoned when not


def _stages_within(
    inst: Instance, stage_cap: float, budget: Budget, plain_visits: int, packing: Packing | None
) -> Path | None:
    """Shared medium: any chain whose stages take at most `stage_cap`, links ignored (the switched
    feasibility search, whose probing memo is much stronger than the airtime search's), or None when none
    exists (proven). A quick check: it may spend 1/STAGES_SHARE of what is left; Timeout past that."""
    free = replace(
        inst,
        hop_s=replace(inst.hop_s, wire_bits=np.zeros_like(inst.hop_s.wire_bits)),
        in_s=np.where(np.isfinite(inst.in_s), 0.0, INF),
        out_s=np.where(np.isfinite(inst.out_s), 0.0, INF),
        shared=False,
    )
    steps = None if budget.steps_left is None else max(1, budget.steps_left // STAGES_SHARE)
    own = Budget(steps, budget.deadline)
    try:
        with np.errstate(invalid="ignore"):  # 0 bits over no link (0 bit/s): nan, capped away as no link
            return _feasible_switched(free, stage_cap, own, plain_visits, packing)
    finally:
        budget.spend(own.spent)


def shared_lower_bound(inst: Instance) -> float:
    """Relaxed bounds of the two terms: the least slowest stage, and the least sum of transfers."""
    no_links = replace(
        inst,
        hop_s=replace(inst.hop_s, wire_bits=np.zeros_like(inst.hop_s.wire_bits)),
        in_s=np.where(np.isfinite(inst.in_s), 0.0, INF),
        out_s=np.where(np.isfinite(inst.out_s), 0.0, INF),
        shared=False,
    )
    stage_bound = relaxed_optimum(no_links, to_go(no_links, False), False)
    zeroed = replace(inst, stage_s=np.where(np.isfinite(inst.stage_s), 0.0, INF), shared=False)
    airtime_bound = relaxed_optimum(zeroed, to_go(zeroed, True), True)
    return max(stage_bound, airtime_bound)


def minimise_bottleneck(
    inst: Instance, budget: Budget, seeds: list[Path], plain_visits: int = PLAIN_VISITS
) -> Found:
    """The least bottleneck with a proof, or (budget spent) the best chain found and a proven bound."""
    shared = inst.shared
    try:
        budget.spend(table_steps(inst))
        lower = shared_lower_bound(inst) if shared else relaxed_optimum(inst, to_go(inst, False), False)
    except Timeout:
        return Found(None, INF, 0.0, timed_out=True)
    if not np.isfinite(lower):
        return Found(None, INF, lower, timed_out=False)
    best: Path | None = None
    value = INF
    for seed in seeds:
        seed_value = bottleneck_of(inst, seed)
        if seed_value < value:
            best, value = seed, seed_value
    if shared:
        return _minimise_shared(inst, budget, best, value, lower, plain_visits)
    try:
        lower = max(lower, packing_bound(inst, lower, value, budget))
    except Timeout:
        return Found(best, value, min(lower, value), timed_out=True)
    pool: np.ndarray | None = None
    probe = lower  # the packing bound: a candidate value and often the optimum
    try:
        for share in (PROBE_SHARE, 1):  # a second pass retries what stayed undecided with all that is left
            floor = lower  # probes move it up; `lower` only on proofs (an undecided probe proves nothing)
            while floor < value:
                verdict = _probe(inst, probe, budget, plain_visits, share)
                if isinstance(verdict, tuple):
                    best, value = verdict, bottleneck_of(inst, verdict)
                else:
                    if pool is None:
                        budget.spend(table_steps(inst))
                    floor = max(floor, _next_above(inst, probe, value, pool))
                    if verdict is _INFEASIBLE:
                        lower = max(lower, floor)
                if floor >= value:
                    break
                if pool is None:
                    budget.spend(table_steps(inst))
                    pool = candidates_between(inst, float(np.nextafter(floor, -INF)), value, False)
                probe = _pick(inst, floor, value, pool)
            if lower >= value:
                break
            probe = _pick(inst, lower, value, pool)
    except Timeout:
        return Found(best, value, min(lower, value), timed_out=True)
    if best is None:
        return Found(None, INF, lower, timed_out=not lower >= INF)
    return Found(best, value, min(lower, value), timed_out=lower < value)


_INFEASIBLE = "infeasible"
_UNDECIDED = "undecided"
PROBE_SHARE = 4  # a probe may spend at most 1/PROBE_SHARE of what is left of the budget


def _probe(inst: Instance, probe: float, budget: Budget, plain_visits: int, share: int) -> Path | str:
    """A chain within `probe`, _INFEASIBLE (proven), or _UNDECIDED (its 1/share of the budget ran out)."""
    packing = _packing(inst.capped(probe), budget)  # paid from the whole budget, not the probe's share
    steps = None if budget.steps_left is None else max(1, budget.steps_left // share)
    own = Budget(steps, budget.deadline)
    try:
        path = _feasible_switched(inst, probe, own, plain_visits, packing)
    except Timeout:
        budget.spend(own.spent)
        return _UNDECIDED
    budget.spend(own.spent)
    return _INFEASIBLE if path is None else path


def _minimise_shared(
    inst: Instance, budget: Budget, best: Path | None, value: float, lower: float, plain_visits: int
) -> Found:
    """Shared medium. With S the sorted stage times, P(k) = "a chain has stages <= S[k] and transfers
    adding up to <= S[k]" is monotone in k; k* is the first k where it holds. The optimum is the better of
    the chain found at k* and the chain of least airtime whose stages stay <= S[k* - 1] (every chain with
    slower stages than that is no better than S[k*]; every other one has airtime above its stages)."""
    finite = inst.stage_s[np.isfinite(inst.stage_s)]
    stages = np.unique(finite)
    try:
        stage_floor = packing_bound(
            inst, float(stages[0]) if stages.size else INF, value, budget, shared=True
        )
    except Timeout:
        return Found(best, value, min(lower, value), timed_out=True)
    lower = max(lower, min(stage_floor, value))
    lo = int(np.searchsorted(stages, stage_floor, side="left"))
    hi = int(np.searchsorted(stages, value, side="left")) if np.isfinite(value) else stages.size
    unsure = False  # a probe ran out of its share: the bisection went on without a proof
    warm: list[np.ndarray] = []  # Lagrangian penalties handed from probe to probe
    try:
        while lo < hi:
            mid = (lo + hi) // 2
            probe = float(stages[mid])
            steps = None if budget.steps_left is None else max(1, budget.steps_left // PROBE_SHARE)
            own = Budget(steps, budget.deadline)
            try:
                below = float(np.nextafter(probe, INF))
                path = _least_airtime(inst, probe, below, own, plain_visits, probe, warm)
            except Timeout:
                budget.spend(own.spent)
                unsure, lo = True, mid + 1
                continue
            budget.spend(own.spent)
            if path is not None:
                found = bottleneck_of(inst, path)
                if found < value:
                    best, value = path, found
                hi = min(mid, int(np.searchsorted(stages, value, side="left")))
            else:
                lo = mid + 1
                lower = max(lower, min(probe, value))  # no plan within `probe`: the optimum is above it
        if unsure:
            return Found(best, value, min(lower, value), timed_out=True)
        if lo > 0:
            path = _least_airtime(inst, float(stages[lo - 1]), value, budget, plain_visits, -INF, warm)
            if path is not None and bottleneck_of(inst, path) < value:
                best, value = path, bottleneck_of(inst, path)
    except Timeout:
        return Found(best, value, lower, timed_out=True)
    if best is None:
        return Found(None, INF, INF, timed_out=False)
    return Found(best, value, value, timed_out=False)


def _next_above(inst: Instance, probe: float, hi: float, pool: np.ndarray | None) -> float:
    """The least candidate above `probe` (hi when there is none below hi)."""
    if pool is not None:
        above = pool[pool > probe]
        if above.size:
            return float(above[0])
        return hi
    least = hi
    for values in _value_arrays(inst, False):
        above = values[(values > probe) & (values < least)]
        if above.size:
            least = float(above.min())
    return least


def _pick(inst: Instance, lo: float, hi: float, pool: np.ndarray | None) -> float:
    """The next probe: the median candidate in [lo, hi), or a snapped midpoint when there are too many."""
    if pool is None:
        return _snap(inst, float(np.nextafter(lo, -INF)), hi, False)
    inside = pool[(pool >= lo) & (pool < hi)]
    if inside.size == 0:
        return hi
    return float(inside[(inside.size - 1) // 2])
