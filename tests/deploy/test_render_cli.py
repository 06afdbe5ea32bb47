"""`seifer render SPEC -o DIR`: one YAML file per object, byte-identical to an independent build; errors
are one line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from seifer_iac.cli.main import cli
from seifer_iac.cli.render import MARKER, MARKER_FORMAT, file_name, to_yaml
from tests.deploy.conftest import DEV_SPEC


def test_render_writes_the_release_byte_for_byte(dev_release, tmp_path: Path) -> None:
    out = tmp_path / "dev"
    out.mkdir()
    (out / MARKER).write_text(json.dumps({"format": MARKER_FORMAT, "files": ["999-configmap-stale.yaml"]}))
    (out / "999-configmap-stale.yaml").write_text("stale: true\n")  # written by an earlier render
    (out / "notes.txt").write_text("kept\n")  # the user's own: never touched
    result = CliRunner().invoke(cli, ["render", str(DEV_SPEC), "-o", str(out)])
    assert result.exit_code == 0, result.output
    expected = [file_name(i, m) for i, m in enumerate(dev_release.manifests)]
    assert sorted(p.name for p in out.glob("*.yaml")) == expected  # name order = apply order
    assert (out / "notes.txt").read_text() == "kept\n"
    assert json.loads((out / MARKER).read_text())["files"] == expected
    for name, manifest in zip(expected, dev_release.manifests, strict=True):
        text = (out / name).read_text()
        assert text == to_yaml(manifest)  # a separate build in this process: the same bytes
        assert yaml.load(text, Loader=yaml.CSafeLoader) == manifest
    assert dev_release.plan.plan_hash in result.stdout
    assert "chunk ConfigMaps" in result.stdout


def test_missing_spec_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["render", str(tmp_path / "nope.yaml"), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "no such file" in lines[0]


def test_over_budget_spec_is_one_line_naming_the_option(dev_release, tmp_path: Path) -> None:
    data = yaml.safe_load(DEV_SPEC.read_text())
    data["weights"]["maxTotal"] = "1Mi"
    spec_file = tmp_path / "tight.pipeline.yaml"
    spec_file.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(cli, ["render", str(spec_file), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "weights.maxTotal" in errors[0]
    assert not (tmp_path / "o").exists()
