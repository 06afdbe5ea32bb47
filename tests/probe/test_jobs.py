"""The probe's Kubernetes objects: real schemas, the policy pack, the pods' security, the rounds, the
network policies, and the rendered speed Job run for real (its mounts made from the rendered ConfigMaps)."""

from __future__ import annotations

import base64
import copy
import functools
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import referencing
import yaml
from kubernetes_validate.utils import all_versions, major_minor, schema_contents

from runtime import probe as probe_process
from seifer_iac.manifests.naming import memory_quantity
from seifer_iac.policy import check_manifests
from seifer_iac.probe.jobs import (
    PROBE_CHUNK_BYTES,
    PROBE_PORT,
    ProbeOptions,
    ProbeRenderError,
    link_memory_bytes,
    render_probe,
)
from seifer_iac.probe.schedule import schedule
from seifer_iac.release import Release, build_release
from seifer_iac.spec import load_spec, spec_from_data
from tests.deploy.test_policy_pack import run_pack

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT / "stacks" / "dev.pipeline.yaml"
K8S_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())


@functools.cache
def _validator(version: str, kind: str, api_version: str) -> jsonschema.Draft202012Validator:
    """One strict validator per (version, kind), from kubernetes-validate's own files (its validate()
    re-reads them on every call)."""
    wanted = major_minor(version)
    schema_version = [v for v in all_versions() if major_minor(v) <= wanted][-1]
    folder = f"v{schema_version}-local-strict"
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema = schema_contents(f"kubernetes-json-schema/{folder}/{kind.lower()}-{group}.json", version)
    definitions = schema_contents(f"kubernetes-json-schema/{folder}/_definitions.json", version)
    registry = referencing.Resource.from_contents(definitions) @ (
        referencing.Resource.from_contents(schema) @ referencing.Registry()
    )
    return jsonschema.Draft202012Validator(schema, registry=registry)


def validate_strict(obj: dict, version: str) -> None:
    _validator(version, obj["kind"], obj["apiVersion"]).validate(obj)


@pytest.fixture(scope="module")
def release() -> Release:
    return build_release(DEV)


def rounds_of(spec):
    return schedule([n.name for n in spec.cluster.nodes])


@pytest.fixture(scope="module")
def probe(release):
    return render_probe(release.spec, release.plan, release.manifests, rounds_of(release.spec))


def everything(probe) -> list[dict]:
    return [*probe.setup, *(job for r in probe.rounds for job in r), *probe.speed]


def pods_of(probe):
    return [(obj, obj["spec"]["template"]["spec"]) for obj in everything(probe) if obj["kind"] == "Job"]


def test_the_validator_is_kubernetes_validate(release):
    """The cached validator refuses what kubernetes_validate.validate refuses (strict: an unknown field)."""
    job = copy.deepcopy(
        pods_of(render_probe(release.spec, None, (), [[("pi-1", "pi-2")]], speed=False))[0][0]
    )
    validate_strict(job, K8S_VERSIONS[-1])
    kubernetes_validate.validate(job, K8S_VERSIONS[-1], strict=True)
    job["spec"]["template"]["spec"]["nodeNme"] = "pi-1"
    with pytest.raises(jsonschema.ValidationError):
        validate_strict(job, K8S_VERSIONS[-1])
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, K8S_VERSIONS[-1], strict=True)


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_object_passes_strict_kubernetes_validation(probe, version):
    for obj in everything(probe):
        if "binaryData" not in obj:  # the weight chunks are the release's own, validated with it
            validate_strict(obj, version)


def test_the_policy_rules_pass(probe):
    assert check_manifests(everything(probe)) == []


def test_the_policy_pack_passes(probe, tmp_path):
    sample = [obj for obj in everything(probe) if "binaryData" not in obj]
    assert {rule for rule, _, _ in run_pack(sample, tmp_path)} <= {"image-digest"}  # a tag: advised only


def test_pods_are_hardened_like_the_stages_and_pinned_to_one_node(probe, release):
    archs = list(release.spec.runtime.architectures)
    for job, pod in pods_of(probe):
        (container,) = pod["containers"]
        assert container["image"] == release.spec.runtime.image
        assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] == 10001
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        ctx = container["securityContext"]
        assert ctx["readOnlyRootFilesystem"] and ctx["capabilities"] == {"drop": ["ALL"]}
        assert not ctx["allowPrivilegeEscalation"] and ctx["runAsUser"] == 10001
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
        assert {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}} in pod["volumes"]
        assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
        required = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        (term,) = required["nodeSelectorTerms"]
        node = job["metadata"]["annotations"]["seifer.dev/node"]
        assert term["matchFields"] == [{"key": "metadata.name", "operator": "In", "values": [node]}]
        assert term["matchExpressions"] == [{"key": "kubernetes.io/arch", "operator": "In", "values": archs}]
        assert container["command"][:3] == ["python", "-m", "runtime.probe"]


def test_a_digest_is_used_as_the_stages_use_it(release):
    digest = "ghcr.io/seifer-iac/runtime:0.1.0@sha256:" + "a" * 64
    text = DEV.read_text().replace("image: ghcr.io/seifer-iac/runtime:0.1.0", f"image: {digest}")
    spec = spec_from_data(yaml.safe_load(text), base_dir=DEV.parent)
    probe = render_probe(spec, None, (), rounds_of(spec), speed=False)
    for _, pod in pods_of(probe):
        assert pod["containers"][0]["image"] == digest
        assert pod["containers"][0]["imagePullPolicy"] == "IfNotPresent"


def test_the_exact_command_lines(probe, release):
    options = ProbeOptions()
    spec = release.spec
    numbers = {n.name: i for i, n in enumerate(spec.cluster.nodes, start=1)}
    for job, pod in pods_of(probe):
        command = pod["containers"][0]["command"]
        role = job["metadata"]["labels"]["seifer.dev/probe"]
        node = job["metadata"]["annotations"]["seifer.dev/node"]
        if role == "link":
            target = job["metadata"]["annotations"]["seifer.dev/to"]
            host = f"{spec.name}-rx-{numbers[target]}.{spec.namespace}.svc.cluster.local"
            rate = spec.cluster.bandwidth(node, target)
            timeout = math.ceil(10 + 5 * options.transfer_bytes * 8 / (rate * 0.9))
            assert command[3:] == ["link", "--from", node, "--to", target, "--host", host, "--port",
                                   str(PROBE_PORT), "--bytes", str(options.transfer_bytes), "--repeats",
                                   str(options.repeats), "--timeout", str(timeout)]  # fmt: skip
        elif role == "speed":
            assert command[3:] == ["speed", "--node", node, "--config", "/etc/seifer/probe", "--repeats", "5"]
        else:
            assert command[3:] == ["serve", "--port", str(PROBE_PORT)]  # no --count: see receiver_job


def test_rounds_cover_every_pair_once_with_each_node_once_per_round(probe, release):
    names = release.spec.cluster.node_names
    seen = []
    for number, jobs in enumerate(probe.rounds, start=1):
        busy = []
        for job in jobs:
            notes = job["metadata"]["annotations"]
            busy += [notes["seifer.dev/node"], notes["seifer.dev/to"]]
            seen.append((notes["seifer.dev/node"], notes["seifer.dev/to"]))
            assert job["metadata"]["labels"]["seifer.dev/probe-round"] == str(number)
        assert len(busy) == len(set(busy))
    assert sorted(seen) == sorted((a, b) for a in names for b in names if a != b)


def _matches(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector["matchLabels"].items())


def test_each_receiver_admits_exactly_its_senders(probe):
    """Evaluate the NetworkPolicies as Kubernetes would (pod selectors, ports) for every sender x receiver."""
    policies = [o for o in probe.setup if o["kind"] == "NetworkPolicy"]
    deny = [p for p in policies if not p["spec"].get("ingress") and not p["spec"].get("egress")]
    assert any(p["metadata"]["name"].endswith("-default-deny") for p in deny)
    receivers = [(o, o["spec"]["template"]["metadata"]["labels"]) for o in probe.setup if o["kind"] == "Job"]
    senders = [(j, j["spec"]["template"]["metadata"]["labels"]) for r in probe.rounds for j in r]
    for sender, s_labels in senders:
        for receiver, r_labels in receivers:
            out_ok = any(
                _matches(p["spec"]["podSelector"], s_labels)
                and any(
                    any(_matches(peer["podSelector"], r_labels) for peer in rule.get("to", []))
                    and rule["ports"] == [{"protocol": "TCP", "port": PROBE_PORT}]
                    for rule in p["spec"].get("egress", [])
                )
                for p in policies
            )
            in_ok = any(
                _matches(p["spec"]["podSelector"], r_labels)
                and any(
                    any(_matches(peer["podSelector"], s_labels) for peer in rule.get("from", []))
                    for rule in p["spec"].get("ingress", [])
                )
                for p in policies
            )
            mine = (
                sender["metadata"]["annotations"]["seifer.dev/to"]
                == receiver["metadata"]["annotations"]["seifer.dev/node"]
            )
            assert (out_ok and in_ok) == mine
    for job, _ in pods_of(probe):
        if job["metadata"]["labels"]["seifer.dev/probe"] == "speed":  # no traffic at all
            labels = job["spec"]["template"]["metadata"]["labels"]
            assert not any(_matches(p["spec"]["podSelector"], labels) for p in policies if p not in deny)


def test_receivers_have_stable_service_names_and_a_readiness_check(probe, release):
    services = {o["metadata"]["name"]: o for o in probe.setup if o["kind"] == "Service"}
    assert sorted(services) == sorted(f"{release.spec.name}-rx-{i}" for i in range(1, 6))
    for job in (o for o in probe.setup if o["kind"] == "Job"):
        pod_labels = job["spec"]["template"]["metadata"]["labels"]
        service = services[job["metadata"]["name"]]
        assert all(pod_labels[k] == v for k, v in service["spec"]["selector"].items())
        container = job["spec"]["template"]["spec"]["containers"][0]
        assert container["readinessProbe"]["tcpSocket"] == {"port": "probe"}


def test_the_speed_jobs_reuse_the_releases_configmaps(probe, release):
    in_setup = {o["metadata"]["name"]: o for o in probe.setup if o["kind"] == "ConfigMap"}
    released = {o["metadata"]["name"]: o for o in release.manifests if o["kind"] == "ConfigMap"}
    for name, obj in in_setup.items():
        assert (name in released and obj == released[name]) or "-speed-" in name
    for job in probe.speed:
        pod = job["spec"]["template"]["spec"]
        for volume in pod["volumes"]:
            for source in volume.get("projected", {}).get("sources", []):
                assert source["configMap"]["name"] in in_setup
        limit = pod["containers"][0]["resources"]["limits"]["memory"]
        assert limit == f"{-(-max(s.memory_bytes for s in release.plan.stages) // 2**20)}Mi"


def test_a_node_no_partition_fits_is_named_not_probed(release):
    text = DEV.read_text().replace(
        "{name: pi-3, memory: 512Mi, reserved: 64Mi", "{name: pi-3, memory: 100Mi, reserved: 64Mi"
    )
    spec = spec_from_data(yaml.safe_load(text), base_dir=DEV.parent)
    probe = render_probe(spec, release.plan, release.manifests, rounds_of(spec))
    assert [node for node, _ in probe.unmeasured] == ["pi-3"]
    assert "no partition fits its memory" in probe.unmeasured[0][1]
    assert len(probe.speed) == 4


def test_names_fit_kubernetes_limits_at_the_longest_pipeline_name_and_the_100th_node():
    """A Job's name becomes a pod label value (at most 63 characters); a Service's is a DNS label."""
    nodes = [{"name": f"node-{i}-" + "x" * 200, "memory": "1Gi"} for i in range(1, 101)]
    spec = spec_from_data(
        {
            "apiVersion": "seifer.dev/v1alpha1",
            "kind": "Pipeline",
            "metadata": {"name": "p" * 50},
            "model": {"application": "MobileNetV2", "version": "1"},
            "cluster": {"nodes": nodes, "bandwidth": {"default": "10Mbps"}},
            "dispatcher": {"node": nodes[0]["name"]},
            "runtime": {"image": "ghcr.io/x/runtime:1"},
        }
    )
    pair = (nodes[98]["name"], nodes[99]["name"])
    probe = render_probe(spec, None, (), [[pair], [pair[::-1]]], speed=False)
    for obj in everything(probe):
        if obj["kind"] in ("Job", "Service"):
            assert len(obj["metadata"]["name"]) <= 63, obj["metadata"]["name"]
        for value in obj["metadata"]["labels"].values():
            assert len(value) <= 63
    assert {o["metadata"]["name"] for o in everything(probe) if o["kind"] == "Job"} >= {
        "p" * 50 + "-link-99-100",
        "p" * 50 + "-rx-100",
    }


def test_the_same_inputs_give_the_same_objects(probe, release):
    again = render_probe(release.spec, release.plan, release.manifests, rounds_of(release.spec))
    assert json.dumps(everything(again)) == json.dumps(everything(probe))


@pytest.mark.parametrize(
    ("rounds", "words"),
    [
        ([[("pi-1", "pi-2"), ("pi-2", "pi-3")]], "in two transfers at once"),
        ([[("pi-1", "nope")]], "not a node"),
        ([[("pi-1", "pi-2")], [("pi-1", "pi-2")]], "repeated"),
    ],
)
def test_bad_rounds_are_refused(release, rounds, words):
    with pytest.raises(ProbeRenderError, match=words):
        render_probe(release.spec, None, (), rounds, speed=False)


# ------------------------------------------------------------------ the real probe in the rendered pods


def _peak_mib(argv: list[str], timeout: float = 300) -> tuple[subprocess.CompletedProcess, float]:
    """Run argv in a fresh interpreter that reports its children's peak resident size (VmHWM)."""
    code = (
        "import resource, subprocess, sys, json;"
        f"d = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout={timeout});"
        "print(json.dumps([d.returncode, d.stdout, d.stderr[-2000:],"
        " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=timeout + 30
    )
    code_, stdout, stderr, peak = json.loads(out.stdout)
    return subprocess.CompletedProcess(argv, code_, stdout, stderr), peak


def _materialise(job: dict, setup: list[dict], into: Path) -> dict[str, Path]:
    """Each projected volume of the Job as the kubelet would write it: mount name -> folder."""
    maps = {o["metadata"]["name"]: o for o in setup if o["kind"] == "ConfigMap"}
    folders = {}
    for volume in job["spec"]["template"]["spec"]["volumes"]:
        if "projected" not in volume:
            continue
        folder = into / volume["name"]
        folder.mkdir(parents=True)
        for source in volume["projected"]["sources"]:
            cm = maps[source["configMap"]["name"]]
            for item in source["configMap"]["items"]:
                if item["key"] in cm.get("data", {}):
                    (folder / item["path"]).write_text(cm["data"][item["key"]])
                else:
                    (folder / item["path"]).write_bytes(base64.b64decode(cm["binaryData"][item["key"]]))
        folders[volume["name"]] = folder
    return folders


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root and unshare")
def test_the_rendered_speed_job_runs_the_real_probe_within_its_memory_limit(probe, tmp_path):
    """The speed Job's mounts, made from the rendered ConfigMaps: the stage configs name their weights at
    /var/lib/seifer/weights, so the probe runs in a private mount namespace with a tmpfs there."""
    job = probe.speed[0]
    folders = _materialise(job, list(probe.setup), tmp_path)
    command = job["spec"]["template"]["spec"]["containers"][0]["command"]
    node = command[command.index("--node") + 1]
    script = (
        "mount -t tmpfs seifer-probe-k8s-test /var/lib && mkdir -p /var/lib/seifer/weights && "
        f"cp {folders['weights']}/* /var/lib/seifer/weights/ && "
        f"exec {sys.executable} -m runtime.probe speed --node {node} --config {folders['probe']} --repeats 2"
    )
    done, peak = _peak_mib(["unshare", "--mount", "--propagation", "private", "sh", "-c", script])
    if done.returncode != 0 and "unshare" in done.stderr:
        pytest.skip(f"no mount namespace here: {done.stderr.strip()[:200]}")
    (line,) = done.stdout.strip().splitlines()
    result = json.loads(line)
    assert result["error"] is None, result
    assert result["flops"] == sum(
        s["flops"] for s in json.loads((folders["probe"] / "speed.json").read_text())["partitions"]
    )
    limit = int(
        job["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"].removesuffix("Mi")
    )
    assert peak <= limit, (peak, limit)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_link_and_receiver_stay_within_their_memory_limit(probe):
    """The rendered serve and link command lines (host and port mapped to loopback), real processes; the
    receiver first answers a few bare connections, as the kubelet's TCP checks make them."""
    sender = probe.rounds[0][0]
    receiver = next(o for o in probe.setup if o["kind"] == "Job")
    port = str(_free_port())
    link = sender["spec"]["template"]["spec"]["containers"][0]["command"]
    link = [sys.executable, *link[1:]]
    link[link.index("--host") + 1], link[link.index("--port") + 1] = "127.0.0.1", port
    serve = receiver["spec"]["template"]["spec"]["containers"][0]["command"]
    serve = [sys.executable, *serve[1:], "--host", "127.0.0.1"]
    serve[serve.index("--port") + 1] = port
    until_told = (
        "import resource, subprocess, sys; p = subprocess.Popen(sys.argv[1:]); sys.stdin.readline();"
        "p.terminate(); p.wait(); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)"
    )
    server = subprocess.Popen(
        [sys.executable, "-c", until_told, *serve],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        for _ in range(3):  # what a tcpSocket readiness check does: connect, then hang up
            for _attempt in range(100):
                try:
                    socket.create_connection(("127.0.0.1", int(port)), timeout=5).close()
                    break
                except ConnectionRefusedError:
                    time.sleep(0.1)
        done, link_peak = _peak_mib(link, timeout=120)
        receiver_peak = float(server.communicate("stop\n", timeout=60)[0])
    finally:
        server.kill()
        server.wait()
    result = json.loads(done.stdout)
    assert result["error"] is None and len(result["seconds"]) == ProbeOptions().repeats
    assert PROBE_CHUNK_BYTES == probe_process.CHUNK
    assert link_memory_bytes(ProbeOptions(transfer_bytes=2**30)) < 64 * 2**20  # not 2 x --bytes
    limit = link_memory_bytes(ProbeOptions()) / 2**20
    assert link_peak <= limit and receiver_peak <= limit, (link_peak, receiver_peak, limit)
    assert receiver["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"][
        "memory"
    ] == memory_quantity(link_memory_bytes(ProbeOptions()))


def test_load_spec_of_the_dev_stack_is_what_the_probe_saw(release):
    assert load_spec(DEV) == release.spec


def test_a_large_transfer_on_a_slow_link_gets_the_time_it_needs(release):
    """Before: every link Job ran with the probe's fixed 120 s per transfer, so `--bytes 1GiB` at the dev
    stack's rates timed out, and collect reported each such pair unreachable (which drops the link)."""
    spec = release.spec
    options = ProbeOptions(transfer_bytes=2**30, repeats=3)
    probe = render_probe(spec, None, (), rounds_of(spec), options, speed=False)
    longest = 0
    for jobs in probe.rounds:
        for job in jobs:
            notes = job["metadata"]["annotations"]
            command = job["spec"]["template"]["spec"]["containers"][0]["command"]
            timeout = int(command[command.index("--timeout") + 1])
            needed = 2**30 * 8 / spec.cluster.bandwidth(notes["seifer.dev/node"], notes["seifer.dev/to"])
            assert timeout >= 2 * needed
            assert job["spec"]["activeDeadlineSeconds"] >= (options.repeats + 1) * timeout
            longest = max(longest, job["spec"]["activeDeadlineSeconds"])
    assert probe.link_deadline_s == longest
