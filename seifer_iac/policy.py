"""Policy rules over rendered manifests: pure functions returning violations (empty list = compliant).

The same rules run in the tests (over `render_manifests` output) and in the pulumi-policy pack in
`policy/` (over the props Pulumi is about to send), so what CI enforces on a preview is what the tests
prove of every render. Each rule states one property the design depends on:

- node-affinity: stages are pinned by required node affinity (the scheduler can still fail them over to a
  backup); `nodeName` bypasses the scheduler and strands a pod on a lost node.
- configmap-immutable / configmap-size: weight and config ConfigMaps are content-addressed, so immutable,
  and each stays under Kubernetes' 1 MiB limit for data + binaryData.
- probes / resources: readiness gates traffic until the partition is verified; memory requests and
  limits are what the planner sized against the node.
- security-context / service-account-token: the runtime needs no privileges and no API access.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

CONFIGMAP_LIMIT_BYTES = 1024 * 1024
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")

Manifest = Mapping[str, Any]


@dataclass(frozen=True)
class Violation:
    rule: str
    kind: str
    name: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.kind}/{self.name}: {self.message}"


def _name(obj: Manifest) -> str:
    return str((obj.get("metadata") or {}).get("name", "?"))


def pod_spec_of(obj: Manifest) -> Mapping[str, Any] | None:
    """The pod spec of a workload object (None for objects that run no pods)."""
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
        kind = "Job"
    if kind in WORKLOAD_KINDS:
        return (spec.get("template") or {}).get("spec") or {}
    return None


def _pods(manifests: Iterable[Manifest]) -> Iterable[tuple[Manifest, Mapping[str, Any]]]:
    for obj in manifests:
        pod = pod_spec_of(obj)
        if pod is not None:
            yield obj, pod


def _containers(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]


def node_affinity(manifests: Iterable[Manifest]) -> list[Violation]:
    """No `nodeName`; a required node affinity on node names (`matchFields metadata.name`)."""
    found = []
    for obj, pod in _pods(manifests):
        if "nodeName" in pod:
            found.append(
                Violation("node-affinity", obj["kind"], _name(obj), "sets nodeName; use node affinity")
            )
        required = ((pod.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        ) or {}
        terms = required.get("nodeSelectorTerms") or []
        pinned = terms and all(
            any(
                f.get("key") == "metadata.name" and f.get("operator") == "In" and f.get("values")
                for f in term.get("matchFields") or []
            )
            for term in terms
        )
        if not pinned:
            found.append(
                Violation(
                    "node-affinity", obj["kind"], _name(obj), "no required node affinity on metadata.name"
                )
            )
    return found


def _configmap_bytes(obj: Manifest) -> int:
    text = sum(len(str(v).encode()) for v in (obj.get("data") or {}).values())
    binary = 0
    for value in (obj.get("binaryData") or {}).values():
        try:
            binary += len(base64.b64decode(value, validate=True))
        except (ValueError, TypeError):
            binary += len(str(value))  # not base64: the API server would reject it; count it as is
    keys = sum(len(k) for k in [*(obj.get("data") or {}), *(obj.get("binaryData") or {})])
    return text + binary + keys


def configmap_immutable(manifests: Iterable[Manifest]) -> list[Violation]:
    return [
        Violation("configmap-immutable", "ConfigMap", _name(obj), "is not immutable: true")
        for obj in manifests
        if obj.get("kind") == "ConfigMap" and obj.get("immutable") is not True
    ]


def configmap_size(manifests: Iterable[Manifest]) -> list[Violation]:
    found = []
    for obj in manifests:
        if obj.get("kind") == "ConfigMap":
            size = _configmap_bytes(obj)
            if size >= CONFIGMAP_LIMIT_BYTES:
                found.append(
                    Violation(
                        "configmap-size",
                        "ConfigMap",
                        _name(obj),
                        f"holds {size} bytes; the limit is {CONFIGMAP_LIMIT_BYTES}",
                    )
                )
    return found


def probes(manifests: Iterable[Manifest]) -> list[Violation]:
    found = []
    for obj, pod in _pods(manifests):
        for c in pod.get("containers") or []:
            missing = [p for p in ("livenessProbe", "readinessProbe") if not c.get(p)]
            if missing:
                found.append(
                    Violation(
                        "probes",
                        obj["kind"],
                        _name(obj),
                        f"container {c.get('name')} has no {' or '.join(missing)}",
                    )
                )
    return found


def resources(manifests: Iterable[Manifest]) -> list[Violation]:
    found = []
    for obj, pod in _pods(manifests):
        for c in _containers(pod):
            res = c.get("resources") or {}
            for part in ("requests", "limits"):
                if not (res.get(part) or {}).get("memory"):
                    found.append(
                        Violation(
                            "resources",
                            obj["kind"],
                            _name(obj),
                            f"container {c.get('name')} has no memory {part[:-1]}",
                        )
                    )
    return found


def _hardening_problems(pod: Mapping[str, Any], c: Mapping[str, Any]) -> list[str]:
    pod_ctx = pod.get("securityContext") or {}
    ctx = c.get("securityContext") or {}

    def either(key: str) -> Any:
        return ctx.get(key, pod_ctx.get(key))

    problems = []
    if either("runAsNonRoot") is not True:
        problems.append("runAsNonRoot is not true")
    if either("runAsUser") in (None, 0):
        problems.append("runAsUser is unset or 0")
    if ctx.get("readOnlyRootFilesystem") is not True:
        problems.append("readOnlyRootFilesystem is not true")
    if ctx.get("allowPrivilegeEscalation") is not False:
        problems.append("allowPrivilegeEscalation is not false")
    if ctx.get("privileged"):
        problems.append("privileged")
    if "ALL" not in ((ctx.get("capabilities") or {}).get("drop") or []):
        problems.append("capabilities do not drop ALL")
    if ctx.get("capabilities", {}).get("add"):
        problems.append("capabilities are added")
    if (either("seccompProfile") or {}).get("type") not in ("RuntimeDefault", "Localhost"):
        problems.append("seccompProfile is not RuntimeDefault")
    return problems


def security_context(manifests: Iterable[Manifest]) -> list[Violation]:
    found = []
    for obj, pod in _pods(manifests):
        for c in _containers(pod):
            for problem in _hardening_problems(pod, c):
                found.append(
                    Violation(
                        "security-context", obj["kind"], _name(obj), f"container {c.get('name')}: {problem}"
                    )
                )
    return found


def service_account_token(manifests: Iterable[Manifest]) -> list[Violation]:
    return [
        Violation(
            "service-account-token", obj["kind"], _name(obj), "automountServiceAccountToken is not false"
        )
        for obj, pod in _pods(manifests)
        if pod.get("automountServiceAccountToken") is not False
    ]


Rule = Callable[[Iterable[Manifest]], list[Violation]]

RULES: tuple[tuple[str, str, Rule], ...] = (
    (
        "node-affinity",
        "Pods are placed by required node affinity on node names, never nodeName.",
        node_affinity,
    ),
    ("configmap-immutable", "ConfigMaps are immutable (they are content-addressed).", configmap_immutable),
    ("configmap-size", "Each ConfigMap's data + binaryData stays under 1 MiB.", configmap_size),
    ("probes", "Every container has liveness and readiness probes.", probes),
    ("resources", "Every container has memory requests and limits.", resources),
    (
        "security-context",
        "Containers run non-root, read-only, without privileges or capabilities.",
        security_context,
    ),
    ("service-account-token", "Pods do not mount a service-account token.", service_account_token),
)


def check_manifests(manifests: Iterable[Manifest]) -> list[Violation]:
    """Every violation of every rule, in rule then manifest order."""
    objects = list(manifests)
    return [violation for _, _, rule in RULES for violation in rule(objects)]
