"""Partition blobs -> content-addressed chunks: sizes, names, the weight budget."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seifer_iac.artifacts import (
    CONFIGMAP_LIMIT_BYTES,
    ArtifactError,
    build_artifacts,
    check_weight_budget,
    chunk_name,
    split_blob,
)
from seifer_iac.spec.model import WeightsOptions
from tests.deploy.helpers import blobs_of, hand_plan


@settings(max_examples=60, deadline=None)
@given(blob=st.binary(max_size=5000), chunk=st.integers(min_value=1, max_value=1200))
def test_chunks_join_back_to_the_blob_and_respect_the_size(blob: bytes, chunk: int) -> None:
    artifact = split_blob(blob, 1, "p", "1", WeightsOptions(chunk_bytes=chunk))
    assert b"".join(c.data for c in artifact.chunks) == blob
    assert artifact.size == len(blob) and artifact.sha256 == hashlib.sha256(blob).hexdigest()
    assert all(c.size == len(c.data) <= chunk for c in artifact.chunks)
    assert all(c.sha256 == hashlib.sha256(c.data).hexdigest() for c in artifact.chunks)
    assert len(artifact.chunks) == max(1, -(-len(blob) // chunk))


def test_names_come_from_content_and_version() -> None:
    a = chunk_name("mobilenet-dev", "1.0.0", b"weights")
    assert a == chunk_name("mobilenet-dev", "1.0.0", b"weights")
    assert a.startswith("mobilenet-dev-w-") and len(a) == len("mobilenet-dev-w-") + 20
    assert a != chunk_name("mobilenet-dev", "1.0.0", b"weightz")
    assert a != chunk_name("mobilenet-dev", "1.0.1", b"weights")  # a version bump rolls every stage


def test_a_chunk_size_of_a_whole_configmap_is_refused() -> None:
    with pytest.raises(ArtifactError, match="under 1 MiB"):
        split_blob(b"x", 1, "p", "1", WeightsOptions(chunk_bytes=CONFIGMAP_LIMIT_BYTES))


def test_dev_artifacts_stay_under_the_configmap_limit(dev_release) -> None:
    chunk_bytes = dev_release.spec.weights.chunk_bytes
    for artifact, stage in zip(dev_release.artifacts, dev_release.plan.stages, strict=True):
        assert artifact.stage == stage.index
        assert all(c.size <= chunk_bytes < CONFIGMAP_LIMIT_BYTES for c in artifact.chunks)
        assert sum(c.size for c in artifact.chunks) == artifact.size


def test_over_budget_stage_fails_at_plan_time_naming_the_option(dev_release) -> None:
    spec = dataclasses.replace(
        dev_release.spec,
        weights=dataclasses.replace(dev_release.spec.weights, max_configmap_total_bytes=1024),
    )
    plan = dev_release.plan
    with pytest.raises(ArtifactError) as caught:
        check_weight_budget(spec, plan)  # from the plan alone: before any model is split
    message = str(caught.value)
    assert "\n" not in message
    assert "weights.maxTotal" in message and "image per model version" in message
    assert f"stage {plan.stages[-1].index}" in message or "stage 1" in message


def test_build_artifacts_checks_real_blob_sizes_too(dev_release) -> None:
    plan = hand_plan(dev_release.plan, [(0, 30, "pi-1", ()), (31, 74, "pi-2", ())])  # tiny param_bytes
    spec = dataclasses.replace(
        dev_release.spec,
        weights=dataclasses.replace(dev_release.spec.weights, max_configmap_total_bytes=4000),
    )
    with pytest.raises(ArtifactError, match="stage 2"):
        build_artifacts(spec, plan, [b"a" * 10, b"b" * 5000])
    assert [a.size for a in build_artifacts(spec, plan, [b"a" * 10, b"b" * 3000])] == [10, 3000]


def test_build_artifacts_wants_one_blob_per_stage(dev_release) -> None:
    with pytest.raises(ArtifactError, match="blobs"):
        build_artifacts(dev_release.spec, dev_release.plan, blobs_of(dev_release.artifacts)[:1])
