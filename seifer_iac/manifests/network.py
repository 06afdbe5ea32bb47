"""Services (stable DNS names for the chain's hops) and NetworkPolicies (each hop open only to its sender).

Every pipeline pod is denied all ingress and egress by default; each hop then admits only its sender on
its data port, and may send only to the next hop and to DNS. HTTP ports (health, metrics) admit only the
spec's monitoring namespaces and CIDRs: the kubelet's probes come from the node, which Kubernetes always
admits. Policies select pods by the stable selector labels, never by node, so a stage moving to another
node changes no policy.
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


DNS_PORTS = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]


def _pods(labels: dict[str, str]) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": labels}}


def monitoring_peers(spec: Spec) -> list[dict[str, Any]]:
    """Who may reach the HTTP ports (/metrics, health) besides the kubelet, whose probes come from the
    node and are always admitted: the spec's monitoring namespaces and CIDRs."""
    peers: list[dict[str, Any]] = []
    if spec.monitoring.namespaces:
        names = list(spec.monitoring.namespaces)
        peers.append(
            {
                "namespaceSelector": {
                    "matchExpressions": [
                        {"key": "kubernetes.io/metadata.name", "operator": "In", "values": names}
                    ]
                }
            }
        )
    peers += [{"ipBlock": {"cidr": cidr}} for cidr in spec.monitoring.cidrs]
    return peers


def _http_rules(spec: Spec, port: int) -> list[dict[str, Any]]:
    peers = monitoring_peers(spec)
    return [{"from": peers, "ports": _tcp(port)}] if peers else []


def _egress(target: dict[str, str], port: int) -> list[dict[str, Any]]:
    """To the next hop on its data port, and DNS (any resolver: the cluster's, or a node-local cache)."""
    return [{"to": [_pods(target)], "ports": _tcp(port)}, {"ports": DNS_PORTS}]


def _policy(
    spec: Spec,
    name: str,
    component: str,
    index: int | None,
    ingress: list[dict[str, Any]],
    egress: list[dict[str, Any]],
) -> dict[str, Any]:
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
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": egress,
        },
    }


def default_deny_policy(spec: Spec) -> dict[str, Any]:
    """Every pod of the pipeline: nothing in, nothing out, unless a policy below admits it."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": f"{spec.name}-default-deny",
            "namespace": spec.namespace,
            "labels": object_labels(spec, "network"),
        },
        "spec": {
            "podSelector": {"matchLabels": {"app.kubernetes.io/instance": spec.name}},
            "policyTypes": ["Ingress", "Egress"],
        },
    }


def stage_policy(spec: Spec, stage: Stage, stages: int) -> dict[str, Any]:
    """Stage i: its data port only from stage i-1 (stage 1: the dispatcher), its HTTP port only from the
    monitoring sources; out only to stage i+1's data port (the last stage: the dispatcher's result port)
    and DNS."""
    i = stage.index
    sender = selector_labels(spec, "dispatcher") if i == 1 else selector_labels(spec, "stage", i - 1)
    ingress = [{"from": [_pods(sender)], "ports": _tcp(data_port(i))}, *_http_rules(spec, http_port(i))]
    if i == stages:
        egress = _egress(selector_labels(spec, "dispatcher"), RESULT_PORT)
    else:
        egress = _egress(selector_labels(spec, "stage", i + 1), data_port(i + 1))
    return _policy(spec, stage_name(spec, i), "stage", i, ingress, egress)


def dispatcher_policy(spec: Spec, plan: Plan) -> dict[str, Any]:
    """Results only from the last stage; the API (and /metrics on it) from dispatcher.allowFrom plus the
    monitoring sources (anyone when allowFrom is empty); out only to stage 1's data port and DNS."""
    last = selector_labels(spec, "stage", len(plan.stages))
    api: dict[str, Any] = {"ports": _tcp(spec.dispatcher.port)}
    if spec.dispatcher.allow_from:
        callers = [{"ipBlock": {"cidr": cidr}} for cidr in spec.dispatcher.allow_from]
        api = {"from": [*callers, *monitoring_peers(spec)], **api}
    ingress = [{"from": [_pods(last)], "ports": _tcp(RESULT_PORT)}, api]
    egress = _egress(selector_labels(spec, "stage", 1), data_port(1))
    return _policy(spec, dispatcher_name(spec), "dispatcher", None, ingress, egress)
