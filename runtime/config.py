"""Stage / dispatcher config: load, validate against the JSON Schema, return frozen dataclasses.

The schema is the contract with the manifests (docs/CONTRACTS.md). Its canonical copy lives in
``schemas/stage-config.schema.json``; the runtime image ships only the ``runtime`` package, so an identical
copy is packaged as ``runtime/stage-config.schema.json`` (a test keeps the two byte-identical). The
loader prefers the repository copy and falls back to the packaged one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np

from runtime.codecs import CodecError, CodecSpec, effective_spec, zfp_layout
from runtime.files import read_regular

SCHEMA_NAME = "stage-config.schema.json"
DEFAULT_WEIGHTS_DIR = "/var/lib/seifer/weights"
MAX_CONFIG_BYTES = 1 << 20  # a rendered config is a few KiB; a bigger one is not ours


class ConfigError(ValueError):
    """The config file is missing, not JSON, or does not match the schema (the message names the field)."""


def schema_path() -> Path:
    """The repository's schema if present (development), else the copy packaged with the runtime."""
    repo_copy = Path(__file__).resolve().parents[1] / "schemas" / SCHEMA_NAME
    return repo_copy if repo_copy.is_file() else Path(__file__).resolve().parent / SCHEMA_NAME


def load_schema() -> dict[str, Any]:
    return json.loads(schema_path().read_text())


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    @property
    def address(self) -> str:
        return f"tcp://{self.host}:{self.port}"


@dataclass(frozen=True)
class Chunk:
    name: str
    sha256: str
    size: int


@dataclass(frozen=True)
class WeightsConfig:
    dir: str
    sha256: str
    size: int
    chunks: tuple[Chunk, ...]


NUMPY_DTYPES: dict[str, str] = {
    "BOOL": "bool",
    "UINT8": "uint8",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "FP16": "float16",
    "FP32": "float32",
    "FP64": "float64",
}


@dataclass(frozen=True)
class TensorSpec:
    """An Open Inference Protocol tensor description; -1 as the first axis admits a batch of 1 to
    ``maxBatch`` (the only free axis: every frame's size is bounded by the shape)."""

    name: str
    shape: tuple[int, ...]
    datatype: str

    @property
    def dtype(self) -> str:
        """The numpy name of ``datatype``."""
        return NUMPY_DTYPES[self.datatype]


@dataclass(frozen=True)
class BackendConfig:
    """What runs the partition: ``litert`` (a .tflite flatbuffer) or ``tensorflow`` (a Keras blob)."""

    name: str = "litert"
    precision: str = "fp32"
    threads: int = 1


@dataclass(frozen=True)
class Encryption:
    """How the chain's hops are secured: ``curve`` (ZeroMQ CURVE with the pipeline's key pair, read from
    ``keys_dir``) or ``none``."""

    name: str = "none"
    keys_dir: str = ""


NO_ENCRYPTION = Encryption()


@dataclass(frozen=True)
class StageConfig:
    pipeline: str
    stage: int
    stages: int
    model_name: str
    model_version: str
    plan_hash: str
    data_port: int
    http_port: int
    next: Endpoint
    codec: CodecSpec
    queue_depth: int
    weights: WeightsConfig
    backend: BackendConfig
    input: TensorSpec
    output: TensorSpec
    address: str = "0.0.0.0"
    heartbeat_ms: int = 1000
    log_level: str = "INFO"
    role: str = "stage"
    input_codec: CodecSpec | None = None  # None: the same as ``codec``
    max_batch: int = 1
    encryption: Encryption = NO_ENCRYPTION


@dataclass(frozen=True)
class DispatcherConfig:
    pipeline: str
    stages: int
    model_name: str
    model_version: str | None  # None: version-free (learned from the chain; see runtime/dispatcher.py)
    plan_hash: str | None
    http_port: int
    result_port: int
    first: Endpoint
    input: TensorSpec
    output: TensorSpec
    codec: CodecSpec
    queue_depth: int
    deadline_seconds: float
    max_attempts: int
    max_in_flight: int
    attempt_timeout_seconds: float
    address: str = "0.0.0.0"
    heartbeat_ms: int = 1000
    log_level: str = "INFO"
    role: str = "dispatcher"
    result_codec: CodecSpec | None = None  # None: the same as ``codec``
    max_batch: int = 1
    encryption: Encryption = NO_ENCRYPTION


def _field_path(error: jsonschema.ValidationError) -> str:
    return "/".join(str(p) for p in error.absolute_path) or "(top level)"


def validate(data: Any) -> None:
    """Raise ConfigError naming the first offending field (deepest error first, deterministic order)."""
    validator = jsonschema.Draft202012Validator(load_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if errors:
        best = jsonschema.exceptions.best_match(errors)
        raise ConfigError(f"config field {_field_path(best)}: {best.message}")


def _tensor(data: dict[str, Any], where: str) -> TensorSpec:
    shape = tuple(data["shape"])
    if any(n == -1 for n in shape[1:]):
        raise ConfigError(
            f"config field {where}/shape: -1 is allowed only on the first (batch) axis; the chain's frames "
            "are bounded by fixed tensor shapes"
        )
    return TensorSpec(data["name"], shape, data["datatype"])


def _codec(data: dict[str, Any], key: str) -> CodecSpec | None:
    try:
        return CodecSpec.from_dict(data[key]) if key in data else None
    except CodecError as exc:
        raise ConfigError(f"config field {key}: {exc}") from exc


def _check_hop(tensor: TensorSpec, codec: CodecSpec, key: str) -> None:
    """A zfp configuration zfpy cannot code safely for this tensor (too few bits per block) is a config
    error now, not a crash or a dead hop later."""
    effective = effective_spec(codec, np.dtype(tensor.dtype))
    if effective.name != "zfp":
        return
    try:
        zfp_layout(effective, np.dtype(tensor.dtype), tuple(1 if n == -1 else n for n in tensor.shape))
    except CodecError as exc:
        raise ConfigError(f"config field {key}: {exc}") from exc


def _encryption(data: dict[str, Any]) -> dict[str, str]:
    return {"name": data["name"], "keys_dir": data.get("keysDir", "")}


def parse_config(data: Any) -> StageConfig | DispatcherConfig:
    """Validate a decoded config document and turn it into its dataclass."""
    validate(data)
    common = {
        "pipeline": data["pipeline"],
        "stages": data["stages"],
        "model_name": data["modelName"],
        "model_version": data.get("modelVersion"),  # the schema requires both for a stage
        "plan_hash": data.get("planHash"),
        "codec": _codec(data, "codec"),
        "queue_depth": data["queueDepth"],
        "address": data["listen"].get("address", "0.0.0.0"),
        "heartbeat_ms": data.get("heartbeatMs", 1000),
        "log_level": data.get("logLevel", "INFO"),
        "max_batch": data.get("maxBatch", 1),
        "encryption": Encryption(**_encryption(data.get("encryption", {"name": "none"}))),
        "input": _tensor(data["input"], "input"),
        "output": _tensor(data["output"], "output"),
    }
    hops = (("codec", "output"), ("inputCodec", "input")) if data["role"] == "stage" else ()
    hops = hops or (("codec", "input"), ("resultCodec", "output"))
    for codec_key, tensor_key in hops:
        _check_hop(common[tensor_key], _codec(data, codec_key) or common["codec"], codec_key)
    if data["role"] == "stage":
        if data["stage"] > data["stages"]:
            raise ConfigError(f"config field stage: {data['stage']} is beyond stages={data['stages']}")
        w = data["weights"]
        chunks = tuple(Chunk(c["name"], c["sha256"], c["size"]) for c in w["chunks"])
        return StageConfig(
            stage=data["stage"],
            data_port=data["listen"]["dataPort"],
            http_port=data["listen"]["httpPort"],
            next=Endpoint(data["next"]["host"], data["next"]["port"]),
            weights=WeightsConfig(w.get("dir", DEFAULT_WEIGHTS_DIR), w["sha256"], w["size"], chunks),
            backend=BackendConfig(
                data["backend"]["name"],
                data["backend"].get("precision", "fp32"),
                data["backend"].get("threads", 1),
            ),
            input_codec=_codec(data, "inputCodec"),
            **common,
        )
    attempt_timeout = data.get("attemptTimeoutSeconds", data["deadlineSeconds"] / data["maxAttempts"])
    return DispatcherConfig(
        http_port=data["listen"]["httpPort"],
        result_port=data["listen"]["resultPort"],
        first=Endpoint(data["first"]["host"], data["first"]["port"]),
        result_codec=_codec(data, "resultCodec"),
        deadline_seconds=float(data["deadlineSeconds"]),
        max_attempts=data["maxAttempts"],
        max_in_flight=data["maxInFlight"],
        attempt_timeout_seconds=float(attempt_timeout),
        **common,
    )


def load_config(path: str | Path) -> StageConfig | DispatcherConfig:
    """Read and validate a config file; every failure is a ConfigError with a readable message."""
    try:
        text = read_regular(path, MAX_CONFIG_BYTES)
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from exc
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, nested past the parser's depth
        raise ConfigError(f"config {path} is not valid JSON: {exc}") from exc
    return parse_config(data)
