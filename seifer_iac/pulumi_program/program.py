"""The program body: read `seifer:spec` from the stack config, build the release, create the component.

The spec path is relative to the project directory (where Pulumi.yaml is, and where Pulumi runs the
program), so `stacks/Pulumi.dev.yaml` can say `seifer:spec: stacks/dev.pipeline.yaml`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi

from seifer_iac.manifests import chain_hash
from seifer_iac.pulumi_program.component import InferencePipeline
from seifer_iac.pulumi_program.keys import key_secret_manifests
from seifer_iac.release import RELEASE_ERRORS, Release, build_release, dispatcher_endpoint, placement_rows

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def spec_path(configured: str) -> Path:
    """The configured spec file: as given if it exists (absolute, or relative to the working directory),
    else relative to the project root."""
    path = Path(configured)
    return path if path.is_absolute() or path.exists() else PROJECT_ROOT / path


def stack_outputs(release: Release) -> dict[str, Any]:
    plan = release.plan
    return {
        "placement": placement_rows(plan),
        "bottleneck": plan.bottleneck,
        "bottleneckSeconds": plan.bottleneck_s,
        "predictedThroughput": plan.throughput_per_s,
        "planHash": plan.plan_hash,
        "chainHash": chain_hash(plan),
        "modelVersion": plan.model_version,
        "dispatcherEndpoint": dispatcher_endpoint(release.spec),
    }


def main() -> InferencePipeline:
    config = pulumi.Config("seifer")
    try:
        release = build_release(spec_path(config.require("spec")))
    except RELEASE_ERRORS as error:
        raise pulumi.RunError(str(error)) from None  # one clear line in `pulumi up`, no traceback
    outputs = stack_outputs(release)
    manifests = [*release.manifests, *key_secret_manifests(release.spec, config)]
    pipeline = InferencePipeline(release.spec.name, manifests, outputs)
    for key, value in outputs.items():
        pulumi.export(key, value)
    return pipeline
