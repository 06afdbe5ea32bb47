"""`seifer probe`: measure the cluster's links and node speeds, and turn the results into a file the spec
includes (`cluster.measured`), so a re-measure is a spec diff that `seifer plan --diff` shows.

- `seifer probe SPEC --render DIR`: Kubernetes Jobs that measure on the cluster, and `DIR/probe.sh`, the
  kubectl sequence that runs them round by round and saves their logs.
- `seifer probe collect [--from LOGS] SPEC --out FILE`: the logs (a folder, or `kubectl logs` on standard
  input) -> the measured-cluster file.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import click

from seifer_iac.cli.inputs import check_lock_file, fail, fail_lines, profile_or_exit, write_or_exit
from seifer_iac.probe.schedule import Estimate
from seifer_iac.spec import Spec, SpecError, load_spec

MAX_SHOWN_REJECTIONS = 20
ASSUMED_BPS = 1e7  # the rate assumed for a pair the spec gives none (the estimate; the speed Jobs' plan)
MAX_HOURS = 12  # a probe estimated longer is refused without --allow-long (no one is there to say yes in CI)


class ProbeGroup(click.Group):
    """`seifer probe SPEC ...` measures, `seifer probe collect ...` collects: a first argument that is not
    a subcommand's name is the SPEC of `measure`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["measure", *args]
        return super().parse_args(ctx, args)


@click.group("probe", cls=ProbeGroup)
def command() -> None:
    """Measure the cluster's links and node speeds instead of guessing them.

    `seifer probe SPEC --render DIR` writes Kubernetes Jobs that measure every directed pair of nodes
    (bulk TCP transfers, repeated, median payload rate) and each node's speed on the model's own
    partitions with the spec's backend, in rounds where each node takes part in one transfer at a time,
    and `DIR/probe.sh` that applies them in order and saves their logs. `seifer probe collect` turns the
    logs into a measured-cluster file; include it in the spec as `cluster.measured` (the spec's own
    values win) and `seifer plan --diff` shows what the measurement moves.

    \b
    Examples:
      seifer probe stacks/dev.pipeline.yaml --render build/probe
      sh build/probe/probe.sh build/probe-logs
      seifer probe collect --from build/probe-logs stacks/dev.pipeline.yaml --out stacks/cluster.measured.yaml
      kubectl logs -n seifer-dev -l seifer.dev/probe=link --prefix --timestamps --tail=-1 \\
        | seifer probe collect stacks/dev.pipeline.yaml --out stacks/cluster.measured.yaml
    """


def _about_links(problem: str) -> bool:
    """A problem the probe itself answers: the measured file not written yet, or a node the spec gives
    no bandwidth to yet."""
    return (problem.startswith("cluster.measured:") and "no such file" in problem) or (
        "cannot be reached from the dispatcher" in problem
    )


def probe_spec(spec_path: str, include_measured: bool) -> tuple[Spec, bool]:
    """(spec, whether its links are complete). The probe is what measures the links and writes the
    measured-cluster file, so a spec that names one not yet written, or leaves links to be measured,
    still renders and collects (said once on stderr)."""
    try:
        if include_measured:
            try:
                return load_spec(spec_path), True
            except SpecError as error:
                if not all(_about_links(p) for p in error.problems):
                    raise
                click.echo(f"note: {error.problems[0]}; probing without it", err=True)
        spec = load_spec(spec_path, include_measured=False, check_links=False)
        return spec, False
    except SpecError as error:
        fail_lines(str(error).splitlines())


# ------------------------------------------------------------------------------------------- measure


@command.command("measure")
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=True, path_type=str))
@click.option(
    "--render",
    "render_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the Kubernetes objects and probe.sh into this folder (new, empty, or rendered before).",
)
@click.option(
    "--local",
    "local",
    is_flag=True,
    help="Run the same probe processes on the emulated cluster (root: namespaces, cgroups) and write --out.",
)
@click.option("--out", default=None, help="With --local: the measured-cluster file to write (- for stdout).")
@click.option("--pairs", default=None, help="Only these directed pairs: FROM:TO[,FROM:TO...].")
@click.option("--bytes", "size", type=click.IntRange(1, 2**30), default=4_000_000, show_default=True,
              help="Payload bytes of each transfer.")  # fmt: skip
@click.option("--repeats", type=click.IntRange(1, 100), default=5, show_default=True,
              help="Transfers per pair (the median is kept, the spread recorded).")  # fmt: skip
@click.option("--speed/--no-speed", default=True, show_default=True, help="Also measure node speeds.")
@click.option(
    "--allow-long",
    is_flag=True,
    help=f"Go ahead when the links' estimate is over {MAX_HOURS} h (otherwise refused: a typo in --bytes).",
)
def measure(
    spec_path: str,
    render_dir: Path | None,
    local: bool,
    out: str | None,
    pairs: str | None,
    size: int,
    repeats: int,
    speed: bool,
    allow_long: bool,
) -> None:
    """Render the Jobs that measure the cluster (`--render DIR`).

    Receivers start first on every node (pulling the image before any transfer), then one round of link
    Jobs at a time (each node in at most one transfer), then one speed Job per node running the model's
    own partitions with the spec's backend. `sh DIR/probe.sh` runs that sequence with kubectl and saves
    the Jobs' logs for `seifer probe collect`.

    `--local` runs the same probe processes on the emulated cluster instead (as root: the links shaped as
    `seifer up --local --emulate-network` shapes them, node speeds under its CPU quotas) and writes the
    measured-cluster file itself.

    \b
    Example:
      seifer probe stacks/dev.pipeline.yaml --render build/probe
      seifer probe stacks/dev.pipeline.yaml --render build/probe --pairs pi-1:pi-2,pi-2:pi-1 --no-speed
      sudo seifer probe stacks/dev.pipeline.yaml --local --out stacks/cluster.measured.yaml
    """
    if local:
        if render_dir is not None or out is None:
            fail(
                "--local measures the emulated cluster and writes --out FILE; --render is for a real cluster"
            )
        from seifer_iac.cli.probe_local import probe_local_command

        say = lambda message: click.echo(message, err=True)  # noqa: E731
        probe_local_command(
            spec_path, pairs_text=pairs, out=out, repeats=repeats, size=size, speeds=speed, dilation=None,
            recalibrate=False, say=say, allow_long=allow_long,
        )  # fmt: skip
        return
    if render_dir is None:
        fail("say where to measure: --render DIR (Kubernetes Jobs) or --local --out FILE (the emulator)")
    render(spec_path, render_dir, pairs, size, repeats, speed, allow_long)


def refuse_long(guess: Estimate, allow_long: bool) -> None:
    """Exit 2 when the estimate is over MAX_HOURS and --allow-long was not given: `--bytes 1000000000
    --repeats 100` would hold every node for days, and there is no terminal in CI to ask."""
    if guess.seconds > MAX_HOURS * 3600 and not allow_long:
        fail(
            f"links: {guess.describe()}: more than {MAX_HOURS} h; lower --bytes or --repeats, probe fewer "
            "--pairs, or pass --allow-long"
        )


def render(
    spec_path: str,
    folder: Path,
    pairs_text: str | None,
    size: int,
    repeats: int,
    speed: bool,
    allow_long: bool = False,
) -> None:
    from seifer_iac.cli.render import OutputFolderError, earlier_render, write_files
    from seifer_iac.probe.collect import CollectError, all_pairs, probe_nodes
    from seifer_iac.probe.jobs import ProbeOptions, ProbeRenderError, render_probe
    from seifer_iac.probe.schedule import PairsError, estimate, parse_pairs, schedule
    from seifer_iac.probe.script import SCRIPT_NAME, files
    from seifer_iac.release import RELEASE_ERRORS, build_release

    started = time.perf_counter()
    say = lambda message: click.echo(message, err=True)  # noqa: E731
    spec, complete = probe_spec(spec_path, include_measured=True)
    if speed and not complete:  # the speed Jobs need some plan of the model's partitions
        cluster = replace(spec.cluster, default_bits_per_s=spec.cluster.default_bits_per_s or ASSUMED_BPS)
        spec = replace(spec, cluster=cluster)
        click.echo(
            f"note: partitions planned as if unknown links ran at {ASSUMED_BPS / 1e6:g} Mbit/s", err=True
        )
    if speed:
        check_lock_file(spec_path)
        profile_or_exit(spec, spec_path, say)
    try:
        expected = all_pairs(spec)
        nodes = list(probe_nodes(spec))
        wanted = parse_pairs(pairs_text, nodes) if pairs_text is not None else expected
        rounds = schedule(nodes, wanted)
        guess = estimate(rounds, spec.cluster.bandwidth, size, repeats, assumed_bits_per_s=ASSUMED_BPS)
        refuse_long(guess, allow_long)
        earlier_render(folder)
    except (CollectError, PairsError, OutputFolderError) as error:
        fail(str(error))
    release = None
    if speed:
        try:
            release = build_release(spec, progress=say)
        except RELEASE_ERRORS as error:
            fail_lines(str(error).splitlines())
    options = ProbeOptions(transfer_bytes=size, repeats=repeats)
    try:
        probe = render_probe(
            spec,
            release.plan if release else None,
            release.manifests if release else (),
            rounds,
            options,
            speed=speed,
        )
        write_files(files(probe, spec_path), folder)
    except (ProbeRenderError, OutputFolderError) as error:
        fail(str(error))
    except OSError as error:
        fail(f"cannot write to {folder}: {error.strerror or error}: {error.filename or folder}")
    click.echo(f"{spec.name}: probe written to {folder} in {time.perf_counter() - started:.1f} s")
    click.echo(f"links: {guess.describe()}")
    if speed:
        click.echo(f"speeds: {len(probe.speed)} nodes, one Job each after the links")
    for node, why in probe.unmeasured:
        click.echo(f"  not measured: {node}: {why}")
    click.echo(f"run it: sh {folder / SCRIPT_NAME} {folder / 'logs'}")
    click.echo(
        f"then:   seifer probe collect --from {folder / 'logs'} {spec_path} --out cluster.measured.yaml"
    )


# ------------------------------------------------------------------------------------------- collect


@command.command("collect")
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=True, path_type=str))
@click.option(
    "--from",
    "source",
    type=click.Path(path_type=Path),
    default=None,
    help="A folder of log files (probe.sh saves one per Job); default: standard input.",
)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path),
    help="The measured-cluster file to write (include it in the spec as cluster.measured).",
)
@click.option(
    "--measured-at",
    default=None,
    help="When it was measured (ISO 8601, UTC); default: the newest kubectl log timestamp, else now.",
)
def collect_command(spec_path: str, source: Path | None, out: Path, measured_at: str | None) -> None:
    """Turn probe logs into the measured-cluster file.

    Reads `kubectl logs` output (with or without --timestamps and --prefix) from a folder or standard
    input, keeps each probe's JSON line, takes each pair's median payload rate and each node's median
    speed, in the spec's units, and lists the pairs that could not connect (unreachable: the spec loses
    that link unless it lists it) and what never reported. Lines that are not a valid probe result are
    skipped and named (source:line) on standard error. The same logs give the same file.

    \b
    Example:
      seifer probe collect --from build/probe/logs stacks/dev.pipeline.yaml --out stacks/cluster.measured.yaml
      kubectl logs -n seifer-dev -l 'seifer.dev/probe in (link,speed)' --prefix --timestamps --tail=-1 \\
        --max-log-requests=100 | seifer probe collect stacks/dev.pipeline.yaml --out cluster.measured.yaml
    """
    from seifer_iac.probe.collect import CollectError, gather
    from seifer_iac.probe.logs import Budget, LogsError, folder_lines, read_lines
    from seifer_iac.spec.measured import dump_measured

    spec, _ = probe_spec(spec_path, include_measured=False)  # what it writes is no input to it
    when = _moment(measured_at) if measured_at else dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    if out.exists() and not out.is_file():
        fail(f"--out {out}: not a regular file; name the measured-cluster file to write")
    if not out.parent.is_dir():  # said before reading 64 MiB of logs, not after
        fail(f"--out {out}: there is no folder {out.parent}; create it, or name a file in an existing one")
    budget = Budget()
    if source is not None:
        sources = folder_lines(source, budget)
    elif sys.stdin.isatty():
        fail("no logs: pipe `kubectl logs ...` into it, or pass --from FOLDER")
    else:
        sources = iter([("stdin", read_lines(sys.stdin.buffer, "stdin", budget))])
    try:
        collection = gather(sources, spec, when)
    except (LogsError, CollectError) as error:
        fail(str(error))
    for rejected in collection.rejected[:MAX_SHOWN_REJECTIONS]:
        click.echo(str(rejected), err=True)
    if collection.rejected_count > MAX_SHOWN_REJECTIONS:
        click.echo(
            f"... and {collection.rejected_count - MAX_SHOWN_REJECTIONS} more lines rejected", err=True
        )
    where = str(source) if source is not None else "stdin"
    if collection.results == 0:
        fail(
            f"{where}: no probe result in it ({collection.rejected_count} lines rejected, "
            f"{collection.ignored} other lines); collect the probe Jobs' logs (sh DIR/probe.sh saves them)"
        )
    measured = collection.measured
    if measured_at is None and collection.latest is not None:
        measured = replace(measured, measured_at=collection.latest)
    write_or_exit(out, dump_measured(measured))
    links = len(measured.links) + len(measured.unreachable) + len(measured.unmeasured_links)
    nodes = len(measured.speeds) + len(measured.unmeasured_nodes)
    click.echo(
        f"{out}: {len(measured.links)} of {links} links measured, {len(measured.unreachable)} unreachable, "
        f"{len(measured.unmeasured_links)} without a result; {len(measured.speeds)} of {nodes} node speeds "
        f"({collection.results} results, {collection.rejected_count} lines rejected)"
    )
    click.echo(f"include it in {spec_path}: cluster.measured: {os.path.relpath(out, Path(spec_path).parent)}")


def _moment(text: str) -> dt.datetime:
    from seifer_iac.spec.measured import utc_moment

    try:
        return utc_moment(text)
    except ValueError:
        fail(f'--measured-at: "{text[:40]}" is not a date like 2026-11-30T16:00:00Z')
