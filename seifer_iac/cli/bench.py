"""`seifer bench ...`: each benchmark is its own lazily imported subcommand."""

from __future__ import annotations

import click

from seifer_iac.cli.main import LazyGroup

BENCHES: dict[str, tuple[str, str]] = {
    "paper": (
        "seifer_iac.cli.bench_paper",
        "The research's placement grid: ours vs two-phase, greedy, random.",
    ),
    "runtime": (
        "seifer_iac.cli.bench_runtime",
        "Per-hop overhead, codec ratio and speed, chain vs one process.",
    ),
    "cluster": ("seifer_iac.cli.bench_cluster", "Emulated cluster: throughput and latency vs cluster size."),
    "planner": ("seifer_iac.cli.bench_planner", "Planner: proven share, gap and plan time, 5-50 nodes."),
    "hops": ("seifer_iac.cli.bench_hops", "Per-hop and codec costs for the planner's cost model."),
    "backends": (
        "seifer_iac.cli.bench_backends",
        "TensorFlow vs LiteRT fp32/fp16/int8: latency, peak memory vs limit, accuracy.",
    ),
}


@click.group("bench", cls=LazyGroup, lazy=BENCHES)
def command() -> None:
    """Benchmarks that print figures (and write CSV/PNG where they say so).

    \b
    Examples:
      seifer bench paper --quick
      seifer bench runtime
      seifer bench cluster --quick
      seifer bench backends --model MobileNetV2 --parts 2
    """
