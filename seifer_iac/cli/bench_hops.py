"""`seifer bench hops`: measure the per-hop and codec costs the planner's cost model uses."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("hops")
@click.option("--repeat", type=int, default=15, show_default=True, help="Timed repeats per size (median).")
@click.option(
    "--write",
    "write",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the figures as JSON here (the planner reads seifer_iac/planner/hop_costs.json).",
)
def command(repeat: int, write: str | None) -> None:
    """Encode/decode time per codec (runtime.frames with runtime.codecs, 64 KiB - 4 MiB ReLU-like float32
    activations, least squares) and the fixed cost of a loopback ZeroMQ hop; prints a table.

    \b
    Examples:
      seifer bench hops
      seifer bench hops --write seifer_iac/planner/hop_costs.json
    """
    from seifer_iac.bench.hop_measure import measure, to_markdown

    figures = measure(max(3, repeat))
    click.echo(to_markdown(figures))
    if write:
        Path(write).write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
        click.echo(f"\nwrote {write}")
