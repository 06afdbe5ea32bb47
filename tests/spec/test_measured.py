"""The measured-cluster file: the spec's units, byte-identical YAML, errors naming the file and field."""

from __future__ import annotations

import datetime as dt
import math

import pytest
import yaml

from seifer_iac.spec import SpecError
from seifer_iac.spec.measured import (
    MeasuredCluster,
    MeasuredLink,
    MeasuredSpeed,
    UnmeasuredLink,
    UnmeasuredNode,
    Unreachable,
    dump_measured,
    format_rate,
    format_speed,
    load_measured,
)

WHEN = dt.datetime(2026, 11, 30, 16, 5, 7, 123456, tzinfo=dt.timezone.utc)


def sample() -> MeasuredCluster:
    return MeasuredCluster(
        measured_at=WHEN,
        reference_flops_per_s=4e9,
        links=(
            MeasuredLink("pi-2", "pi-1", 12_345_678.0, 11_000_000.0, 13_000_000.0, 5, 4_000_000),
            MeasuredLink("pi-1", "pi-2", 940_000.0, 900_000.0, 1_000_000.0, 5, 4_000_000),
        ),
        speeds=(
            MeasuredSpeed("pi-2", 12.3456e9, 12e9, 12.5e9, 10, "litert", "fp32", absolute=True),
            MeasuredSpeed("pi-1", 4.9e9, 4.8e9, 5.0e9, 10, "litert", "fp32"),
        ),
        unreachable=(Unreachable("pi-1", "pi-3", "connection refused"),),
        unmeasured_links=(UnmeasuredLink("pi-3", "pi-1", "no result"),),
        unmeasured_nodes=(UnmeasuredNode("pi-3", "no result"),),
    )


def test_rates_and_speeds_are_written_in_the_specs_units():
    assert format_rate(12_345_678) == "12.35Mbps"
    assert format_rate(940_000) == "940Kbps"
    assert format_rate(1.5e9) == "1.5Gbps"
    assert format_rate(1e15) == "1000000Gbps"  # no exponent: the spec's parser and a reader both like it
    assert format_rate(999.96) == "1Kbps"  # rounds into the next unit rather than "1000bps"
    assert format_speed(12.3456e9, True, 4e9) == "12.35GFLOPS"
    assert format_speed(4.9e9, False, 4e9) == 1.225


def test_dump_is_sorted_rounded_and_byte_identical():
    text = dump_measured(sample())
    assert text == dump_measured(sample())
    doc = yaml.safe_load(text)
    assert doc["measuredAt"] == "2026-11-30T16:05:07Z"
    assert doc["referenceSpeed"] == "4GFLOPS"
    assert [(lk["from"], lk["to"], lk["bandwidth"]) for lk in doc["links"]] == [
        ("pi-1", "pi-2", "940Kbps"),
        ("pi-2", "pi-1", "12.35Mbps"),
    ]
    assert doc["links"][1]["min"] == "11Mbps" and doc["links"][1]["max"] == "13Mbps"
    assert [(n["name"], n["speed"]) for n in doc["nodes"]] == [("pi-1", 1.225), ("pi-2", "12.35GFLOPS")]
    assert doc["unreachable"] == [{"from": "pi-1", "to": "pi-3", "error": "connection refused"}]
    assert doc["unmeasured"]["nodes"] == [{"name": "pi-3", "reason": "no result"}]


def test_load_reads_what_dump_wrote(tmp_path):
    path = tmp_path / "cluster.measured.yaml"
    path.write_text(dump_measured(sample()))
    loaded = load_measured("cluster.measured.yaml", tmp_path / "spec.yaml")
    assert dump_measured(loaded) == path.read_text()  # a fixed point after one round
    assert loaded.measured_at == WHEN.replace(microsecond=0)
    assert math.isclose(loaded.link("pi-2", "pi-1").bits_per_s, 12.35e6)
    assert loaded.speed("pi-1").flops_per_s == pytest.approx(1.225 * 4e9)
    assert loaded.speed("pi-2").absolute and not loaded.speed("pi-1").absolute
    assert loaded.unreachable == (Unreachable("pi-1", "pi-3", "connection refused"),)


def test_an_unquoted_timestamp_is_read_as_the_same_moment(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(dump_measured(sample()).replace("'2026-11-30T16:05:07Z'", "2026-11-30T16:05:07Z"))
    assert load_measured(path).measured_at == WHEN.replace(microsecond=0)


def _broken(tmp_path, edit) -> str:
    doc = yaml.safe_load(dump_measured(sample()))
    edit(doc)
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(SpecError) as caught:
        load_measured(path)
    message = str(caught.value)
    assert message.startswith(str(path) + ": ")
    assert "Traceback" not in message
    return message


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d["links"][0].update(bandwidth="fast"), "links[0].bandwidth:"),
        (lambda d: d["links"][0].update(bandwidth=12), "links[0].bandwidth: expected string"),
        (lambda d: d["links"][0].update(min="1Gbps"), "links[0]: min <= bandwidth <= max"),
        (lambda d: d["links"][0].update(to="pi-1"), "links[0]: a link from"),
        (lambda d: d["links"].append(dict(d["links"][0])), "links[2]: pi-1 -> pi-2 is already given"),
        (
            lambda d: d["unreachable"][0].update({"from": "pi-1", "to": "pi-2"}),
            "unreachable[0]: pi-1 -> pi-2",
        ),
        (lambda d: d["nodes"][0].update(speed=-1), "nodes[0].speed:"),
        (lambda d: d["nodes"][0].update(speed=float("nan")), "nodes[0].speed: nan is not a finite number"),
        (lambda d: d["nodes"][0].update(min="1GFLOPS"), "nodes[0]: write speed, min and max alike"),
        (lambda d: d["nodes"][0].update(backend="onnx"), "nodes[0].backend:"),
        (lambda d: d["nodes"][0].update(sped=1), "nodes[0]: unknown field 'sped'"),
        (lambda d: d.update(measuredAt="yesterday"), "measuredAt:"),
        (lambda d: d.update(referenceSpeed="fast"), "referenceSpeed:"),
        (lambda d: d.update(kind="Pipeline"), "kind:"),
        (lambda d: d.pop("measuredAt"), "missing required field 'measuredAt'"),
        (lambda d: d["links"][0].update(repeats=2**70), "links[0].repeats:"),
    ],
)
def test_errors_name_the_file_and_the_field(tmp_path, edit, expected):
    assert expected in _broken(tmp_path, edit)


def test_not_a_file_or_not_a_mapping(tmp_path):
    with pytest.raises(SpecError, match="no such file"):
        load_measured(tmp_path / "missing.yaml")
    with pytest.raises(SpecError, match="is a directory"):
        load_measured(tmp_path)
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(SpecError, match=r"list.yaml: \(top level\): expected a mapping"):
        load_measured(tmp_path / "list.yaml")
    (tmp_path / "deep.yaml").write_text("a: " + "[" * 100 + "]" * 100 + "\n")
    with pytest.raises(SpecError, match="nested more than"):
        load_measured(tmp_path / "deep.yaml")
