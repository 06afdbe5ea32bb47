"""The policy rules: every render of both stacks complies, and breaking each rule once is caught by it."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import Any

import pytest

from seifer_iac.policy import RULES, check_manifests


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


BREAKS: dict[str, list[Callable[[list[dict[str, Any]]], None]]] = {
    "node-affinity": [_set_node_name, _drop_affinity],
    "configmap-immutable": [_mutable_configmap],
    "configmap-size": [_oversized_configmap],
    "probes": [_no_readiness],
    "resources": [_no_memory_limit],
    "security-context": [_writable_root],
    "service-account-token": [_token],
}


def test_every_rule_has_a_break() -> None:
    assert set(BREAKS) == {name for name, _, _ in RULES}


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
