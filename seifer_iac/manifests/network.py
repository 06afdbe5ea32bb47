"""Services (stable DNS names for the chain's hops) and NetworkPolicies (each hop open only to its sender).

Policies select pods by the stable selector labels, never by node, so a stage moving to another node
changes no policy. HTTP ports (probes, metrics) stay open to all sources: kubelet probes come from the
node, which no pod selector can name.
"""

from __future__ import annotations

from typing import Any

from seifer_iac.manifests.naming import (
    RESULT_PORT,
    data_port,
    dispatcher_name,
    http_port,
    object_labels,
    selector_labels,
    stage_name,
)
from seifer_iac.planner.plan import Plan, Stage
from seifer_iac.spec.model import Spec


def _service(spec: Spec, name: str, component: str, index: int | None, ports: list[tuple[str, int]]):
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": spec.namespace,
            "labels": object_labels(spec, component, index),
        },
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(spec, component, index),
            "ports": [
                {"name": port_name, "port": number, "targetPort": port_name, "protocol": "TCP"}
                for port_name, number in ports
            ],
        },
    }


def stage_service(spec: Spec, stage: Stage) -> dict[str, Any]:
    i = stage.index
    return _service(spec, stage_name(spec, i), "stage", i, [("data", data_port(i)), ("http", http_port(i))])


def dispatcher_service(spec: Spec) -> dict[str, Any]:
    ports = [("http", spec.dispatcher.port), ("results", RESULT_PORT)]
    return _service(spec, dispatcher_name(spec), "dispatcher", None, ports)


def _tcp(port: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port}]


def _policy(spec: Spec, name: str, component: str, index: int | None, rules: list[dict[str, Any]]):
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": name,
            "namespace": spec.namespace,
            "labels": object_labels(spec, component, index),
        },
        "spec": {
            "podSelector": {"matchLabels": selector_labels(spec, component, index)},
            "policyTypes": ["Ingress"],
            "ingress": rules,
        },
    }


def stage_policy(spec: Spec, stage: Stage) -> dict[str, Any]:
    """Stage i's data port only from stage i-1 (stage 1: from the dispatcher); its HTTP port from anyone."""
    i = stage.index
    sender = selector_labels(spec, "dispatcher") if i == 1 else selector_labels(spec, "stage", i - 1)
    rules = [
        {"from": [{"podSelector": {"matchLabels": sender}}], "ports": _tcp(data_port(i))},
        {"ports": _tcp(http_port(i))},
    ]
    return _policy(spec, stage_name(spec, i), "stage", i, rules)


def dispatcher_policy(spec: Spec, plan: Plan) -> dict[str, Any]:
    """Results only from the last stage; the API from dispatcher.allowFrom (anyone when it is empty)."""
    last = selector_labels(spec, "stage", len(plan.stages))
    api: dict[str, Any] = {"ports": _tcp(spec.dispatcher.port)}
    if spec.dispatcher.allow_from:
        api = {"from": [{"ipBlock": {"cidr": cidr}} for cidr in spec.dispatcher.allow_from], **api}
    rules = [{"from": [{"podSelector": {"matchLabels": last}}], "ports": _tcp(RESULT_PORT)}, api]
    return _policy(spec, dispatcher_name(spec), "dispatcher", None, rules)
