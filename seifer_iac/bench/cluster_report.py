"""Tables, CSV and plot of `seifer bench cluster`: pure formatting of the measured values (and one PNG).

One markdown table per experiment (so stdout, the CSV and docs/benchmarks.md say the same thing),
one CSV row per configuration or per node, one figure with a panel per experiment.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from seifer_iac.bench.cluster import GainSpread, LossResult, NodeUsage, Results, RunResult

RUN_COLUMNS = (
    "experiment", "model", "workers", "codec", "stages", "placement", "bottleneck", "predicted_per_s",
    "measured_per_s", "ratio", "predicted_latency_ms", "unloaded_latency_ms", "latency_median_ms",
    "latency_p95_ms", "requests", "answered", "failed", "resends", "duplicates", "planned_input_bytes",
    "dispatcher_sent_bytes", "host_load", "dilation", "oom_kills", "raw_measured_per_s",
)  # fmt: skip
DEFER_GAIN = 0.53  # DEFER (arXiv 2201.06769): ResNet50 on 8 compute nodes, throughput against one device
USAGE_COLUMNS = ("node", "role", "cpu_s_per_inference", "bytes_sent_per_inference")


def _num(value: float, digits: int = 2) -> str:
    return (
        "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"
    )


def _ms(seconds: float) -> str:
    return _num(seconds * 1e3, 0)


def markdown(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def run_rows(runs: Sequence[RunResult]) -> list[list[str]]:
    return [
        [
            r.model, str(r.workers), r.codec, str(r.stages), r.placement, _num(r.predicted_per_s),
            _num(r.measured_per_s), _num(r.ratio), _ms(r.predicted_latency_s), _ms(r.unloaded_latency_s),
            _ms(r.latency_median_s), _ms(r.latency_p95_s), f"{r.answered}/{r.requests}", _num(r.resends, 0),
            str(r.oom_kills), _num(r.host_load, 1),
        ]
        for r in runs
    ]  # fmt: skip


RUN_HEADER = (
    "model", "workers", "codec", "stages", "placement [blocks]", "predicted /s", "measured /s",
    "measured/predicted", "predicted latency ms", "unloaded latency ms", "loaded median ms", "loaded p95 ms",
    "answered", "re-sends", "OOM kills", "host load",
)  # fmt: skip


CODEC_HEADER = (
    "codec", "placement [blocks]", "input KiB planned", "input KiB on the wire", "predicted /s",
    "measured /s", "measured/predicted", "unloaded latency ms", "loaded median ms", "answered", "re-sends",
    "host load",
)  # fmt: skip


def codec_rows(runs: Sequence[RunResult]) -> list[list[str]]:
    """The codec comparison, with what the plan assumed crosses the input link against what did (tc)."""
    return [
        [
            r.codec, r.placement, f"{r.planned_input_bytes / 1024:.1f}",
            f"{r.dispatcher_sent_bytes / 1024:.1f}",
            _num(r.predicted_per_s), _num(r.measured_per_s), _num(r.ratio), _ms(r.unloaded_latency_s),
            _ms(r.latency_median_s), f"{r.answered}/{r.requests}", _num(r.resends, 0), _num(r.host_load, 1),
        ]
        for r in runs
    ]  # fmt: skip


SPREAD_HEADER = ("workers", "seeds", "median gain", "25-75 %", "seeds improved", "median stages")


def spread_rows(spread: Sequence[GainSpread]) -> list[list[str]]:
    return [
        [
            str(g.workers), str(g.seeds), f"{g.median_gain:+.0%}", f"{g.low_gain:+.0%} .. {g.high_gain:+.0%}",
            f"{g.improved_share:.0%}", f"{g.median_stages:g}",
        ]
        for g in spread
    ]  # fmt: skip


COMPUTE_HEADER = (
    "model", "workers", "stages", "placement [blocks]", "bottleneck (plan)", "predicted /s", "measured /s",
    "measured/predicted", "gain vs 1 measured", "gain vs 1 predicted",
    "busiest node: CPU / quota per inference (plan)",
    "loaded median ms", "answered", "dilation k", "OOM kills", "host load",
)  # fmt: skip


def compute_rows(runs: Sequence[RunResult]) -> list[list[str]]:
    base = next((r for r in runs if r.workers == 1), None)
    one_measured = base.measured_per_s if base else None
    one_predicted = base.predicted_per_s if base else None

    def gain(value: float, one: float | None) -> str:
        return "n/a" if not one or one <= 0 else f"{value / one - 1:+.0%}"

    return [
        [
            r.model, str(r.workers), str(r.stages), r.placement, r.bottleneck, _num(r.predicted_per_s),
            _num(r.measured_per_s), _num(r.ratio), gain(r.measured_per_s, one_measured),
            gain(r.predicted_per_s, one_predicted), r.busiest or "n/a", _ms(r.latency_median_s),
            f"{r.answered}/{r.requests}", f"{r.dilation:g}", str(r.oom_kills), _num(r.host_load, 1),
        ]
        for r in runs
    ]  # fmt: skip


def defer_lines(runs: Sequence[RunResult]) -> list[str]:
    """ResNet50 on 8 compute nodes against one, beside DEFER's reported +53 %."""
    one = next((r for r in runs if r.workers == 1 and r.model == "ResNet50"), None)
    eight = next((r for r in runs if r.workers == 8 and r.model == "ResNet50"), None)
    if one is None or eight is None or one.measured_per_s <= 0:
        return []
    measured = eight.measured_per_s / one.measured_per_s - 1
    return [
        f"ResNet50, 8 compute nodes against one: measured {measured:+.0%}"
        f" (predicted {eight.predicted_per_s / one.predicted_per_s - 1:+.0%}); DEFER reported"
        f" {DEFER_GAIN:+.0%} on its CORE emulation."
    ]


def dilation_lines(compute: Sequence[RunResult], dilated: Sequence[RunResult]) -> list[str]:
    """The same configuration at k=1 and at k > 1: raw rates k times apart, scaled-back rates equal."""
    lines = []
    for slow in dilated:
        real = next((r for r in compute if r.workers == slow.workers and r.dilation == 1.0), None)
        if real is None or real.measured_per_s <= 0:
            continue
        raw_share = slow.raw_measured_per_s / real.measured_per_s
        lines.append(
            f"Dilation check, {slow.workers} workers: at k={slow.dilation:g} the run measured"
            f" {slow.raw_measured_per_s:.3f}/s raw, {raw_share:.2f} of the"
            f" k=1 run's {real.measured_per_s:.3f}/s (expected {1 / slow.dilation:.2f}); scaled back"
            f" {slow.measured_per_s:.3f}/s, {slow.measured_per_s / real.measured_per_s:.2f} of k=1."
        )
    return lines


def gain_lines(runs: Sequence[RunResult]) -> list[str]:
    """Throughput of each size against the one-worker run (measured and predicted)."""
    base = next((r for r in runs if r.workers == 1), None)
    if base is None or base.measured_per_s <= 0:
        return []
    parts = [
        f"{r.workers} workers {r.measured_per_s / base.measured_per_s - 1:+.0%}"
        f" (predicted {r.predicted_per_s / base.predicted_per_s - 1:+.0%})"
        for r in runs
        if r.workers != 1
    ]
    return ["Throughput against one worker, measured (predicted): " + ", ".join(parts)] if parts else []


def energy_partner(sizes: Sequence[RunResult]) -> RunResult | None:
    """The chain to compare with one worker: 8 workers (the research's setting) if run, else the largest."""
    if not sizes:
        return None
    return next((r for r in sizes if r.workers == 8), max(sizes, key=lambda r: r.workers))


def usage_table(one: RunResult, many: RunResult) -> list[list[str]]:
    rows = []
    for label, run in (("1 worker", one), (f"{many.workers} workers", many)):
        for u in run.usage:
            rows.append([label, u.node, u.role, _num(u.cpu_s, 4), f"{u.sent_bytes / 1024:.1f}"])
    return rows


def usage_summary(one: RunResult, many: RunResult) -> list[str]:
    """Mean and max over stage nodes of the chain, against the single worker (the energy proxy)."""
    single = [u for u in one.usage if u.role.startswith("stage")]
    chain = [u for u in many.usage if u.role.startswith("stage")]
    if not single or not chain:
        return []
    base_cpu, base_sent = single[0].cpu_s, single[0].sent_bytes
    mean_cpu = sum(u.cpu_s for u in chain) / len(chain)
    max_cpu = max(u.cpu_s for u in chain)
    mean_sent = sum(u.sent_bytes for u in chain) / len(chain)
    cpu_change = mean_cpu / base_cpu - 1 if base_cpu > 0 else float("nan")
    peak_change = max_cpu / base_cpu - 1 if base_cpu > 0 else float("nan")
    sent = f"{mean_sent / 1024:.1f} KiB vs {base_sent / 1024:.1f} KiB"
    return [
        f"CPU s per inference per stage node: mean {mean_cpu:.4f} (max {max_cpu:.4f})"
        f" on {many.workers} workers vs {base_cpu:.4f} on one:"
        f" {cpu_change:+.0%} mean, {peak_change:+.0%} busiest node;"
        f" bytes sent per inference per stage node: {sent}"
    ]


def loss_rows(loss: LossResult) -> list[list[str]]:
    return [[
        str(loss.workers), loss.codec, f"stage {loss.stage} on {loss.lost}", loss.target,
        f"{loss.answered}/{loss.requests}", str(loss.failed), str(loss.no_answer),
        _num(loss.duplicates_dropped, 0), _num(loss.resends, 0), str(loss.wrong_answers),
        f"{loss.takeover_s:.1f}", f"{loss.longest_gap_s:.1f}",
        f"{_num(loss.before_per_s)} ({_num(loss.predicted_before_per_s)})",
        f"{_num(loss.after_per_s)} ({_num(loss.predicted_after_per_s)})",
    ]]  # fmt: skip


LOSS_HEADER = (
    "workers", "codec", "lost", "moved to", "answered", "failed (HTTP error)", "no answer",
    "duplicates dropped", "re-sends", "wrong answers", "take-over s", "longest gap s", "before /s (pred.)",
    "after /s (pred.)",
)  # fmt: skip


def report_lines(results: Results, command: str) -> list[str]:
    """The whole report as markdown (printed to stdout and written next to the CSV)."""
    lines = [f"Command: `{command}` ({results.seconds / 60:.1f} min)", ""]
    compute = results.by("compute")
    if compute:
        k = sorted({r.dilation for r in compute})
        lines += ["## Compute-bound sweep: node speeds enforced (CPU quota per node), full objective", ""]
        lines += [*markdown(COMPUTE_HEADER, compute_rows(compute)), "", *defer_lines(compute)]
        lines += [
            f"Time dilation k = {', '.join(f'{x:g}' for x in k)}"
            " (figures scaled back: rates x k, latencies / k);"
            f" OOM kills: {sum(r.oom_kills for r in compute)}.",
            "",
        ]
        dilated = results.by("dilation")
        if dilated:
            lines += [
                *markdown(COMPUTE_HEADER, compute_rows(dilated)),
                "",
                *dilation_lines(compute, dilated),
                "",
            ]
    sizes = results.by("size")
    if sizes:
        lines += ["## Throughput and latency against cluster size", ""]
        lines += [*markdown(RUN_HEADER, run_rows(sizes)), "", *gain_lines(sizes), ""]
    codecs = results.by("codec")
    if codecs:
        lines += [f"## Codecs on {codecs[0].workers} workers ({codecs[0].model})", ""]
        lines += [*markdown(CODEC_HEADER, codec_rows(codecs)), ""]
    resnet = results.by("resnet50")
    if resnet:
        lines += ["## ResNet50", "", *markdown(RUN_HEADER, run_rows(resnet)), "", *gain_lines(resnet), ""]
    one = next((r for r in sizes if r.workers == 1), None)
    many = energy_partner(sizes)
    if one and many and many is not one:
        lines += [f"## CPU and bytes per inference per node: 1 vs {many.workers} workers", ""]
        header = ("cluster", "node", "role", "CPU s / inference", "KiB sent / inference")
        lines += [*markdown(header, usage_table(one, many)), "", *usage_summary(one, many), ""]
    if results.spread:
        lines += [
            f"## Plan only: predicted gain over one worker across {results.spread[0].seeds} seeded clusters"
        ]
        lines += ["", *markdown(SPREAD_HEADER, spread_rows(results.spread)), ""]
    if results.loss_error:
        lines += ["## Node loss", "", f"The node-loss run failed: {results.loss_error}", ""]
    if results.loss:
        lines += ["## Node loss", "", *markdown(LOSS_HEADER, loss_rows(results.loss)), ""]
        lines += [f"How: {results.loss.how}.", ""]
    return lines


def csv_rows(results: Results) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for r in results.runs:
        base = {
            "experiment": r.experiment, "model": r.model, "workers": r.workers, "codec": r.codec,
            "stages": r.stages, "placement": r.placement, "bottleneck": r.bottleneck,
            "predicted_per_s": r.predicted_per_s, "measured_per_s": r.measured_per_s, "ratio": r.ratio,
            "predicted_latency_ms": r.predicted_latency_s * 1e3,
            "unloaded_latency_ms": r.unloaded_latency_s * 1e3,
            "latency_median_ms": r.latency_median_s * 1e3, "latency_p95_ms": r.latency_p95_s * 1e3,
            "requests": r.requests, "answered": r.answered, "failed": r.failed, "resends": r.resends,
            "duplicates": r.duplicates, "planned_input_bytes": r.planned_input_bytes,
            "dispatcher_sent_bytes": r.dispatcher_sent_bytes, "host_load": r.host_load,
            "dilation": r.dilation, "oom_kills": r.oom_kills, "raw_measured_per_s": r.raw_measured_per_s,
        }  # fmt: skip
        rows.append(base)
        rows += [_usage_row(r, u) for u in r.usage]
    if results.loss:
        loss = results.loss
        rows.append({
            "experiment": "node-loss", "workers": loss.workers, "codec": loss.codec,
            "placement": f"stage {loss.stage}: {loss.lost} -> {loss.target}", "requests": loss.requests,
            "answered": loss.answered, "failed": loss.failed + loss.no_answer, "resends": loss.resends,
            "duplicates": loss.duplicates_dropped, "measured_per_s": loss.after_per_s,
            "predicted_per_s": loss.predicted_after_per_s, "bottleneck": loss.how,
        })  # fmt: skip
    for g in results.spread:
        rows.append({
            "experiment": "plan-spread", "workers": g.workers, "requests": g.seeds,
            "ratio": g.median_gain, "stages": g.median_stages,
            "bottleneck": f"median predicted gain; quartiles {g.low_gain:.3f}..{g.high_gain:.3f}",
        })  # fmt: skip
    return rows


def _usage_row(run: RunResult, usage: NodeUsage) -> dict[str, Any]:
    return {
        "experiment": f"{run.experiment}-usage", "model": run.model, "workers": run.workers,
        "codec": run.codec,
        "node": usage.node, "role": usage.role, "cpu_s_per_inference": usage.cpu_s,
        "bytes_sent_per_inference": usage.sent_bytes,
    }  # fmt: skip


def write_csv(results: Results, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*RUN_COLUMNS, *USAGE_COLUMNS], restval="")
        writer.writeheader()
        for row in csv_rows(results):
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    return path


def plot(results: Results, path: Path) -> Path:
    """Four panels: throughput vs size, latency vs size, codecs, CPU/bytes per node (1 vs largest)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    sizes = results.by("size")
    ax = axes[0][0]
    if sizes:
        xs = [r.workers for r in sizes]
        ax.plot(xs, [r.measured_per_s for r in sizes], "o-", label="measured")
        ax.plot(xs, [r.predicted_per_s for r in sizes], "s--", label="predicted (plan)")
        ax.set_xlabel("worker nodes")
        ax.set_ylabel("inferences / s")
        ax.legend()
    ax.set_title(
        f"Throughput vs cluster size ({sizes[0].model if sizes else ''}, {sizes[0].codec if sizes else ''})"
    )
    ax = axes[0][1]
    if sizes:
        ax.plot(xs, [r.unloaded_latency_s * 1e3 for r in sizes], "o-", label="unloaded (1 in flight)")
        ax.plot(xs, [r.latency_median_s * 1e3 for r in sizes], "^-", label="loaded median")
        ax.plot(xs, [r.predicted_latency_s * 1e3 for r in sizes], "s--", label="predicted (links)")
        ax.set_xlabel("worker nodes")
        ax.set_ylabel("ms")
        ax.legend()
    ax.set_title("End-to-end latency vs cluster size")
    ax = axes[1][0]
    codecs = results.by("codec")
    if codecs:
        names = [r.codec for r in codecs]
        pos = list(range(len(codecs)))
        ax.bar([p - 0.2 for p in pos], [r.measured_per_s for r in codecs], 0.4, label="measured")
        ax.bar([p + 0.2 for p in pos], [r.predicted_per_s for r in codecs], 0.4, label="predicted")
        ax.set_xticks(pos, names)
        ax.set_ylabel("inferences / s")
        ax.legend()
        ax.set_title(f"Codecs on {codecs[0].workers} workers")
    ax = axes[1][1]
    one = next((r for r in sizes if r.workers == 1), None)
    many = energy_partner(sizes)
    if one and many:
        bars = [(f"1w {u.node}", u) for u in one.usage if u.role.startswith("stage")]
        bars += [(f"{many.workers}w {u.node}", u) for u in many.usage if u.role.startswith("stage")]
        pos = list(range(len(bars)))
        ax.bar(pos, [u.cpu_s * 1e3 for _, u in bars], 0.4, label="CPU ms / inference")
        twin = ax.twinx()
        twin.bar([p + 0.4 for p in pos], [u.sent_bytes / 1024 for _, u in bars], 0.4, color="tab:orange",
                 label="KiB sent / inference")  # fmt: skip
        ax.set_xticks([p + 0.2 for p in pos], [name for name, _ in bars], rotation=30)
        ax.set_ylabel("CPU ms / inference")
        twin.set_ylabel("KiB sent / inference")
        ax.set_title("Per stage node: CPU (blue) and bytes sent (orange)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_compute(results: Results, path: Path) -> Path | None:
    """Predicted and measured throughput against node count in the compute-bound sweep (None: not run)."""
    runs = results.by("compute")
    if not runs:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    xs = [r.workers for r in runs]
    ax.plot(xs, [r.measured_per_s for r in runs], "o-", label="measured (scaled back)")
    ax.plot(xs, [r.predicted_per_s for r in runs], "s--", label="predicted (plan, full objective)")
    one = next((r for r in runs if r.workers == 1), None)
    if one is not None and 8 in xs:
        ax.plot([8], [one.measured_per_s * (1 + DEFER_GAIN)], "k*", markersize=12, label="DEFER: +53 % at 8")
    ax.set_xscale("log", base=2)
    ax.set_xticks(xs, [str(x) for x in xs])
    ax.set_xlabel("Raspberry-Pi-class worker nodes")
    ax.set_ylabel("inferences / s")
    k = ", ".join(f"{x:g}" for x in sorted({r.dilation for r in runs}))
    ax.set_title(f"{runs[0].model}: compute-bound sweep (dilation k = {k})")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
