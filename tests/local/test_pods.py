"""Manifests -> local pods: files where the pod would see them, Service names -> node addresses."""

from __future__ import annotations

import base64
import json
import sys

import pytest

from seifer_iac.local.pods import LocalPodError, local_pods, map_path, planned_node, service_nodes


def _deployment(name: str, component: str, node: str, backups: list[str], config_map: str, chunk: str):
    labels = {"app.kubernetes.io/instance": "p", "app.kubernetes.io/component": component}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "affinity": {
                        "nodeAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": {
                                "nodeSelectorTerms": [
                                    {
                                        "matchFields": [
                                            {
                                                "key": "metadata.name",
                                                "operator": "In",
                                                "values": [node, *backups],
                                            }
                                        ]
                                    }
                                ]
                            },
                            "preferredDuringSchedulingIgnoredDuringExecution": [
                                {
                                    "weight": 100,
                                    "preference": {
                                        "matchFields": [
                                            {"key": "metadata.name", "operator": "In", "values": [node]}
                                        ]
                                    },
                                }
                            ],
                        }
                    },
                    "containers": [
                        {
                            "name": "c",
                            "command": [
                                "python",
                                "-m",
                                "runtime.stage",
                                "--config",
                                "/etc/seifer/config/s.json",
                            ],
                            "env": [{"name": "HOME", "value": "/tmp"}],
                            "ports": [
                                {"name": "http", "containerPort": 8601},
                                {"name": "data", "containerPort": 5601},
                            ],
                            "readinessProbe": {"httpGet": {"path": "/v2/health/ready", "port": "http"}},
                            "volumeMounts": [
                                {"name": "config", "mountPath": "/etc/seifer/config"},
                                {"name": "weights", "mountPath": "/var/lib/seifer/weights"},
                                {"name": "tmp", "mountPath": "/tmp"},
                            ],
                        }
                    ],
                    "volumes": [
                        {"name": "config", "configMap": {"name": config_map}},
                        {
                            "name": "weights",
                            "projected": {
                                "sources": [
                                    {"configMap": {"name": chunk, "items": [{"key": chunk, "path": chunk}]}}
                                ]
                            },
                        },
                        {"name": "tmp", "emptyDir": {}},
                    ],
                },
            }
        },
    }


def _service(name: str, component: str):
    selector = {"app.kubernetes.io/instance": "p", "app.kubernetes.io/component": component}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {"selector": selector},
    }


CONFIG = {
    "listen": {"dataPort": 5601, "httpPort": 8601},
    "next": {"host": "p-dispatcher.ns.svc.cluster.local", "port": 5599},
    "weights": {"dir": "/var/lib/seifer/weights"},
}


@pytest.fixture
def manifests():
    return [
        {"kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"s.json": json.dumps(CONFIG)}},
        {
            "kind": "ConfigMap",
            "metadata": {"name": "w1"},
            "binaryData": {"w1": base64.b64encode(b"\x00\x01").decode()},
        },
        _deployment("p-stage-1", "stage", "pi-1", ["pi-2"], "cfg", "w1"),
        _deployment("p-dispatcher", "dispatcher", "gw", [], "cfg", "w1"),
        _service("p-stage-1", "stage"),
        _service("p-dispatcher", "dispatcher"),
    ]


def test_a_pod_is_its_container_with_local_paths_and_addresses(manifests, tmp_path):
    addresses = {"pi-1": "10.0.0.1", "gw": "10.0.0.9"}
    pods = {p.name: p for p in local_pods(manifests, addresses.__getitem__, str(tmp_path), python="/py")}
    stage = pods["p-stage-1"]
    root = f"{tmp_path}/pods/p-stage-1"
    assert stage.node == "pi-1" and stage.component == "stage"
    assert stage.argv == ("/py", "-m", "runtime.stage", "--config", f"{root}/etc/seifer/config/s.json")
    assert dict(stage.env) == {"HOME": f"{root}/tmp"}
    assert stage.ready_url == "http://10.0.0.1:8601/v2/health/ready"
    assert stage.ports == (5601, 8601)
    assert stage.empty_dirs == ("tmp",)
    files = dict(stage.files)
    assert files["var/lib/seifer/weights/w1"] == b"\x00\x01"
    config = json.loads(files["etc/seifer/config/s.json"])
    assert config["next"]["host"] == "10.0.0.9"  # the dispatcher's Service -> its node
    assert config["weights"]["dir"] == f"{root}/var/lib/seifer/weights"
    assert config["listen"]["address"] == "10.0.0.1"  # its own address, never every interface


def test_an_interpreter_under_a_mount_point_is_left_alone(manifests, tmp_path):
    pods = local_pods(
        manifests, lambda node: "127.0.0.1", str(tmp_path), python="/tmp/clone/.venv/bin/python"
    )
    assert pods[0].argv[0] == "/tmp/clone/.venv/bin/python"


def test_planned_node_prefers_the_preferred_term(manifests):
    assert planned_node(manifests[2]) == "pi-1"
    assert service_nodes(manifests)["p-stage-1.ns.svc.cluster.local"] == "pi-1"


def test_longest_mount_wins():
    paths = {"/var": "/a", "/var/lib": "/b"}
    assert map_path("/var/lib/x", paths) == "/b/x"
    assert map_path("/variable", paths) == "/variable"


def test_missing_config_map_is_named(manifests, tmp_path):
    broken = [m for m in manifests if m["metadata"]["name"] != "w1"]
    with pytest.raises(LocalPodError, match="needs ConfigMap w1"):
        local_pods(broken, lambda node: "127.0.0.1", str(tmp_path), python=sys.executable)


def test_a_service_must_select_one_deployment(manifests, tmp_path):
    manifests.append(_service("orphan", "nothing"))
    with pytest.raises(LocalPodError, match="Service orphan: selects 0"):
        local_pods(manifests, lambda node: "127.0.0.1", str(tmp_path))


def test_memory_quantities_as_a_kubelet_reads_them() -> None:
    from seifer_iac.local.pods import LocalPodError, memory_limit, parse_quantity

    assert parse_quantity("335Mi") == 335 * 2**20
    assert parse_quantity("1G") == 10**9 and parse_quantity("1e9") == 10**9
    assert parse_quantity("0.5Gi") == 2**29 and parse_quantity(512000) == 512000
    assert memory_limit({"name": "c", "resources": {"limits": {"memory": "64Mi"}}}) == 64 * 2**20
    assert memory_limit({"name": "c", "resources": {"requests": {"memory": "64Mi"}}}) is None
    with pytest.raises(LocalPodError, match="container c: memory limit 'lots'"):
        memory_limit({"name": "c", "resources": {"limits": {"memory": "lots"}}})
