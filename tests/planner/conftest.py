"""Fixtures: a pipeline spec whose model is a profile JSON, so CLI tests need no TensorFlow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.planner.helpers import make_profile

NODES = ("pi-1", "pi-2", "pi-3", "pi-4", "pi-5")


def spec_document(bandwidths: dict[tuple[str, str], float] | None = None, default_mbps: float = 20.0) -> dict:
    links = [
        {"from": a, "to": b, "bandwidth": f"{bw}Mbps"} for (a, b), bw in sorted((bandwidths or {}).items())
    ]
    return {
        "apiVersion": "seifer.dev/v1alpha1",
        "kind": "Pipeline",
        "metadata": {"name": "toy-dev", "namespace": "seifer-test"},
        "model": {"profile": "toy.profile.json", "version": "1.0.0"},
        "cluster": {
            "nodes": [{"name": "gateway", "memory": "2Gi", "speed": 1.0, "schedulable": False}]
            + [{"name": n, "memory": "192Mi", "speed": 1.0} for n in NODES],
            "bandwidth": {"default": f"{default_mbps}Mbps", "links": links},
        },
        "dispatcher": {"node": "gateway"},
        "runtime": {"image": "ghcr.io/seifer-iac/runtime:test", "codec": "none", "queueDepth": 1},
        "planner": {"objective": "full", "referenceSpeed": "10GFLOPS"},
    }


def toy_profile_json() -> str:
    mib = 2**20
    # 6 blocks of 20 MiB: 3 stages of 2 on 192 MiB nodes (LiteRT fp32 holds weights twice)
    sizes = [(20 * mib, 400_000, 800_000, 2 * 10**8)] * 6
    profile = make_profile(sizes, name="toy", input_bytes=600_000)
    data = profile.to_dict()
    data["model_hash"] = "ab" * 32
    return json.dumps(data)


@pytest.fixture
def spec_dir(tmp_path: Path):
    """Returns write(document) -> spec path, in a folder holding the toy profile."""
    (tmp_path / "toy.profile.json").write_text(toy_profile_json())

    def write(document: dict) -> Path:
        path = tmp_path / "dev.pipeline.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        return path

    return write
