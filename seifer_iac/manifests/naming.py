"""Names, addresses, ports and labels of a pipeline's objects, in one place.

The stage config, the Services, the NetworkPolicies and the local runner must all agree on these, so they
are derived from (spec, stage index) by small pure functions and nothing else (docs/CONTRACTS.md).
"""

from __future__ import annotations

import hashlib
import json
import math
import re

from seifer_iac.planner.plan import Plan
from seifer_iac.spec.model import Spec

DATA_PORT_BASE = 5600
HTTP_PORT_BASE = 8600
RESULT_PORT = 5599
CONFIG_DIR = "/etc/seifer/config"
WEIGHTS_DIR = "/var/lib/seifer/weights"
RUNTIME_USER = 10001
MANAGED_BY = "seifer"
PART_OF = "seifer"
STAGE_LABEL = "seifer.dev/stage"
ANNOTATION_PREFIX = "seifer.dev/"
MEBI = 1024 * 1024


def stage_name(spec: Spec, index: int) -> str:
    return f"{spec.name}-stage-{index}"


def dispatcher_name(spec: Spec) -> str:
    return f"{spec.name}-dispatcher"


def service_host(spec: Spec, name: str) -> str:
    """The cluster DNS name of a Service (the local runner maps these to loopback or namespace IPs)."""
    return f"{name}.{spec.namespace}.svc.cluster.local"


def data_port(index: int) -> int:
    return DATA_PORT_BASE + index


def http_port(index: int) -> int:
    return HTTP_PORT_BASE + index


def chain_hash(plan: Plan) -> str:
    """What the chain computes: model, version and the stages' block ranges, but not their nodes.

    This is the `planHash` every runtime process carries and checks on each frame: it must change when a
    stage would receive a tensor it cannot consume (other cut points, other model), and must not change
    when a stage only moves to another node, or moving one stage would roll every other stage too.
    """
    key = json.dumps(
        {
            "model": plan.model_hash,
            "version": plan.model_version,
            "blocks": [[s.first_block, s.last_block] for s in plan.stages],
        },
        sort_keys=True,
    )
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def label_value(text: str) -> str:
    """A string made safe as a label value (63 characters of [A-Za-z0-9._-], alphanumeric at both ends)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "-", text)[:63]
    return cleaned.strip("._-") or "unknown"


def selector_labels(spec: Spec, component: str, index: int | None = None) -> dict[str, str]:
    """The labels a Deployment selects and a NetworkPolicy matches: stable for the pipeline's life."""
    labels = {"app.kubernetes.io/instance": spec.name, "app.kubernetes.io/component": component}
    if index is not None:
        labels[STAGE_LABEL] = str(index)
    return labels


def object_labels(spec: Spec, component: str, index: int | None = None) -> dict[str, str]:
    """Labels of objects that outlive a model version (Deployments, Services, NetworkPolicies)."""
    labels = {
        "app.kubernetes.io/name": f"seifer-{component}",
        "app.kubernetes.io/instance": spec.name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }
    if index is not None:
        labels[STAGE_LABEL] = str(index)
    return labels


def versioned_labels(spec: Spec, component: str, index: int | None = None) -> dict[str, str]:
    """Labels of pod templates and ConfigMaps, which change with the model version anyway."""
    labels = object_labels(spec, component, index)
    labels["app.kubernetes.io/version"] = label_value(spec.model.version)
    return labels


def memory_quantity(num_bytes: int) -> str:
    """Bytes as a Kubernetes quantity, rounded up to whole MiB (stable, readable, never below the plan)."""
    return f"{max(1, math.ceil(num_bytes / MEBI))}Mi"


def content_suffix(text: str, digits: int = 10) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:digits]
