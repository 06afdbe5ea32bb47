"""Explain why no plan exists, in one line that names the node, the block, the figures and the fix."""

from __future__ import annotations

import math

import numpy as np

from seifer_iac.planner.cost import mib
from seifer_iac.planner.instance import Instance
from seifer_iac.planner.problem import Problem
from seifer_iac.planner.relax import min_stages_to_go


def _largest(problem: Problem) -> tuple[str, int]:
    host = max(problem.hosts, key=lambda h: (problem.capacity(h), h.name))
    return host.name, problem.capacity(host)


def _no_hosts(problem: Problem) -> str:
    foreign = sorted(n.name for n in problem.cluster.nodes if n.schedulable and not problem.runs_on(n))
    if foreign:
        archs = ", ".join(problem.architectures or ())
        return (
            f"no schedulable node has an architecture the image is built for ({archs}; not"
            f" {', '.join(foreign)}): add linux/<arch> to runtime.platforms (and build the image for it)"
            " or add nodes"
        )
    return "the cluster has no schedulable node: mark at least one node schedulable or add one"


def _over_weight_budget(problem: Problem) -> str | None:
    """A block whose weights alone exceed weights.maxTotal: no partition can deliver it."""
    budget = problem.weight_budget_bytes
    if budget is None:
        return None
    for block in problem.profile.blocks:
        weights = problem.weight_bytes(block.param_bytes)
        if weights > budget:
            need = math.ceil(weights / 2**20)
            return (
                f"block {block.name} alone has {mib(weights)} of weights but weights.maxTotal"
                f" allows {mib(budget)} per stage: raise weights.maxTotal to >= {need}Mi"
            )
    return None


def least_memory_holding(memory: np.ndarray) -> np.ndarray:
    """[i]: the least memory of any stage that contains block i (the block alone, or with neighbours,
    which can need less: a neighbour may have a smaller output to buffer)."""
    p = memory.shape[0]
    upper = np.where(np.triu(np.ones((p, p), dtype=bool)), memory, np.iinfo(np.int64).max)
    return np.array([upper[: i + 1, i:].min() for i in range(p)], dtype=np.int64)


def before_search(problem: Problem, inst: Instance) -> str | None:
    """Problems visible without searching: no hosts, a block too big, too few hosts or stages."""
    if not problem.hosts:
        return _no_hosts(problem)
    over = _over_weight_budget(problem)
    if over:
        return over
    blocks = problem.profile.blocks
    name, cap = _largest(problem)
    least = least_memory_holding(inst.memory)
    worst = int(np.argmax(least))
    if least[worst] > cap:
        need = int(least[worst])
        return (
            f"block {blocks[worst].name} alone needs {mib(need)} but the largest node ({name}) has"
            f" {mib(cap)}: add a node with >= {math.ceil(need / 2**20)} MiB or shrink the model"
        )
    need_stages = int(min_stages_to_go(inst)[0])
    hosts = len(problem.hosts)
    limits = "node memory" + (" and weights.maxTotal" if problem.weight_budget_bytes is not None else "")
    if need_stages > hosts:
        total = int(inst.memory[0, -1])
        return (
            f"the model ({mib(total)} as one stage) needs at least {need_stages} stages to fit {limits}"
            f" even on nodes as large as {name} ({mib(cap)}), but only {hosts} nodes are schedulable:"
            " add nodes or memory, or raise weights.maxTotal"
        )
    if need_stages > problem.max_stages:
        return (
            f"the model needs at least {need_stages} stages to fit {limits} but planner.maxStages is"
            f" {problem.max_stages}: raise it to >= {need_stages} or add memory"
        )
    return None


def after_search(problem: Problem, inst: Instance) -> str:
    """Why an exhaustive search found nothing: links, or the distinct-node rule."""
    d = problem.dispatcher_node
    can_start = np.isfinite(inst.stage_s[:, 0, :]).any(axis=1)
    if not np.isfinite(inst.in_s[can_start]).any():
        starters = ", ".join(n for n, ok in zip(inst.names, can_start, strict=True) if ok)
        return f"dispatcher {d} has no link to any node that can hold the first block ({starters}): add one"
    can_end = np.isfinite(inst.stage_s[:, :, -1]).any(axis=1)
    if not np.isfinite(inst.out_s[can_end]).any():
        enders = ", ".join(n for n, ok in zip(inst.names, can_end, strict=True) if ok)
        return f"no node that can hold the last block ({enders}) has a link back to dispatcher {d}: add one"
    need = int(min_stages_to_go(inst)[0])
    return (
        f"no chain of distinct nodes joined by links (bandwidth > 0) holds the model in memory (it needs at"
        f" least {need} stages; {len(problem.hosts)} nodes are schedulable): add links between nodes,"
        " memory or nodes"
    )
