"""Weight ConfigMaps outside Pulumi's state: one small dynamic resource per chunk records its name and
sha256, and applies the ConfigMap server-side itself.

Why: a typed ConfigMap resource keeps its `binaryData` as an input and an output in the stack's state, so
the state of a ResNet50 pipeline would hold its 98 MiB of weights twice (four times during a version bump),
and `pulumi preview --diff` on a pull request would print them. Here the program writes each chunk to a
content-addressed file (`chunk_dir()`), the resource's inputs are only the chunk's name, namespace, labels,
sha256 and size, and the provider reads the file, checks its sha256 and size, and runs
`kubectl apply --server-side` with the exact manifest `render_manifests` produced (delete: `kubectl delete`).
The chunk names are content-addressed, so a chunk is created once and never updated: a changed chunk is a
new resource, and Pulumi deletes the old one only after the Deployments that mounted it have moved on.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pulumi
import pulumi.dynamic

CHUNK_DIR_ENV = "SEIFER_CHUNK_DIR"
KUBECTL_ENV = "SEIFER_KUBECTL"
FIELD_MANAGER = "seifer-weights"
IDENTITY = ("name", "namespace", "sha256", "size")  # any change: a new object (never an update)


def chunk_dir() -> Path:
    """Where the program leaves the chunk bytes for the provider: $SEIFER_CHUNK_DIR or
    ~/.cache/seifer/chunks (both run on the same machine in one `pulumi up`)."""
    configured = os.environ.get(CHUNK_DIR_ENV)
    return Path(configured) if configured else Path.home() / ".cache" / "seifer" / "chunks"


def is_weight_chunk(manifest: dict[str, Any]) -> bool:
    return manifest["kind"] == "ConfigMap" and "binaryData" in manifest


def write_chunk_files(manifests: Iterable[dict[str, Any]], directory: Path) -> None:
    """Each weight chunk's bytes as <directory>/<name>, written atomically (skipped when already there)."""
    directory.mkdir(parents=True, exist_ok=True)
    for manifest in manifests:
        if not is_weight_chunk(manifest):
            continue
        name = manifest["metadata"]["name"]
        path = directory / name
        data = base64.b64decode(manifest["binaryData"][name])
        if path.exists() and path.stat().st_size == len(data):
            continue
        partial = path.with_name(f".{name}.{os.getpid()}.partial")
        partial.write_bytes(data)
        partial.replace(path)


def chunk_props(manifest: dict[str, Any]) -> dict[str, Any]:
    """The resource's inputs (and so its state): everything of the ConfigMap but its bytes. No path: the
    state must not change with the machine or workspace that runs `pulumi up`."""
    metadata = manifest["metadata"]
    name = metadata["name"]
    data = base64.b64decode(manifest["binaryData"][name])
    return {
        "name": name,
        "namespace": metadata["namespace"],
        "labels": dict(metadata.get("labels", {})),
        "annotations": dict(metadata.get("annotations", {})),
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
    }


def configmap_from_props(props: dict[str, Any], directory: Path | None = None) -> dict[str, Any]:
    """The ConfigMap to apply, rebuilt from the recorded props and the chunk file in `directory` (default
    chunk_dir(): the provider runs with the environment of `pulumi up`, as the program does); ValueError
    when the file is missing or is not the recorded chunk (the resource is never created from other bytes)."""
    name = props["name"]
    path = (directory or chunk_dir()) / name
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ValueError(
            f"weight chunk {name}: {path} is not readable ({error}); run the program again"
        ) from None
    if len(data) != int(props["size"]) or hashlib.sha256(data).hexdigest() != props["sha256"]:
        raise ValueError(
            f"weight chunk {name}: {path} does not have sha256 {props['sha256']}; run the program again"
        )
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": props["namespace"],
            "labels": dict(props["labels"]),
            "annotations": dict(props["annotations"]),
        },
        "immutable": True,
        "binaryData": {name: base64.b64encode(data).decode("ascii")},
    }


def _kubectl(args: list[str], stdin: bytes | None = None) -> None:
    command = [os.environ.get(KUBECTL_ENV, "kubectl"), *args]
    try:
        done = subprocess.run(command, input=stdin, capture_output=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise RuntimeError(f"{' '.join(command[:3])}: {error}") from None
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:3])}: {done.stderr.decode(errors='replace').strip()[:500]}")


class WeightChunkProvider(pulumi.dynamic.ResourceProvider):
    """Applies one weight ConfigMap server-side; its state is the props (no bytes)."""

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        manifest = configmap_from_props(props)
        _kubectl(
            ["apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "--force-conflicts", "-f", "-"],
            json.dumps(manifest).encode(),
        )
        return pulumi.dynamic.CreateResult(id_=f"{props['namespace']}/{props['name']}", outs=dict(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        replaces = [key for key in IDENTITY if olds.get(key) != news.get(key)]
        changed = replaces or [k for k in ("labels", "annotations") if olds.get(k) != news.get(k)]
        # labels and annotations of an immutable ConfigMap can change in place
        return pulumi.dynamic.DiffResult(
            changes=bool(changed), replaces=replaces, delete_before_replace=False
        )

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        manifest = configmap_from_props(news)
        _kubectl(
            ["apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "--force-conflicts", "-f", "-"],
            json.dumps(manifest).encode(),
        )
        return pulumi.dynamic.UpdateResult(outs=dict(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        _kubectl(["delete", "configmap", props["name"], "-n", props["namespace"], "--ignore-not-found"])


class WeightChunk(pulumi.dynamic.Resource):
    """One weight ConfigMap, recorded in the state by name and sha256 only."""

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(WeightChunkProvider(), name, props, opts)
