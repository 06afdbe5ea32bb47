"""`seifer infer URL INPUT`: send one request to a running dispatcher and print the top-5 of its output.

Uses only ``runtime.client`` (urllib + numpy), so it never imports TensorFlow and works against any Open
Inference Protocol v2 server (the SEIFER dispatcher, KServe, Triton).
"""

from __future__ import annotations

import http.client
import math
import os
import socket
import time
import tokenize
import urllib.error
import urllib.parse
import zipfile
from pathlib import Path

import click
import numpy as np
import numpy.lib.format as npy_format

from runtime.client import NUMPY_TO_OIP, OIP_TO_NUMPY, InferError, infer, list_models, model_metadata
from seifer_iac.spec.documents import DocumentError, check_regular_file

MAX_INPUT_BYTES = 2 * 2**30
REACH_ERRORS = (
    urllib.error.URLError,
    ConnectionError,
    TimeoutError,
    socket.timeout,
    http.client.HTTPException,
)
# What parsing a foreign server's JSON may raise when the answer is not the Open Inference Protocol.
ANSWER_ERRORS = (ValueError, KeyError, TypeError, IndexError, AttributeError, RecursionError)


class ServerFailed(click.ClickException):
    """The server refused, or could not be reached: the input may be fine (exit 1)."""

    exit_code = 1


class BadInput(click.ClickException):
    """A bad INPUT, or an answer that is not the protocol (exit 2, like every input error)."""

    exit_code = 2


def input_spec(meta: object, url: str, model: str) -> dict:
    """The first input of the model's metadata, checked: a server whose metadata has no usable `inputs`
    gets a one-line error naming the field, not a KeyError."""
    where = f"{url} metadata of model {model!r}"
    inputs = meta.get("inputs") if isinstance(meta, dict) else None
    if not isinstance(inputs, list) or not inputs or not isinstance(inputs[0], dict):
        raise BadInput(f"{where}: inputs: missing or empty; the server does not say what the model takes")
    first = inputs[0]
    shape = first.get("shape")
    if not isinstance(first.get("name"), str) or not first["name"]:
        raise BadInput(f"{where}: inputs[0].name: missing or not text")
    if not isinstance(shape, list) or not all(isinstance(n, int) and not isinstance(n, bool) for n in shape):
        raise BadInput(f"{where}: inputs[0].shape: {str(shape)[:40]} is not a list of integers")
    if any(n < -1 or n > 2**31 for n in shape) or math.prod(max(n, 1) for n in shape) > 2**28:
        raise BadInput(f"{where}: inputs[0].shape: {shape[:8]} is not a tensor shape this client sends")
    if not isinstance(first.get("datatype"), str):
        raise BadInput(f"{where}: inputs[0].datatype: missing or not text")
    return first


def _random_input(spec: dict, seed: int) -> np.ndarray:
    shape = [1 if n == -1 else n for n in spec["shape"]]
    dtype = OIP_TO_NUMPY.get(spec["datatype"], "float32")
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return rng.random(shape, dtype=np.float64).astype(dtype)
    return rng.integers(0, 2 if dtype == "bool" else 100, size=shape).astype(dtype)


NPY_ERRORS = (ValueError, SyntaxError, tokenize.TokenError, EOFError, OSError, TypeError, MemoryError)


def _npy_layout(path: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from a .npy header, checked against the file's size before any data is read (a
    header may claim terabytes; numpy would try to allocate them)."""
    with open(path, "rb") as handle:
        version = npy_format.read_magic(handle)
        if version == (1, 0):
            shape, _, dtype = npy_format.read_array_header_1_0(handle)
        elif version == (2, 0):
            shape, _, dtype = npy_format.read_array_header_2_0(handle)
        else:
            raise ValueError(f".npy version {version[0]}.{version[1]} is not supported")
        data_bytes = os.fstat(handle.fileno()).st_size - handle.tell()
    if dtype.hasobject:
        raise ValueError("it holds Python objects (pickles), which are never loaded")
    claimed = math.prod(shape) * dtype.itemsize
    if claimed != data_bytes:
        raise ValueError(f"its header promises {claimed:,} bytes of data, the file holds {data_bytes:,}")
    return shape, dtype


def read_array(path: str) -> np.ndarray:
    """A .npy file as an array; one-line errors for anything else (an empty file, a pipe, pickles, a
    header that lies about the size)."""
    try:
        check_regular_file(path, "a .npy array or 'random'", MAX_INPUT_BYTES)
    except DocumentError as error:
        raise BadInput(f"INPUT {error}") from None
    if os.path.getsize(path) == 0:
        raise BadInput(f"INPUT {path}: the file is empty; save an array with numpy.save")
    if zipfile.is_zipfile(path):
        raise BadInput(f"INPUT {path}: holds several arrays (.npz); save one array with numpy.save")
    try:
        _npy_layout(path)
        array = np.load(path, allow_pickle=False)
    except NPY_ERRORS as error:
        first = (str(error).splitlines() or [type(error).__name__])[0][:200]
        raise BadInput(f"INPUT {path}: not a .npy array ({first}); save one with numpy.save") from None
    if array.dtype.name not in NUMPY_TO_OIP:
        raise BadInput(f"INPUT {path}: dtype {array.dtype.name} has no Open Inference Protocol datatype")
    return array


def _finite(value: float) -> float:
    if not math.isfinite(value):  # click's FloatRange lets NaN through (every comparison with it is false)
        raise click.BadParameter(f"{value} is not a number of seconds", param_hint="--timeout")
    return value


def check_url(url: str) -> None:
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as error:
        raise click.BadParameter(f"{url!r} is not a URL ({error})", param_hint="URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.BadParameter(f"{url!r} is not an http:// or https:// URL with a host", param_hint="URL")


@click.command("infer")
@click.argument("url")
@click.argument("input_", metavar="INPUT")
@click.option("--model", "model", default=None, help="Model name (default: the only model the server lists).")
@click.option(
    "--repeat", default=1, show_default=True, type=click.IntRange(1, 1_000_000), help="Send it N times."
)
@click.option(
    "--seed", default=0, show_default=True, type=click.IntRange(0, 2**32 - 1), help="Seed for random."
)
@click.option(
    "--timeout",
    default=60.0,
    show_default=True,
    type=click.FloatRange(0.001, 86400),
    callback=lambda _ctx, _param, value: _finite(value),
    help="Seconds to wait for each answer.",
)
def command(url: str, input_: str, model: str | None, repeat: int, seed: int, timeout: float) -> None:
    """Send INPUT (a .npy file, or `random` for a random tensor of the model's input shape) to the
    dispatcher at URL; print the top-5 of the output and the latency.

    Exits 1 when the server refuses or cannot be reached, 2 for a bad INPUT, URL or option, or an answer
    that is not the Open Inference Protocol.

    \b
    Examples:
      seifer infer http://127.0.0.1:8080 random --model mobilenet-dev
      seifer infer http://127.0.0.1:8080 cat.npy --model mobilenet-dev --repeat 20
    """
    check_url(url)
    array = None
    if input_ != "random":
        if not Path(input_).exists() and not Path(input_).is_symlink():
            raise click.BadParameter(f"{input_!r} is neither a .npy file nor 'random'", param_hint="INPUT")
        array = read_array(input_)
    try:
        if model is None:
            models = list_models(url, timeout)
            if not isinstance(models, list) or not all(isinstance(m, dict) and "name" in m for m in models):
                raise BadInput(f"{url}/v2/repository/index: not a list of models with names; pass --model")
            if len(models) != 1:
                raise click.UsageError(f"server lists {len(models)} models; choose one with --model")
            model = str(models[0]["name"])
        spec = input_spec(model_metadata(url, model, timeout), url, model)
        if array is None:
            array = _random_input(spec, seed)
        latencies, output = [], None
        for _ in range(repeat):
            start = time.perf_counter()
            output = infer(url, model, array, input_name=spec["name"], timeout=timeout)
            latencies.append(time.perf_counter() - start)
    except InferError as exc:
        raise ServerFailed(f"server refused: {exc}") from None
    except REACH_ERRORS as exc:
        reason = getattr(exc, "reason", None) or exc
        raise ServerFailed(f"cannot reach {url}: {reason}") from None
    except ANSWER_ERRORS as exc:
        raise BadInput(
            f"{url} answered something that is not the Open Inference Protocol ({exc!r:.120})"
        ) from None
    assert output is not None and array is not None
    if output.size == 0:
        raise BadInput(f"{url} answered an empty output tensor {list(output.shape)}")
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
