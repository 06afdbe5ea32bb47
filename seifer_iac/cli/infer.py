"""`seifer infer URL INPUT`: send one request to a running dispatcher and print the top-5 of its output.

Uses only ``runtime.client`` (urllib + numpy), so it never imports TensorFlow and works against any Open
Inference Protocol v2 server (the SEIFER dispatcher, KServe, Triton).
"""

from __future__ import annotations

import time
from pathlib import Path

import click
import numpy as np

from runtime.client import OIP_TO_NUMPY, InferError, infer, list_models, model_metadata


def _random_input(meta: dict, seed: int) -> np.ndarray:
    spec = meta["inputs"][0]
    shape = [1 if n == -1 else n for n in spec["shape"]]
    dtype = OIP_TO_NUMPY.get(spec["datatype"], "float32")
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return rng.random(shape, dtype=np.float64).astype(dtype)
    return rng.integers(0, 2 if dtype == "bool" else 100, size=shape).astype(dtype)


@click.command("infer")
@click.argument("url")
@click.argument("input_", metavar="INPUT")
@click.option("--model", "model", default=None, help="Model name (default: the only model the server lists).")
@click.option("--repeat", default=1, show_default=True, type=click.IntRange(min=1), help="Send it N times.")
@click.option("--seed", default=0, show_default=True, help="Seed for INPUT=random.")
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for each answer.")
def command(url: str, input_: str, model: str | None, repeat: int, seed: int, timeout: float) -> None:
    """Send INPUT (a .npy file, or `random` for a random tensor of the model's input shape) to the
    dispatcher at URL; print the top-5 of the output and the latency.

    \b
    Examples:
      seifer infer http://127.0.0.1:8080 random --model mobilenet-dev
      seifer infer http://127.0.0.1:8080 cat.npy --model mobilenet-dev --repeat 20
    """
    if not url.startswith(("http://", "https://")):
        raise click.BadParameter(f"{url!r} is not an http:// or https:// URL", param_hint="URL")
    try:
        if model is None:
            models = list_models(url, timeout)
            if len(models) != 1:
                raise click.UsageError(f"server lists {len(models)} models; choose one with --model")
            model = models[0]["name"]
        meta = model_metadata(url, model, timeout)
        if input_ == "random":
            array = _random_input(meta, seed)
        elif Path(input_).is_file():
            try:
                array = np.load(input_, allow_pickle=False)
            except ValueError as exc:
                raise click.BadParameter(
                    f"{input_!r} is not a .npy array ({exc})", param_hint="INPUT"
                ) from None
        else:
            raise click.BadParameter(f"{input_!r} is neither a .npy file nor 'random'", param_hint="INPUT")
        input_name = meta["inputs"][0]["name"]
        latencies, output = [], None
        for _ in range(repeat):
            start = time.perf_counter()
            output = infer(url, model, array, input_name=input_name, timeout=timeout)
            latencies.append(time.perf_counter() - start)
    except InferError as exc:
        raise click.ClickException(f"server refused: {exc}") from exc
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot reach {url}: {exc}") from exc
    assert output is not None
    scores = output.reshape(output.shape[0], -1)[0] if output.ndim > 1 else output.reshape(-1)
    top = np.argsort(-scores.astype(np.float64), kind="stable")[:5]
    click.echo(f"model {model}: input {list(array.shape)} {array.dtype.name} -> output {list(output.shape)}")
    click.echo("top-5:")
    for rank, index in enumerate(top, start=1):
        click.echo(f"  {rank}. class {int(index):>5}  score {float(scores[index]):.6g}")
    ms = np.array(latencies) * 1000
    click.echo(
        f"latency: {ms.mean():.1f} ms mean, {np.median(ms):.1f} ms median, {ms.min():.1f} ms min "
        f"over {repeat} request(s)"
    )
