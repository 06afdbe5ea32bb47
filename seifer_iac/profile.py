"""The model profile: the only thing the planner knows about a model.

It is plain data (published as schemas/profile.schema.json) so the planner, its tests and its benchmarks run
without TensorFlow, and so a profile can be computed once, cached by model hash, and shipped in a spec.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import jsonschema

from seifer_iac.spec.documents import number_problems, read_json
from seifer_iac.spec.errors import field_path
from seifer_iac.spec.model import ZFP_MIN_BLOCK_BITS, Codec, zfp_block_bits, zfp_dims, zfp_min_rate
from seifer_iac.spec.schema_errors import describe

PROFILE_FORMAT = "seifer.profile/v1"
SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "profile.schema.json"


@dataclass(frozen=True)
class Block:
    """Layers between two consecutive single-tensor cut points; a stage is a run of whole blocks.

    `name` is the block's last layer (its output is the cut tensor). Bytes are at batch size 1.
    `peak_activation_bytes` is the most memory live at once while the block runs (inputs kept for
    branches included), excluding parameters.
    """

    name: str
    layers: tuple[str, ...]
    param_bytes: int
    output_bytes: int
    output_shape: tuple[int, ...]
    output_dtype: str
    peak_activation_bytes: int
    flops: int
    measured_s: float | None = None


@dataclass(frozen=True)
class Profile:
    model_name: str
    model_hash: str
    input_name: str
    input_shape: tuple[int, ...]
    input_dtype: str
    input_bytes: int
    blocks: tuple[Block, ...]
    format: str = PROFILE_FORMAT

    @property
    def param_bytes(self) -> int:
        return sum(block.param_bytes for block in self.blocks)

    @property
    def flops(self) -> int:
        return sum(block.flops for block in self.blocks)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["input_shape"] = list(self.input_shape)
        data["blocks"] = [
            {**asdict(b), "layers": list(b.layers), "output_shape": list(b.output_shape)} for b in self.blocks
        ]
        return data

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, fixed separators, so equal profiles are equal bytes."""
        return json.dumps(self.to_dict(), sort_keys=True, indent=1) + "\n"


# Bytes per element of the dtypes Keras models use (named as numpy / Keras name them).
DTYPE_BYTES = {
    "bool": 1,
    "int8": 1,
    "uint8": 1,
    "int16": 2,
    "uint16": 2,
    "float16": 2,
    "bfloat16": 2,
    "int32": 4,
    "uint32": 4,
    "float32": 4,
    "int64": 8,
    "uint64": 8,
    "float64": 8,
    "complex64": 8,
    "complex128": 16,
}
MAX_SHOWN_PROBLEMS = 3


class ProfileError(ValueError):
    """A profile that breaks the schema or contradicts itself; str() is one line naming the file and the
    fields (the first few problems; `problems` holds them all)."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        shown = "; ".join(problems[:MAX_SHOWN_PROBLEMS])
        more = (
            f" (and {len(problems) - MAX_SHOWN_PROBLEMS} more)" if len(problems) > MAX_SHOWN_PROBLEMS else ""
        )
        super().__init__(f"{source}: {shown}{more}")


def validate_profile_data(data: Any) -> list[str]:
    """'field: problem' lines (empty when valid): the schema first, then what a schema cannot say."""
    schema = json.loads(SCHEMA_PATH.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    problems = [f"{field_path(e.absolute_path)}: {describe(e)}" for e in errors]
    return problems or semantic_problems(data)


def _shape_bytes(shape: list[int], dtype: str) -> int:
    return math.prod(shape) * DTYPE_BYTES[dtype]


def semantic_problems(data: dict[str, Any]) -> list[str]:
    """Contradictions inside a schema-valid profile: bytes that disagree with shape and dtype, unknown
    dtypes, a batch axis that is not 1, repeated block or layer names, timings that are not finite."""
    problems = []
    known = ", ".join(DTYPE_BYTES)
    if data["input_dtype"] not in DTYPE_BYTES:
        problems.append(f'input_dtype: "{data["input_dtype"]}" is not a dtype ({known})')
    else:
        expected = _shape_bytes(data["input_shape"], data["input_dtype"])
        if data["input_bytes"] != expected:
            problems.append(
                f"input_bytes: {data['input_bytes']} disagrees with input_shape {data['input_shape']} of "
                f"{data['input_dtype']} ({expected} bytes)"
            )
    if data["input_shape"][0] != 1:
        problems.append(f"input_shape: {data['input_shape']} must start with the batch axis, 1")
    names: dict[str, int] = {}
    layers: dict[str, int] = {}
    last = len(data["blocks"]) - 1
    for i, block in enumerate(data["blocks"]):
        where = f"blocks[{i}]"
        if block["output_dtype"] not in DTYPE_BYTES:
            problems.append(f'{where}.output_dtype: "{block["output_dtype"]}" is not a dtype ({known})')
        else:
            # a block ends at a single-tensor cut point: its bytes are that tensor's; the last block's
            # may add further model outputs
            expected = _shape_bytes(block["output_shape"], block["output_dtype"])
            if block["output_bytes"] < expected or (i < last and block["output_bytes"] != expected):
                problems.append(
                    f"{where}.output_bytes: {block['output_bytes']} disagrees with {where}.output_shape "
                    f"{block['output_shape']} of {block['output_dtype']} ({expected} bytes)"
                )
        measured = block.get("measured_s")
        if measured is not None and not math.isfinite(measured):
            problems.append(f"{where}.measured_s: {measured} is not a finite number of seconds")
        if block["name"] in names:
            problems.append(f'{where}.name: "{block["name"]}" is already blocks[{names[block["name"]]}]')
        names.setdefault(block["name"], i)
        for j, layer in enumerate(block["layers"]):
            if layer in layers:
                problems.append(f'{where}.layers[{j}]: "{layer}" is already in blocks[{layers[layer]}]')
            layers.setdefault(layer, i)
    return problems


def profile_from_dict(data: dict[str, Any], source: str = "profile") -> Profile:
    """The Profile of a parsed document; ProfileError (a ValueError) names the source and the fields."""
    problems = number_problems(data) or validate_profile_data(data)
    if problems:
        raise ProfileError(source, problems)
    blocks = tuple(
        Block(
            name=b["name"],
            layers=tuple(b["layers"]),
            param_bytes=int(b["param_bytes"]),
            output_bytes=int(b["output_bytes"]),
            output_shape=tuple(b["output_shape"]),
            output_dtype=b["output_dtype"],
            peak_activation_bytes=int(b["peak_activation_bytes"]),
            flops=int(b["flops"]),
            measured_s=b.get("measured_s"),
        )
        for b in data["blocks"]
    )
    return Profile(
        model_name=data["model_name"],
        model_hash=data["model_hash"],
        input_name=data["input_name"],
        input_shape=tuple(data["input_shape"]),
        input_dtype=data["input_dtype"],
        input_bytes=int(data["input_bytes"]),
        blocks=blocks,
        format=data.get("format", PROFILE_FORMAT),
    )


def load_profile(path: str | Path) -> Profile:
    """The profile in a JSON file; DocumentError or ProfileError (both ValueError) name the file and field."""
    return profile_from_dict(read_json(path, "a model profile (.json)"), source=str(path))


def codec_problems(profile: Profile, codec: Codec) -> list[str]:
    """'runtime.codec.rate: ...' when fixed-rate zfp is below what zfpy survives for one of the model's
    tensors. Every block output can become a hop (a re-plan may cut anywhere), so each is checked, the
    model's input and output too; one line, for the tensor that needs the highest rate."""
    if codec.name != "zfp" or codec.mode != "rate" or codec.rate is None:
        return []
    tensors = [("the model's input", profile.input_shape)]
    tensors += [(f"the output of block {b.name!r}", b.output_shape) for b in profile.blocks]
    worst = max(tensors, key=lambda t: zfp_min_rate(len(zfp_dims(tuple(t[1])))))
    ndims = len(zfp_dims(tuple(worst[1])))
    if zfp_block_bits(codec.rate, ndims) >= ZFP_MIN_BLOCK_BITS:
        return []
    return [
        f"runtime.codec.rate: {codec.rate:g} is too low for {worst[0]} (shape {list(worst[1])}, "
        f"{ndims}-D for zfp): zfp needs {ZFP_MIN_BLOCK_BITS} bits per block of {4**ndims} values, "
        f"so rate >= {zfp_min_rate(ndims):g}; raise it (or use codec lz4)"
    ]
