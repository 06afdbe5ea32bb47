"""WeightChunk: the state keeps a chunk's name and digest; the provider applies exactly the rendered
ConfigMap, from a file whose sha256 it checks, and a chunk never updates in place."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest

from seifer_iac.pulumi_program.weights import (
    CHUNK_DIR_ENV,
    KUBECTL_ENV,
    WeightChunkProvider,
    chunk_props,
    configmap_from_props,
    is_weight_chunk,
    write_chunk_files,
)


@pytest.fixture
def chunks(dev_release, tmp_path: Path):
    manifests = [m for m in dev_release.manifests if is_weight_chunk(m)]
    write_chunk_files(manifests, tmp_path)
    return manifests, tmp_path


def test_the_applied_configmap_is_the_rendered_one(chunks) -> None:
    manifests, directory = chunks
    for manifest in manifests:
        props = chunk_props(manifest)
        assert set(props) == {"name", "namespace", "labels", "annotations", "sha256", "size"}
        assert configmap_from_props(props, directory) == manifest
    kubernetes_validate.validate(
        configmap_from_props(chunk_props(manifests[0]), directory), "1.29.0", strict=True
    )


def test_a_changed_or_missing_chunk_file_is_refused(chunks) -> None:
    manifests, directory = chunks
    props = chunk_props(manifests[0])
    path = directory / props["name"]
    path.write_bytes(b"x" + path.read_bytes()[1:])
    with pytest.raises(ValueError, match="does not have sha256"):
        configmap_from_props(props, directory)
    path.unlink()
    with pytest.raises(ValueError, match="is not readable"):
        configmap_from_props(props, directory)


def test_a_chunk_is_replaced_never_updated_and_equal_props_change_nothing(chunks) -> None:
    manifests, _ = chunks
    a, b = (chunk_props(m) for m in manifests[:2])
    provider = WeightChunkProvider()
    same = provider.diff("id", a, dict(a))
    assert not same.changes and not same.replaces
    other = provider.diff("id", a, b)
    assert other.changes and set(other.replaces) == {"name", "sha256"} | (
        {"size"} if a["size"] != b["size"] else set()
    )
    relabelled = provider.diff("id", a, dict(a, labels={**a["labels"], "x": "y"}))
    assert relabelled.changes and not relabelled.replaces


def test_without_kubectl_the_create_fails_with_one_line(chunks, monkeypatch) -> None:
    manifests, directory = chunks
    monkeypatch.setenv(CHUNK_DIR_ENV, str(directory))  # the provider finds the bytes as in `pulumi up`
    monkeypatch.setenv(KUBECTL_ENV, str(directory / "no-kubectl"))
    with pytest.raises(RuntimeError, match="No such file"):
        WeightChunkProvider().create(chunk_props(manifests[0]))
