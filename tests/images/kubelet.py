"""Just enough of a kubelet to run rendered Deployments in the built image with podman and runc.

What a kubelet would do with each pod, taken from the manifest itself and nothing else: the container's
command (as the entrypoint, exactly as Kubernetes overrides it), env, user and group, read-only root,
dropped capabilities, no privilege escalation, the memory limit, the emptyDir as a tmpfs of its sizeLimit,
and every ConfigMap, projected or Secret volume as a read-only directory holding the files Kubernetes
would project (with the volume's defaultMode and, as the kubelet does, the pod's fsGroup as their group),
at the mount path the manifest names. The configs are used as rendered: no path or host is
rewritten. Every pod joins one network namespace the test makes, with only loopback in it (like the
containers of one pod, and nothing outside is reachable); an /etc/hosts maps the pipeline's Service names
to 127.0.0.1, standing in for cluster DNS (each stage has its own ports, so one address serves them all).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CONTAINERS_CONF = ROOT / "images" / "containers.conf"
IMAGE_REPO = "localhost/seifer-runtime"
UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}

Manifest = Mapping[str, Any]


def podman_env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": os.environ.get("CONTAINERS_CONF", str(CONTAINERS_CONF))}


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman", *args], capture_output=True, text=True, check=check, timeout=timeout, env=podman_env()
    )


def image_name(backend: str, arch: str) -> str:
    return f"{IMAGE_REPO}:{backend}-{arch}"


def image_built(name: str) -> bool:
    return shutil.which("podman") is not None and podman("image", "exists", name, check=False).returncode == 0


def quantity_bytes(text: str) -> int:
    for suffix, factor in UNITS.items():
        if text.endswith(suffix):
            return int(text[: -len(suffix)]) * factor
    return int(text)


def _config_map_files(config_map: Manifest, items: list[dict[str, str]] | None) -> dict[str, bytes]:
    contents = {key: value.encode() for key, value in config_map.get("data", {}).items()}
    contents.update({key: base64.b64decode(value) for key, value in config_map.get("binaryData", {}).items()})
    if items is None:
        return contents
    return {item["path"]: contents[item["key"]] for item in items}


def volume_files(volume: Manifest, config_maps: Mapping[str, Manifest]) -> dict[str, bytes]:
    """The files Kubernetes projects into a configMap, secret or projected volume (`config_maps` holds the
    pipeline's Secrets too, by name: both carry their files as data)."""
    if "configMap" in volume:
        source = volume["configMap"]
        return _config_map_files(config_maps[source["name"]], source.get("items"))
    if "secret" in volume:
        source = volume["secret"]
        secret = config_maps[source["secretName"]]
        as_binary = {"binaryData": secret.get("data", {}), "data": secret.get("stringData", {})}
        return _config_map_files(as_binary, source.get("items"))
    files: dict[str, bytes] = {}
    for source in volume["projected"]["sources"]:
        ref = source["configMap"]
        files.update(_config_map_files(config_maps[ref["name"]], ref.get("items")))
    return files


@dataclass(frozen=True)
class Pod:
    """The pipeline's shared network namespace (only loopback in it) and its containers' files."""

    name: str
    netns: str  # /run/netns/<name>
    hosts_file: Path
    files: Path


def service_hosts(manifests: list[Manifest]) -> list[str]:
    hosts = []
    for service in (m for m in manifests if m["kind"] == "Service"):
        meta = service["metadata"]
        name, namespace = meta["name"], meta.get("namespace", "default")
        hosts += [
            name,
            f"{name}.{namespace}",
            f"{name}.{namespace}.svc",
            f"{name}.{namespace}.svc.cluster.local",
        ]
    return hosts


def run_argv(
    pod: Pod,
    deployment: Manifest,
    config_maps: Mapping[str, Manifest],
    image: str,
    memory_limits: bool = True,
) -> list[str]:
    """`podman run` for a Deployment's one container, under the pod's and container's security context.
    `memory_limits=False` for an image of another architecture: under qemu-user the emulator's own
    translation cache is charged to the container, so the limit would measure qemu, not the stage."""
    name = deployment["metadata"]["name"]
    spec = deployment["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    pod_context, context = spec.get("securityContext", {}), container["securityContext"]
    user = context.get("runAsUser", pod_context.get("runAsUser"))
    group = context.get("runAsGroup", pod_context.get("runAsGroup"))
    argv = ["run", "--detach", "--pull=never", "--network", f"ns:{pod.netns}", "--name", f"{pod.name}-{name}"]
    argv += ["--user", f"{user}:{group}"]
    if "fsGroup" in pod_context:
        argv += ["--group-add", str(pod_context["fsGroup"])]
    if context.get("readOnlyRootFilesystem"):
        argv.append("--read-only")
    for capability in context.get("capabilities", {}).get("drop", []):
        argv += ["--cap-drop", capability]
    if context.get("allowPrivilegeEscalation") is False:
        argv += ["--security-opt", "no-new-privileges"]
    limit = container.get("resources", {}).get("limits", {}).get("memory")
    if limit:
        argv += ["--memory", str(quantity_bytes(limit)), "--memory-swap", str(quantity_bytes(limit))]
    for variable in container.get("env", []):
        argv += ["--env", f"{variable['name']}={variable['value']}"]
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        if "emptyDir" in volume:
            size = quantity_bytes(volume["emptyDir"].get("sizeLimit", "64Mi"))
            argv += ["--tmpfs", f"{mount['mountPath']}:rw,size={size},mode=1777"]
            continue
        directory = pod.files / name / mount["name"]
        directory.mkdir(parents=True)
        source = volume.get("secret") or volume.get("configMap") or volume.get("projected") or {}
        mode = source.get("defaultMode", 0o644) & 0o444  # read-only mounts: no write bits
        for file_name, content in volume_files(volume, config_maps).items():
            (directory / file_name).write_bytes(content)
            if "fsGroup" in pod_context:
                os.chown(directory / file_name, 0, pod_context["fsGroup"])
            (directory / file_name).chmod(mode)
        readonly = ":ro" if mount.get("readOnly") else ""
        argv += ["--volume", f"{directory}:{mount['mountPath']}{readonly}"]
    argv += ["--volume", f"{pod.hosts_file}:/etc/hosts:ro"]
    command = [*container.get("command", []), *container.get("args", [])]
    argv += ["--entrypoint", json.dumps(command), image]
    return argv


@contextmanager
def pipeline_pod(manifests: list[Manifest], image: str, files: Path) -> Iterator[tuple[Pod, list[str]]]:
    """Start every Deployment of `manifests` in one loopback-only network namespace made for it; remove
    every container and the namespace on exit, whatever happened. Yields the pod and the container names
    (stages first, dispatcher last)."""
    name = f"seifer-test-{secrets.token_hex(4)}"
    hosts_file = files / "hosts"
    files.mkdir(parents=True, exist_ok=True)
    hosts_file.write_text(
        "127.0.0.1 localhost\n" + "".join(f"127.0.0.1 {h}\n" for h in service_hosts(manifests))
    )
    hosts_file.chmod(0o444)
    pod = Pod(name, f"/run/netns/{name}", hosts_file, files)
    config_maps = {m["metadata"]["name"]: m for m in manifests if m["kind"] in ("ConfigMap", "Secret")}
    deployments = sorted(
        (m for m in manifests if m["kind"] == "Deployment"),
        key=lambda d: d["metadata"]["labels"].get("app.kubernetes.io/component") == "dispatcher",
    )
    names: list[str] = []
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True, capture_output=True)
        for deployment in deployments:
            names.append(f"{name}-{deployment['metadata']['name']}")
            podman(*run_argv(pod, deployment, config_maps, image))
        yield pod, names
    finally:
        if names:
            podman("rm", "--force", "--ignore", "--time", "2", *names, check=False)
        subprocess.run(["ip", "netns", "delete", name], check=False, capture_output=True)


def exited(names: list[str]) -> list[str]:
    """The containers among `names` that are no longer running (a crash, or killed at the memory limit)."""
    states = {}
    for name in names:
        done = podman("inspect", "--format", "{{.State.Status}} {{.State.OOMKilled}}", name, check=False)
        states[name] = done.stdout.strip()
    return [f"{name} ({state})" for name, state in states.items() if not state.startswith("running")]


def logs(names: list[str]) -> str:
    def tail(name: str) -> str:
        done = podman("logs", "--tail", "30", name, check=False)
        return done.stdout + done.stderr

    return "\n".join(f"--- {name}\n{tail(name)}" for name in names)


def ready_urls(manifests: list[Manifest]) -> list[str]:
    """Each pod's readiness endpoint on loopback (its probe's port, by name, and path)."""
    urls = []
    for deployment in (m for m in manifests if m["kind"] == "Deployment"):
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        probe = container["readinessProbe"]["httpGet"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        urls.append(f"http://127.0.0.1:{ports.get(probe['port'], probe['port'])}")
    return urls
