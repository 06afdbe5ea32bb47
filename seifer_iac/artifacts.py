"""Partition blobs -> content-addressed weight chunks, each small enough for one ConfigMap.

Why chunks: a ConfigMap's data + binaryData must stay under 1 MiB, and a partition is many MiB. Why content
names: an immutable ConfigMap named after what it holds never needs an update, a changed partition gets new
names (so its Deployment's pod template changes and the stage rolls), and an unchanged one keeps its names
(so nothing moves). The model version is part of the name hash on purpose: a version bump is the operator
saying "this is a new model", so every stage rolls onto objects of that version even when some weights are
byte-identical, and the old version's objects are retired as a unit.

Pure: no TensorFlow here. The blobs come from the model package (via `seifer_iac.release`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from seifer_iac.planner.plan import Plan, Stage
from seifer_iac.planner.problem import stored_weight_fraction
from seifer_iac.spec.model import Spec, WeightsOptions

CONFIGMAP_LIMIT_BYTES = 1024 * 1024  # Kubernetes: data + binaryData of one ConfigMap must stay under 1 MiB
CHUNK_NAME_DIGITS = 20


class ArtifactError(ValueError):
    """Weights cannot be delivered as planned; the message says which stage and what to change."""


@dataclass(frozen=True)
class Chunk:
    """One slice of a partition blob; `name` is both the ConfigMap's name and the mounted file's name."""

    name: str
    sha256: str
    size: int
    data: bytes = field(default=b"", repr=False)

    def as_config(self) -> dict[str, object]:
        """The chunk object of the stage config contract (docs/CONTRACTS.md)."""
        return {"name": self.name, "sha256": self.sha256, "size": self.size}


@dataclass(frozen=True)
class PartitionArtifact:
    """One stage's partition: the whole blob's digest and size, and its chunks in concatenation order."""

    stage: int
    sha256: str
    size: int
    chunks: tuple[Chunk, ...]


def chunk_name(pipeline: str, model_version: str, data: bytes) -> str:
    """`<pipeline>-w-<20 hex>`: hash of the model version and the chunk's bytes (see module docstring)."""
    digest = hashlib.sha256(model_version.encode() + b"\0" + data).hexdigest()
    return f"{pipeline}-w-{digest[:CHUNK_NAME_DIGITS]}"


def budget_message(spec: Spec, stage_index: int, node: str, weight_bytes: int) -> str:
    """The one-line error for a stage whose weights exceed weights.maxTotal: names the option to change."""
    mib = 1024 * 1024
    limit = spec.weights.max_configmap_total_bytes
    return (
        f"stage {stage_index} (on {node}) needs {weight_bytes / mib:.1f} MiB of weights but weights.maxTotal "
        f"allows {limit / mib:.1f} MiB of weight ConfigMaps per stage; raise weights.maxTotal in the spec "
        "(etcd must hold them), or deliver the weights in an image per model version "
        "(weights.delivery: image, a later feature)"
    )


def stored_weight_bytes(spec: Spec, param_bytes: int) -> int:
    """The weight bytes a stage's blob will hold, before the model is split (for the early budget check;
    the planner plans with the same fraction, planner.problem.stored_weight_fraction)."""
    return int(param_bytes * stored_weight_fraction(spec.runtime.backend, spec.runtime.precision))


def check_weight_budget(spec: Spec, plan: Plan) -> None:
    """Fail at plan time (before any model is split) when a stage's weights alone exceed the budget."""
    for stage in plan.stages:
        _check_stage(spec, stage, stored_weight_bytes(spec, stage.param_bytes))


def _check_stage(spec: Spec, stage: Stage, weight_bytes: int) -> None:
    if weight_bytes > spec.weights.max_configmap_total_bytes:
        raise ArtifactError(budget_message(spec, stage.index, stage.node, weight_bytes))


def split_blob(
    blob: bytes, stage: int, pipeline: str, model_version: str, weights: WeightsOptions
) -> PartitionArtifact:
    """Cut one blob into chunks of weights.chunk_bytes (the last one shorter); an empty blob is one chunk."""
    size = weights.chunk_bytes
    if not 0 < size < CONFIGMAP_LIMIT_BYTES:
        raise ArtifactError(
            f"weights.chunkSize is {size} bytes; it must be more than 0 and under 1 MiB (one ConfigMap)"
        )
    pieces = [blob[start : start + size] for start in range(0, len(blob), size)] or [b""]
    chunks = tuple(
        Chunk(
            name=chunk_name(pipeline, model_version, piece),
            sha256=hashlib.sha256(piece).hexdigest(),
            size=len(piece),
            data=piece,
        )
        for piece in pieces
    )
    return PartitionArtifact(
        stage=stage, sha256=hashlib.sha256(blob).hexdigest(), size=len(blob), chunks=chunks
    )


def build_artifacts(spec: Spec, plan: Plan, blobs: Sequence[bytes]) -> tuple[PartitionArtifact, ...]:
    """One artifact per plan stage (blobs in stage order); ArtifactError when a stage is over budget."""
    if len(blobs) != len(plan.stages):
        raise ArtifactError(f"{len(blobs)} partition blobs for a plan of {len(plan.stages)} stages")
    check_weight_budget(spec, plan)
    artifacts = []
    for stage, blob in zip(plan.stages, blobs, strict=True):
        _check_stage(spec, stage, len(blob))
        artifacts.append(split_blob(blob, stage.index, spec.name, plan.model_version, spec.weights))
    return tuple(artifacts)
