"""`seifer probe --local SPEC`: measure the emulated cluster's links and node speeds; write the measured file.

The command group `seifer probe` (cli/probe.py) hands its `--local` path here: `probe_local_command` does
the whole run and exits like every other command (2 with one line for what the user can fix).
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import click

from seifer_iac.cli.inputs import fail, fail_lines, preflight

EXAMPLES = """\b
Examples:
  sudo seifer probe --local stacks/dev.pipeline.yaml --out stacks/cluster.measured.yaml
  sudo seifer probe --local stacks/dev.pipeline.yaml --pairs gateway:pi-1,pi-1:gateway --out m.yaml
"""


def probe_local_command(
    spec_path: str,
    *,
    pairs_text: str | None,
    out: str,
    repeats: int,
    size: int,
    speeds: bool,
    dilation: float | None,
    recalibrate: bool,
    say: Callable[[str], None],
) -> None:
    """Run the probes on the emulated cluster and write the measured-cluster file (`-`: standard output)."""
    from seifer_iac.local.cgroups import CgroupError
    from seifer_iac.local.netns import EmulatorError
    from seifer_iac.probe.collect import CollectError, collect, probe_nodes
    from seifer_iac.probe.local import LocalProbeOptions, available, probe_local
    from seifer_iac.probe.measured import dump_measured
    from seifer_iac.probe.schedule import PairsError, parse_pairs
    from seifer_iac.release import RELEASE_ERRORS, build_release

    spec, _ = preflight(spec_path, progress=say)
    try:
        pairs = parse_pairs(pairs_text, probe_nodes(spec)) if pairs_text is not None else None
    except PairsError as error:
        fail(str(error))
    ok, why = available()
    if not ok:
        fail(
            f"seifer probe --local runs the probes in the emulator's network namespaces and CPU quotas, "
            f"and cannot here ({why}); run it as root (probing plain loopback would measure nothing of the "
            "spec's links)"
        )
    work_dir = Path(tempfile.mkdtemp(prefix="seifer-probe-"))
    try:
        try:
            release = build_release(spec, progress=say)
        except RELEASE_ERRORS as error:
            fail_lines(str(error).splitlines())
        options = LocalProbeOptions(
            work_dir=work_dir,
            size=size,
            repeats=repeats,
            pairs=pairs,
            speeds=speeds,
            dilation=dilation,
            recalibrate=recalibrate,
        )
        try:
            result = probe_local(release, options, say=say)
        except (EmulatorError, CgroupError, CollectError) as error:
            fail(str(error))
        measured = collect(result.lines, spec, dt.datetime.now(dt.timezone.utc), pairs)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    text = dump_measured(measured)
    if out == "-":
        click.echo(text, nl=False)
    else:
        try:
            Path(out).write_text(text)
        except OSError as error:
            fail(f"cannot write {out}: {error.strerror or error}")
    say(
        f"measured {len(measured.links)} links and {len(measured.speeds)} node speeds; "
        f"{len(measured.unreachable)} pairs unreachable"
        + (f" (dilated x{result.dilation:g}, figures scaled back)" if result.dilation != 1.0 else "")
        + ("" if out == "-" else f"; written to {out}")
    )


@click.command("probe-local", epilog=EXAMPLES)
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=True, path_type=str))
@click.option("--pairs", "pairs_text", default=None, help="Only these directed pairs: FROM:TO[,FROM:TO...].")
@click.option("--out", default="-", show_default=True, help="Where to write the measured-cluster YAML.")
@click.option(
    "--repeats", type=click.IntRange(1, 100), default=5, show_default=True, help="Repeats per probe."
)
@click.option(
    "--bytes",
    "size",
    type=click.IntRange(1000, 2**30),
    default=2_000_000,
    show_default=True,
    help="Bytes per link transfer.",
)
@click.option("--no-speeds", is_flag=True, help="Measure the links only.")
@click.option(
    "--dilation",
    type=click.FloatRange(1, 1000),
    default=None,
    help="Run k times slower (quotas and link rates / k; figures scaled back) [default: from the cores].",
)
@click.option("--recalibrate", is_flag=True, help="Measure this host's CPU speed again (it is cached).")
def command(
    spec_path: str,
    pairs_text: str | None,
    out: str,
    repeats: int,
    size: int,
    no_speeds: bool,
    dilation: float | None,
    recalibrate: bool,
) -> None:
    """Measure the links and node speeds of the emulated cluster (root: namespaces and cgroups) with the
    probe processes a real cluster's Jobs run, and write the measured-cluster file."""

    def say(message: str) -> None:
        click.echo(message, err=True)

    try:
        probe_local_command(
            spec_path,
            pairs_text=pairs_text,
            out=out,
            repeats=repeats,
            size=size,
            speeds=not no_speeds,
            dilation=dilation,
            recalibrate=recalibrate,
            say=say,
        )
    except KeyboardInterrupt:
        say("stopped")
        sys.exit(130)
