"""ConfigMaps: the weight chunks and the runtime configs, all immutable and named by their content.

Immutable + content-addressed means the kubelet never has to watch them, a changed partition or config
gets a new name (so its pod template changes and that stage rolls), and an unchanged one is left alone.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from seifer_iac.artifacts import PartitionArtifact
from seifer_iac.manifests.naming import ANNOTATION_PREFIX, content_suffix


def weight_configmaps(
    namespace: str, labels: dict[str, str], artifacts: Sequence[PartitionArtifact]
) -> list[dict[str, Any]]:
    """One ConfigMap per distinct chunk, in stage then chunk order; the key and the file are its name."""
    seen: set[str] = set()
    objects = []
    for artifact in artifacts:
        for chunk in artifact.chunks:
            if chunk.name in seen:
                continue  # equal content, equal name: one object serves every stage that needs it
            seen.add(chunk.name)
            objects.append(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {
                        "name": chunk.name,
                        "namespace": namespace,
                        "labels": dict(labels),
                        "annotations": {f"{ANNOTATION_PREFIX}chunk-sha256": chunk.sha256},
                    },
                    "immutable": True,
                    "binaryData": {chunk.name: base64.b64encode(chunk.data).decode("ascii")},
                }
            )
    return objects


def config_configmap(
    base_name: str, namespace: str, labels: dict[str, str], filename: str, text: str
) -> dict[str, Any]:
    """The runtime config of one process, named `<base>-config-<hash of the text>`."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": f"{base_name}-config-{content_suffix(text)}",
            "namespace": namespace,
            "labels": dict(labels),
        },
        "immutable": True,
        "data": {filename: text},
    }
