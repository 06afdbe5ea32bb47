"""`InferencePipeline`: one ComponentResource whose children are exactly the rendered manifests.

Each manifest becomes the typed pulumi_kubernetes resource of its kind, fed the manifest's own camelCase
dicts (metadata, spec, data, binaryData), so nothing is translated and nothing can drift from
`render_manifests`, except the weight chunks, whose bytes stay out of the state (weights.py). Names are
explicit (metadata.name), never auto-named: content-addressed ConfigMaps
get new names when their content changes, so Pulumi creates the new ones, rolls the Deployment, and only
then deletes the old ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from seifer_iac.pulumi_program.weights import (
    WeightChunk,
    chunk_dir,
    chunk_props,
    is_weight_chunk,
    write_chunk_files,
)

COMPONENT_TYPE = "seifer:index:InferencePipeline"


def logical_name(manifest: dict[str, Any]) -> str:
    """Unique within the component: kind plus object name (namespaced objects share one namespace)."""
    return f"{manifest['kind'].lower()}-{manifest['metadata']['name']}"


def referenced_configmaps(manifest: dict[str, Any]) -> list[str]:
    """ConfigMap names a workload mounts (plain and projected volumes), in volume order."""
    pod = manifest.get("spec", {}).get("template", {}).get("spec", {})
    names = []
    for volume in pod.get("volumes", []):
        if "configMap" in volume:
            names.append(volume["configMap"]["name"])
        for source in volume.get("projected", {}).get("sources", []):
            if "configMap" in source:
                names.append(source["configMap"]["name"])
    return names


def create_resource(manifest: dict[str, Any], opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    """The typed resource of a manifest, with the manifest's dicts passed through unchanged; a weight chunk
    becomes a WeightChunk, which keeps its bytes out of the state (see weights.py)."""
    kind = manifest["kind"]
    name = logical_name(manifest)
    metadata = manifest["metadata"]
    if is_weight_chunk(manifest):
        return WeightChunk(name, chunk_props(manifest), opts)
    if kind == "Namespace":
        return k8s.core.v1.Namespace(name, metadata=metadata, opts=opts)
    if kind == "ConfigMap":
        return k8s.core.v1.ConfigMap(
            name,
            metadata=metadata,
            immutable=manifest.get("immutable"),
            data=manifest.get("data"),
            binary_data=manifest.get("binaryData"),
            opts=opts,
        )
    if kind == "Service":
        return k8s.core.v1.Service(name, metadata=metadata, spec=manifest["spec"], opts=opts)
    if kind == "NetworkPolicy":
        return k8s.networking.v1.NetworkPolicy(name, metadata=metadata, spec=manifest["spec"], opts=opts)
    if kind == "Deployment":
        return k8s.apps.v1.Deployment(name, metadata=metadata, spec=manifest["spec"], opts=opts)
    if kind == "PodDisruptionBudget":
        return k8s.policy.v1.PodDisruptionBudget(name, metadata=metadata, spec=manifest["spec"], opts=opts)
    raise ValueError(f"render_manifests produced a {kind}, which the Pulumi program does not map")


class InferencePipeline(pulumi.ComponentResource):
    """A SEIFER pipeline on Kubernetes: its namespace, ConfigMaps, Services, NetworkPolicies, Deployments.

    Ordering: namespaced objects depend on the Namespace (when the spec creates it) and each Deployment on
    the ConfigMaps it mounts, so a pod never starts before its weights exist.
    """

    def __init__(
        self,
        name: str,
        manifests: Sequence[dict[str, Any]],
        outputs: dict[str, Any],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(COMPONENT_TYPE, name, None, opts)
        write_chunk_files(manifests, chunk_dir())  # the WeightChunk provider reads them at `pulumi up`
        self.resources: dict[str, pulumi.CustomResource] = {}
        namespace: list[pulumi.Resource] = []
        configmaps: dict[str, pulumi.Resource] = {}
        for manifest in manifests:
            depends = list(namespace)
            depends += [configmaps[n] for n in referenced_configmaps(manifest) if n in configmaps]
            options = pulumi.ResourceOptions(parent=self, depends_on=depends)
            resource = create_resource(manifest, options)
            self.resources[logical_name(manifest)] = resource
            if manifest["kind"] == "Namespace":
                namespace.append(resource)
            elif manifest["kind"] == "ConfigMap":
                configmaps[manifest["metadata"]["name"]] = resource
        self.outputs = outputs
        self.register_outputs(outputs)
