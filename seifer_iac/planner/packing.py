"""A packing bound: can the blocks still be covered by contiguous stages on distinct unused hosts?

The path relaxation (relax.py) lets a chain reuse its best host; the pigeonhole bound adds up the unused
hosts' capacities as if blocks could be split anywhere. Neither sees that stages hold whole blocks AND
need distinct hosts, which is what decides compute-bound instances. This bound keeps both and drops the
links: hosts fall into classes (identical stage rows, or if there are too many, equal speed, each class as
permissive as its best member), and S[v] = the earliest block boundary from which the rest of the model can
be covered with at most v[c] hosts of each class c, where a stage may be any part of an allowed stage
(stages shrink monotonically). Computed by a vectorised fixpoint over the class-count grid; a chain state
whose unused hosts give S > its boundary can be pruned, and S[all hosts] > 0 proves a probe infeasible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seifer_iac.planner.instance import Instance

FINE_CELLS = 50_000  # grid size allowed for exact classes (identical stage rows); else classes by speed
MAX_CELLS = 300_000  # size of the class-count grid; above it the bound is not built


@dataclass(frozen=True, eq=False)
class Packing:
    labels: np.ndarray  # class of each host
    table: np.ndarray  # S over the class-count grid (shape: members of each class + 1)
    counts: np.ndarray  # members per class
    rounds: int = 1  # fixpoint rounds it took (its cost is about cells x classes x rounds)

    def earliest(self, avail: np.ndarray) -> int:
        return int(self.table[tuple(avail)])

    def after_each(self, avail: np.ndarray) -> np.ndarray:
        """[c]: S once one more host of class c is used (a huge value where none is left)."""
        strides = np.array(self.table.strides, dtype=np.int64) // self.table.itemsize
        flat = self.table.reshape(-1)
        base = int(avail @ strides)
        return np.where(avail > 0, flat[np.maximum(base - strides, 0)], np.iinfo(np.int64).max)


def _classes(inst: Instance) -> tuple[np.ndarray, int] | None:
    """Host classes whose count grid fits MAX_CELLS: identical stage rows first, else equal speeds."""
    finite = np.isfinite(inst.stage_s)
    keys = [finite[w].tobytes() + inst.stage_s[w][finite[w]].tobytes() for w in range(inst.n_hosts)]
    for grouping, limit in ((keys, FINE_CELLS), ([s.tobytes() for s in inst.speeds], MAX_CELLS)):
        keyed = np.array(grouping, dtype=object)
        _, labels, counts = np.unique(keyed, return_inverse=True, return_counts=True)
        if np.prod(counts.astype(float) + 1) <= limit:
            return labels.astype(np.int64), len(counts)
    return None


def _back(allowed: np.ndarray) -> np.ndarray:
    """back[e] for e = 0..P: the earliest start of a stage ending at block e-1 that lies inside an allowed
    stage (e when there is none, and back[0] = 0)."""
    p = allowed.shape[0]
    starts = np.where(allowed.any(axis=0), allowed.argmax(axis=0), p)  # minstart per end block
    back = np.arange(p + 1)
    for e in range(1, p + 1):
        ends = starts[e - 1 :]
        ok = ends[ends <= e - 1]
        if ok.size:
            back[e] = int(ok.min())
    return back


def build_packing(inst: Instance) -> Packing | None:
    """The bound for an instance (usually a capped one); None when it would be too large."""
    found = _classes(inst)
    if found is None or inst.n_hosts == 0:
        return None
    labels, k = found
    counts = np.bincount(labels, minlength=k)
    p = inst.n_blocks
    backs = []
    for c in range(k):
        members = np.flatnonzero(labels == c)
        allowed = np.isfinite(inst.stage_s[members]).any(axis=0)
        backs.append(_back(allowed))
    table = np.full(tuple(counts + 1), p, dtype=np.int64)
    rounds = 0
    while True:
        rounds += 1
        before = table
        table = table.copy()
        for c in range(k):
            lead = [slice(None)] * k
            lead[c] = slice(1, None)
            prev = [slice(None)] * k
            prev[c] = slice(None, -1)
            np.minimum(table[tuple(lead)], backs[c][before[tuple(prev)]], out=table[tuple(lead)])
        if np.array_equal(table, before):
            break
    return Packing(labels, table, counts, rounds)
