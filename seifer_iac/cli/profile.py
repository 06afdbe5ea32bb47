"""`seifer profile MODEL`: cut a Keras model at its single-tensor cut points and print the blocks.

MODEL is a keras.applications name (built with weights=None and a seed), a `.keras` file, or a profile JSON
file. `--format json` prints exactly the profile schema (schemas/profile.schema.json), which is what
`seifer_iac/bench/profiles/*.json` are made of. Progress goes to stderr so stdout stays clean JSON.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import click

from seifer_iac.model.errors import ModelError
from seifer_iac.profile import Profile
from seifer_iac.spec.loader import MAX_INPUT_ELEMENTS
from seifer_iac.spec.model import ModelSource
from seifer_iac.spec.units import format_bytes


def parse_shape(text: str | None) -> tuple[int, ...] | None:
    """'224,224,3' (or 224x224x3) -> (224, 224, 3), without the batch axis."""
    if not text:
        return None
    try:
        shape = tuple(int(part) for part in text.replace("x", ",").split(",") if part.strip())
    except ValueError:
        shape = ()
    if not shape or len(shape) > 4 or any(not 0 < d <= 65536 for d in shape):
        raise click.BadParameter(
            f"{text[:40]!r} is not a shape; write it like 224,224,3 (1 to 4 axes of 1 to 65536)",
            param_hint="--input-shape",
        )
    if math.prod(shape) > MAX_INPUT_ELEMENTS:
        raise click.BadParameter(
            f"{text!r} holds {math.prod(shape):,} values; at most {MAX_INPUT_ELEMENTS:,}",
            param_hint="--input-shape",
        )
    return shape


def source_of(model: str, input_shape: tuple[int, ...] | None, seed: int) -> ModelSource:
    """Files by suffix or existence; anything else is taken as an application name."""
    path = Path(model)
    if path.suffix == ".json":
        return ModelSource(profile=model)
    if path.suffix in (".keras", ".h5") or path.exists():
        return ModelSource(file=model, input_shape=input_shape, seed=seed)
    return ModelSource(application=model, input_shape=input_shape, seed=seed)


def render_table(profile: Profile) -> str:
    measured = any(b.measured_s is not None for b in profile.blocks)
    header = ["#", "block (cut layer)", "layers", "params", "output shape", "output", "peak act.", "MFLOPs"]
    if measured:
        header.append("ms")
    rows = []
    for index, block in enumerate(profile.blocks):
        row = [
            str(index),
            block.name,
            str(len(block.layers)),
            format_bytes(block.param_bytes),
            "x".join(str(d) for d in block.output_shape),
            format_bytes(block.output_bytes),
            format_bytes(block.peak_activation_bytes),
            f"{block.flops / 1e6:.1f}",
        ]
        if measured:
            row.append("-" if block.measured_s is None else f"{block.measured_s * 1e3:.2f}")
        rows.append(row)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    left = {1, 4}

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    shape = "x".join(str(d) for d in profile.input_shape)
    summary = (
        f"{profile.model_name}: {len(profile.blocks)} blocks (single-tensor cut points), input {shape} "
        f"{profile.input_dtype} ({format_bytes(profile.input_bytes)}), "
        f"params {format_bytes(profile.param_bytes)}, "
        f"{profile.flops / 1e9:.2f} GFLOPs, hash {profile.model_hash[:12]}"
    )
    return "\n".join([summary, line(header), *(line(r) for r in rows)])


def _progress(message: str) -> None:
    click.echo(f"seifer profile: {message} ...", err=True)


def _measured(source: ModelSource) -> Profile:
    """Build the model once, profile it and time its blocks (timings are never cached: they are this
    machine's, now)."""
    from seifer_iac.model.load import build_application, read_model_file
    from seifer_iac.model.measure import measure_blocks
    from seifer_iac.model.profiler import profile_model

    if source.profile:
        raise ModelError("--measure needs a model (application name or .keras file), not a profile JSON")
    if source.application:
        _progress(f"building {source.application}")
        name = source.application
        model = build_application(name, source.input_shape, source.seed)
    else:
        model, name = read_model_file(source.file or ""), Path(source.file or "").stem
    return measure_blocks(model, profile_model(model, name), progress=_progress)


@click.command("profile")
@click.argument("model", metavar="MODEL")
@click.option("--input-shape", help="Input shape without the batch axis, e.g. 224,224,3 (applications only).")
@click.option(
    "--seed",
    type=click.IntRange(0, 2**32 - 1),
    default=0,
    show_default=True,
    help="Seed of the random weights (applications).",
)
@click.option(
    "--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option("--measure", is_flag=True, help="Time every block here under tf.function (median of 5 runs).")
def command(model: str, input_shape: str | None, seed: int, output_format: str, measure: bool) -> None:
    """Cut MODEL at every single-tensor cut point and print its blocks.

    MODEL is a keras.applications name (built with random weights: weights=None, --seed), a .keras file,
    or a profile JSON. Per block: parameter bytes, output tensor bytes, peak activation bytes and FLOPs at
    batch size 1. Profiles are cached under $SEIFER_CACHE_DIR (default ~/.cache/seifer).

    \b
    Examples:
      seifer profile ResNet50
      seifer profile EfficientNetB1 --input-shape 240,240,3 --format json > EfficientNetB1.json
      seifer profile model.keras --measure
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from seifer_iac.model.cache import profile_for_source

    source = source_of(model, parse_shape(input_shape), seed)
    try:
        profile = _measured(source) if measure else profile_for_source(source, progress=_progress)
    except ModelError as error:
        click.echo(f"seifer profile: {error}", err=True)
        sys.exit(2)
    click.echo(
        profile.to_json() if output_format == "json" else render_table(profile), nl=output_format != "json"
    )
