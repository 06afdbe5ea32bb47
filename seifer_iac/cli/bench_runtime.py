"""`seifer bench runtime`: the runtime's own figures (per-hop overhead, codecs, chain vs one process)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("runtime")
@click.option("--quick", is_flag=True, help="Fewer repetitions (about a minute instead of four).")
@click.option(
    "--write",
    "write",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the markdown tables to this file (e.g. docs/benchmarks.md).",
)
def command(quick: bool, write: Path | None) -> None:
    """Measure the runtime on this machine and print markdown tables.

    Per-hop overhead of a 1 MiB activation through a real stage process on loopback, for each codec;
    codec ratio and MB/s on a real convolution output; and a 3-stage chain against the unsplit model in
    one process (pipelined over ZeroMQ, and through the dispatcher's HTTP API).

    \b
    Example:
      seifer bench runtime --quick
    """
    from seifer_iac.bench.runtime import run_benchmarks, to_markdown

    click.echo("measuring (real processes on loopback; this takes a few minutes) ...", err=True)
    text = to_markdown(run_benchmarks(quick=quick))
    click.echo(text)
    if write:
        write.write_text(text)
        click.echo(f"written to {write}", err=True)
