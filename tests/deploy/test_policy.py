"""The policy rules: every render of both stacks complies, and breaking each rule once is caught by it."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import Any

import pytest

from seifer_iac.policy import (
    ADVISORY,
    RULES,
    check_manifests,
    image_reference,
    quantity_bytes,
    weight_chunk_problems,
)


def test_both_stacks_comply(any_release) -> None:
    assert check_manifests(any_release.manifests) == []


def _first(manifests: list[dict], kind: str, has: str = "") -> dict:
    return next(m for m in manifests if m["kind"] == kind and (not has or has in m))


def _pod(manifests: list[dict]) -> dict:
    return _first(manifests, "Deployment")["spec"]["template"]["spec"]


def _container(manifests: list[dict]) -> dict:
    return _pod(manifests)["containers"][0]


def _set_node_name(m: list[dict]) -> None:
    _pod(m)["nodeName"] = "pi-1"


def _drop_affinity(m: list[dict]) -> None:
    del _pod(m)["affinity"]


def _mutable_configmap(m: list[dict]) -> None:
    _first(m, "ConfigMap", "binaryData")["immutable"] = False


def _oversized_configmap(m: list[dict]) -> None:
    cm = _first(m, "ConfigMap", "binaryData")
    (key,) = cm["binaryData"]
    cm["binaryData"][key] = base64.b64encode(b"\0" * (1024 * 1024)).decode()


def _no_readiness(m: list[dict]) -> None:
    del _container(m)["readinessProbe"]


def _no_memory_limit(m: list[dict]) -> None:
    del _container(m)["resources"]["limits"]


def _writable_root(m: list[dict]) -> None:
    _container(m)["securityContext"]["readOnlyRootFilesystem"] = False


def _token(m: list[dict]) -> None:
    _pod(m)["automountServiceAccountToken"] = True


def _host_network(m: list[dict]) -> None:
    _pod(m)["hostNetwork"] = True


def _host_pid(m: list[dict]) -> None:
    _pod(m)["hostPID"] = True


def _host_path(m: list[dict]) -> None:
    _pod(m)["volumes"].append({"name": "node", "hostPath": {"path": "/"}})


def _host_port(m: list[dict]) -> None:
    _container(m)["ports"][0]["hostPort"] = 8080


def _latest(m: list[dict]) -> None:
    _container(m)["image"] = "ghcr.io/seifer-iac/runtime:latest"


def _tagless(m: list[dict]) -> None:
    _container(m)["image"] = "registry.local:5000/seifer/runtime"


def _allow_all_ingress(m: list[dict]) -> None:
    _first(m, "NetworkPolicy", "spec")["spec"].setdefault("ingress", []).append({})


def _allow_all_egress(m: list[dict]) -> None:
    policy = next(p for p in m if p["kind"] == "NetworkPolicy" and "egress" in p["spec"])
    policy["spec"]["egress"].append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]})


def _node_port(m: list[dict]) -> None:
    _first(m, "Service")["spec"]["type"] = "NodePort"


def _load_balancer(m: list[dict]) -> None:
    _first(m, "Service")["spec"]["type"] = "LoadBalancer"


def _memory_above_plan(m: list[dict]) -> None:
    limits = _container(m)["resources"]["limits"]
    limits["memory"] = f"{int(limits['memory'].removesuffix('Mi')) + 1}Mi"


def _job_without_deadline(m: list[dict]) -> None:
    """A Job made of a stage's pod template (everything else compliant), with no activeDeadlineSeconds."""
    template = copy.deepcopy(_first(m, "Deployment")["spec"]["template"])
    template["spec"]["restartPolicy"] = "Never"
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "namespace": "x"}}
    m.append({**job, "spec": {"backoffLimit": 0, "template": template}})


BREAKS: dict[str, list[Callable[[list[dict[str, Any]]], None]]] = {
    "job-deadline": [_job_without_deadline],
    "host-namespaces": [_host_network, _host_pid],
    "host-path": [_host_path],
    "host-port": [_host_port],
    "image-tag": [_latest, _tagless],
    "network-policy-allow-all": [_allow_all_ingress, _allow_all_egress],
    "service-type": [_node_port, _load_balancer],
    "memory-within-plan": [_memory_above_plan],
    "node-affinity": [_set_node_name, _drop_affinity],
    "configmap-immutable": [_mutable_configmap],
    "configmap-size": [_oversized_configmap],
    "probes": [_no_readiness],
    "resources": [_no_memory_limit],
    "security-context": [_writable_root],
    "service-account-token": [_token],
}


def test_every_rule_has_a_break() -> None:
    assert set(BREAKS) == {name for name, _, _ in RULES} - ADVISORY


def test_a_tag_is_advised_against_and_a_digest_is_not(dev_release) -> None:
    manifests = copy.deepcopy(list(dev_release.manifests))
    advised = check_manifests(manifests, advisory=True)
    assert advised and {v.rule for v in advised} == {"image-digest"}
    for obj in manifests:
        if obj["kind"] == "Deployment":
            obj["spec"]["template"]["spec"]["containers"][0]["image"] = (
                "ghcr.io/seifer-iac/runtime@sha256:" + "a" * 64
            )
    assert check_manifests(manifests, advisory=True) == []


@pytest.mark.parametrize(
    ("image", "tag", "digest"),
    [
        ("ghcr.io/a/b:1.0", "1.0", None),
        ("localhost:5000/a/b", None, None),
        ("localhost:5000/a/b:2@sha256:" + "0" * 64, "2", "sha256:" + "0" * 64),
        ("b@sha256:" + "f" * 64, None, "sha256:" + "f" * 64),
    ],
)
def test_image_references(image: str, tag, digest) -> None:
    assert image_reference(image) == (tag, digest)


@pytest.mark.parametrize(
    ("text", "value"),
    [("448Mi", 448 * 2**20), ("1.5Gi", 1.5 * 2**30), ("500M", 5e8), ("1e3", 1e3), ("x", None)],
)
def test_quantities(text: str, value) -> None:
    assert quantity_bytes(text) == value


def test_weight_chunks_are_checked_by_digest_and_size() -> None:
    good = {"name": "c", "sha256": "a" * 64, "size": 768 * 1024}
    assert weight_chunk_problems(good) == []
    assert weight_chunk_problems({**good, "size": 2**20}) == [
        "weight chunk c holds 1048576 bytes; the limit is 1048576"
    ]
    assert weight_chunk_problems({**good, "sha256": ""}) == ["weight chunk c has no sha256"]


@pytest.mark.parametrize(
    ("rule", "breaker"),
    [(rule, b) for rule, breakers in BREAKS.items() for b in breakers],
    ids=lambda v: v if isinstance(v, str) else v.__name__,
)
def test_breaking_a_rule_is_caught_by_that_rule(dev_release, rule: str, breaker) -> None:
    manifests = copy.deepcopy(list(dev_release.manifests))
    breaker(manifests)
    found = check_manifests(manifests)
    assert found and {v.rule for v in found} == {rule}
    assert all(str(v).startswith(f"{rule}: ") for v in found)


@pytest.mark.parametrize(
    "field",
    ["runAsNonRoot", "allowPrivilegeEscalation", "capabilities", "seccompProfile"],
)
def test_each_hardening_field_is_checked(dev_release, field: str) -> None:
    manifests = copy.deepcopy(list(dev_release.manifests))
    pod = _pod(manifests)
    pod["securityContext"].pop(field, None)
    pod["containers"][0]["securityContext"].pop(field)
    assert {v.rule for v in check_manifests(manifests)} == {"security-context"}
