"""`seifer probe SPEC --local --out FILE`: measure the emulated cluster's links and node speeds and write the
measured-cluster file.

The command group `seifer probe` (cli/probe.py) hands its `--local` path here: `probe_local_command` does
the whole run and exits like every other command (2 with one line for what the user can fix).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import click

from seifer_iac.cli.inputs import fail, fail_lines, preflight, spec_or_exit, write_or_exit
from seifer_iac.cli.probe import refuse_long
from seifer_iac.local.signals import terminate_as_exception


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
    allow_long: bool = False,
) -> None:
    """Run the probes on the emulated cluster and write the measured-cluster file (`-`: standard output)."""
    from seifer_iac.local.calibrate import CalibrationError
    from seifer_iac.local.cgroups import CgroupError
    from seifer_iac.local.netns import EmulatorError
    from seifer_iac.probe.collect import CollectError, collect, probe_nodes
    from seifer_iac.probe.local import LocalProbeOptions, available, probe_local
    from seifer_iac.probe.measured import dump_measured
    from seifer_iac.probe.schedule import PairsError, estimate, parse_pairs, schedule
    from seifer_iac.release import RELEASE_ERRORS, build_release

    spec = preflight(spec_path, progress=say)[0] if speeds else spec_or_exit(spec_path)
    try:
        pairs = parse_pairs(pairs_text, probe_nodes(spec)) if pairs_text is not None else None
        rounds = schedule(probe_nodes(spec), pairs)
    except PairsError as error:
        fail(str(error))
    # a link the emulator does not build fails at once: no rate assumed for it
    refuse_long(estimate(rounds, spec.cluster.bandwidth, size, repeats, assumed_bits_per_s=1e12), allow_long)
    if out != "-" and (Path(out).is_dir() or not Path(out).parent.is_dir()):
        fail(f"--out {out}: name a file in an existing folder (or - for standard output)")
    ok, why = available()
    if not ok:
        fail(
            f"seifer probe --local runs the probes in the emulator's network namespaces and CPU quotas, "
            f"and cannot here ({why}); run it as root (probing plain loopback would measure nothing of the "
            "spec's links)"
        )
    work_dir = Path(tempfile.mkdtemp(prefix="seifer-probe-"))
    # SIGTERM/SIGINT raise from here on, so the work folder goes too (the emulator cleans its own)
    with terminate_as_exception(), contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, work_dir, ignore_errors=True)
        release = None
        if speeds:  # the partitions the speed probe runs (links need only the spec)
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
            result = probe_local(spec, release, options, say=say)
        except (EmulatorError, CgroupError, CollectError, CalibrationError) as error:
            fail(str(error))
        except OSError as error:
            fail(f"{error.strerror or error}: {error.filename or work_dir}")
        measured = collect(result.lines, spec, dt.datetime.now(dt.timezone.utc), pairs)
    text = dump_measured(measured)
    if out == "-":
        click.echo(text, nl=False)
    else:
        write_or_exit(Path(out), text)
    say(
        f"measured {len(measured.links)} links and {len(measured.speeds)} node speeds; "
        f"{len(measured.unreachable)} pairs unreachable"
        + (f" (dilated x{result.dilation:g}, figures scaled back)" if result.dilation != 1.0 else "")
        + ("" if out == "-" else f"; written to {out}")
    )
