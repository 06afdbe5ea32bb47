"""Deployments: one per stage (pinned to its planned node or a backup) and one for the dispatcher.

One replica with the Recreate strategy: a partition sized to a memory-tight board must never have two
copies there at once, and the chain has exactly one consumer per hop anyway. A version bump therefore
replaces every stage at once, and the dispatcher (whose pod template carries no version, so it is not
replaced) holds requests until the new chain answers (docs/deployment.md, "Rollouts").
"""

from __future__ import annotations

import math
from typing import Any

from seifer_iac.artifacts import PartitionArtifact
from seifer_iac.manifests import pods
from seifer_iac.manifests.naming import (
    ANNOTATION_PREFIX,
    CONFIG_DIR,
    RESULT_PORT,
    WEIGHTS_DIR,
    chain_hash,
    data_port,
    dispatcher_name,
    http_port,
    memory_quantity,
    object_labels,
    selector_labels,
    stage_name,
    versioned_labels,
)
from seifer_iac.manifests.secrets import keys_volume
from seifer_iac.planner.memory import dispatcher_bytes
from seifer_iac.planner.plan import Plan, Stage
from seifer_iac.profile import Profile
from seifer_iac.spec.model import Spec

DRAIN_MARGIN_SECONDS = 5  # beyond the request deadline: closing sockets and the last answers


def _deployment(
    spec: Spec,
    name: str,
    component: str,
    index: int | None,
    annotations: dict[str, str],
    pod: dict[str, Any],
    versioned: bool = True,
) -> dict[str, Any]:
    labels = versioned_labels if versioned else object_labels
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": spec.namespace,
            "labels": object_labels(spec, component, index),
        },
        "spec": {
            "replicas": 1,
            "revisionHistoryLimit": 2,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector_labels(spec, component, index)},
            "template": {
                "metadata": {"labels": labels(spec, component, index), "annotations": annotations},
                "spec": pod,
            },
        },
    }


def _container(
    spec: Spec,
    name: str,
    module: str,
    config_file: str,
    memory_bytes: int,
    ports: list[dict[str, Any]],
    mounts: list[dict[str, Any]],
) -> dict[str, Any]:
    """The runtime container; its command is exactly the one in docs/CONTRACTS.md."""
    return {
        "name": name,
        "image": spec.runtime.image,
        "imagePullPolicy": spec.runtime.image_pull_policy,
        "command": ["python", "-m", module, "--config", f"{CONFIG_DIR}/{config_file}"],
        "ports": ports,
        "env": pods.environment(),
        "resources": pods.resources(memory_bytes),
        "securityContext": pods.container_security_context(),
        **pods.probes("http"),
        "volumeMounts": mounts,
    }


def _port(name: str, number: int) -> dict[str, Any]:
    return {"name": name, "containerPort": number, "protocol": "TCP"}


def weights_volume(artifact: PartitionArtifact) -> dict[str, Any]:
    """A projected volume: every chunk ConfigMap as one read-only file named like the chunk."""
    return {
        "name": "weights",
        "projected": {
            "defaultMode": 0o444,
            "sources": [
                {"configMap": {"name": chunk.name, "items": [{"key": chunk.name, "path": chunk.name}]}}
                for chunk in artifact.chunks
            ],
        },
    }


def stage_deployment(
    spec: Spec, plan: Plan, stage: Stage, artifact: PartitionArtifact, config_map: str
) -> dict[str, Any]:
    tmp_volume, tmp_mount = pods.tmp_volume()
    keys_volumes, keys_mounts = keys_volume(spec)
    container = _container(
        spec,
        "stage",
        "runtime.stage",
        "stage.json",
        stage.memory_bytes,
        [_port("data", data_port(stage.index)), _port("http", http_port(stage.index))],
        [
            {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "weights", "mountPath": WEIGHTS_DIR, "readOnly": True},
            tmp_mount,
            *keys_mounts,
        ],
    )
    volumes = [{"name": "config", "configMap": {"name": config_map}}, weights_volume(artifact), tmp_volume]
    volumes += keys_volumes
    annotations = {
        f"{ANNOTATION_PREFIX}chain-hash": chain_hash(plan),
        f"{ANNOTATION_PREFIX}model-version": spec.model.version,
        f"{ANNOTATION_PREFIX}weights-sha256": artifact.sha256,
        f"{ANNOTATION_PREFIX}blocks": f"{stage.first_block}-{stage.last_block}",
        f"{ANNOTATION_PREFIX}planned-memory": memory_quantity(stage.memory_bytes),
    }
    pod = pods.pod_spec(
        container, volumes, pods.node_affinity(stage.node, stage.backups, spec.runtime.architectures)
    )
    return _deployment(spec, stage_name(spec, stage.index), "stage", stage.index, annotations, pod)


def dispatcher_memory_bytes(spec: Spec, profile: Profile, plan: Plan) -> int:
    """The measured dispatcher model (planner/memory.py): its base plus two copies of every in-flight
    request's input and output (kept for replay after a failure); rounded up to MiB by the quantity."""
    output = profile.blocks[plan.stages[-1].last_block].output_bytes
    return dispatcher_bytes(spec.dispatcher.max_in_flight, profile.input_bytes, output)


def dispatcher_deployment(spec: Spec, plan: Plan, profile: Profile, config_map: str) -> dict[str, Any]:
    tmp_volume, tmp_mount = pods.tmp_volume()
    keys_volumes, keys_mounts = keys_volume(spec)
    memory = math.ceil(dispatcher_memory_bytes(spec, profile, plan))
    container = _container(
        spec,
        "dispatcher",
        "runtime.dispatcher",
        "dispatcher.json",
        memory,
        [_port("http", spec.dispatcher.port), _port("results", RESULT_PORT)],
        [{"name": "config", "mountPath": CONFIG_DIR, "readOnly": True}, tmp_mount, *keys_mounts],
    )
    volumes = [{"name": "config", "configMap": {"name": config_map}}, tmp_volume, *keys_volumes]
    # Nothing of the model version in its template (no version label, chain hash or config name that
    # changes with it): a version bump must not restart the dispatcher, which holds requests meanwhile.
    annotations = {f"{ANNOTATION_PREFIX}planned-memory": memory_quantity(memory)}
    node = spec.dispatcher.node
    pod = pods.pod_spec(container, volumes, pods.node_affinity(node, [node], spec.runtime.architectures))
    # When it is replaced (a new image, port or deadline), it drains: what it holds is answered or fails
    # at its deadline before it exits, so the kubelet must wait that long before a SIGKILL.
    pod["terminationGracePeriodSeconds"] = math.ceil(spec.dispatcher.deadline_s) + DRAIN_MARGIN_SECONDS
    return _deployment(spec, dispatcher_name(spec), "dispatcher", None, annotations, pod, versioned=False)


def disruption_budget(spec: Spec, component: str, index: int | None = None) -> dict[str, Any]:
    """No voluntary eviction (a drain) of a healthy stage or dispatcher: with one replica it is an outage,
    and a stage should move by a plan (`seifer plan --without NODE`, then `pulumi up`), which keeps the
    lock true. An unhealthy pod may still be evicted, so a broken stage never blocks a drain."""
    name = stage_name(spec, index) if index is not None else dispatcher_name(spec)
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {
            "name": name,
            "namespace": spec.namespace,
            "labels": object_labels(spec, component, index),
        },
        "spec": {
            "maxUnavailable": 0,
            "selector": {"matchLabels": selector_labels(spec, component, index)},
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }
