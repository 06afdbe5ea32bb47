"""`seifer profile`: JSON is exactly the profile schema, tables for people, one-line errors with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from seifer_iac.cli.main import cli
from seifer_iac.profile import validate_profile_data

from .small_models import custom_layer_model, no_cut_model, small_model, two_input_model, two_output_model

BENCH = Path(__file__).resolve().parents[2] / "seifer_iac" / "bench" / "profiles"


def run(*args: str):
    return CliRunner().invoke(cli, ["profile", *args])


@pytest.mark.slow
def test_resnet50_json_is_schema_valid_and_matches_the_committed_profile() -> None:
    result = run("ResNet50", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert validate_profile_data(data) == []
    assert len(data["blocks"]) == 40 and data["input_shape"] == [1, 224, 224, 3]
    assert result.stdout == (BENCH / "ResNet50.json").read_text()  # deterministic across processes


@pytest.mark.parametrize("name", ["ResNet50", "InceptionResNetV2", "EfficientNetB1", "MobileNetV2", "VGG16"])
def test_committed_bench_profiles_are_valid(name: str) -> None:
    data = json.loads((BENCH / f"{name}.json").read_text())
    assert validate_profile_data(data) == []
    assert data["model_name"] == name


def test_table_and_json_of_a_keras_file(tmp_path: Path) -> None:
    path = tmp_path / "small.keras"
    small_model().save(path)
    table = run(str(path))
    assert table.exit_code == 0, table.output
    assert "small: 9 blocks" in table.stdout and "res_add" in table.stdout
    as_json = run(str(path), "--format", "json")
    profile_path = tmp_path / "small.json"
    profile_path.write_text(as_json.stdout)
    again = run(str(profile_path), "--format", "json")  # a profile JSON is accepted as MODEL
    assert again.exit_code == 0 and again.stdout == as_json.stdout


def test_measure_fills_measured_seconds(tmp_path: Path) -> None:
    path = tmp_path / "small.keras"
    small_model().save(path)
    result = run(str(path), "--measure", "--format", "json")
    assert result.exit_code == 0, result.output
    assert all(block["measured_s"] > 0 for block in json.loads(result.stdout)["blocks"])
    assert "ms" in run(str(path), "--measure").stdout.splitlines()[1]


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (two_input_model, "2 inputs"),
        (two_output_model, "2 outputs"),
        (no_cut_model, "no single-tensor cut point"),
        (custom_layer_model, "cannot load model file"),  # keras cannot even rebuild an unregistered class
    ],
)
def test_unchainable_models_exit_2_with_one_line(factory, message: str, tmp_path: Path) -> None:
    path = tmp_path / "model.keras"
    factory().save(path)
    result = run(str(path))
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if not line.endswith(" ...")]  # progress lines
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["NoSuchNet"], "unknown keras.applications model"),
        (["missing.keras"], "does not exist"),
        (["missing.json"], "does not exist"),
        (["small.keras", "--measure"], None),
    ],
)
def test_usage_errors(
    args: list[str], message: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    if message is None:  # --measure of a profile JSON
        small_model().save(tmp_path / "small.keras")
        (tmp_path / "p.json").write_text(run("small.keras", "--format", "json").stdout)
        args, message = ["p.json", "--measure"], "--measure needs a model"
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.stderr.splitlines()[-1]


def test_bad_input_shape_is_a_usage_error() -> None:
    result = run("MobileNetV2", "--input-shape", "a,b")
    assert result.exit_code == 2 and "is not a shape" in result.output
