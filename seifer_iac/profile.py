"""The model profile: the only thing the planner knows about a model.

It is plain data (published as schemas/profile.schema.json) so the planner, its tests and its benchmarks run
without TensorFlow, and so a profile can be computed once, cached by model hash, and shipped in a spec.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import jsonschema

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


def validate_profile_data(data: Any) -> list[str]:
    """Schema errors as 'path: message' lines (empty when valid)."""
    schema = json.loads(SCHEMA_PATH.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
        path = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        problems.append(f"{path}: {error.message}")
    return problems


def profile_from_dict(data: dict[str, Any]) -> Profile:
    problems = validate_profile_data(data)
    if problems:
        raise ValueError("invalid profile: " + "; ".join(problems[:5]))
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
    return profile_from_dict(json.loads(Path(path).read_text()))
