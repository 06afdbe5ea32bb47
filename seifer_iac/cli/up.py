"""`seifer up --local SPEC`: the embedded default. Renders the release and runs its manifests locally."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click

from seifer_iac.cli.demo import run_demo
from seifer_iac.cli.inputs import fail, fail_lines, preflight


@click.command("up")
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=True, path_type=str))
@click.option(
    "--local",
    "local",
    is_flag=True,
    required=True,
    help="Run as local processes (required: on Kubernetes use `pulumi up -s STACK`).",
)
@click.option(
    "--emulate-network",
    "emulate",
    type=click.Choice(["auto", "yes", "no"]),
    default="auto",
    show_default=True,
    help="One network namespace per node with the spec's bandwidths (needs root). "
    "auto: emulate where possible, else loopback.",
)
@click.option(
    "--limits",
    "limits",
    type=click.Choice(["auto", "yes", "no"]),
    default="auto",
    show_default=True,
    help="Enforce what a kubelet does (needs root and cgroups): each pod's memory limit from its manifest, "
    "and a CPU quota per node that makes it as fast as its speed. auto: where possible.",
)
@click.option(
    "--dilation",
    "dilation",
    type=str,
    default="auto",
    show_default=True,
    help="Run k times slower (CPU quotas and link rates / k, deadlines x k, figures scaled back): "
    "auto chooses k from this host's cores; a number sets it (1: real time).",
)
@click.option("--recalibrate", is_flag=True, help="Measure this host's CPU speed again (it is cached).")
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Logs, weights and state of the run [default: ~/.local/state/seifer/local/<pipeline>].",
)
@click.option(
    "--demo",
    is_flag=True,
    help="Send real requests, print measured throughput and latency next to the plan's "
    "prediction, check answers against the unsplit model, then shut down.",
)
@click.option(
    "--requests",
    "requests",
    type=click.IntRange(1, 100000),
    default=60,
    show_default=True,
    help="Requests the demo sends.",
)
@click.option(
    "--ready-timeout",
    type=click.FloatRange(1, 3600),
    default=300.0,
    show_default=True,
    help="Seconds to wait for every process to become ready.",
)
def command(
    spec_path: str,
    local: bool,
    emulate: str,
    limits: str,
    dilation: str,
    recalibrate: bool,
    run_dir: Path | None,
    demo: bool,
    requests: int,
    ready_timeout: float,
) -> None:
    """Run a pipeline as local processes: exactly the rendered manifests, one process per Deployment.

    Each ConfigMap's contents are written where its pod would see them, each container's command runs
    with its pod's environment, Service names resolve to the node's address, a process that dies is
    restarted (as a kubelet would). With --emulate-network every node gets a network namespace and each
    directed link is rate-limited to the spec's bandwidth. Ctrl-C, or `seifer down --local SPEC` from
    another shell, stops everything and leaves nothing behind.

    On a pipeline that already runs (same run directory) it applies the changed spec instead, as
    `pulumi up` would: every process whose pod template changed is replaced (Recreate), the others keep
    running, and it returns once the replacements are ready. A model-version bump replaces every stage
    and not the dispatcher, which holds requests meanwhile (up to their deadline) instead of failing them.

    \b
    Examples:
      seifer up --local stacks/dev.pipeline.yaml
      seifer up --local stacks/dev.pipeline.yaml   # again, after a version bump: rolls the stages
      seifer up --local stacks/dev.pipeline.yaml --emulate-network=yes --demo --requests 100
      seifer up --local stacks/dev.pipeline.yaml --limits=yes --dilation=2 --demo
    """
    from runtime.client import InferError
    from seifer_iac.local.cgroups import CgroupError
    from seifer_iac.local.netns import EmulatorError
    from seifer_iac.local.pods import LocalPodError
    from seifer_iac.local.runner import (
        LocalOptions,
        LocalRunError,
        resolve_emulation,
        resolve_limits,
        run_local,
        running_supervisor,
        serve,
    )
    from seifer_iac.local.supervisor import NotReady
    from seifer_iac.local.teardown import default_run_dir
    from seifer_iac.planner.render import plan_table
    from seifer_iac.release import RELEASE_ERRORS, build_release

    def say(message: str) -> None:
        click.echo(message, err=True)

    spec, _ = preflight(spec_path, progress=say)
    try:
        factor = None if dilation == "auto" else float(dilation)
    except ValueError:
        factor = -1.0
    if factor is not None and not (1.0 <= factor <= 1000.0):
        say(f"error: --dilation {dilation}: give auto or a number from 1 to 1000")
        raise SystemExit(2)
    try:
        emulated, why = resolve_emulation(emulate)
        limited, why_limits = resolve_limits(limits)
        say(f"rendering {spec_path}")
        release = build_release(spec, progress=say)
    except (*RELEASE_ERRORS, EmulatorError, CgroupError) as error:
        fail_lines(str(error).splitlines())
    except OSError as error:
        fail(f"{error.strerror or error}: {error.filename or spec_path}")
    spec = release.spec
    click.echo(plan_table(release.plan, spec.model.label))
    folder = run_dir or default_run_dir(spec.name)
    owner = running_supervisor(folder)
    if owner is not None:
        if demo:
            say(
                f"error: --demo starts a pipeline of its own, but one runs in {folder} (pid {owner}); stop it"
            )
            raise SystemExit(2)
        apply_to_running(folder, owner, release.manifests, ready_timeout, say)
        return
    say(why)
    say(why_limits)
    options = LocalOptions(
        run_dir=run_dir or default_run_dir(spec.name),
        emulate_network=emulated,
        ready_timeout_s=ready_timeout,
        limits=limited,
        dilation=factor,
        recalibrate=recalibrate,
    )
    try:
        with run_local(release, options) as running:
            click.echo(
                f"dispatcher: {running.dispatcher_url}/v2/models/{spec.name}  (logs: {options.run_dir}/logs)"
            )
            if demo:
                ok = run_demo(release, running, requests, emulated, say)
                if not ok:
                    raise SystemExit(1)
                return
            say(
                f"serving; Ctrl-C or `seifer down --local {spec_path}` stops it; "
                f"`seifer up --local {spec_path}` again applies a changed spec"
            )
            serve(running, say)
    except NotReady as error:
        say(f"error: not every process became ready in {ready_timeout:.0f} s:\n{error}")
        raise SystemExit(1) from None
    except (EmulatorError, LocalRunError, LocalPodError, CgroupError) as error:
        say(f"error: {error}")
        raise SystemExit(2) from None
    except InferError as error:
        say(f"error: the dispatcher refused the demo's requests: {error}")
        raise SystemExit(1) from None
    except OSError as error:
        say(f"error: {error.strerror or error}: {error.filename or options.run_dir}")
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        say("stopped")
        sys.exit(130)


def apply_to_running(
    folder: Path, owner: int, manifests: list, ready_timeout: float, say: Callable[[str], None]
) -> None:
    """Hand the new release to the `seifer up --local` that runs in `folder`; exit 1 when it failed."""
    from seifer_iac.local.apply import ApplyError, request_apply
    from seifer_iac.local.runner import running_supervisor

    say(
        f"a pipeline runs in {folder} (pid {owner}): applying the changed spec to it (it keeps its own "
        "network emulation, node limits and dilation)"
    )
    try:
        answer = request_apply(
            folder, manifests, ready_timeout + 60.0, alive=lambda: running_supervisor(folder) is not None
        )
    except ApplyError as error:
        say(f"error: {error}")
        raise SystemExit(1) from None
    say(answer["message"] if answer["ok"] else f"error: {answer['message']}")
    if not answer["ok"]:
        raise SystemExit(1)
