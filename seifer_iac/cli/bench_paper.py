"""`seifer bench paper`: the research's placement grid, ours vs two-phase, greedy and random.

Thin shell over seifer_iac.bench.paper: prints a markdown table per variant plus the overall
figures, writes paper.csv and one PNG per variant into --out.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import click


def _pct(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1%}"


def _x(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}x"


@click.command("paper")
@click.option("--quick", is_flag=True, help="3 trials, 5/20/50 nodes: under two minutes.")
@click.option("--trials", type=int, default=None, help="Trials per configuration (default 50, quick 3).")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default="bench-out",
    show_default=True,
    help="Where paper.csv and paper-<variant>.png go.",
)
@click.option("--variant", "variants", multiple=True, help="Only these variants (default: all three).")
def command(quick: bool, trials: int | None, out_dir: str, variants: tuple[str, ...]) -> None:
    """The research's grid (4 models x 5 cluster sizes x 4 memory sizes, seeded trials), twice: with the
    dispatcher's links counted (our objective) and without (like the research's figures), plus a mixed
    memory/speed grid with the full objective. Bottlenecks are mean milliseconds per inference; "x random" is
    how many times slower random is than ours.

    \b
    Examples:
      seifer bench paper --quick
      seifer bench paper --out docs/bench
    """
    from seifer_iac.bench import paper as pb

    chosen = variants or tuple(pb.VARIANTS)
    unknown = [v for v in chosen if v not in pb.VARIANTS]
    if unknown:
        choices = ", ".join(pb.VARIANTS)
        click.echo(f"error: unknown variant {', '.join(unknown)} (choose from {choices})", err=True)
        sys.exit(2)
    try:
        profiles = pb.load_profiles()
    except (OSError, ValueError) as error:
        click.echo(f"error: cannot load the committed profiles: {error}", err=True)
        sys.exit(2)
    out = Path(out_dir)
    started = time.perf_counter()
    all_rows = []
    mode = "quick" if quick else "full"
    click.echo(f"# seifer bench paper ({mode}{'' if trials is None else f', {trials} trials'})")
    click.echo("Sizes: real float32 bytes from the committed profiles, no compression (the research assumed")
    click.echo("8-byte floats and a 1.44 ZFP ratio). Bottlenecks are means in ms; x = baseline / ours.")
    for variant in chosen:
        click.echo(f"\n## {variant}: {pb.VARIANTS[variant]}\n")
        for line in pb.markdown_header():
            click.echo(line)
        rows, done = pb.run_variant(
            variant, profiles, quick, trials, progress=lambda row: click.echo(pb.markdown_row(row))
        )
        all_rows.extend(rows)
        fig = pb.plot(rows, variant, out / f"paper-{variant}.png")
        figures = pb.overall(done)
        click.echo(
            f"\noverall ({int(figures['feasible'])}/{int(figures['trials'])} trials with a plan):"
            f" ours vs random {_x(figures['vs_random'])}, vs greedy {_x(figures['vs_greedy'])},"
            f" vs two-phase {_x(figures['vs_two_phase'])}; proven optimal {_pct(figures['proven_share'])};"
            f" greedy already optimal in {_pct(figures['greedy_optimal_share'])}"
        )
        sizes = sorted(int(k.rsplit("_", 1)[1]) for k in figures if k.startswith("plan_median_ms_"))
        times = ", ".join(
            f"{n} nodes {figures[f'plan_median_ms_{n}']:.1f}/{figures[f'plan_worst_ms_{n}']:.1f}"
            for n in sizes
        )
        click.echo(f"plan time (CPU) median/worst ms: {times}")
        click.echo(f"plot: {fig}")
    csv_path = pb.write_csv(all_rows, out / "paper.csv")
    click.echo(f"\nwrote {csv_path} in {time.perf_counter() - started:.0f} s")
