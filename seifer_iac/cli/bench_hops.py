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
@click.option(
    "--relay-link",
    default="50Mbps",
    show_default=True,
    help="Where the stage relay is measured: an emulated link of this rate (root), loopback, or none.",
)
def command(repeat: int, write: str | None, relay_link: str) -> None:
    """Encode/decode time per codec (runtime.frames with runtime.codecs, 64 KiB - 4 MiB ReLU-like float32
    activations, least squares), the fixed cost of a loopback ZeroMQ hop, and what a real stage process
    spends per request besides its layers (with and without CURVE, across an emulated link when run as
    root), with this host's FLOP/s (ResNet50, LiteRT): the planner scales the costs to each node's speed.

    \b
    Examples:
      sudo seifer bench hops --write seifer_iac/planner/hop_costs.json
      seifer bench hops --relay-link loopback
      seifer bench hops --relay-link none
    """
    from seifer_iac.bench.hop_measure import measure, to_markdown
    from seifer_iac.bench.hop_relay import Link
    from seifer_iac.local import netns
    from seifer_iac.spec.units import parse_bandwidth

    link = None
    if relay_link == "loopback":
        link = Link(None)
    elif relay_link != "none":
        try:
            rate = parse_bandwidth(relay_link)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--relay-link") from None
        ok, why = netns.available()
        if not ok:
            click.echo(f"relay measured on loopback: {why}", err=True)
        link = Link(rate if ok else None)
    figures = measure(max(3, repeat), link, say=lambda m: click.echo(m, err=True))
    click.echo(to_markdown(figures))
    if write:
        Path(write).write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
        click.echo(f"\nwrote {write}")
