"""Plans as text for people: which stage runs where, memory bars, the bottleneck marked, the figures."""

from __future__ import annotations

from seifer_iac.planner.plan import Plan

BAR = 12


def _ms(seconds: float) -> str:
    if seconds == float("inf"):
        return "inf"
    return f"{seconds * 1e3:.2f} ms"


def _bar(used: int, available: int) -> str:
    if available <= 0:
        return "?" * BAR
    filled = min(BAR, round(BAR * used / available))
    return "#" * filled + "." * (BAR - filled)


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f}"


def plan_table(plan: Plan, model_label: str = "") -> str:
    """The plan as an aligned table plus summary lines; the bottleneck is marked with '<< bottleneck'."""
    head = ["stage", "node", "blocks", "layers", "memory MiB", "compute", "link out", "backups"]
    rows = []
    for s in plan.stages:
        target = plan.stages[s.index].node if s.index < len(plan.stages) else plan.dispatcher_node
        compute_mark = " <<" if plan.bottleneck == f"stage {s.index} compute on {s.node}" else ""
        link_labels = (f"link {s.node} -> {target}", f"link {s.node} -> {target} (output)")
        link_mark = " <<" if plan.bottleneck in link_labels else ""
        rows.append(
            [
                str(s.index),
                s.node,
                f"{s.first_block}-{s.last_block}",
                f"{s.first_layer} .. {s.last_layer}",
                f"{_bar(s.memory_bytes, s.memory_available_bytes)} {_mib(s.memory_bytes)}/"
                f"{_mib(s.memory_available_bytes)}",
                _ms(s.compute_s) + (f" +{_ms(s.overhead_s)} relay" if s.overhead_s else "") + compute_mark,
                f"{_ms(s.link_out_s)} -> {target}{link_mark}",
                ", ".join(s.backups) or "-",
            ]
        )
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = [
        f"pipeline {plan.pipeline}"
        + (f"  model {model_label}" if model_label else "")
        + f" v{plan.model_version} ({plan.model_hash[:12]})  objective {plan.objective}"
        + f"  dispatcher {plan.dispatcher_node}",
        "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip(),
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    input_mark = " <<" if plan.bottleneck.endswith("(input)") else ""
    first = plan.stages[0].node
    lines.append(f"input link {plan.dispatcher_node} -> {first}: {_ms(plan.input_link_s)}{input_mark}")
    lines.append(
        f"bottleneck {_ms(plan.bottleneck_s)} ({plan.bottleneck}) -> throughput"
        f" {plan.throughput_per_s:.2f}/s, latency {_ms(plan.latency_s)}"
    )
    if plan.proven_optimal:
        quality = "proven optimal"
    else:
        quality = f"within {plan.gap:.1%} of the lower bound {_ms(plan.lower_bound_s)}"
    if plan.budget_exhausted and not plan.proven_optimal:
        quality = "time budget ran out: " + quality
    lines.append(f"{quality} ({plan.algorithm}); plan {plan.plan_hash}")
    return "\n".join(lines)
