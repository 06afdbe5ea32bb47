"""`seifer plan SPEC`: place the model's stages on the cluster, show it, diff it against the lock.

A thin shell: everything it prints comes from seifer_iac.planner. Errors are one line and exit 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from seifer_iac.cli.inputs import fail, preflight


@click.command("plan")
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--without", "without", multiple=True, metavar="NODE", help="Plan as if NODE were gone.")
@click.option("--diff", "show_diff", is_flag=True, help="Show what would roll against the plan lock.")
@click.option("--write-lock", is_flag=True, help="Record the plan in <spec>.lock.json.")
@click.option("--check", is_flag=True, help="Exit 1 when the plan lock is stale (a pod would roll).")
def command(
    spec_path: str, fmt: str, without: tuple[str, ...], show_diff: bool, write_lock: bool, check: bool
) -> None:
    """Place the model's stages on the cluster for maximum throughput.

    \b
    Examples:
      seifer plan stacks/dev.pipeline.yaml
      seifer plan stacks/dev.pipeline.yaml --diff
      seifer plan stacks/dev.pipeline.yaml --without pi-2 --format json
      seifer plan stacks/dev.pipeline.yaml --write-lock
      seifer plan stacks/dev.pipeline.yaml --check
    """
    from seifer_iac.model import ModelError
    from seifer_iac.planner import PlanningError
    from seifer_iac.planner import lock as locks
    from seifer_iac.planner.diff import diff
    from seifer_iac.planner.optimise import optimise
    from seifer_iac.planner.problem import problem_from_spec
    from seifer_iac.planner.render import plan_table
    from seifer_iac.planner.stability import decide
    from seifer_iac.spec import SpecError

    spec, profile = preflight(spec_path, progress=lambda message: click.echo(message, err=True))
    unknown = sorted(set(without) - set(spec.cluster.node_names))
    if unknown:
        fail(f"--without {', '.join(unknown)}: no such node in {spec_path}")
    if spec.dispatcher.node in without:
        fail(f"--without {spec.dispatcher.node}: it runs the dispatcher; move dispatcher.node first")
    path = locks.lock_path(spec_path)
    try:
        problem = problem_from_spec(spec, profile, without)
        lock = locks.read_lock(path)
        decision = decide(problem, optimise(problem), lock)
    except SpecError as error:
        problems = getattr(error, "problems", None) or [str(error)]
        fail(f"{spec_path}: " + "; ".join(problems))
    except (PlanningError, ModelError, ValueError, OSError) as error:
        fail(str(error))
    plan_diff = diff(lock, decision)
    if fmt == "json":
        data = decision.plan.to_dict()
        if show_diff or check:
            data["diff"] = plan_diff.to_dict()
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        click.echo(plan_table(decision.plan, profile.model_name))
        if show_diff or check:
            click.echo(f"\ndiff against {path}" + ("" if lock else " (no lock yet)") + ":")
            for line in plan_diff.lines():
                click.echo(f"  {line}")
    if write_lock:
        try:
            locks.write_lock(path, decision.plan)
        except OSError as error:
            fail(
                f"cannot write the plan lock {path}: {error.strerror or error}; make its folder writable "
                "or run without --write-lock"
            )
        click.echo(f"wrote {Path(path)}", err=fmt == "json")
    if check and plan_diff.stale and not write_lock:
        what = "; ".join(plan_diff.lines()[:-2])
        click.echo(f"plan lock {path} is stale: {what} (why: {plan_diff.reason})", err=True)
        sys.exit(1)
