"""Policy rules over rendered manifests: pure functions returning violations (empty list = compliant).

The same rules run in the tests (over `render_manifests` output) and in the pulumi-policy pack in
`policy/` (over the props Pulumi is about to send), so what CI enforces on a preview is what the tests
prove of every render. Each rule states one property the design depends on:

- node-affinity: stages are pinned by required node affinity (the scheduler can still fail them over to a
  backup); `nodeName` bypasses the scheduler and strands a pod on a lost node.
- configmap-immutable / configmap-size: weight and config ConfigMaps are content-addressed, so immutable,
  and each stays under Kubernetes' 1 MiB limit for data + binaryData.
- probes / resources: readiness gates traffic until the partition is verified; memory requests and
  limits are what the planner sized against the node. A Job runs to completion and serves nothing
  (`seifer probe`'s link and speed Jobs), so it needs no probes but a deadline instead:
- job-deadline: every Job has `activeDeadlineSeconds` (a hung Job would hold its node's memory for ever)
  and a `backoffLimit` (a failed measurement is reported missing, never retried behind the user's back).
- security-context / service-account-token: the runtime needs no privileges and no API access.
- host-namespaces / host-path / host-port: a pod never shares the node's network, PID or IPC namespace,
  mounts a node path, or claims a node port (each would let one stage reach beyond its sandbox).
- image-tag: no `:latest` and no tagless image (the pods of one release must run the same bytes);
  image-digest (advisory): images pinned by digest, so `IfNotPresent` can never run stale bytes.
- network-policy-allow-all: no NetworkPolicy rule that admits every source or destination on every port.
- service-type: no LoadBalancer or NodePort Service (the chain is cluster-internal; expose the dispatcher
  with an Ingress or a gateway you choose).
- memory-within-plan: no container's memory limit above what the plan counted for it on its node
  (the pod template's `seifer.dev/planned-memory` annotation).
"""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

CONFIGMAP_LIMIT_BYTES = 1024 * 1024
PLANNED_MEMORY_ANNOTATION = "seifer.dev/planned-memory"
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(?:e([+-]?[0-9]+))?(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$")
SUFFIX = {
    None: 1,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "E": 1e18,
    **{s: 1024 ** (i + 1) for i, s in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"))},
}
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
        if obj.get("kind") in ("Job", "CronJob"):
            continue  # runs to completion and serves nothing: job_deadline bounds it instead
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


def job_deadline(manifests: Iterable[Manifest]) -> list[Violation]:
    found = []
    for obj in manifests:
        if obj.get("kind") != "Job":
            continue
        spec = obj.get("spec") or {}
        missing = [
            key for key in ("activeDeadlineSeconds", "backoffLimit") if not isinstance(spec.get(key), int)
        ]
        if missing:
            found.append(Violation("job-deadline", "Job", _name(obj), f"has no {' or '.join(missing)}"))
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


def host_namespaces(manifests: Iterable[Manifest]) -> list[Violation]:
    return [
        Violation("host-namespaces", obj["kind"], _name(obj), f"sets {key}")
        for obj, pod in _pods(manifests)
        for key in ("hostNetwork", "hostPID", "hostIPC")
        if pod.get(key)
    ]


def host_path(manifests: Iterable[Manifest]) -> list[Violation]:
    return [
        Violation("host-path", obj["kind"], _name(obj), f"volume {v.get('name')} mounts a hostPath")
        for obj, pod in _pods(manifests)
        for v in pod.get("volumes") or []
        if "hostPath" in v
    ]


def host_port(manifests: Iterable[Manifest]) -> list[Violation]:
    return [
        Violation(
            "host-port", obj["kind"], _name(obj), f"container {c.get('name')} claims hostPort {p['hostPort']}"
        )
        for obj, pod in _pods(manifests)
        for c in _containers(pod)
        for p in c.get("ports") or []
        if p.get("hostPort")
    ]


def image_reference(image: str) -> tuple[str | None, str | None]:
    """(tag, digest) of an image reference; a registry port (`host:5000/x`) is not a tag."""
    digest_match = DIGEST.search(image)
    digest = digest_match.group(0)[1:] if digest_match else None
    name = image[: digest_match.start()] if digest_match else image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else None
    return tag, digest


def image_tag(manifests: Iterable[Manifest]) -> list[Violation]:
    found = []
    for obj, pod in _pods(manifests):
        for c in _containers(pod):
            image = str(c.get("image") or "")
            tag, digest = image_reference(image)
            if digest is None and tag in (None, "latest"):
                why = "uses :latest" if tag == "latest" else "has no tag or digest"
                found.append(
                    Violation(
                        "image-tag", obj["kind"], _name(obj), f"container {c.get('name')}: {image} {why}"
                    )
                )
    return found


def image_digest(manifests: Iterable[Manifest]) -> list[Violation]:
    return [
        Violation(
            "image-digest",
            obj["kind"],
            _name(obj),
            f"container {c.get('name')}: {c.get('image')} is not pinned by digest (image@sha256:...)",
        )
        for obj, pod in _pods(manifests)
        for c in _containers(pod)
        if image_reference(str(c.get("image") or ""))[1] is None
    ]


def _everyone(peer: Mapping[str, Any]) -> bool:
    """A peer that matches every source/destination: {}, all namespaces' pods, or a /0 block."""
    if not peer:
        return True
    block = peer.get("ipBlock")
    if block:
        try:
            wide = ipaddress.ip_network(str(block.get("cidr")), strict=False).prefixlen == 0
        except ValueError:
            return False
        return wide and not block.get("except")
    namespaces, pods = peer.get("namespaceSelector"), peer.get("podSelector")
    return namespaces is not None and not namespaces and not pods


def network_policy_allow_all(manifests: Iterable[Manifest]) -> list[Violation]:
    found = []
    for obj in manifests:
        if obj.get("kind") != "NetworkPolicy":
            continue
        spec = obj.get("spec") or {}
        for direction, side in (("ingress", "from"), ("egress", "to")):
            for i, rule in enumerate(spec.get(direction) or []):
                peers = rule.get(side)
                if not rule.get("ports") and (not peers or any(_everyone(p) for p in peers)):
                    found.append(
                        Violation(
                            "network-policy-allow-all",
                            "NetworkPolicy",
                            _name(obj),
                            f"{direction}[{i}] admits everything on every port",
                        )
                    )
    return found


def service_type(manifests: Iterable[Manifest]) -> list[Violation]:
    return [
        Violation("service-type", "Service", _name(obj), f"is of type {kind}; use ClusterIP")
        for obj in manifests
        if obj.get("kind") == "Service"
        and (kind := (obj.get("spec") or {}).get("type")) in ("LoadBalancer", "NodePort")
    ]


def quantity_bytes(text: object) -> float | None:
    """A Kubernetes quantity ("448Mi", "1.5Gi", "500M", "1e9") in bytes; None when it is not one."""
    match = QUANTITY.match(str(text))
    if not match:
        return None
    number, exponent, suffix = match.groups()
    return float(number) * 10 ** int(exponent or 0) * SUFFIX[suffix]


def memory_within_plan(manifests: Iterable[Manifest]) -> list[Violation]:
    found = []
    for obj in manifests:
        pod = pod_spec_of(obj)
        if pod is None:
            continue
        template = (obj.get("spec") or {}).get("template") or {}
        planned_text = ((template.get("metadata") or {}).get("annotations") or {}).get(
            PLANNED_MEMORY_ANNOTATION
        )
        planned = quantity_bytes(planned_text)
        for c in _containers(pod):
            limit_text = ((c.get("resources") or {}).get("limits") or {}).get("memory")
            limit = quantity_bytes(limit_text)
            if limit_text is None:
                continue  # the resources rule reports a missing limit
            if planned is None:
                why = f"no {PLANNED_MEMORY_ANNOTATION} annotation to check memory limit {limit_text} against"
            elif limit is None or limit > planned:
                why = f"memory limit {limit_text} is above the plan's {planned_text}"
            else:
                continue
            found.append(
                Violation("memory-within-plan", obj["kind"], _name(obj), f"container {c.get('name')}: {why}")
            )
    return found


def weight_chunk_problems(props: Mapping[str, Any]) -> list[str]:
    """A WeightChunk resource (its state: name and digest): a sha256 to check and a size under the limit."""
    problems = []
    if not re.fullmatch(r"[0-9a-f]{64}", str(props.get("sha256", ""))):
        problems.append(f"weight chunk {props.get('name')} has no sha256")
    size = props.get("size")
    if not isinstance(size, (int, float)) or not 0 <= size < CONFIGMAP_LIMIT_BYTES - len(
        str(props.get("name", ""))
    ):
        problems.append(
            f"weight chunk {props.get('name')} holds {size} bytes; the limit is {CONFIGMAP_LIMIT_BYTES}"
        )
    return problems


Rule = Callable[[Iterable[Manifest]], list[Violation]]

RULES: tuple[tuple[str, str, Rule], ...] = (
    (
        "node-affinity",
        "Pods are placed by required node affinity on node names, never nodeName.",
        node_affinity,
    ),
    ("configmap-immutable", "ConfigMaps are immutable (they are content-addressed).", configmap_immutable),
    ("configmap-size", "Each ConfigMap's data + binaryData stays under 1 MiB.", configmap_size),
    ("probes", "Every container has liveness and readiness probes (a Job's: none needed).", probes),
    ("job-deadline", "Every Job has activeDeadlineSeconds and backoffLimit.", job_deadline),
    ("resources", "Every container has memory requests and limits.", resources),
    (
        "security-context",
        "Containers run non-root, read-only, without privileges or capabilities.",
        security_context,
    ),
    ("service-account-token", "Pods do not mount a service-account token.", service_account_token),
    ("host-namespaces", "Pods do not share the node's network, PID or IPC namespace.", host_namespaces),
    ("host-path", "Pods mount no hostPath volume.", host_path),
    ("host-port", "Containers claim no hostPort.", host_port),
    ("image-tag", "Images carry a tag other than latest, or a digest.", image_tag),
    ("image-digest", "Images are pinned by digest.", image_digest),
    ("network-policy-allow-all", "No NetworkPolicy rule admits everything.", network_policy_allow_all),
    ("service-type", "Services are ClusterIP (no LoadBalancer or NodePort).", service_type),
    ("memory-within-plan", "Memory limits stay within what the plan counted.", memory_within_plan),
)
# Reported, not enforced: a tag is fine for trying things; production pins a digest.
ADVISORY = frozenset({"image-digest"})


def check_manifests(manifests: Iterable[Manifest], advisory: bool = False) -> list[Violation]:
    """Every violation of every mandatory rule (and the advisory ones when asked), in rule then manifest
    order."""
    objects = list(manifests)
    return [
        violation
        for name, _, rule in RULES
        if advisory or name not in ADVISORY
        for violation in rule(objects)
    ]
