"""render_manifests: valid Kubernetes objects (strict schemas), valid runtime configs, a consistent chain,
and reconciliation: the same inputs give the same bytes, and a change touches only what it must."""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest

from seifer_iac.artifacts import CONFIGMAP_LIMIT_BYTES, build_artifacts
from seifer_iac.cli.render import to_yaml
from seifer_iac.manifests import render_manifests
from seifer_iac.manifests.naming import RESULT_PORT, data_port, http_port
from seifer_iac.spec.model import Monitoring
from tests.deploy.conftest import ROOT
from tests.deploy.helpers import blobs_of, by_key, hand_plan

K8S_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
SCHEMA = json.loads(Path(ROOT / "schemas" / "stage-config.schema.json").read_text())


def configs_of(manifests) -> dict[str, dict]:
    """Runtime configs by file name ('dispatcher.json' or 'stage-<i>')."""
    found = {}
    for m in manifests:
        if m["kind"] == "ConfigMap" and "data" in m:
            ((name, text),) = m["data"].items()
            config = json.loads(text)
            found[name if config["role"] == "dispatcher" else f"stage-{config['stage']}"] = config
    return found


def container_probe_periods(pod) -> dict[str, int]:
    (container,) = pod["containers"]
    return {k: container[k]["periodSeconds"] for k in ("startupProbe", "livenessProbe", "readinessProbe")}


def deployments(manifests) -> dict[str, dict]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == "Deployment"}


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_object_passes_strict_kubernetes_validation(any_release, version: str) -> None:
    for manifest in any_release.manifests:
        kubernetes_validate.validate(manifest, version, strict=True)


def test_runtime_configs_match_the_stage_config_schema(any_release) -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    configs = configs_of(any_release.manifests)
    assert set(configs) == {"dispatcher.json", *(f"stage-{s.index}" for s in any_release.plan.stages)}
    for config in configs.values():
        validator.validate(config)


def test_the_chain_is_wired_stage_by_stage(any_release) -> None:
    spec, plan = any_release.spec, any_release.plan
    configs = configs_of(any_release.manifests)
    k = len(plan.stages)
    dispatcher = configs["dispatcher.json"]
    assert dispatcher["first"] == {
        "host": f"{spec.name}-stage-1.{spec.namespace}.svc.cluster.local",
        "port": 5601,
    }
    assert dispatcher["listen"] == {"httpPort": spec.dispatcher.port, "resultPort": RESULT_PORT}
    assert dispatcher["deadlineSeconds"] == spec.dispatcher.deadline_s
    assert dispatcher["maxInFlight"] == spec.dispatcher.max_in_flight
    assert dispatcher["input"]["shape"] == list(any_release.profile.input_shape)
    assert "planHash" not in dispatcher and "modelVersion" not in dispatcher  # version-free: learns it
    hashes = set()
    for stage, artifact in zip(plan.stages, any_release.artifacts, strict=True):
        config = configs[f"stage-{stage.index}"]
        hashes.add(config["planHash"])
        assert config["listen"] == {"dataPort": data_port(stage.index), "httpPort": http_port(stage.index)}
        if stage.index < k:
            nxt = stage.index + 1
            assert config["next"] == {
                "host": f"{spec.name}-stage-{nxt}.{spec.namespace}.svc.cluster.local",
                "port": data_port(nxt),
            }
        else:
            assert config["next"] == {
                "host": f"{spec.name}-dispatcher.{spec.namespace}.svc.cluster.local",
                "port": RESULT_PORT,
            }
        assert config["weights"]["sha256"] == artifact.sha256
        assert [c["name"] for c in config["weights"]["chunks"]] == [c.name for c in artifact.chunks]
    assert len(hashes) == 1  # the runtime rejects frames of another plan: every process must agree


def test_deployments_pin_harden_and_mount_what_the_config_names(any_release) -> None:
    spec, plan = any_release.spec, any_release.plan
    objects = by_key(any_release.manifests)
    configs = configs_of(any_release.manifests)
    for stage in plan.stages:
        deployment = objects[("Deployment", f"{spec.name}-stage-{stage.index}")]
        assert deployment["spec"]["replicas"] == 1
        assert deployment["spec"]["strategy"] == {"type": "Recreate"}
        pod = deployment["spec"]["template"]["spec"]
        assert "nodeName" not in pod and pod["automountServiceAccountToken"] is False
        affinity = pod["affinity"]["nodeAffinity"]
        (term,) = affinity["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        assert term == {
            "matchExpressions": [
                {"key": "kubernetes.io/arch", "operator": "In", "values": list(spec.runtime.architectures)}
            ],
            "matchFields": [
                {"key": "metadata.name", "operator": "In", "values": [stage.node, *stage.backups]}
            ],
        }
        for node in (stage.node, *stage.backups):
            assert spec.cluster.node(node).arch in spec.runtime.architectures
        preferred = affinity["preferredDuringSchedulingIgnoredDuringExecution"][0]["preference"]
        assert preferred["matchFields"][0]["values"] == [stage.node]
        assert {t["key"]: t["tolerationSeconds"] for t in pod["tolerations"]} == {
            "node.kubernetes.io/not-ready": 0,
            "node.kubernetes.io/unreachable": 0,
        }
        assert container_probe_periods(pod) == {"startupProbe": 1, "livenessProbe": 10, "readinessProbe": 1}
        assert pod["containers"][0]["startupProbe"]["failureThreshold"] == 300  # 5 minutes to load
        (container,) = pod["containers"]
        assert container["command"] == [
            "python",
            "-m",
            "runtime.stage",
            "--config",
            "/etc/seifer/config/stage.json",
        ]
        memory = container["resources"]["limits"]["memory"]
        assert memory == container["resources"]["requests"]["memory"]
        assert int(memory.removesuffix("Mi")) * 2**20 >= stage.memory_bytes
        assert container["livenessProbe"]["httpGet"] == {"path": "/v2/health/live", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/v2/health/ready", "port": "http"}
        volumes = {v["name"]: v for v in pod["volumes"]}
        files = [s["configMap"]["items"][0]["path"] for s in volumes["weights"]["projected"]["sources"]]
        assert files == [c["name"] for c in configs[f"stage-{stage.index}"]["weights"]["chunks"]]
        for source in volumes["weights"]["projected"]["sources"]:
            assert ("ConfigMap", source["configMap"]["name"]) in objects
        config_map = objects[("ConfigMap", volumes["config"]["configMap"]["name"])]
        assert json.loads(config_map["data"]["stage.json"]) == configs[f"stage-{stage.index}"]
        template = deployment["spec"]["template"]["metadata"]
        assert template["labels"]["app.kubernetes.io/version"] == spec.model.version
        assert template["labels"]["seifer.dev/stage"] == str(stage.index)
        assert (
            template["annotations"]["seifer.dev/weights-sha256"]
            == any_release.artifacts[stage.index - 1].sha256
        )
    dispatcher = objects[("Deployment", f"{spec.name}-dispatcher")]["spec"]["template"]["spec"]
    term = dispatcher["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["nodeSelectorTerms"][0]["matchFields"][0]["values"] == [spec.dispatcher.node]
    assert term["nodeSelectorTerms"][0]["matchExpressions"][0]["key"] == "kubernetes.io/arch"
    assert dispatcher["containers"][0]["command"][2] == "runtime.dispatcher"


def _rendered(release, **spec_changes):
    spec = dataclasses.replace(release.spec, **spec_changes)
    return spec, by_key(render_manifests(spec, release.plan, release.artifacts, release.profile))


def test_network_policies_deny_by_default_and_open_each_hop_only_to_its_sender(any_release) -> None:
    spec, plan = any_release.spec, any_release.plan
    objects = by_key(any_release.manifests)
    k = len(plan.stages)
    deny = objects[("NetworkPolicy", f"{spec.name}-default-deny")]["spec"]
    assert deny == {
        "podSelector": {"matchLabels": {"app.kubernetes.io/instance": spec.name}},
        "policyTypes": ["Ingress", "Egress"],
    }
    dns = {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}
    for stage in plan.stages:
        policy = objects[("NetworkPolicy", f"{spec.name}-stage-{stage.index}")]["spec"]
        assert policy["policyTypes"] == ["Ingress", "Egress"]
        (data_rule,) = policy["ingress"]  # no monitoring sources: the HTTP port only from the node
        sender = data_rule["from"][0]["podSelector"]["matchLabels"]
        if stage.index == 1:
            assert sender["app.kubernetes.io/component"] == "dispatcher"
        else:
            assert sender["seifer.dev/stage"] == str(stage.index - 1)
        assert data_rule["ports"] == [{"protocol": "TCP", "port": data_port(stage.index)}]
        out, dns_rule = policy["egress"]
        receiver = out["to"][0]["podSelector"]["matchLabels"]
        if stage.index == k:
            assert receiver["app.kubernetes.io/component"] == "dispatcher"
            assert out["ports"] == [{"protocol": "TCP", "port": RESULT_PORT}]
        else:
            assert receiver["seifer.dev/stage"] == str(stage.index + 1)
            assert out["ports"] == [{"protocol": "TCP", "port": data_port(stage.index + 1)}]
        assert dns_rule == dns
    dispatcher = objects[("NetworkPolicy", f"{spec.name}-dispatcher")]["spec"]
    results, api = dispatcher["ingress"]
    assert results["from"][0]["podSelector"]["matchLabels"]["seifer.dev/stage"] == str(k)
    assert api["ports"] == [{"protocol": "TCP", "port": spec.dispatcher.port}]
    assert [p["ipBlock"]["cidr"] for p in api.get("from", [])] == list(spec.dispatcher.allow_from)
    to_first, dns_rule = dispatcher["egress"]
    assert to_first["to"][0]["podSelector"]["matchLabels"]["seifer.dev/stage"] == "1"
    assert to_first["ports"] == [{"protocol": "TCP", "port": data_port(1)}] and dns_rule == dns


def test_http_ports_admit_only_the_monitoring_sources(dev_release) -> None:
    monitoring = Monitoring(namespaces=("monitoring", "ops"), cidrs=("10.9.0.0/16",))
    spec, objects = _rendered(
        dev_release,
        monitoring=monitoring,
        dispatcher=dataclasses.replace(dev_release.spec.dispatcher, allow_from=("192.168.0.0/24",)),
    )
    peers = [
        {
            "namespaceSelector": {
                "matchExpressions": [
                    {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["monitoring", "ops"]}
                ]
            }
        },
        {"ipBlock": {"cidr": "10.9.0.0/16"}},
    ]
    for stage in dev_release.plan.stages:
        _, http_rule = objects[("NetworkPolicy", f"{spec.name}-stage-{stage.index}")]["spec"]["ingress"]
        assert http_rule == {"from": peers, "ports": [{"protocol": "TCP", "port": http_port(stage.index)}]}
    _, api = objects[("NetworkPolicy", f"{spec.name}-dispatcher")]["spec"]["ingress"]
    assert api["from"] == [{"ipBlock": {"cidr": "192.168.0.0/24"}}, *peers]
    for version in K8S_VERSIONS:
        for (kind, _), obj in objects.items():
            if kind == "NetworkPolicy":
                kubernetes_validate.validate(obj, version, strict=True)


def test_no_configmap_reaches_the_limit(any_release) -> None:
    for m in any_release.manifests:
        if m["kind"] == "ConfigMap":
            assert m["immutable"] is True
            raw = sum(len(base64.b64decode(v)) for v in m.get("binaryData", {}).values())
            raw += sum(len(v.encode()) for v in m.get("data", {}).values())
            assert raw < CONFIGMAP_LIMIT_BYTES, m["metadata"]["name"]


def test_rendering_twice_is_byte_identical(dev_release) -> None:
    r = dev_release
    again = render_manifests(
        r.spec, r.plan, build_artifacts(r.spec, r.plan, blobs_of(r.artifacts)), r.profile
    )
    assert [to_yaml(m) for m in again] == [to_yaml(m) for m in r.manifests]


def changed(old, new) -> tuple[set, set, set]:
    """(removed, added, modified) object keys between two renders."""
    a, b = by_key(old), by_key(new)
    return set(a) - set(b), set(b) - set(a), {k for k in set(a) & set(b) if a[k] != b[k]}


def dispatcher_config_key(manifests) -> tuple[str, str]:
    return next(k for k in by_key(manifests) if k[0] == "ConfigMap" and "-dispatcher-config-" in k[1])


def test_a_version_bump_renames_weights_and_rolls_pod_templates_only(dev_release) -> None:
    r = dev_release
    spec = dataclasses.replace(r.spec, model=dataclasses.replace(r.spec.model, version="1.0.1"))
    plan = dataclasses.replace(r.plan, model_version="1.0.1")
    new = render_manifests(spec, plan, build_artifacts(spec, plan, blobs_of(r.artifacts)), r.profile)
    removed, added, modified = changed(r.manifests, new)
    dispatcher = ("Deployment", f"{spec.name}-dispatcher")
    dispatcher_config = dispatcher_config_key(new)
    assert dispatcher_config == dispatcher_config_key(r.manifests)
    # Every ConfigMap but the dispatcher's is replaced (weights: the version is part of their names;
    # stage configs: they carry it)...
    assert removed == {k for k in by_key(r.manifests) if k[0] == "ConfigMap"} - {dispatcher_config}
    assert {k[0] for k in added} == {"ConfigMap"} and len(added) == len(removed)
    # ...every stage Deployment changes only in its pod template (so it rolls), and nothing else changes:
    # not the dispatcher, which holds requests while the stages roll (no version in its template).
    assert modified == {k for k in by_key(new) if k[0] == "Deployment"} - {dispatcher}
    old_objects, new_objects = by_key(r.manifests), by_key(new)
    for key in modified:
        before, after = old_objects[key], new_objects[key]
        assert before["metadata"] == after["metadata"]
        assert {**before["spec"], "template": None} == {**after["spec"], "template": None}


def test_new_weights_for_one_stage_roll_only_that_stage(dev_release) -> None:
    r = dev_release
    blobs = blobs_of(r.artifacts)
    k = len(r.plan.stages)
    blobs[-1] = blobs[-1] + b"retrained"
    new = render_manifests(r.spec, r.plan, build_artifacts(r.spec, r.plan, blobs), r.profile)
    removed, added, modified = changed(r.manifests, new)
    assert modified == {("Deployment", f"{r.spec.name}-stage-{k}")}
    last_chunk = r.artifacts[-1].chunks[-1].name
    last_config = next(n for kind, n in removed if n.startswith(f"{r.spec.name}-stage-{k}-config-"))
    assert removed == {("ConfigMap", last_chunk), ("ConfigMap", last_config)}
    assert len(added) == 2


def test_moving_one_stage_changes_only_its_deployment(dev_release) -> None:
    r = dev_release
    spare = [
        n.name
        for n in r.spec.cluster.nodes
        if n.schedulable and n.name not in {s.node for s in r.plan.stages}
    ]
    moved = list(r.plan.placement)
    first, last, _ = moved[-1]
    stages = [(f, lst, node, ()) for f, lst, node in moved[:-1]] + [(first, last, spare[0], ())]
    old_plan = hand_plan(r.plan, [(f, lst, node, ()) for f, lst, node in moved])
    new_plan = hand_plan(r.plan, stages)
    blobs = blobs_of(r.artifacts)
    before = render_manifests(r.spec, old_plan, build_artifacts(r.spec, old_plan, blobs), r.profile)
    after = render_manifests(r.spec, new_plan, build_artifacts(r.spec, new_plan, blobs), r.profile)
    assert changed(before, after) == (set(), set(), {("Deployment", f"{r.spec.name}-stage-{len(stages)}")})


def test_the_largest_chunk_size_a_spec_allows_still_fits_one_configmap(dev_release) -> None:
    from seifer_iac.manifests.storage import weight_configmaps
    from seifer_iac.policy import configmap_size
    from seifer_iac.spec.units import parse_size

    largest = parse_size("1000Ki")  # the loader's upper bound for weights.chunkSize
    weights = dataclasses.replace(dev_release.spec.weights, chunk_bytes=largest)
    spec = dataclasses.replace(dev_release.spec, weights=weights)
    blobs = blobs_of(dev_release.artifacts)
    artifacts = build_artifacts(spec, dev_release.plan, blobs)
    objects = weight_configmaps(spec.namespace, {}, artifacts)
    assert max(c.size for a in artifacts for c in a.chunks) == largest
    assert configmap_size(objects) == []


def test_a_disruption_budget_per_stage_and_a_restricted_namespace(any_release) -> None:
    spec, plan = any_release.spec, any_release.plan
    objects = by_key(any_release.manifests)
    budgets = {name for kind, name in objects if kind == "PodDisruptionBudget"}
    assert budgets == {f"{spec.name}-dispatcher", *(f"{spec.name}-stage-{s.index}" for s in plan.stages)}
    for stage in plan.stages:
        budget = objects[("PodDisruptionBudget", f"{spec.name}-stage-{stage.index}")]["spec"]
        deployment = objects[("Deployment", f"{spec.name}-stage-{stage.index}")]
        assert budget["maxUnavailable"] == 0 and budget["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
        assert budget["selector"] == deployment["spec"]["selector"]
        template = deployment["spec"]["template"]
        planned = template["metadata"]["annotations"]["seifer.dev/planned-memory"]
        assert planned == template["spec"]["containers"][0]["resources"]["limits"]["memory"]
    if spec.create_namespace:
        labels = objects[("Namespace", spec.namespace)]["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_image_pull_policy_follows_the_reference(dev_release) -> None:
    from seifer_iac.spec.loader import default_pull_policy

    assert dev_release.spec.runtime.image_pull_policy == "Always"  # a tag: every node pulls what it names
    assert default_pull_policy("ghcr.io/seifer-iac/runtime@sha256:" + "0" * 64) == "IfNotPresent"
    deployment = next(m for m in dev_release.manifests if m["kind"] == "Deployment")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Always"
