"""The runtime configs (schemas/stage-config.schema.json): the manifests' message to each process.

They are built as plain dicts here and serialised canonically (sorted keys), so the config ConfigMap's
content-derived name changes exactly when a process would behave differently.
"""

from __future__ import annotations

import json
from typing import Any

from seifer_iac.artifacts import PartitionArtifact
from seifer_iac.manifests.naming import (
    RESULT_PORT,
    WEIGHTS_DIR,
    chain_hash,
    data_port,
    dispatcher_name,
    http_port,
    service_host,
    stage_name,
)
from seifer_iac.manifests.secrets import encryption_config
from seifer_iac.planner.plan import Plan, Stage
from seifer_iac.profile import Profile
from seifer_iac.spec.model import Spec

MAX_ATTEMPTS = 3
DATATYPES = {
    "bool": "BOOL",
    "uint8": "UINT8",
    "uint16": "UINT16",
    "uint32": "UINT32",
    "uint64": "UINT64",
    "int8": "INT8",
    "int16": "INT16",
    "int32": "INT32",
    "int64": "INT64",
    "float16": "FP16",
    "float32": "FP32",
    "float64": "FP64",
}


def config_json(config: dict[str, Any]) -> str:
    """Canonical JSON: the same config always gives the same bytes (and so the same ConfigMap name)."""
    return json.dumps(config, sort_keys=True, indent=2) + "\n"


def _common(spec: Spec, plan: Plan) -> dict[str, Any]:
    return {
        "pipeline": spec.name,
        "stages": len(plan.stages),
        "modelName": spec.name,
        "codec": spec.runtime.codec.as_config(),
        "queueDepth": spec.runtime.queue_depth,
        "encryption": encryption_config(spec),
    }


def backend_config(spec: Spec, stage: Stage) -> dict[str, Any]:
    """What runs the partition; threads = the node's cpus (at least one), as the pod's CPU limit says."""
    threads = max(1, int(spec.cluster.node(stage.node).cpus))
    return {"name": spec.runtime.backend, "precision": spec.runtime.precision, "threads": threads}


def stage_tensors(profile: Profile, stage: Stage) -> tuple[dict[str, Any], dict[str, Any]]:
    """The stage's input and output tensors (batch axis as in the profile: 1)."""
    if stage.first_block == 0:
        inp = _tensor(profile.input_name, profile.input_shape, profile.input_dtype)
    else:
        before = profile.blocks[stage.first_block - 1]
        inp = _tensor(before.name, before.output_shape, before.output_dtype)
    last = profile.blocks[stage.last_block]
    return inp, _tensor(last.name, last.output_shape, last.output_dtype)


def stage_config(
    spec: Spec, plan: Plan, stage: Stage, artifact: PartitionArtifact, profile: Profile
) -> dict[str, Any]:
    """Role `stage`: listen on its own ports, push to the next stage (the last one to the dispatcher)."""
    inp, out = stage_tensors(profile, stage)
    last = stage.index == len(plan.stages)
    if last:
        target = {"host": service_host(spec, dispatcher_name(spec)), "port": RESULT_PORT}
    else:
        nxt = stage.index + 1
        target = {"host": service_host(spec, stage_name(spec, nxt)), "port": data_port(nxt)}
    return {
        "role": "stage",
        "stage": stage.index,
        **_common(spec, plan),
        "modelVersion": spec.model.version,
        "planHash": chain_hash(plan),
        "listen": {"dataPort": data_port(stage.index), "httpPort": http_port(stage.index)},
        "next": target,
        "weights": {
            "dir": WEIGHTS_DIR,
            "sha256": artifact.sha256,
            "size": artifact.size,
            "chunks": [chunk.as_config() for chunk in artifact.chunks],
        },
        "backend": backend_config(spec, stage),
        "input": inp,
        "output": out,
    }


def _tensor(name: str, shape: tuple[int, ...], dtype: str) -> dict[str, Any]:
    return {"name": name, "shape": list(shape), "datatype": DATATYPES.get(dtype, "FP32")}


def dispatcher_config(spec: Spec, plan: Plan, profile: Profile) -> dict[str, Any]:
    """Role `dispatcher`: serve the API, push to stage 1, collect results from the last stage.

    No model version or plan hash: the dispatcher learns the chain's version from its results (stage 1
    stamps it), so this config, its ConfigMap's name and the dispatcher's pod template stay the same across
    a version bump and Kubernetes never restarts the dispatcher for one (docs/deployment.md, "Rollouts").
    """
    last_block = profile.blocks[plan.stages[-1].last_block]
    return {
        "role": "dispatcher",
        **_common(spec, plan),
        "listen": {"httpPort": spec.dispatcher.port, "resultPort": RESULT_PORT},
        "first": {"host": service_host(spec, stage_name(spec, 1)), "port": data_port(1)},
        "input": _tensor(profile.input_name, profile.input_shape, profile.input_dtype),
        "output": _tensor("output", last_block.output_shape, last_block.output_dtype),
        "deadlineSeconds": float(spec.dispatcher.deadline_s),
        "maxAttempts": MAX_ATTEMPTS,
        "maxInFlight": spec.dispatcher.max_in_flight,
    }
