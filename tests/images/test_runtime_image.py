"""The built runtime image, run as Kubernetes runs it: contents, size, and a real pipeline in containers.

These tests use the image `make image` built (localhost/seifer-runtime:<backend>-<arch>); they never build
it: a cold build needs root, the Debian mirror and PyPI, and takes minutes (much longer for arm64 under
qemu), so `make test` runs them when an image is there and skips them, saying how to build it, when not.
`make image-test` builds and then runs them. Every container and pod a test starts is removed after it.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from seifer_iac.local.runner import run_keys
from tests.e2e.conftest import SPEC, build_tiny_model, reference_outputs, tiny_input
from tests.images import kubelet

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
HOST_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
FOREIGN_ARCH = "arm64" if HOST_ARCH == "amd64" else "amd64"
QEMU = {"arm64": "qemu-aarch64", "amd64": "qemu-x86_64"}
BUDGET_BYTES = 250 * 10**6  # the default (LiteRT) image, uncompressed
REQUESTS = 8


def _missing_tools() -> str | None:
    if os.geteuid() != 0:
        return "needs root (podman with runc, nsenter)"
    for tool in ("podman", "runc", "nsenter", "ip"):
        if shutil.which(tool) is None:
            return f"needs {tool} (Debian packages podman, runc, util-linux, iproute2)"
    return None


def _runs_arch(arch: str) -> bool:
    return arch == HOST_ARCH or Path(f"/proc/sys/fs/binfmt_misc/{QEMU[arch]}").exists()


def _image_or_skip(backend: str, arch: str) -> str:
    if reason := _missing_tools():
        pytest.skip(reason)
    if not _runs_arch(arch):
        pytest.skip(f"{arch} binaries do not run here (install qemu-user-static and binfmt-support)")
    name = kubelet.image_name(backend, arch)
    if not kubelet.image_built(name):
        suffix = (" ARCH=" + arch if arch != HOST_ARCH else "") + (
            " BACKEND=" + backend if backend != "litert" else ""
        )
        pytest.skip(f"{name} is not built: run `make image{suffix}` first")
    return name


def _in_image(image: str, code: str, timeout: float = 300) -> str:
    """Run Python in the image under the pods' security context, without any network."""
    done = kubelet.podman(
        "run", "--rm", "--pull=never", "--network", "none", "--read-only", "--user", "10001:10001",
        "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--tmpfs", "/tmp:rw,size=64m,mode=1777",
        image, "python", "-c", code,
        check=False, timeout=timeout,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def _runtime_sources_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.glob("runtime/*")):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


DIGEST_IN_IMAGE = """
import hashlib, pathlib
digest = hashlib.sha256()
for path in sorted(pathlib.Path("/app").glob("runtime/*")):
    if path.is_file():
        digest.update(path.name.encode() + b"\\0" + path.read_bytes())
print(digest.hexdigest())
"""


def _current_or_skip(image: str) -> None:
    if _in_image(image, DIGEST_IN_IMAGE).strip() != _runtime_sources_digest(ROOT):
        pytest.skip(f"{image} holds other runtime/ sources than this tree: run `make image` again")


CONTENTS = """
import importlib.metadata, importlib.util, json, os, sys
import runtime.stage, runtime.dispatcher, runtime.weights
names = sorted(d.metadata["Name"].lower() for d in importlib.metadata.distributions())
print(json.dumps({
    "python": sys.version.split()[0],
    "user": os.getuid(),
    "loaded": sorted({m.split(".")[0] for m in sys.modules} & {"tensorflow", "keras"}),
    "distributions": names,
    "importable": {m: importlib.util.find_spec(m) is not None
                   for m in ("tensorflow", "keras", "tf_keras", "ai_edge_litert", "zmq", "zfpy", "lz4")},
}))
"""


@pytest.mark.parametrize("arch", [HOST_ARCH, FOREIGN_ARCH])
def test_the_default_image_holds_no_tensorflow_and_fits_the_budget(arch):
    image = _image_or_skip("litert", arch)
    contents = json.loads(_in_image(image, CONTENTS))
    assert contents["python"].startswith("3.11.")
    assert contents["user"] == 10001
    assert contents["loaded"] == []
    assert not [n for n in contents["distributions"] if n.startswith(("tensorflow", "keras", "tf-keras"))]
    assert contents["importable"] == {
        "tensorflow": False, "keras": False, "tf_keras": False, "ai_edge_litert": True, "zmq": True,
        "zfpy": True, "lz4": True,
    }  # fmt: skip
    size = int(kubelet.podman("image", "inspect", "--format", "{{.Size}}", image).stdout)
    architecture = kubelet.podman("image", "inspect", "--format", "{{.Architecture}}", image).stdout.strip()
    assert architecture == arch
    assert size < BUDGET_BYTES, f"{image} is {size / 1e6:.0f} MB uncompressed"


# Node memory that makes the planner chain the tiny model's three Dense layers on three nodes: the e2e
# spec's for LiteRT; a TensorFlow stage holds about 700 MiB before its first weight (planner/memory.py).
NODE_MEMORY = {"litert": None, "tensorflow": "740Mi"}


def _release(tmp_path: Path, image: str, backend: str):
    from seifer_iac.release import build_release

    build_tiny_model().save(tmp_path / "tiny.keras")
    text = SPEC.format(bandwidth="1Gbps", codec="lz4", port=8080, deadline="60s")
    text = text.replace("image: seifer-runtime:test,", f"image: {image}, backend: {backend},")
    assert f"backend: {backend}" in text
    if NODE_MEMORY[backend]:
        text = text.replace("memory: 90Mi}", f"memory: {NODE_MEMORY[backend]}}}")
        assert NODE_MEMORY[backend] in text
    path = tmp_path / "tiny.pipeline.yaml"
    path.write_text(text)
    return build_release(path)


# The native architecture only: under qemu-user (Debian's 7.2) LiteRT's XNNPACK interpreter segfaults or
# hangs in every arm64 stage, so a foreign image gets the contents test above and its pipeline run
# belongs on a native board or runner.
@pytest.mark.parametrize(("backend", "arch"), [("litert", HOST_ARCH), ("tensorflow", HOST_ARCH)])
def test_the_image_serves_the_pipeline_as_kubernetes_runs_it(tmp_path, monkeypatch, backend, arch):
    """Every stage and the dispatcher in its own container, as the manifests describe the pod; real
    requests through the dispatcher's HTTP API; the answers equal the unsplit model's."""
    image = _image_or_skip(backend, arch)
    _current_or_skip(image)
    monkeypatch.setenv("SEIFER_CACHE_DIR", str(tmp_path / "cache"))
    release = _release(tmp_path, image, backend)
    # The CURVE key Secret, as Pulumi (or `seifer render`'s keys file) supplies it beside the manifests.
    manifests = [*release.manifests, *run_keys(release.spec)]
    assert any(m["kind"] == "Secret" for m in manifests), "the spec is meant to encrypt its hops"
    assert len(release.plan.stages) >= 2, "the spec is meant to force a chain"
    dispatcher = next(
        m for m in manifests if m["kind"] == "Deployment" and m["metadata"]["name"].endswith("-dispatcher")
    )
    (container,) = dispatcher["spec"]["template"]["spec"]["containers"]
    port = next(p["containerPort"] for p in container["ports"] if p["name"] == "http")
    inputs = np.concatenate([tiny_input(i) for i in range(REQUESTS)])
    np.save(tmp_path / "inputs.npy", inputs)
    job = {
        "ready": kubelet.ready_urls(manifests),
        "timeout": 120,
        "url": f"http://127.0.0.1:{port}",
        "model": release.spec.name,
        "inputs": str(tmp_path / "inputs.npy"),
        "outputs": str(tmp_path / "outputs.npy"),
    }
    job_path = tmp_path / "job.json"
    job_path.write_text(json.dumps(job))
    with kubelet.pipeline_pod(manifests, image, tmp_path / "pod") as (pod, names):
        argv = ["nsenter", f"--net={pod.netns}", sys.executable, "-m", "tests.images.netns_client"]
        client = subprocess.Popen(
            [*argv, str(job_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
        )
        try:
            while client.poll() is None:  # a container that dies fails the test at once, with its logs
                stopped = kubelet.exited(names)
                assert not stopped, f"stopped: {stopped}\n" + kubelet.logs(names)
                time.sleep(1.0)
        finally:
            if client.poll() is None:
                client.kill()
            _, errors = client.communicate()
        assert client.returncode == 0, errors[-3000:] + kubelet.logs(names)
        assert not kubelet.exited(names), kubelet.logs(names)
    outputs = np.load(tmp_path / "outputs.npy")
    expected = reference_outputs(tmp_path / "tiny.keras", inputs)
    np.testing.assert_allclose(outputs, expected, rtol=1e-4, atol=1e-4)
    left = kubelet.podman("ps", "--all", "--filter", f"name={pod.name}", "--format", "{{.Names}}").stdout
    assert left.strip() == "", f"containers left behind: {left}"
    assert not Path(pod.netns).exists(), "network namespace left behind"
