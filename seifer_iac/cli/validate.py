"""`seifer validate SPEC`: exit 0 with a one-line summary, or exit 2 with one line per problem."""

from __future__ import annotations

import click

from seifer_iac.profile import codec_problems
from seifer_iac.spec import Spec, SpecError, load_spec
from seifer_iac.spec.image import unpinned_warning
from seifer_iac.spec.units import format_bytes


def profile_problems(spec: Spec) -> list[str]:
    """A spec's model profile (when it names one) read and checked against the spec: no TensorFlow."""
    from seifer_iac.model.cache import check_input_shape, read_profile_file
    from seifer_iac.model.errors import ModelError

    if not spec.model.profile:
        return []
    try:
        profile = read_profile_file(spec.model.profile)
        check_input_shape(spec.model, profile)
    except ModelError as error:
        text = str(error)
        return [text if text.startswith("model.") else f"model.profile: {text}"]
    return codec_problems(profile, spec.runtime.codec)


@click.command("validate")
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=True, path_type=str))
def command(spec_path: str) -> None:
    """Check a pipeline spec against the schema and for mistakes a schema cannot see.

    Prints one line per problem, each naming the field (for example
    `cluster.nodes[2].memory: "512Mb" is not a size; use Ki, Mi, Gi`), and exits 2; a model profile
    the spec names is checked too (schema, self-consistency, model.inputShape, the codec's zfp rate);
    prints a one-line summary and exits 0 when the spec is valid.

    \b
    Example:
      seifer validate stacks/dev.pipeline.yaml
    """
    try:
        spec = load_spec(spec_path)
    except SpecError as error:
        for line in str(error).splitlines():
            click.echo(line, err=True)
        raise SystemExit(2) from None
    problems = profile_problems(spec)
    if problems:
        for problem in problems:
            click.echo(f"{spec_path}: {problem}", err=True)
        raise SystemExit(2)
    if warning := unpinned_warning(spec.runtime.image):
        click.echo(f"warning: {warning}", err=True)
    schedulable = [n for n in spec.cluster.nodes if n.schedulable]
    memory = sum(n.usable_memory_bytes for n in schedulable)
    click.echo(
        f"{spec_path}: valid: pipeline {spec.name} (namespace {spec.namespace}), model {spec.model.label} "
        f"v{spec.model.version}, {len(spec.cluster.nodes)} nodes ({len(schedulable)} for stages, "
        f"{format_bytes(memory)} usable), dispatcher on {spec.dispatcher.node}, "
        f"codec {spec.runtime.codec.name}"
    )
