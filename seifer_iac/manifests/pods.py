"""Pieces of a pod spec every SEIFER process shares: placement, failover, hardening, probes, volumes.

Why these choices:
- Required node affinity by `matchFields metadata.name` (not `nodeName`): the scheduler still runs, so a
  pod may go to a planned backup node when its node is lost, and the preferred term brings it to the
  planned node whenever that node is there. `nodeName` would bypass the scheduler and strand the pod.
- Tolerations of not-ready/unreachable for a few seconds (the default is 300 s): a lost edge board fails
  over in seconds instead of five minutes.
- Requests = limits for memory: the planner sized each partition to fit its node, so the pod gets exactly
  that; no CPU limit (throttling a compute-bound stage only lowers throughput).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from seifer_iac.manifests.naming import RUNTIME_USER, memory_quantity

# Evict a stage as soon as the node controller taints its node unreachable / not-ready: the controller's
# node-monitor-grace-period (40 s; 50 s from Kubernetes 1.32) already debounces blips, so waiting longer
# only lengthens the outage (docs/deployment.md, "Failover timeline").
FAILOVER_SECONDS = 0
# Probe every second: a replacement is ready (and a hung stage unready) within a second or two of the fact.
PROBE_PERIOD_SECONDS = 1
STARTUP_BUDGET_SECONDS = 300  # loading weights on a slow board may take minutes; liveness waits for it
CPU_REQUEST = "250m"
TMP_SIZE = "64Mi"


def node_affinity(planned: str, allowed: Sequence[str], architectures: Sequence[str]) -> dict[str, Any]:
    """Must run on one of `allowed` (the planned node first, then its backups) whose kubernetes.io/arch the
    image is built for (a node the spec mislabels never gets a pod it cannot run); prefer the planned one."""
    names = list(dict.fromkeys([planned, *allowed]))
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchExpressions": [
                            {"key": "kubernetes.io/arch", "operator": "In", "values": list(architectures)}
                        ],
                        "matchFields": [{"key": "metadata.name", "operator": "In", "values": names}],
                    }
                ]
            },
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "preference": {
                        "matchFields": [{"key": "metadata.name", "operator": "In", "values": [planned]}]
                    },
                }
            ],
        }
    }


def failover_tolerations() -> list[dict[str, Any]]:
    return [
        {
            "key": key,
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": FAILOVER_SECONDS,
        }
        for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")
    ]


def pod_security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUNTIME_USER,
        "runAsGroup": RUNTIME_USER,
        "fsGroup": RUNTIME_USER,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUNTIME_USER,
        "runAsGroup": RUNTIME_USER,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def resources(memory_bytes: int) -> dict[str, Any]:
    memory = memory_quantity(memory_bytes)
    return {"requests": {"cpu": CPU_REQUEST, "memory": memory}, "limits": {"memory": memory}}


def probes(port_name: str) -> dict[str, Any]:
    """Startup allows minutes for loading weights on a slow board, checked every second so a replacement
    counts as started the moment it is; liveness then restarts a hung process; readiness keeps traffic
    away until the partition is loaded and verified."""

    def probe(path: str, period: int, failures: int, timeout: int = 1) -> dict[str, Any]:
        return {
            "httpGet": {"path": path, "port": port_name},
            "periodSeconds": period,
            "timeoutSeconds": timeout,
            "failureThreshold": failures,
        }

    startup_checks = STARTUP_BUDGET_SECONDS // PROBE_PERIOD_SECONDS
    return {
        "startupProbe": probe("/v2/health/live", PROBE_PERIOD_SECONDS, startup_checks),
        "livenessProbe": probe("/v2/health/live", 10, 3, timeout=2),
        "readinessProbe": probe("/v2/health/ready", PROBE_PERIOD_SECONDS, 2),
    }


def environment() -> list[dict[str, str]]:
    """A writable HOME on the /tmp emptyDir: keras and TensorFlow write caches there; root stays read-only."""
    return [
        {"name": "HOME", "value": "/tmp"},
        {"name": "PYTHONUNBUFFERED", "value": "1"},
        {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
    ]


def tmp_volume() -> tuple[dict[str, Any], dict[str, Any]]:
    """(volume, mount) of a small scratch /tmp."""
    return {"name": "tmp", "emptyDir": {"sizeLimit": TMP_SIZE}}, {"name": "tmp", "mountPath": "/tmp"}


def pod_spec(
    container: dict[str, Any], volumes: list[dict[str, Any]], affinity: dict[str, Any]
) -> dict[str, Any]:
    """The hardened pod around one container: no service-account token, no service links, fast failover."""
    return {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 10,
        "securityContext": pod_security_context(),
        "affinity": affinity,
        "tolerations": failover_tolerations(),
        "containers": [container],
        "volumes": volumes,
    }
