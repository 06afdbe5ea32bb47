"""Relaxations: the problem without the distinct-node rule, solved exactly by DP in polynomial time.

Dropping "each stage on a different node" (keeping only "consecutive stages on different nodes") leaves a
shortest-path-like problem over states (block boundary, node), solvable backwards in O(P * (n*P + n^2))
vectorised steps. Its optimum is a proven lower bound on the real one, and its to-go values are the
admissible bounds that prune the exact search.
"""

from __future__ import annotations

import numpy as np

from seifer_iac.planner.instance import INF, Instance


def to_go(inst: Instance, additive: bool) -> np.ndarray:
    """T[b, v] = least bottleneck (additive: latency) to finish once host v holds tensor b, b >= 1
    (b = P: only the return link is left)."""
    p, n = inst.n_blocks, inst.n_hosts
    combine = np.add if additive else np.maximum
    table = np.full((p + 1, n), INF)
    table[p] = inst.out_s
    for b in range(p - 1, 0, -1):
        # best cost when a stage starting at block b runs on w, over every end of that stage
        enter = combine(inst.stage_s[:, b, b:], table[b + 1 :].T).min(axis=1)
        table[b] = combine(inst.hop_s[b], enter[None, :]).min(axis=1)
    return table


def relaxed_optimum(inst: Instance, table: np.ndarray, additive: bool) -> float:
    """The relaxed optimum from the dispatcher: a proven lower bound on the real one."""
    if not inst.n_hosts:
        return INF
    combine = np.add if additive else np.maximum
    start = combine(inst.stage_s[:, 0, :], table[1:].T).min(axis=1)
    return float(combine(inst.in_s, start).min())


def min_stages_to_go(inst: Instance) -> np.ndarray:
    """m[b] = fewest stages that can hold blocks b..P-1 on any hosts (memory only, repeats allowed)."""
    p = inst.n_blocks
    fits_any = np.isfinite(inst.stage_s).any(axis=0) if inst.n_hosts else np.zeros((p, p), dtype=bool)
    need = np.full(p + 1, np.iinfo(np.int64).max // 2, dtype=np.int64)
    need[p] = 0
    for b in range(p - 1, -1, -1):
        reachable = need[b + 1 :][fits_any[b, b:]]
        if reachable.size:
            need[b] = 1 + reachable.min()
    return need


def capacities(inst: Instance, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(params, flops) [w, b]: the most parameter bytes / FLOPs one allowed stage on host w can take
    among stages starting at block >= b (0 at b = P).

    Because every remaining stage needs its own host, the remaining blocks can only be placed if the unused
    hosts' capacities add up to the remaining parameters and FLOPs: a pigeonhole bound the path
    relaxation (which may reuse the best host) does not see.
    """
    p, n = inst.n_blocks, inst.n_hosts
    out = []
    for span in (inst.param_span, inst.flop_span):
        best = np.where(allowed, span[None], 0.0).max(axis=2)  # (n, P): best stage starting at i
        cap = np.zeros((n, p + 1))
        cap[:, :p] = np.maximum.accumulate(best[:, ::-1], axis=1)[:, ::-1]
        out.append(cap)
    return out[0], out[1]


def to_go_no_return(inst: Instance, additive: bool) -> np.ndarray:
    """H[b, u, v]: like `to_go` for host v holding tensor b, but the chain may never step straight back
    to v's predecessor u (row u = n: no predecessor, the dispatcher). Shape (P + 1, n + 1, n).

    Forbidding A -> B -> A removes the relaxation's favourite trick on sparse fast links (bouncing between
    the two closest nodes), so its bound is far tighter when many stages are needed; it costs
    O(P^2 n^2) numpy work, so the search only builds it when the plain bound fails to close the search.
    """
    p, n = inst.n_blocks, inst.n_hosts
    combine = np.add if additive else np.maximum
    table = np.full((p + 1, n + 1, n), INF)
    table[p] = inst.out_s[None, :]
    rows = np.arange(n)
    for b in range(p - 1, 0, -1):
        stage = inst.stage_s[:, b, b:].T  # [end - b, w]
        after = combine(stage[:, None, :], table[b + 1 :, :n, :]).min(axis=0)  # [v, w]: w after v
        step = combine(inst.hop_s[b], after)  # [v, w]
        if n >= 2:
            two = np.argpartition(step, 1, axis=1)[:, :2]
            ordered = np.take_along_axis(step, two, axis=1)
            swap = ordered[:, 1] < ordered[:, 0]
            first = np.where(swap, two[:, 1], two[:, 0])
            best, second = ordered.min(axis=1), ordered.max(axis=1)
        else:
            first, best, second = np.zeros(n, dtype=np.int64), step[:, 0], np.full(n, INF)
        table[b, :n, :] = np.where(first[None, :] == rows[:, None], second[None, :], best[None, :])
        table[b, n, :] = best
    return table
