"""The pulumi-policy wrapper in policy/, run in its own virtualenv (pulumi-policy pins protobuf 5, which the
project's TensorFlow cannot share). Skipped unless that interpreter exists: SEIFER_POLICY_PYTHON or
policy/venv/bin/python (what PulumiPolicy.yaml uses)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.deploy.conftest import ROOT

HERE = Path(__file__).resolve().parent


def policy_python() -> str | None:
    candidates = [os.environ.get("SEIFER_POLICY_PYTHON"), str(ROOT / "policy" / "venv" / "bin" / "python")]
    return next((c for c in candidates if c and Path(c).is_file()), None)


def run_pack(manifests: list[dict], tmp_path: Path) -> list[list[str]]:
    python = policy_python()
    if python is None:
        pytest.skip("no policy-pack virtualenv (set SEIFER_POLICY_PYTHON or create policy/venv)")
    data = tmp_path / "manifests.json"
    data.write_text(json.dumps(manifests))
    done = subprocess.run(
        [python, str(HERE / "policy_pack_probe.py"), str(ROOT / "policy" / "__main__.py"), str(data)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout)


def sample(release) -> list[dict]:
    """Every object except all but two weight ConfigMaps (they are alike; keeps the exchange small)."""
    weights = [m for m in release.manifests if "binaryData" in m]
    return [m for m in release.manifests if "binaryData" not in m] + weights[:2]


def test_pack_passes_the_render_and_catches_a_broken_one(dev_release, tmp_path: Path) -> None:
    manifests = sample(dev_release)
    advised = run_pack(manifests, tmp_path)  # the stack's image is a tag: advised, not enforced (the probe
    assert {rule for rule, _, _ in advised} == {"image-digest"}  # checks the enforcement levels)
    broken = copy.deepcopy(manifests)
    deployment = next(m for m in broken if m["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["nodeName"] = "pi-1"
    deployment["spec"]["template"]["spec"]["automountServiceAccountToken"] = True
    found = [v for v in run_pack(broken, tmp_path) if v[0] != "image-digest"]
    assert sorted({rule for rule, _, _ in found}) == ["node-affinity", "service-account-token"]
    assert {name for _, name, _ in found} == {deployment["metadata"]["name"]}
