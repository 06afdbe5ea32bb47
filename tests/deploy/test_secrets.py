"""The CURVE key Secret: a valid object, mounted read-only by every runtime pod, named (never embedded) by
the rendered manifests; `encryption: none` mounts nothing. And the keys file `seifer render` keeps."""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path

import kubernetes_validate
import pytest
import zmq

from runtime.zmqopts import load_keys
from seifer_iac.keyfile import KeyFileError, keys_path, load_or_create, with_key_secret
from seifer_iac.manifests import render_manifests
from seifer_iac.manifests.secrets import KEYS_DIR, curve_secret, curve_secret_name


def test_secret_is_a_valid_kubernetes_object_carrying_the_pair(dev_release) -> None:
    public, secret = (k.decode() for k in zmq.curve_keypair())
    manifest = curve_secret(dev_release.spec, public, secret)
    kubernetes_validate.validate(manifest, kubernetes_validate.latest_version(), strict=True)
    assert base64.b64decode(manifest["data"]["curve.secret"]).decode() == secret
    assert manifest["metadata"]["namespace"] == dev_release.spec.namespace
    with pytest.raises(ValueError, match="40 Z85"):
        curve_secret(dev_release.spec, public[:10], secret)


def test_every_runtime_pod_mounts_the_secret_read_only_and_its_config_says_curve(dev_release) -> None:
    deployments = [m for m in dev_release.manifests if m["kind"] == "Deployment"]
    assert len(deployments) == len(dev_release.plan.stages) + 1
    assert not [m for m in dev_release.manifests if m["kind"] == "Secret"]  # named, never embedded
    for deployment in deployments:
        pod = deployment["spec"]["template"]["spec"]
        volume = next(v for v in pod["volumes"] if "secret" in v)
        assert volume["secret"]["secretName"] == curve_secret_name(dev_release.spec)
        assert volume["secret"]["defaultMode"] == 0o440 and pod["securityContext"]["fsGroup"]
        mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == volume["name"])
        assert mount == {"name": volume["name"], "mountPath": KEYS_DIR, "readOnly": True}
    for config_map in (m for m in dev_release.manifests if m["kind"] == "ConfigMap" and "data" in m):
        for text in config_map["data"].values():
            assert json.loads(text)["encryption"] == {"name": "curve", "keysDir": KEYS_DIR}


def test_encryption_none_mounts_nothing(dev_release) -> None:
    spec = dev_release.spec
    plain = dataclasses.replace(spec, runtime=dataclasses.replace(spec.runtime, encryption="none"))
    manifests = render_manifests(plain, dev_release.plan, dev_release.artifacts, dev_release.profile)
    for deployment in (m for m in manifests if m["kind"] == "Deployment"):
        assert not [v for v in deployment["spec"]["template"]["spec"]["volumes"] if "secret" in v]
    configs = [m for m in manifests if m["kind"] == "ConfigMap" and "data" in m]
    assert configs and all(
        json.loads(text)["encryption"] == {"name": "none"} for m in configs for text in m["data"].values()
    )


def test_keys_file_is_made_once_owner_only_and_reused(dev_release, tmp_path: Path) -> None:
    spec_path = tmp_path / "p.yaml"
    manifests, first = with_key_secret(dev_release.spec, spec_path, list(dev_release.manifests))
    assert first is not None and first.created and first.path == keys_path(dev_release.spec, spec_path)
    assert first.path.stat().st_mode & 0o077 == 0 and first.path.parent.stat().st_mode & 0o077 == 0
    assert [m["kind"] for m in manifests[:2]] == ["Namespace", "Secret"]
    again = load_or_create(first.path)
    assert (again.public, again.secret, again.created) == (first.public, first.secret, False)
    keys_dir = tmp_path / "mounted"
    keys_dir.mkdir()
    for name, value in manifests[1]["data"].items():  # what the pod would see: the runtime accepts it
        (keys_dir / name).write_bytes(base64.b64decode(value))
    assert load_keys(keys_dir).public == first.public.encode()
    first.path.write_text('{"public": "x", "secret": 3}')
    with pytest.raises(KeyFileError, match="delete it"):
        load_or_create(first.path)
