"""The real Pulumi program (the module Pulumi.yaml names) under Pulumi's mocks, with the dev stack's config:
every resource it registers carries exactly the rendered manifests, and the stack outputs are exported."""

from __future__ import annotations

import asyncio
import os
import runpy
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from seifer_iac.manifests import chain_hash
from seifer_iac.pulumi_program.component import COMPONENT_TYPE, logical_name
from seifer_iac.pulumi_program.state import RecordingMocks
from seifer_iac.pulumi_program.weights import (
    CHUNK_DIR_ENV,
    chunk_props,
    configmap_from_props,
    is_weight_chunk,
)
from seifer_iac.release import dispatcher_endpoint
from tests.deploy.conftest import ROOT

TYPES = {
    "Namespace": "kubernetes:core/v1:Namespace",
    "ConfigMap": "kubernetes:core/v1:ConfigMap",
    "Service": "kubernetes:core/v1:Service",
    "NetworkPolicy": "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    "Deployment": "kubernetes:apps/v1:Deployment",
    "PodDisruptionBudget": "kubernetes:policy/v1:PodDisruptionBudget",
}
DYNAMIC = "pulumi-python:dynamic:Resource"


def floats(value: Any) -> Any:
    """Integers as floats (the mock gets every number as a float), keeping booleans as they are."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, dict):
        return {k: floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [floats(v) for v in value]
    return value


def program_dir() -> Path:
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == "seifer" and project["runtime"]["name"] == "python"
    assert project["stackConfigDir"] == "stacks"
    return ROOT / project["main"]


def start_mocks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, stack: str):
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    pulumi.runtime.settings.reset_options()
    recording = RecordingMocks()
    pulumi.runtime.set_mocks(recording, project="seifer", stack=stack, preview=False)
    stack_config = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
    pulumi.runtime.set_all_config({k: str(v) for k, v in stack_config.items()})
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv(CHUNK_DIR_ENV, str(tmp_path / "chunks"))
    return loop, recording


@pytest.fixture
def mocks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    loop, recording = start_mocks(monkeypatch, tmp_path, "dev")
    yield recording
    asyncio.set_event_loop(None)
    loop.close()


@pulumi.runtime.test
def test_program_registers_exactly_the_rendered_manifests(mocks, dev_release):
    namespace = runpy.run_path(str(program_dir()), run_name="__main__")
    pipeline = namespace["pipeline"]
    urns = [resource.urn for resource in pipeline.resources.values()]

    def check(_: list[str]) -> None:
        expected = {logical_name(m): m for m in dev_release.manifests}
        created = {name: kept for name, kept in mocks.created.items() if kept[0] != COMPONENT_TYPE}
        assert set(created) == set(expected)
        chunks = Path(os.environ[CHUNK_DIR_ENV])
        for name, manifest in expected.items():
            typ, inputs = created[name]
            if is_weight_chunk(manifest):  # by name and sha256: the bytes wait in a file, not the state
                assert typ == DYNAMIC
                recorded = {k: v for k, v in inputs.items() if k != "__provider"}
                assert recorded == floats(chunk_props(manifest))
                assert configmap_from_props(chunk_props(manifest), chunks) == manifest
                continue
            assert typ == TYPES[manifest["kind"]]
            assert inputs == floats(manifest), name
        assert [n for n, (t, _) in mocks.created.items() if t == COMPONENT_TYPE] == [dev_release.spec.name]

    return pulumi.Output.all(*urns).apply(check)


@pulumi.runtime.test
def test_program_exports_the_plan(mocks, dev_release):
    runpy.run_path(str(program_dir()), run_name="__main__")
    stack = pulumi.runtime.get_root_resource()
    plan = dev_release.plan
    expected = {
        "planHash": plan.plan_hash,
        "chainHash": chain_hash(plan),
        "bottleneck": plan.bottleneck,
        "predictedThroughput": plan.throughput_per_s,
        "dispatcherEndpoint": dispatcher_endpoint(dev_release.spec),
    }

    def check(outputs: dict[str, Any]) -> None:
        for key, value in expected.items():
            assert outputs[key] == value, key
        assert [row["node"] for row in outputs["placement"]] == [s.node for s in plan.stages]
        assert outputs["bottleneckSeconds"] == plan.bottleneck_s

    return pulumi.Output.from_input(stack.outputs).apply(check)
