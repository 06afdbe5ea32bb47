"""The runtime image reference: a digest pins it (IfNotPresent), a tag alone is pulled every time (Always)
and `seifer validate` warns about it; a malformed digest is a spec error naming runtime.image."""

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from seifer_iac.spec import SpecError, spec_from_data
from seifer_iac.spec.image import default_pull_policy, digest_of, digest_problem, unpinned_warning
from tests.e2e.conftest import SPEC, build_tiny_model

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT / "stacks" / "dev.pipeline.yaml"
DIGEST = "sha256:" + "0123456789abcdef" * 4
PINNED = f"ghcr.io/seifer-iac/runtime:0.1.0@{DIGEST}"
TAG = "ghcr.io/seifer-iac/runtime:0.1.0"


@pytest.fixture(scope="module")
def dev_data():
    return yaml.safe_load(DEV.read_text())


def _runtime(dev_data, **runtime):
    data = copy.deepcopy(dev_data)
    data["runtime"].pop("imagePullPolicy", None)
    data["runtime"].update(runtime)
    return spec_from_data(data, base_dir=ROOT / "stacks").runtime


def test_a_digest_is_recognised_with_or_without_a_tag():
    assert digest_of(PINNED) == DIGEST
    assert digest_of(f"registry.local:5000/seifer/runtime@{DIGEST}") == DIGEST
    assert digest_of(TAG) is None
    assert digest_of("registry.local:5000/seifer/runtime") is None  # a port is not a tag or a digest


def test_pull_policy_follows_the_digest(dev_data):
    assert default_pull_policy(PINNED) == "IfNotPresent"
    assert default_pull_policy(TAG) == "Always"
    assert _runtime(dev_data, image=PINNED).image_pull_policy == "IfNotPresent"
    assert _runtime(dev_data, image=TAG).image_pull_policy == "Always"


def test_an_explicit_pull_policy_wins(dev_data):
    assert _runtime(dev_data, image=TAG, imagePullPolicy="IfNotPresent").image_pull_policy == "IfNotPresent"
    assert _runtime(dev_data, image=PINNED, imagePullPolicy="Never").image_pull_policy == "Never"


@pytest.mark.parametrize("digest", ["sha256:abc", "sha512:" + "0" * 128, "sha256:" + "A" * 64, ""])
def test_a_malformed_digest_is_an_error_naming_the_field(dev_data, digest):
    image = f"{TAG}@{digest}"
    assert digest_problem(image) is not None
    with pytest.raises(SpecError, match=r"runtime\.image: .*sha256: and 64 lowercase hex digits"):
        _runtime(dev_data, image=image)


def test_only_a_tag_alone_gets_a_warning():
    assert unpinned_warning(PINNED) is None
    warning = unpinned_warning(TAG)
    assert warning is not None and "no digest" in warning and "Always" in warning


def _validate(tmp_path, image):
    text = DEV.read_text().replace(f"image: {TAG}", f"image: {image}")
    assert f"image: {image}" in text
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    command = [sys.executable, "-c", "from seifer_iac.cli.main import cli; cli()", "validate", str(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)


@pytest.mark.slow
def test_rendered_deployments_carry_the_policy(tmp_path, monkeypatch):
    from seifer_iac.release import build_release

    monkeypatch.setenv("SEIFER_CACHE_DIR", str(tmp_path / "cache"))
    build_tiny_model().save(tmp_path / "tiny.keras")
    path = tmp_path / "tiny.pipeline.yaml"
    text = SPEC.format(bandwidth="1Gbps", codec="none", port=8080, deadline="30s")
    path.write_text(text.replace("image: seifer-runtime:test", f"image: {PINNED}"))
    containers = [
        m["spec"]["template"]["spec"]["containers"][0]
        for m in build_release(path).manifests
        if m["kind"] == "Deployment"
    ]
    assert len(containers) >= 2
    assert {(c["image"], c["imagePullPolicy"]) for c in containers} == {(PINNED, "IfNotPresent")}


def test_validate_warns_about_a_tag_and_not_about_a_digest(tmp_path):
    tagged = _validate(tmp_path, TAG)
    assert tagged.returncode == 0, tagged.stderr
    assert f'warning: runtime.image: "{TAG}" has no digest' in tagged.stderr
    pinned = _validate(tmp_path, PINNED)
    assert pinned.returncode == 0, pinned.stderr
    assert "warning" not in pinned.stderr
