"""The problem as numpy arrays: every stage's and link's cost, computed once, for the search.

Values are computed with the same IEEE operations as the scalar functions in `cost.py`, so a plan's
reported bottleneck equals the value the search optimised, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from seifer_iac.planner.cost import link_seconds
from seifer_iac.planner.problem import Problem

INF = np.inf


@dataclass(frozen=True, eq=False)
class Instance:
    """Costs indexed by host (sorted by name) and block boundary.

    Boundary b is the tensor between block b-1 and block b (0 = the model input, P = its output).
    `stage_s[w, i, j]`: objective time of blocks i..j on host w, inf when it does not fit (or j < i).
    `hop_s[b, u, w]`: time to send tensor b from host u to host w (inf without a link or when u == w),
    computed on demand from the bandwidth table (a HopTable), so memory stays linear in the links.
    `in_s[w]` / `out_s[w]`: dispatcher -> w with the input, w -> dispatcher with the output.
    """

    names: tuple[str, ...]
    n_blocks: int
    max_stages: int
    stage_s: np.ndarray
    hop_s: HopTable
    in_s: np.ndarray
    out_s: np.ndarray
    memory: np.ndarray  # bytes a stage of blocks i..j needs (upper triangle)
    param_span: np.ndarray  # parameter bytes of blocks i..j
    flop_span: np.ndarray  # FLOPs of blocks i..j
    speeds: np.ndarray  # FLOP/s per host
    hop_bytes: np.ndarray  # wire bytes of tensor b, b = 0..P
    counts_compute: bool  # the objective includes compute time
    shared: bool = False  # one shared medium: the link term is the sum of the chain's transfers

    @property
    def n_hosts(self) -> int:
        return len(self.names)

    def restricted_to(self, stages: tuple[tuple[int, int], ...]) -> Instance:
        """Only these (first, last) block ranges may be stages: placing a fixed partition."""
        keep = np.zeros(self.stage_s.shape[1:], dtype=bool)
        for first, last in stages:
            keep[first, last] = True
        return replace(self, stage_s=np.where(keep[None], self.stage_s, INF))

    def capped(self, threshold: float) -> Instance:
        """Everything slower than `threshold` removed: the plans whose bottleneck is <= threshold."""

        def cap(a: np.ndarray) -> np.ndarray:
            return np.where(a <= threshold, a, INF)

        return replace(
            self,
            stage_s=cap(self.stage_s),
            hop_s=self.hop_s.capped(threshold),
            in_s=cap(self.in_s),
            out_s=cap(self.out_s),
        )


@dataclass(frozen=True, eq=False)
class HopTable:
    """hop_s[b, u, w] = wire bits of tensor b / bandwidth u -> w (inf on the diagonal, without a link, or
    above `cap`), computed per boundary when asked: (P + 1) x n^2 floats would not fit for thousands of
    nodes. Indexing: [b] -> (n, n), [b, u] -> (n,), [b, u, w] -> float; the same IEEE division as
    cost.link_seconds, so values are bit-identical."""

    wire_bits: np.ndarray  # (P + 1,): wire bytes * 8
    bandwidth: np.ndarray  # (n, n) bits per second; the diagonal is never used
    cap: float = INF

    def _finish(self, values: np.ndarray | float) -> np.ndarray:
        return np.where(values <= self.cap, values, INF) if self.cap < INF else np.asarray(values)

    def __getitem__(self, key: int | tuple[int, ...]) -> np.ndarray:
        b, *rest = key if isinstance(key, tuple) else (key,)
        n = self.bandwidth.shape[0]
        with np.errstate(divide="ignore"):
            if not rest:
                out = self.wire_bits[b] / self.bandwidth
                out[np.arange(n), np.arange(n)] = INF
                return self._finish(out)
            u = rest[0]
            if len(rest) == 1:
                out = self.wire_bits[b] / self.bandwidth[u]
                out[u] = INF
                return self._finish(out)
            w = rest[1]
            value = INF if u == w else self.wire_bits[b] / self.bandwidth[u, w]
            return self._finish(np.float64(value))

    def capped(self, threshold: float) -> HopTable:
        return replace(self, cap=min(self.cap, threshold))

    def dense(self) -> np.ndarray:
        """The whole (P + 1, n, n) table (tests and small instances only)."""
        return np.stack([self[b] for b in range(len(self.wire_bits))])


def raw_tensor_bytes(problem: Problem) -> list[int]:
    """Raw bytes of tensor b for b = 0..P (input, then each block's output)."""
    return [problem.profile.input_bytes] + [b.output_bytes for b in problem.profile.blocks]


def tensor_shapes(problem: Problem) -> list[tuple[int, ...]]:
    """Shape of tensor b for b = 0..P, matching raw_tensor_bytes."""
    return [tuple(problem.profile.input_shape)] + [tuple(b.output_shape) for b in problem.profile.blocks]


def stage_memory_table(problem: Problem) -> np.ndarray:
    """memory[i, j] = bytes blocks i..j need as one stage (cost.stage_memory_bytes, vectorised)."""
    blocks = problem.profile.blocks
    p = len(blocks)
    raw = np.array(raw_tensor_bytes(problem), dtype=np.int64)
    params = np.concatenate([[0], np.cumsum([b.param_bytes for b in blocks], dtype=np.int64)])
    peaks = np.array([b.peak_activation_bytes for b in blocks], dtype=np.int64)
    memory = np.zeros((p, p), dtype=np.int64)
    cost = problem.cost
    model = cost.memory
    for i in range(p):
        running_peak = np.maximum.accumulate(peaks[i:])
        buffers = cost.buffer_factor * (raw[i] + raw[i + 1 :])
        weights = params[i + 1 :] - params[i]
        # the same IEEE operations, in the same order, as MemoryModel.stage_bytes (plans and tables agree)
        fitted = model.base_bytes + model.per_weight_byte * weights + model.per_activation_byte * running_peak
        fitted = fitted + buffers
        memory[i, i:] = np.ceil(fitted * (1.0 + model.headroom)).astype(np.int64) + cost.memory_overhead_bytes
    return memory


def build_instance(problem: Problem) -> Instance:
    hosts = problem.hosts
    names = tuple(h.name for h in hosts)
    n, p = len(hosts), len(problem.profile.blocks)
    cost, cluster = problem.cost, problem.cluster
    memory = stage_memory_table(problem)
    caps = np.array([problem.capacity(h) for h in hosts], dtype=np.int64)
    flops = np.concatenate([[0], np.cumsum([b.flops for b in problem.profile.blocks], dtype=np.int64)])
    span = (flops[None, 1:] - flops[:-1, None]).astype(np.float64)  # span[i, j] = flops of blocks i..j
    params = np.concatenate([[0], np.cumsum([b.param_bytes for b in problem.profile.blocks], dtype=np.int64)])
    upper = np.triu(np.ones((p, p), dtype=bool))
    speeds = np.array([h.flops_per_s for h in hosts], dtype=np.float64)
    raw = raw_tensor_bytes(problem)
    if cost.objective == "communication":
        compute = np.zeros((n, p, p))
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            compute = span[None] / speeds[:, None, None]
        compute = np.where(span[None] == 0, 0.0, np.where(speeds[:, None, None] > 0, compute, INF))
        # relay and codec work, in the order of cost.hop_work_s: ((fixed + decode * in) + encode * out)
        # times the node's scale (the measuring host's speed over the node's)
        raw_f = np.array(raw, dtype=np.float64)
        hops = cost.hops
        work = (hops.fixed_s + hops.decode_s_per_byte * raw_f[:-1])[:, None] + (
            hops.encode_s_per_byte * raw_f[1:]
        )
        scale = np.array([hops.scale(float(s)) for s in speeds], dtype=np.float64)
        compute = compute + work[None] * scale[:, None, None]
    fits = (memory[None] <= caps[:, None, None]) & upper[None]
    if problem.weight_budget_bytes is not None:  # weights.maxTotal: a stage's weights as ConfigMaps
        weights = np.floor((params[None, 1:] - params[:-1, None]) * problem.weight_fraction)
        fits &= (weights <= problem.weight_budget_bytes)[None]
    stage_s = np.where(fits, compute, INF)

    shapes = tensor_shapes(problem)
    wire = np.array([cost.codec.wire_bytes(r, s) for r, s in zip(raw, shapes, strict=True)], dtype=np.float64)
    bandwidth = np.array([[cluster.bandwidth(a, b) for b in names] for a in names], dtype=np.float64)
    hop_s = HopTable(wire * 8.0, bandwidth)
    d = problem.dispatcher_node
    if cost.dispatcher_links:
        in_s = np.array([link_seconds(cost, raw[0], cluster.bandwidth(d, w), shapes[0]) for w in names])
        out_s = np.array([link_seconds(cost, raw[p], cluster.bandwidth(w, d), shapes[p]) for w in names])
    else:
        in_s, out_s = np.zeros(n), np.zeros(n)
    return Instance(
        names=names,
        n_blocks=p,
        max_stages=problem.max_stages,
        stage_s=stage_s,
        hop_s=hop_s,
        in_s=in_s,
        out_s=out_s,
        memory=memory,
        param_span=np.where(upper, params[None, 1:] - params[:-1, None], 0).astype(np.float64),
        flop_span=np.where(upper, span, 0.0),
        speeds=speeds,
        hop_bytes=wire,
        counts_compute=cost.objective != "communication",
        shared=cost.medium == "shared",
    )
