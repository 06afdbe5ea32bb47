"""`seifer bench planner`: proven share, gap and plan time per cluster size, research grid and a
compute-bound family (seifer_iac/bench/planner_bench.py)."""

from __future__ import annotations

import math
import time

import click


@click.command("planner")
@click.option("--quick", is_flag=True, help="5/20/50 nodes, 2 trials per model: about a minute.")
@click.option("--trials", type=int, default=None, help="Trials per model and size (default 10, quick 2).")
@click.option(
    "--budget", "budget_s", type=float, default=None, help="planner.timeBudget in seconds (default 2)."
)
@click.option("--family", "families", multiple=True, help="research and/or compute-bound (default both).")
def command(quick: bool, trials: int | None, budget_s: float | None, families: tuple[str, ...]) -> None:
    """Plan seeded clusters of 5-50 nodes with the product's optimiser and its default budget: the share
    proven optimal, the gap to the proven lower bound, and the plan time (process CPU) per size.

    \b
    Examples:
      seifer bench planner --quick
      seifer bench planner --family compute-bound --trials 20
    """
    from seifer_iac.bench import planner_bench as pb

    chosen = families or tuple(pb.FAMILIES)
    unknown = [f for f in chosen if f not in pb.FAMILIES]
    if unknown:
        raise click.UsageError(f"unknown family {', '.join(unknown)} (choose from {', '.join(pb.FAMILIES)})")
    nodes = pb.QUICK_NODES if quick else pb.NODES
    count = trials if trials is not None else (pb.QUICK_TRIALS if quick else pb.TRIALS)
    profiles = pb.load_profiles()
    started = time.perf_counter()
    click.echo(f"# seifer bench planner ({'quick' if quick else 'full'}, {count} trials per model and size)")
    click.echo(f"models: {', '.join(profiles)}; budget {budget_s if budget_s is not None else 'default'}")
    for family in chosen:
        click.echo(f"\n## {family}: {pb.FAMILIES[family]}\n")
        for line in pb.markdown_header():
            click.echo(line)
        _, outcomes = pb.run_family(
            family, profiles, nodes, count, budget_s, progress=lambda r: click.echo(pb.markdown_row(r))
        )
        t = pb.totals(outcomes)
        gap = "n/a" if math.isnan(t["gap_max"]) else f"{t['gap_max']:.2%}"
        click.echo(
            f"\nall: {int(t['feasible'])}/{int(t['cases'])} with a plan,"
            f" proven optimal {t['proven_share']:.1%},"
            f" largest gap {gap}, slowest plan {t['worst_s']:.2f} s CPU"
        )
    click.echo(f"\ntook {time.perf_counter() - started:.0f} s")
