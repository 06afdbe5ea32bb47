"""A Lagrangian bound for sums over chains of distinct hosts (the shared medium's airtime).

The path relaxation (relax.to_go) lets a chain come back to a host, so on a shared medium it sends every
transfer over the same few fast links, and with many stages its sum of transfers is far below what a chain of
distinct hosts can reach (MobileNetV2 on 15 mixed nodes, stages capped at 20.1 ms: 14.0 ms against more than
20.1). Pricing each stage on host w lam[w] more and giving every host its lam back once keeps it a bound:
for a chain C of distinct hosts within a set U, cost(C) >= cost(C) + sum_{w in C} lam[w] - sum_{w in U} lam[w]
>= (the relaxed optimum with the penalties) - sum_{w in U} lam[w], for any lam >= 0. The penalties are
found by subgradient steps on the root (a host the relaxed chain uses k times gets k - 1 more, an unused one
less), each step one relaxation table; the best root value's table then bounds every state of the search:
a state whose host holds tensor b with unused hosts U needs at least table[b, host] - sum_{w in U} lam[w]
more. Exact arithmetic is not assumed: every comparison keeps a relative margin (MARGIN).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from seifer_iac.planner.budget import Budget
from seifer_iac.planner.instance import INF, Instance
from seifer_iac.planner.relax import relaxed_optimum, to_go

ROUNDS = 12  # subgradient steps (one relaxation table each): most of the gain comes in the first few
MARGIN = 1e-9  # relative slack on every comparison: sums of penalties round differently from the search


@dataclass(frozen=True, eq=False)
class Penalised:
    lam: np.ndarray  # per host, >= 0
    table: np.ndarray  # additive to-go [b, v] of the instance with every stage on w costing lam[w] more
    total: float  # lam.sum()
    root: float  # proven: no chain of distinct hosts costs less (additive)

    def rest_bound(self, table_value: float, free_lam: float) -> float:
        """What the rest of a chain costs at least: its penalised to-go less the unused hosts' penalties,
        lowered by the margin."""
        if not np.isfinite(table_value):
            return table_value
        return table_value - free_lam - MARGIN * (abs(table_value) + free_lam)


def _relaxed_hosts(inst: Instance, table: np.ndarray) -> list[int]:
    """The hosts of one optimal relaxed chain (first minimum at every step: deterministic)."""
    p = inst.n_blocks
    start = inst.in_s[:, None] + inst.stage_s[:, 0, :] + table[1:].T
    w, end = np.unravel_index(int(np.argmin(start)), start.shape)
    hosts, b = [int(w)], int(end) + 1
    while b < p:
        step = inst.hop_s[b, hosts[-1]][:, None] + inst.stage_s[:, b, b:] + table[b + 1 :].T
        u, end = np.unravel_index(int(np.argmin(step)), step.shape)
        hosts.append(int(u))
        b += int(end) + 1
    return hosts


def comes_back(inst: Instance, table: np.ndarray) -> bool:
    """Whether the relaxed optimum (under `table`, the plain to-go of `inst`) uses a host twice: only then
    can penalties raise it (a relaxed chain of distinct hosts has a zero subgradient on every used host)."""
    if not np.isfinite(relaxed_optimum(inst, table, additive=True)):
        return False
    hosts = _relaxed_hosts(inst, table)
    return len(set(hosts)) < len(hosts)


def penalise(
    inst: Instance, budget: Budget, target: float, rounds: int = ROUNDS, start: np.ndarray | None = None
) -> Penalised:
    """Penalties that raise the additive relaxation of `inst` (toward `target`, the value to prove above),
    the table of the best of them, and its root bound. Each round spends one table's steps. `start`: the
    penalties to begin from (a neighbouring probe's: the subgradient then starts near its end)."""
    from seifer_iac.planner.search import table_steps  # search imports this module

    n = inst.n_hosts
    lam = np.zeros(n) if start is None else np.maximum(start, 0.0)
    best: Penalised | None = None
    base = INF
    for r in range(rounds):
        budget.spend(table_steps(inst))
        priced = replace(inst, stage_s=inst.stage_s + lam[:, None, None]) if lam.any() else inst
        table = to_go(priced, additive=True)
        total = float(lam.sum())
        value = relaxed_optimum(priced, table, additive=True) - total
        root = value - MARGIN * (abs(value) + total) if np.isfinite(value) else value
        candidate = Penalised(lam.copy(), table, total, root)
        if best is None or candidate.root > best.root:
            best = candidate
        if not np.isfinite(value) or value >= target:
            break
        base = value if not np.isfinite(base) else base
        uses = np.bincount(_relaxed_hosts(priced, table), minlength=n).astype(float)
        gradient = uses - 1.0
        if (uses <= 1).all():
            break  # the relaxed chain has distinct hosts: it is a real chain, nothing to gain
        step = max(target - value, abs(base) * 0.01) / float(gradient @ gradient)
        lam = np.maximum(0.0, lam + (1.0 if r < rounds // 2 else 0.5) * step * gradient)
    assert best is not None
    return best
