"""Price any placement (ours, a baseline's, the lock's) with the scalar cost model and build its Plan.

One evaluator for everything means the table, the lock's stability check and the benchmark compare like
with like.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from seifer_iac.planner.cost import (
    compute_seconds,
    hop_work_s,
    link_seconds,
    stage_cost_s,
    stage_memory_bytes,
)
from seifer_iac.planner.plan import Plan, Stage
from seifer_iac.planner.problem import Placement, Problem


@dataclass(frozen=True)
class Assessment:
    """What a placement costs, or why it is not allowed (`problems` non-empty)."""

    bottleneck_s: float
    bottleneck: str
    latency_s: float
    problems: tuple[str, ...]

    @property
    def feasible(self) -> bool:
        return not self.problems


def _tensor_bytes(problem: Problem, boundary: int) -> int:
    return problem.profile.input_bytes if boundary == 0 else problem.profile.blocks[boundary - 1].output_bytes


def _tensor_shape(problem: Problem, boundary: int) -> tuple[int, ...]:
    profile = problem.profile
    return tuple(profile.input_shape if boundary == 0 else profile.blocks[boundary - 1].output_shape)


def stage_memory(problem: Problem, first: int, last: int) -> int:
    blocks = problem.profile.blocks[first : last + 1]
    return stage_memory_bytes(
        problem.cost,
        sum(b.param_bytes for b in blocks),
        max(b.peak_activation_bytes for b in blocks),
        _tensor_bytes(problem, first),
        _tensor_bytes(problem, last + 1),
    )


def _link(problem: Problem, boundary: int, source: str, target: str, dispatcher_end: bool) -> float:
    if dispatcher_end and not problem.cost.dispatcher_links:
        return 0.0
    bits_per_s = problem.cluster.bandwidth(source, target)
    return link_seconds(
        problem.cost, _tensor_bytes(problem, boundary), bits_per_s, _tensor_shape(problem, boundary)
    )


def _why_not_host(problem: Problem, node: str) -> str:
    if node not in problem.cluster.node_names:
        return "not in the cluster"
    found = problem.cluster.node(node)
    if not problem.runs_on(found):
        return f"{found.arch}, which the image is not built for (runtime.platforms)"
    return "not schedulable"


def stage_weight_bytes(problem: Problem, first: int, last: int) -> int:
    """The weight bytes a stage carries as ConfigMaps at the runtime's precision (what weights.maxTotal
    limits)."""
    return problem.weight_bytes(sum(b.param_bytes for b in problem.profile.blocks[first : last + 1]))


def structure_problems(problem: Problem, placement: Placement) -> list[str]:
    """Why the placement's shape is not allowed (empty, gaps, repeats, unknown or unschedulable nodes)."""
    p = len(problem.profile.blocks)
    if not placement:
        return ["no stages"]
    out: list[str] = []
    expected = 0
    for i, (first, last, _node) in enumerate(placement, 1):
        if first != expected or last < first or last >= p:
            out.append(f"stage {i} covers blocks {first}..{last}, expected to start at block {expected}")
        expected = last + 1
    if expected != p:
        out.append(f"the stages end at block {expected - 1}, the model has {p} blocks")
    hosts = {h.name: h for h in problem.hosts}
    names = [node for _, _, node in placement]
    for node in sorted(set(names)):
        if names.count(node) > 1:
            out.append(f"node {node} runs {names.count(node)} stages")
        if node not in hosts:
            out.append(f"node {node} is {_why_not_host(problem, node)}")
    if len(placement) > problem.max_stages:
        out.append(f"{len(placement)} stages exceed the limit of {problem.max_stages}")
    return out


def assess(problem: Problem, placement: Placement) -> Assessment:
    """Bottleneck, its label and the latency of a placement; inf and the reasons when not allowed."""
    problems = structure_problems(problem, placement)
    if problems:
        return Assessment(math.inf, "not allowed", math.inf, tuple(problems))
    items: list[tuple[float, str]] = []
    d = problem.dispatcher_node
    prev = d
    for i, (first, last, node) in enumerate(placement, 1):
        host = problem.cluster.node(node)
        link = _link(problem, first, prev, node, dispatcher_end=i == 1)
        label = f"link {prev} -> {node}" + (" (input)" if i == 1 else "")
        items.append((link, label))
        flops = sum(b.flops for b in problem.profile.blocks[first : last + 1])
        in_raw, out_raw = _tensor_bytes(problem, first), _tensor_bytes(problem, last + 1)
        stage_s = stage_cost_s(problem.cost, flops, host.flops_per_s, in_raw, out_raw)
        items.append((stage_s, f"stage {i} compute on {node}"))
        need, room = stage_memory(problem, first, last), problem.capacity(host)
        if need > room:
            beside = " beside the dispatcher" if node == d else ""
            problems.append(f"stage {i} needs {need} bytes, node {node} has {room} usable{beside}")
        weights = stage_weight_bytes(problem, first, last)
        if problem.weight_budget_bytes is not None and weights > problem.weight_budget_bytes:
            problems.append(
                f"stage {i} carries {weights} bytes of weights, weights.maxTotal allows"
                f" {problem.weight_budget_bytes}"
            )
        prev = node
    items.append((_link(problem, len(problem.profile.blocks), prev, d, True), f"link {prev} -> {d} (output)"))
    for value, label in items:
        if math.isinf(value) and label.startswith("link"):
            problems.append(f"no {label} (bandwidth 0)")
    if problem.cost.medium == "shared":
        bottleneck, label = shared_bottleneck(items)
    else:
        bottleneck, label = max(items, key=lambda item: item[0])  # first of equals: earliest in the chain
    latency = 0.0
    for k in range(0, len(items) - 1, 2):  # same order as the search: in + stage, hop + stage, ..., out
        latency = latency + (items[k][0] + items[k + 1][0])
    latency = latency + items[-1][0]
    return Assessment(bottleneck, label, latency, tuple(problems))


def shared_bottleneck(items: list[tuple[float, str]]) -> tuple[float, str]:
    """On a shared medium the links take turns: their term is the sum of the chain's transfer times (in
    chain order, as the search adds them), set against each stage's own time."""
    links = [value for value, label in items if label.startswith("link")]
    airtime = 0.0
    for value in links:
        airtime = airtime + value
    stages = [item for item in items if not item[1].startswith("link")]
    slowest = max(stages, key=lambda item: item[0])
    if airtime >= slowest[0]:
        return airtime, f"shared medium: {len(links)} transfers"
    return slowest


def build_plan(
    problem: Problem,
    placement: Placement,
    *,
    lower_bound_s: float,
    algorithm: str,
    proven_optimal: bool,
    backups: tuple[tuple[str, ...], ...] | None = None,
    budget_exhausted: bool = False,
) -> Plan:
    """The Plan value of a feasible placement."""
    verdict = assess(problem, placement)
    if not verdict.feasible:
        raise ValueError("placement not allowed: " + "; ".join(verdict.problems))
    blocks = problem.profile.blocks
    d = problem.dispatcher_node
    stages = []
    for i, (first, last, node) in enumerate(placement, 1):
        host = problem.cluster.node(node)
        span = blocks[first : last + 1]
        flops = sum(b.flops for b in span)
        is_last = i == len(placement)
        target = d if is_last else placement[i][2]
        stages.append(
            Stage(
                index=i,
                first_block=first,
                last_block=last,
                first_layer=span[0].layers[0],
                last_layer=span[-1].layers[-1],
                node=node,
                backups=backups[i - 1] if backups else (),
                memory_bytes=stage_memory(problem, first, last),
                memory_available_bytes=problem.capacity(host),
                param_bytes=sum(b.param_bytes for b in span),
                flops=flops,
                compute_s=compute_seconds(flops, host.flops_per_s),
                overhead_s=hop_work_s(
                    problem.cost,
                    _tensor_bytes(problem, first),
                    _tensor_bytes(problem, last + 1),
                    host.flops_per_s,
                ),
                bytes_in=problem.cost.codec.wire_bytes(
                    _tensor_bytes(problem, first), _tensor_shape(problem, first)
                ),
                bytes_out=problem.cost.codec.wire_bytes(
                    _tensor_bytes(problem, last + 1), _tensor_shape(problem, last + 1)
                ),
                link_out_s=_link(problem, last + 1, node, target, dispatcher_end=is_last),
            )
        )
    return Plan(
        pipeline=problem.pipeline,
        model_hash=problem.profile.model_hash,
        model_version=problem.model_version,
        dispatcher_node=d,
        objective=problem.cost.objective,
        stages=tuple(stages),
        input_link_s=_link(problem, 0, d, placement[0][2], dispatcher_end=True),
        bottleneck_s=verdict.bottleneck_s,
        bottleneck=verdict.bottleneck,
        latency_s=verdict.latency_s,
        lower_bound_s=min(lower_bound_s, verdict.bottleneck_s),
        algorithm=algorithm,
        proven_optimal=proven_optimal,
        budget_exhausted=budget_exhausted,
        image=problem.image,
        dispatcher_memory_bytes=problem.dispatcher_bytes,
    )
