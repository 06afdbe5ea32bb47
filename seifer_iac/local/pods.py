"""Rendered manifests -> what a kubelet would start, as local processes.

The local runner must run what Kubernetes gets, not a parallel description, so this reads the very
manifest dicts `seifer render` writes: each Deployment's container command, environment and volumes; the
ConfigMaps its volumes project; and the Services that give hops their DNS names. Paths the pod would see
(mount points) are mapped into a run directory, and Service DNS names are mapped to the address of the node
the Service's pod runs on (loopback, or the node's namespace when the network is emulated).
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from seifer_iac.local.speed import dilate_config

Manifest = Mapping[str, Any]


class LocalPodError(ValueError):
    """A manifest the local runner cannot reproduce (it names the object)."""


@dataclass(frozen=True)
class LocalPod:
    """One Deployment's pod as a local process: files to write under its root, then argv to run."""

    name: str
    node: str
    component: str
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    files: tuple[tuple[str, bytes], ...]  # path relative to the pod's root -> content
    empty_dirs: tuple[str, ...]
    ready_url: str
    ports: tuple[int, ...] = ()
    memory_limit_bytes: int | None = None  # the container's resources.limits.memory, as a kubelet enforces it


_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}


def parse_quantity(text: str | int | float) -> int:
    """A Kubernetes memory quantity (`335Mi`, `1G`, `512000`, `1e9`) in bytes, rounded up."""
    value = str(text).strip()
    for suffixes in (_BINARY, _DECIMAL):
        for suffix, factor in suffixes.items():
            if value.endswith(suffix) and value[: -len(suffix)]:
                return _ceil(float(value[: -len(suffix)]) * factor, text)
    return _ceil(float(value) if value else float("nan"), text)


def _ceil(number: float, text: object) -> int:
    if not number >= 0 or number == float("inf"):
        raise LocalPodError(f"memory quantity {text!r} is not a non-negative size")
    return int(-(-number // 1))


def memory_limit(container: Manifest) -> int | None:
    """The container's memory limit in bytes, or None when the manifest sets none."""
    limit = container.get("resources", {}).get("limits", {}).get("memory")
    if limit is None:
        return None
    try:
        return parse_quantity(limit)
    except ValueError:
        raise LocalPodError(
            f"container {container['name']}: memory limit {limit!r} is not a quantity"
        ) from None


def _kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m.get("kind") == kind]


def planned_node(deployment: Manifest) -> str:
    """The node the pod prefers (the plan's node), else the first node it may run on."""
    affinity = deployment["spec"]["template"]["spec"].get("affinity", {}).get("nodeAffinity", {})
    for term in affinity.get("preferredDuringSchedulingIgnoredDuringExecution", []):
        for field in term["preference"].get("matchFields", []):
            if field["key"] == "metadata.name" and field["values"]:
                return field["values"][0]
    required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution", {})
    for term in required.get("nodeSelectorTerms", []):
        for field in term.get("matchFields", []):
            if field["key"] == "metadata.name" and field["values"]:
                return field["values"][0]
    raise LocalPodError(f"Deployment {deployment['metadata']['name']}: no node affinity by node name")


def _selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def service_nodes(manifests: list[Manifest]) -> dict[str, str]:
    """Service DNS names (short, namespaced and fully qualified) -> the node of the pod behind it."""
    names: dict[str, str] = {}
    deployments = _kind(manifests, "Deployment")
    for service in _kind(manifests, "Service"):
        meta = service["metadata"]
        selector = service["spec"].get("selector", {})
        targets = [d for d in deployments if _selects(selector, d["spec"]["template"]["metadata"]["labels"])]
        if len(targets) != 1:
            raise LocalPodError(f"Service {meta['name']}: selects {len(targets)} Deployments, expected one")
        node = planned_node(targets[0])
        namespace = meta.get("namespace", "default")
        for host in (
            meta["name"],
            f"{meta['name']}.{namespace}",
            f"{meta['name']}.{namespace}.svc",
            f"{meta['name']}.{namespace}.svc.cluster.local",
        ):
            names[host] = node
    return names


def _config_map_files(config_map: Manifest, items: list[dict[str, str]] | None) -> dict[str, bytes]:
    contents = {key: value.encode() for key, value in config_map.get("data", {}).items()}
    contents.update({key: base64.b64decode(value) for key, value in config_map.get("binaryData", {}).items()})
    if items is None:
        return contents
    return {item["path"]: contents[item["key"]] for item in items}


def _volume_files(
    volume: Manifest, config_maps: Mapping[str, Manifest], owner: str
) -> dict[str, bytes] | None:
    """Files a volume shows, or None for an empty directory."""

    def config_map(name: str) -> Manifest:
        if name not in config_maps:
            raise LocalPodError(
                f"Deployment {owner}: volume {volume['name']} needs ConfigMap {name}, not rendered"
            )
        return config_maps[name]

    if "configMap" in volume:
        source = volume["configMap"]
        return _config_map_files(config_map(source["name"]), source.get("items"))
    if "projected" in volume:
        files: dict[str, bytes] = {}
        for source in volume["projected"]["sources"]:
            if "configMap" not in source:
                raise LocalPodError(f"Deployment {owner}: projected source {sorted(source)} is not supported")
            files.update(
                _config_map_files(config_map(source["configMap"]["name"]), source["configMap"].get("items"))
            )
        return files
    if "emptyDir" in volume:
        return None
    raise LocalPodError(f"Deployment {owner}: volume {volume['name']} kind {sorted(volume)} is not supported")


def _rewrite(value: Any, paths: Mapping[str, str], hosts: Mapping[str, str]) -> Any:
    """Map pod paths to run-dir paths and Service names to addresses, anywhere in a JSON document."""
    if isinstance(value, dict):
        return {k: _rewrite(v, paths, hosts) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite(v, paths, hosts) for v in value]
    if isinstance(value, str):
        return hosts.get(value) or map_path(value, paths)
    return value


def map_path(text: str, paths: Mapping[str, str]) -> str:
    """A pod path under a mount point, moved to the mount's local directory (longest mount first)."""
    for mount in sorted(paths, key=len, reverse=True):
        if text == mount or text.startswith(mount.rstrip("/") + "/"):
            return paths[mount] + text[len(mount) :]
    return text


def _port_number(container: Manifest, port: int | str) -> int:
    if isinstance(port, int):
        return port
    for entry in container.get("ports", []):
        if entry.get("name") == port:
            return int(entry["containerPort"])
    raise LocalPodError(f"container {container['name']}: probe port {port!r} is not declared")


def local_pod(
    deployment: Manifest,
    config_maps: Mapping[str, Manifest],
    host_addresses: Mapping[str, str],
    address_of: Callable[[str], str],
    pod_root: str,
    python: str = sys.executable,
    time_scale: float = 1.0,
) -> LocalPod:
    """One Deployment as a local process rooted at `pod_root` (an absolute directory); its configs' deadlines,
    timeouts and heartbeats stretched by `time_scale` (time dilation)."""
    name = deployment["metadata"]["name"]
    pod = deployment["spec"]["template"]["spec"]
    if len(pod["containers"]) != 1:
        raise LocalPodError(f"Deployment {name}: expected one container, found {len(pod['containers'])}")
    container = pod["containers"][0]
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    paths = {
        m["mountPath"]: f"{pod_root}/{m['mountPath'].strip('/')}" for m in container.get("volumeMounts", [])
    }
    files: list[tuple[str, bytes]] = []
    empty: list[str] = []
    for mount in container.get("volumeMounts", []):
        shown = _volume_files(volumes[mount["name"]], config_maps, name)
        local_dir = mount["mountPath"].strip("/")
        if shown is None:
            empty.append(local_dir)
            continue
        for file_name, content in sorted(shown.items()):
            if file_name.endswith(".json"):
                document = _rewrite(json.loads(content), paths, host_addresses)
                if isinstance(document, dict) and isinstance(document.get("listen"), dict):
                    # a pod listens on its own IP; here that is the node's address, never every interface
                    document["listen"]["address"] = address_of(planned_node(deployment))
                if isinstance(document, dict) and time_scale != 1.0:
                    document = dilate_config(document, time_scale)
                content = json.dumps(document, sort_keys=True, indent=1).encode()
            files.append((str(PurePosixPath(local_dir) / file_name), content))
    command = [*container.get("command", []), *container.get("args", [])]
    if not command:
        raise LocalPodError(f"Deployment {name}: the container has no command")
    mapped = [map_path(token, paths) for token in command]
    if command[0] in ("python", "python3"):
        mapped[0] = python  # after mapping: this machine's interpreter may itself live under /tmp
    argv = tuple(mapped)
    env = tuple((e["name"], map_path(e.get("value", ""), paths)) for e in container.get("env", []))
    node = planned_node(deployment)
    probe = container.get("readinessProbe", {}).get("httpGet")
    if probe is None:
        raise LocalPodError(f"Deployment {name}: no HTTP readiness probe to wait on")
    url = f"http://{address_of(node)}:{_port_number(container, probe['port'])}{probe.get('path', '/')}"
    component = deployment["metadata"].get("labels", {}).get("app.kubernetes.io/component", "")
    ports = tuple(sorted(int(p["containerPort"]) for p in container.get("ports", [])))
    return LocalPod(
        name, node, component, argv, env, tuple(files), tuple(empty), url, ports, memory_limit(container)
    )


def local_pods(
    manifests: list[Manifest],
    address_of: Callable[[str], str],
    run_dir: str,
    python: str = sys.executable,
    time_scale: float = 1.0,
) -> list[LocalPod]:
    """Every Deployment of the manifests as a local pod, rooted at run_dir/pods/<deployment>."""
    config_maps = {m["metadata"]["name"]: m for m in _kind(manifests, "ConfigMap")}
    hosts = {host: address_of(node) for host, node in service_nodes(manifests).items()}
    return [
        local_pod(
            d, config_maps, hosts, address_of, f"{run_dir}/pods/{d['metadata']['name']}", python, time_scale
        )
        for d in _kind(manifests, "Deployment")
    ]
