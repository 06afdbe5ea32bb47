"""Shared fixtures: each stack's release is built once per session (MobileNetV2 ~5 s, ResNet50 ~15 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

from seifer_iac.release import Release, build_release

ROOT = Path(__file__).resolve().parents[2]
DEV_SPEC = ROOT / "stacks" / "dev.pipeline.yaml"
EDGE_SPEC = ROOT / "stacks" / "edge-lab.pipeline.yaml"


@pytest.fixture(scope="session")
def dev_release() -> Release:
    return build_release(DEV_SPEC)


@pytest.fixture(scope="session")
def edge_release() -> Release:
    return build_release(EDGE_SPEC)


@pytest.fixture(scope="session", params=["dev", "edge-lab"])
def any_release(request: pytest.FixtureRequest) -> Release:
    return request.getfixturevalue("dev_release" if request.param == "dev" else "edge_release")
