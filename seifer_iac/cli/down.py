"""`seifer down --local SPEC`: stop a local run started elsewhere; leave no process or namespace behind."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("down")
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=True, path_type=str))
@click.option("--local", "local", is_flag=True, required=True, help="Stop the local run (required).")
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The run directory given to `seifer up --local` [default: its default].",
)
def command(spec_path: str, local: bool, run_dir: Path | None) -> None:
    """Stop a pipeline started with `seifer up --local`, from any shell.

    Signals the recorded supervisor, ends any process it left, and removes the pipeline's network
    namespaces (also after a crash, when no state was recorded). Safe to repeat.

    \b
    Example:
      seifer down --local stacks/dev.pipeline.yaml
    """
    from seifer_iac.cli.inputs import spec_or_exit
    from seifer_iac.local.teardown import default_run_dir, down

    spec = spec_or_exit(spec_path)
    report = down(run_dir or default_run_dir(spec.name), pipeline=spec.name)
    stopped = ", ".join(report.signalled) or "no process"
    removed = ", ".join(report.namespaces_removed) or "no namespace"
    if report.cgroups_removed:
        removed += f" and {len(report.cgroups_removed)} cgroups"
    click.echo(f"{spec.name}: stopped {stopped}; removed {removed}")
