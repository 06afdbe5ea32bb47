"""Applying a changed release to a running local pipeline: what rolls, and the hand-over between processes."""

from __future__ import annotations

import copy
import threading
from pathlib import Path

import pytest

from seifer_iac.local.apply import (
    ApplyError,
    answer_request,
    deployment_changes,
    request_apply,
    take_request,
)


def _deployment(name: str, config: str) -> dict:
    return {
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"replicas": 1, "template": {"spec": {"volumes": [{"configMap": {"name": config}}]}}},
    }


OLD = [
    {"kind": "ConfigMap", "metadata": {"name": "c-1"}},
    _deployment("p-dispatcher", "d-cfg"),
    _deployment("p-stage-1", "s1-v1"),
    _deployment("p-stage-2", "s2-v1"),
]


def test_only_deployments_whose_pod_template_changed_roll() -> None:
    new = copy.deepcopy(OLD)
    new[2]["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"] = "s1-v2"
    new[3]["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"] = "s2-v2"
    new[0]["metadata"]["name"] = "c-2"  # other objects never roll anything by themselves
    changes = deployment_changes(OLD, new)
    assert changes.replaced == ("p-stage-1", "p-stage-2")
    assert changes.added == changes.removed == ()
    assert deployment_changes(OLD, copy.deepcopy(OLD)).replaced == ()
    grown = deployment_changes(OLD, [*OLD[:3], _deployment("p-stage-3", "s3")])
    assert (grown.added, grown.removed) == (("p-stage-3",), ("p-stage-2",))


def test_a_request_is_taken_once_and_its_answer_returned(tmp_path: Path) -> None:
    answers: list[dict] = []
    thread = threading.Thread(target=lambda: answers.append(request_apply(tmp_path, OLD, timeout_s=20)))
    thread.start()
    taken = None
    while taken is None:
        taken = take_request(tmp_path)
    ident, manifests = taken
    assert manifests == OLD and take_request(tmp_path) is None
    answer_request(tmp_path, ident, True, "replaced (Recreate): p-stage-1", ["p-stage-1"])
    thread.join(20)
    assert answers == [{"ok": True, "message": "replaced (Recreate): p-stage-1", "replaced": ["p-stage-1"]}]
    assert list((tmp_path / "apply").iterdir()) == []  # nothing left behind


def test_a_run_that_stops_or_never_answers_is_an_error_not_a_hang(tmp_path: Path) -> None:
    with pytest.raises(ApplyError, match="stopped before it applied"):
        request_apply(tmp_path, OLD, timeout_s=20, alive=lambda: False)
    with pytest.raises(ApplyError, match="did not apply the change in 0 s"):
        request_apply(tmp_path, OLD, timeout_s=0.3)
    assert take_request(tmp_path) is None
