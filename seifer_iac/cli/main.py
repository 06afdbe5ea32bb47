"""Entry point of `seifer`. Subcommands load lazily so `seifer --help` and `seifer validate` never pay for
importing TensorFlow or Pulumi."""

from __future__ import annotations

import importlib
import os

import click

# TensorFlow's C++ start-up chatter (CPU feature notes, absl warnings) is noise to a user; errors remain.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# name -> (module defining `command`, one-line help shown by `seifer --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("seifer_iac.cli.validate", "Check a pipeline spec; print one line per problem."),
    "profile": ("seifer_iac.cli.profile", "Cut a Keras model at single-tensor points; print its blocks."),
    "plan": ("seifer_iac.cli.plan", "Place the model's stages on the cluster for maximum throughput."),
    "render": ("seifer_iac.cli.render", "Write the Kubernetes manifests of a spec as YAML files."),
    "up": ("seifer_iac.cli.up", "Run the pipeline: --local starts it as local processes."),
    "down": ("seifer_iac.cli.down", "Stop a pipeline started with `seifer up --local`."),
    "infer": ("seifer_iac.cli.infer", "Send one inference request to a running dispatcher."),
    "probe": ("seifer_iac.cli.probe", "Measure links and node speeds; collect them for cluster.measured."),
    "bench": ("seifer_iac.cli.bench", "Benchmarks: the research's grid, the runtime, the emulated cluster."),
}

EPILOG = """\b
Examples:
  seifer validate stacks/dev.pipeline.yaml
  seifer plan stacks/dev.pipeline.yaml --diff
  seifer up --local stacks/dev.pipeline.yaml
"""


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when used."""

    def __init__(self, *args: object, lazy: dict[str, tuple[str, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy:
            module = importlib.import_module(self.lazy[name][0])
            return module.command
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, self.lazy[name][1]) for name in sorted(self.lazy)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup, lazy=COMMANDS, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(package_name="seifer")
def cli() -> None:
    """SEIFER-IaC: deploy one deep neural network split across a cluster of small edge devices.

    Write one pipeline spec (nodes, bandwidths, model, runtime), then plan it, render it for Kubernetes
    (or `pulumi up`), or run it locally on an emulated cluster.
    """
    from seifer_iac.cli.quiet import quiet_tensorflow

    quiet_tensorflow()


def main() -> None:
    cli()
