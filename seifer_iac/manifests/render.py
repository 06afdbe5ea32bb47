"""`render_manifests`: the one source of truth for what runs, whether Pulumi, `seifer render` or the local
runner consumes it.

Order is fixed (Namespace, weight ConfigMaps, config ConfigMaps, Services, NetworkPolicies, Deployments,
PodDisruptionBudgets:
what `kubectl apply -f` needs first comes first) and every dict is built in a fixed key order, so the same
inputs always give the same list, and a second `pulumi preview` shows no change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from seifer_iac.artifacts import PartitionArtifact
from seifer_iac.manifests import configs, network, storage, workloads
from seifer_iac.manifests.naming import dispatcher_name, object_labels, stage_name, versioned_labels
from seifer_iac.planner.plan import Plan
from seifer_iac.profile import Profile
from seifer_iac.spec.model import Spec


def namespace_object(spec: Spec) -> dict[str, Any]:
    """The pipeline's namespace admits only pods of the `restricted` Pod Security Standard (ours are)."""
    labels = {k: v for k, v in object_labels(spec, "namespace").items() if k != "app.kubernetes.io/name"}
    labels.update(
        {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}
    )
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": spec.namespace, "labels": labels}}


def render_manifests(
    spec: Spec, plan: Plan, artifacts: Sequence[PartitionArtifact], profile: Profile
) -> list[dict[str, Any]]:
    """Every Kubernetes object of the pipeline, as camelCase dicts in a deterministic order.

    `profile` supplies what the plan does not carry: the model's input and output tensors, which the
    dispatcher's config declares to clients.
    """
    if [a.stage for a in artifacts] != [s.index for s in plan.stages]:
        raise ValueError("one artifact per plan stage, in stage order")
    ns = spec.namespace
    stage_configs = [
        storage.config_configmap(
            stage_name(spec, stage.index),
            ns,
            versioned_labels(spec, "stage", stage.index),
            "stage.json",
            configs.config_json(configs.stage_config(spec, plan, stage, artifact, profile)),
        )
        for stage, artifact in zip(plan.stages, artifacts, strict=True)
    ]
    dispatcher_config = storage.config_configmap(
        dispatcher_name(spec),
        ns,
        object_labels(spec, "dispatcher"),  # it outlives a version bump (no version in it)
        "dispatcher.json",
        configs.config_json(configs.dispatcher_config(spec, plan, profile)),
    )
    objects: list[dict[str, Any]] = [namespace_object(spec)] if spec.create_namespace else []
    objects += storage.weight_configmaps(ns, versioned_labels(spec, "weights"), artifacts)
    objects += [dispatcher_config, *stage_configs]
    objects += [network.dispatcher_service(spec), *(network.stage_service(spec, s) for s in plan.stages)]
    objects += [
        network.default_deny_policy(spec),
        network.dispatcher_policy(spec, plan),
        *(network.stage_policy(spec, s, len(plan.stages)) for s in plan.stages),
    ]
    objects.append(
        workloads.dispatcher_deployment(spec, plan, profile, dispatcher_config["metadata"]["name"])
    )
    objects += [
        workloads.stage_deployment(spec, plan, stage, artifact, config["metadata"]["name"])
        for stage, artifact, config in zip(plan.stages, artifacts, stage_configs, strict=True)
    ]
    objects.append(workloads.disruption_budget(spec, "dispatcher"))
    objects += [workloads.disruption_budget(spec, "stage", stage.index) for stage in plan.stages]
    return objects
