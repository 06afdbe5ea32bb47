"""`seifer render` never deletes or overwrites a user's files: it writes into a new or empty folder, or one
it wrote before (its marker lists its files), and replaces only those."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seifer_iac.cli.render import MARKER, OutputFolderError, earlier_render, write_manifests


def manifests(*names: str) -> list[dict]:
    return [{"kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": name}} for name in names]


def test_a_new_folder_is_created_and_marked(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b"
    paths = write_manifests(manifests("w1", "w2"), out)
    assert [p.name for p in paths] == ["000-configmap-w1.yaml", "001-configmap-w2.yaml"]
    assert json.loads((out / MARKER).read_text())["files"] == [p.name for p in paths]


def test_a_second_render_replaces_only_its_own_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_manifests(manifests("w1", "w2", "w3"), out)
    (out / "notes.txt").write_text("mine")
    (out / "099-configmap-mine.yaml").write_text("mine: true\n")  # looks rendered, is the user's
    write_manifests(manifests("v1"), out)
    names = sorted(p.name for p in out.iterdir())
    assert names == [MARKER, "000-configmap-v1.yaml", "099-configmap-mine.yaml", "notes.txt"]
    assert (out / "notes.txt").read_text() == "mine"
    assert earlier_render(out) == {"000-configmap-v1.yaml"}


def test_a_folder_of_the_users_files_is_refused_untouched(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "000-configmap-w1.yaml").write_text("the user's\n")
    with pytest.raises(OutputFolderError, match="did not write"):
        write_manifests(manifests("w1"), out)
    assert (out / "000-configmap-w1.yaml").read_text() == "the user's\n"
    assert sorted(p.name for p in out.iterdir()) == ["000-configmap-w1.yaml"]


def test_a_users_file_with_a_new_name_is_never_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_manifests(manifests("w1"), out)
    (out / "001-configmap-w2.yaml").write_text("the user's\n")
    with pytest.raises(OutputFolderError, match="did not write it"):
        write_manifests(manifests("w1", "w2"), out)
    assert (out / "001-configmap-w2.yaml").read_text() == "the user's\n"


@pytest.mark.parametrize(
    "marker",
    [
        '{"format": "seifer.render/v1", "files": ["../../etc/passwd"]}',
        '{"format": "seifer.render/v1", "files": ["/etc/passwd"]}',
        '{"format": "seifer.render/v1", "files": ["notes.txt"]}',
        '{"format": "seifer.render/v1", "files": "000-configmap-w1.yaml"}',
        '{"format": "other", "files": []}',
        "[]",
        "not json",
        '{"format": "seifer.render/v1", "files": [' + "[" * 100 + "]" * 100 + "]}",
    ],
)
def test_a_forged_marker_deletes_nothing(tmp_path: Path, marker: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / MARKER).write_text(marker)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputFolderError, match=r"render marker|files"):
        write_manifests(manifests("w1"), out)
    assert (out / "notes.txt").read_text() == "mine"


def test_a_file_as_the_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("x")
    with pytest.raises(OutputFolderError, match="not a folder"):
        write_manifests(manifests("w1"), tmp_path / "out")
