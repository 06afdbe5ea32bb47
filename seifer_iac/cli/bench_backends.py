"""`seifer bench backends`: TensorFlow vs LiteRT fp32/fp16/int8 on real stage processes; the memory fit."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

DEFAULT_MODELS = ("MobileNetV2", "ResNet50", "EfficientNetB0", "DenseNet121")


@click.command("backends")
@click.option(
    "--model",
    "models",
    multiple=True,
    default=DEFAULT_MODELS,
    show_default=True,
    help="keras.applications models to measure (repeat the option).",
)
@click.option(
    "--parts", default=3, show_default=True, help="Partitions per model (split by parameter bytes)."
)
@click.option("--requests", default=60, show_default=True, help="Requests streamed through each chain.")
@click.option("--input-size", default=224, show_default=True, help="Square input side in pixels.")
@click.option(
    "--threads",
    type=int,
    default=None,
    help="LiteRT threads per stage (default: this machine's cores, as TensorFlow uses them all).",
)
@click.option("--fit", is_flag=True, help="Also fit the memory model to the measured peaks and print it.")
@click.option(
    "--write",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the markdown tables to this file.",
)
def command(
    models: tuple[str, ...],
    parts: int,
    requests: int,
    input_size: int,
    threads: int | None,
    fit: bool,
    write: Path | None,
) -> None:
    """Run each model's partitions as real stage processes under TensorFlow and LiteRT (fp32, fp16, int8).

    Prints, per partition: compute latency, the stage process's peak resident size against the limit the
    memory model gives it, and start-to-ready time; per model: throughput and accuracy against the unsplit
    Keras model (logits). With --fit, the memory model fitted to these peaks (planner/memory.py).

    \b
    Examples:
      seifer bench backends --model MobileNetV2 --parts 2
      seifer bench backends --fit --write docs/bench/backends.md
    """
    import os

    from seifer_iac.bench.backends import fit_memory, fit_to_markdown, measure_model, to_markdown

    threads = threads or os.cpu_count() or 1
    stages, totals = [], []
    with tempfile.TemporaryDirectory(prefix="seifer-bench-") as work:
        for name in models:
            click.echo(f"{name}: converting and running {parts} partitions per backend ...", err=True)
            s, m = measure_model(
                name, (input_size, input_size, 3), parts, Path(work), requests, repeat=20, threads=threads
            )
            stages += s
            totals += m
    text = to_markdown(stages, totals)
    if fit:
        text += "\nMemory model fitted to these peaks:\n\n" + fit_to_markdown(fit_memory(stages))
    click.echo(text)
    if write:
        write.write_text(text)
        click.echo(f"written to {write}", err=True)
