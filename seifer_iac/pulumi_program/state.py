"""What a stack's Pulumi state would hold, measured by running the real program under Pulumi's mocks.

The state keeps every resource's inputs and outputs; the mocks echo the inputs as outputs, which is what
the Kubernetes provider returns for these objects give or take the server's fields (uid, timestamps), so
the serialised size of (inputs, outputs) per resource is the state's size to within a few percent.
`state_figures` also prices the same release with every weight chunk as a typed ConfigMap (its bytes in
the state), the way it was before weights.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import runpy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import yaml

from seifer_iac.pulumi_program.weights import CHUNK_DIR_ENV, is_weight_chunk

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class RecordingMocks(pulumi.runtime.Mocks):
    """Echo each resource's inputs as its outputs and remember them (logical name -> (type, inputs))."""

    def __init__(self) -> None:
        self.created: dict[str, tuple[str, dict[str, Any]]] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.created[args.name] = (args.typ, dict(args.inputs))
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        return {}


def run_program(stack: str, chunk_directory: Path) -> RecordingMocks:
    """Run the program of Pulumi.yaml for `stack` under mocks; the resources it registered."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    previous = os.environ.get(CHUNK_DIR_ENV)
    os.environ[CHUNK_DIR_ENV] = str(chunk_directory)
    try:
        pulumi.runtime.settings.reset_options()
        recording = RecordingMocks()
        pulumi.runtime.set_mocks(recording, project="seifer", stack=stack, preview=False)
        config = yaml.safe_load((PROJECT_ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
        pulumi.runtime.set_all_config({k: str(v) for k, v in config.items()})
        main = PROJECT_ROOT / "seifer_iac" / "pulumi_program"

        @pulumi.runtime.test
        def program() -> pulumi.Output[Any]:
            namespace = runpy.run_path(str(main), run_name="__main__")
            return pulumi.Output.all(*(r.urn for r in namespace["pipeline"].resources.values()))

        program()
        return recording
    finally:
        if previous is None:
            os.environ.pop(CHUNK_DIR_ENV, None)
        else:
            os.environ[CHUNK_DIR_ENV] = previous
        asyncio.set_event_loop(None)
        loop.close()


def resource_state_bytes(inputs: dict[str, Any]) -> int:
    """Serialised size of one resource's inputs and (echoed) outputs."""
    return len(json.dumps({"inputs": inputs, "outputs": inputs}, sort_keys=True, default=str))


@dataclass(frozen=True)
class StateFigures:
    stack: str
    resources: int
    state_bytes: int  # as the program registers them now
    weights_in_state_bytes: int  # the same release with the chunks as typed ConfigMaps


def state_figures(stack: str, recording: RecordingMocks, manifests: list[dict[str, Any]]) -> StateFigures:
    now = sum(resource_state_bytes(inputs) for _, inputs in recording.created.values())
    chunks = {f"configmap-{m['metadata']['name']}": m for m in manifests if is_weight_chunk(m)}
    before = now + sum(
        resource_state_bytes(manifest) - resource_state_bytes(recording.created[name][1])
        for name, manifest in chunks.items()
    )
    return StateFigures(stack, len(recording.created), now, before)
