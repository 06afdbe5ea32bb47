"""Kubernetes objects that measure the cluster: receivers, link Jobs by round, and speed Jobs.

Measured on the cluster itself, by the same image and under the same pod security as the stages, so the
figures are what a stage will see. Why the pieces are what they are:
- One receiver Job per node (`python -m runtime.probe serve`), started first: it pulls the image on every
  node before any transfer runs, so no image pull competes with a measurement. Each has a Service with a
  stable name (`<pipeline>-rx-<i>`, i: the node's position in the spec) that the senders connect to.
- One link Job per directed pair (`... link`), on the sending node, grouped into rounds in which every
  node takes part in at most one transfer; a round is applied only after the previous one finished
  (the kubectl sequence in `probe.sh`), so transfers never share a node's radio or port.
- One speed Job per node (`... speed`), after the rounds (so it does not slow a transfer), running the
  model's own partitions with the spec's backend from the weight and config ConfigMaps the release already
  renders (same names and bytes: applying the pipeline later reuses them).
- Every pod is pinned by required node affinity to its one node (and kubernetes.io/arch), runs as user
  10001 with a read-only root, a /tmp emptyDir, all capabilities dropped and seccomp RuntimeDefault, in a
  namespace whose default is deny-all: the pipeline's own default-deny policy, plus, per receiver, one
  policy admitting only the senders to it on the probe port and one letting those senders reach it.
- Jobs never restart a probe (a crash is a missing result, named by collect) and carry a deadline.

Pure: plain dicts in a fixed order, so the same spec gives byte-identical files.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from seifer_iac.manifests import network, pods, storage
from seifer_iac.manifests.naming import (
    ANNOTATION_PREFIX,
    WEIGHTS_DIR,
    memory_quantity,
    object_labels,
    service_host,
)
from seifer_iac.manifests.render import namespace_object
from seifer_iac.planner.plan import Plan, Stage
from seifer_iac.policy import PLANNED_MEMORY_ANNOTATION
from seifer_iac.probe.collect import probe_nodes
from seifer_iac.probe.schedule import link_timeout_s
from seifer_iac.spec.model import Spec

PROBE_PORT = 5700  # beside the chain's ports (5599-5699); each receiver has its own pod IP
PROBE_DIR = "/etc/seifer/probe"
PROBE_LABEL = "seifer.dev/probe"  # receiver | link | speed: on every probe object (what clean-up selects)
ROUND_LABEL = "seifer.dev/probe-round"
NODE_LABEL = "seifer.dev/probe-node"  # the node's position in the spec, 1-based
TARGET_LABEL = "seifer.dev/probe-to"
NODE_ANNOTATION = f"{ANNOTATION_PREFIX}node"
TARGET_ANNOTATION = f"{ANNOTATION_PREFIX}to"
MIB = 1024 * 1024
# The probe process: CPython with the standard library and one transfer buffer (the receiver drains in
# 256 KiB chunks, the sender holds one payload). Checked against the real processes' peak in the tests.
LINK_BASE_BYTES = 48 * MIB
PROBE_CHUNK_BYTES = 256 * 1024  # runtime.probe.CHUNK (a test keeps them equal): its buffers' size
STARTUP_S = 120  # scheduling, starting the container (the image is already on the node)
CONNECT_TIMEOUT_S = 30  # runtime.probe link defaults: the probe reports its own timeout before the Job's
# A pair the spec gives no rate: its transfers get the time a link this slow needs (a guess too short
# would report a slow link as unreachable, and collect would then drop it from the spec).
UNKNOWN_LINK_BPS = 1e6
SPEED_DEADLINE_S = 900


class ProbeRenderError(ValueError):
    """A probe that cannot be rendered as asked (a pair of unknown nodes, a node twice in a round)."""


@dataclass(frozen=True)
class ProbeOptions:
    transfer_bytes: int = 4_000_000
    repeats: int = 5
    speed_repeats: int = 5


@dataclass(frozen=True)
class ProbeManifests:
    """What to apply, in order: setup (then wait for the receivers), each round (wait), then speed."""

    setup: tuple[dict[str, Any], ...]
    rounds: tuple[tuple[dict[str, Any], ...], ...]
    speed: tuple[dict[str, Any], ...]
    unmeasured: tuple[tuple[str, str], ...]  # (node, why its speed is not measured)
    namespace: str
    link_deadline_s: int
    receivers: int


def _labels(spec: Spec, role: str, node: int, **extra: str) -> dict[str, str]:
    labels = object_labels(spec, f"probe-{role}")
    labels.update({PROBE_LABEL: role, NODE_LABEL: str(node), **extra})
    return labels


def _selector(spec: Spec, role: str, key: str, node: int) -> dict[str, str]:
    return {
        "app.kubernetes.io/instance": spec.name,
        "app.kubernetes.io/component": f"probe-{role}",
        key: str(node),
    }


def _container(
    spec: Spec, command: list[str], memory_bytes: int, mounts: list[dict[str, Any]]
) -> dict[str, Any]:
    _, tmp_mount = pods.tmp_volume()
    return {
        "name": "probe",
        "image": spec.runtime.image,
        "imagePullPolicy": spec.runtime.image_pull_policy,
        "command": ["python", "-m", "runtime.probe", *command],
        "env": pods.environment(),
        "resources": pods.resources(memory_bytes),
        "securityContext": pods.container_security_context(),
        "volumeMounts": [*mounts, tmp_mount],
    }


def _job(
    spec: Spec,
    name: str,
    labels: dict[str, str],
    annotations: dict[str, str],
    node: str,
    container: dict[str, Any],
    volumes: list[dict[str, Any]],
    deadline_s: int,
) -> dict[str, Any]:
    tmp_volume, _ = pods.tmp_volume()
    affinity = pods.node_affinity(node, [node], spec.runtime.architectures)
    pod = {**pods.pod_spec(container, [*volumes, tmp_volume], affinity), "restartPolicy": "Never"}
    limit = container["resources"]["limits"]["memory"]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": spec.namespace,
            "labels": dict(labels),
            "annotations": dict(annotations),
        },
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": deadline_s,
            "template": {
                "metadata": {
                    "labels": dict(labels),
                    "annotations": {**annotations, PLANNED_MEMORY_ANNOTATION: limit},
                },
                "spec": pod,
            },
        },
    }


def link_memory_bytes(options: ProbeOptions) -> int:
    """The sender holds one payload chunk however large `--bytes` is (it sends the chunk again and again),
    the receiver a chunk per connection; before, 2 x `--bytes` asked 2 GiB of a node for a 1 GiB probe."""
    return LINK_BASE_BYTES + 2 * min(options.transfer_bytes, PROBE_CHUNK_BYTES)


def transfer_timeout_s(spec: Spec, pair: tuple[str, str], options: ProbeOptions) -> int:
    """The link probe's `--timeout`: from the rate the spec gives the pair (before: a fixed 120 s, so a
    large `--bytes` or a slow link timed out and was reported unreachable)."""
    rate = spec.cluster.bandwidth(*pair) or UNKNOWN_LINK_BPS
    return math.ceil(link_timeout_s(rate, options.transfer_bytes))


def link_deadline_s(timeout_s: int, options: ProbeOptions) -> int:
    """Long enough for the probe to report its own timeouts: connect, the warm-up, then every transfer."""
    return STARTUP_S + CONNECT_TIMEOUT_S + timeout_s * (options.repeats + 1)


def receiver_job(spec: Spec, node: str, index: int, deadline_s: int, options: ProbeOptions):
    """Serves until deleted (probe.sh deletes it after the last round) or its deadline: no `--count`,
    since the kubelet's TCP readiness and liveness checks are connections too and would be counted."""
    port = {"name": "probe", "containerPort": PROBE_PORT, "protocol": "TCP"}
    check = {"tcpSocket": {"port": "probe"}, "periodSeconds": 2, "timeoutSeconds": 1}
    container = {
        **_container(spec, ["serve", "--port", str(PROBE_PORT)], link_memory_bytes(options), []),
        "ports": [port],
        "readinessProbe": {**check, "failureThreshold": 1},
        "livenessProbe": {**check, "periodSeconds": 10, "failureThreshold": 3},
    }  # fmt: skip
    labels = _labels(spec, "receiver", index)
    return _job(
        spec, f"{spec.name}-rx-{index}", labels, {NODE_ANNOTATION: node}, node, container, [], deadline_s
    )


def receiver_service(spec: Spec, index: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": f"{spec.name}-rx-{index}",
            "namespace": spec.namespace,
            "labels": _labels(spec, "receiver", index),
        },
        "spec": {
            "type": "ClusterIP",
            "selector": _selector(spec, "receiver", NODE_LABEL, index),
            "ports": [{"name": "probe", "port": PROBE_PORT, "targetPort": "probe", "protocol": "TCP"}],
        },
    }


def _policy(spec: Spec, name: str, labels: dict[str, str], selected: dict[str, str], ingress, egress):
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": spec.namespace, "labels": labels},
        "spec": {
            "podSelector": {"matchLabels": selected},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": egress,
        },
    }


def receiver_policies(spec: Spec, index: int) -> list[dict[str, Any]]:
    """Receiver i admits only the link Jobs sending to it, on the probe port, and sends nothing (its
    acknowledgements are replies); those senders may reach only it, and DNS."""
    receiver = _selector(spec, "receiver", NODE_LABEL, index)
    senders = _selector(spec, "link", TARGET_LABEL, index)
    port = [{"protocol": "TCP", "port": PROBE_PORT}]
    return [
        _policy(
            spec,
            f"{spec.name}-rx-{index}",
            _labels(spec, "receiver", index),
            receiver,
            [{"from": [{"podSelector": {"matchLabels": senders}}], "ports": port}],
            [],
        ),
        _policy(
            spec,
            f"{spec.name}-link-to-{index}",
            _labels(spec, "link", index),
            senders,
            [],
            [
                {"to": [{"podSelector": {"matchLabels": receiver}}], "ports": port},
                {"ports": network.DNS_PORTS},
            ],
        ),
    ]


def link_job(
    spec: Spec, pair: tuple[str, str], numbers: dict[str, int], round_number: int, options: ProbeOptions
):
    source, target = pair
    i, j = numbers[source], numbers[target]
    host = service_host(spec, f"{spec.name}-rx-{j}")
    timeout = transfer_timeout_s(spec, pair, options)
    command = ["link", "--from", source, "--to", target, "--host", host, "--port", str(PROBE_PORT),
               "--bytes", str(options.transfer_bytes), "--repeats", str(options.repeats),
               "--timeout", str(timeout)]  # fmt: skip
    container = _container(spec, command, link_memory_bytes(options), [])
    labels = _labels(spec, "link", i, **{TARGET_LABEL: str(j), ROUND_LABEL: str(round_number)})
    annotations = {NODE_ANNOTATION: source, TARGET_ANNOTATION: target}
    name = f"{spec.name}-link-{i}-{j}"
    return _job(spec, name, labels, annotations, source, container, [], link_deadline_s(timeout, options))


# ------------------------------------------------------------------------------------------------ speed


def _stage_configs(manifests: Sequence[dict[str, Any]]) -> dict[int, tuple[dict[str, Any], dict[str, Any]]]:
    """stage index -> (its config ConfigMap, its parsed config), from the release's manifests."""
    found = {}
    for obj in manifests:
        if obj.get("kind") == "ConfigMap" and "stage.json" in obj.get("data", {}):
            config = json.loads(obj["data"]["stage.json"])
            found[config["stage"]] = (obj, config)
    return found


def speed_memory_bytes(stages: Sequence[Stage]) -> int:
    """The speed probe holds one partition at a time (docs/CONTRACTS.md), so its peak is at most the
    largest stage's planned memory (which also counts queue buffers the probe never fills)."""
    return max(s.memory_bytes for s in stages)


def speed_stages(spec: Spec, plan: Plan, node: str) -> tuple[Stage, ...]:
    """The stages whose partitions the node measures: every one whose planned memory fits the node."""
    usable = spec.cluster.node(node).usable_memory_bytes
    return tuple(s for s in plan.stages if s.memory_bytes <= usable)


def speed_config(spec: Spec, node: str, stages: Sequence[Stage]) -> dict[str, Any]:
    """`speed.json` of runtime.probe speed (docs/CONTRACTS.md): the node's threads, each partition's
    stage config file (mounted beside it) and its FLOPs from the profile."""
    return {
        "seiferProbe": 1,
        "node": node,
        "backend": {
            "name": spec.runtime.backend,
            "precision": spec.runtime.precision,
            "threads": max(1, int(spec.cluster.node(node).cpus)),
        },
        "partitions": [{"config": f"stage-{s.index}.json", "flops": s.flops} for s in stages],
    }


def speed_objects(
    spec: Spec, plan: Plan, node: str, index: int, configs: dict[int, Any], options: ProbeOptions
) -> tuple[dict[str, Any], dict[str, Any], tuple[Stage, ...]]:
    """(speed.json ConfigMap, speed Job, the stages it runs)."""
    stages = speed_stages(spec, plan, node)
    text = json.dumps(speed_config(spec, node, stages), sort_keys=True, indent=2) + "\n"
    config_map = storage.config_configmap(
        f"{spec.name}-speed-{index}", spec.namespace, _labels(spec, "speed", index), "speed.json", text
    )
    if not stages:
        return config_map, {}, stages
    chunks = dict.fromkeys(c["name"] for s in stages for c in configs[s.index][1]["weights"]["chunks"])
    probe_sources = [
        {
            "configMap": {
                "name": config_map["metadata"]["name"],
                "items": [{"key": "speed.json", "path": "speed.json"}],
            }
        },
        *(
            {
                "configMap": {
                    "name": configs[s.index][0]["metadata"]["name"],
                    "items": [{"key": "stage.json", "path": f"stage-{s.index}.json"}],
                }
            }
            for s in stages
        ),
    ]
    volumes = [
        {"name": "probe", "projected": {"defaultMode": 0o444, "sources": probe_sources}},
        {
            "name": "weights",
            "projected": {
                "defaultMode": 0o444,
                "sources": [
                    {"configMap": {"name": name, "items": [{"key": name, "path": name}]}} for name in chunks
                ],
            },
        },
    ]
    mounts = [
        {"name": "probe", "mountPath": PROBE_DIR, "readOnly": True},
        {"name": "weights", "mountPath": WEIGHTS_DIR, "readOnly": True},
    ]
    command = ["speed", "--node", node, "--config", PROBE_DIR, "--repeats", str(options.speed_repeats)]
    container = _container(spec, command, speed_memory_bytes(stages), mounts)
    job = _job(
        spec,
        f"{spec.name}-speed-{index}",
        _labels(spec, "speed", index),
        {NODE_ANNOTATION: node},
        node,
        container,
        volumes,
        SPEED_DEADLINE_S,
    )
    return config_map, job, stages


# ----------------------------------------------------------------------------------------------- render


def _check_rounds(rounds: Sequence[Sequence[tuple[str, str]]], nodes: set[str]) -> None:
    seen: set[tuple[str, str]] = set()
    for number, pairs in enumerate(rounds, start=1):
        busy: set[str] = set()
        for source, target in pairs:
            for name in (source, target):
                if name not in nodes:
                    raise ProbeRenderError(f"round {number}: {name!r} is not a node the probe runs on")
                if name in busy:
                    raise ProbeRenderError(f"round {number}: node {name!r} is in two transfers at once")
                busy.add(name)
            if source == target or (source, target) in seen:
                raise ProbeRenderError(f"round {number}: {source} -> {target} is a self-pair or repeated")
            seen.add((source, target))


def render_probe(
    spec: Spec,
    plan: Plan | None,
    manifests: Sequence[dict[str, Any]],
    rounds: Sequence[Sequence[tuple[str, str]]],
    options: ProbeOptions = ProbeOptions(),
    speed: bool = True,
) -> ProbeManifests:
    """The probe's objects for the release's `plan` and `manifests` (its weight and config ConfigMaps are
    reused for the speed Jobs) and the link `rounds` (each node in at most one pair per round)."""
    names = probe_nodes(spec)
    numbers = {node.name: i for i, node in enumerate(spec.cluster.nodes, start=1)}
    _check_rounds(rounds, set(names))
    targets = sorted({t for pairs in rounds for _, t in pairs}, key=numbers.__getitem__)
    round_deadlines = [
        max((link_deadline_s(transfer_timeout_s(spec, pair, options), options) for pair in pairs), default=0)
        for pairs in rounds
    ]
    deadline = max(round_deadlines, default=link_deadline_s(0, options))
    receiver_deadline = STARTUP_S * 5 + sum(round_deadlines)

    setup: list[dict[str, Any]] = [namespace_object(spec)] if spec.create_namespace else []
    speed_jobs: list[dict[str, Any]] = []
    unmeasured: list[tuple[str, str]] = []
    if speed:
        if plan is None:
            raise ProbeRenderError("the speed Jobs need the release's plan and manifests")
        configs = _stage_configs(manifests)
        used_chunks: set[str] = set()
        used_configs: set[str] = set()
        speed_maps = []
        for node in names:
            config_map, job, stages = speed_objects(spec, plan, node, numbers[node], configs, options)
            if not stages:
                smallest = min(s.memory_bytes for s in plan.stages)
                unmeasured.append(
                    (node, f"no partition fits its memory (the smallest needs {memory_quantity(smallest)})")
                )
                continue
            used_chunks.update(c["name"] for s in stages for c in configs[s.index][1]["weights"]["chunks"])
            used_configs.update(configs[s.index][0]["metadata"]["name"] for s in stages)
            speed_maps.append(config_map)
            speed_jobs.append(job)
        setup += [
            obj
            for obj in manifests
            if obj.get("kind") == "ConfigMap"
            and (obj["metadata"]["name"] in used_chunks or obj["metadata"]["name"] in used_configs)
        ]
        setup += speed_maps
    setup.append(network.default_deny_policy(spec))
    for target in targets:
        setup += receiver_policies(spec, numbers[target])
    setup += [receiver_service(spec, numbers[t]) for t in targets]
    setup += [receiver_job(spec, t, numbers[t], receiver_deadline, options) for t in targets]
    link_rounds = tuple(
        tuple(link_job(spec, pair, numbers, number, options) for pair in pairs)
        for number, pairs in enumerate(rounds, start=1)
    )
    return ProbeManifests(
        setup=tuple(setup),
        rounds=link_rounds,
        speed=tuple(speed_jobs),
        unmeasured=tuple(unmeasured),
        namespace=spec.namespace,
        link_deadline_s=deadline,
        receivers=len(targets),
    )
