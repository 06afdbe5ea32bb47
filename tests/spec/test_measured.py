"""The measured-cluster file: the spec's units, byte-identical YAML, errors naming the file and field."""

from __future__ import annotations

import datetime as dt
import math
import os

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


# ----------------------------------------------------------------------------------------- hostile files


def _good_text() -> str:
    return dump_measured(sample())


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda t: t.replace("repeats: 5", "repeats: " + "9" * 5000, 1), "line 8"),  # before: ValueError
        (lambda t: t.replace("'2026-11-30T16:05:07Z'", "9999-12-31T23:59:59-12:00"), "out of range in UTC"),
        (lambda t: t.replace("'2026-11-30T16:05:07Z'", "0000-01-01T00:00:00Z"), "out of range"),
        (lambda t: t.replace("'2026-11-30T16:05:07Z'", "'0001-01-01T00:00:00+14:00'"), "measuredAt:"),
        (lambda t: t + "kind: MeasuredCluster\n", "given twice"),
        (lambda t: t + "x: &a [1, 2, 3, 4, 5, 6, 7, 8]\n" + "".join(
            f"y{i}: &a{i} [{', '.join(['*a' if i == 0 else f'*a{i - 1}'] * 9)}]\n" for i in range(8)
        ), "aliases repeat more than"),
        (lambda t: t + "x: " + "[" * 5000 + "]" * 5000 + "\n", "nested more than"),
        (lambda t: t + "x: !!python/object:os.system ['true']\n", "not valid YAML"),
        (lambda t: t + "---\nkind: x\n", "more than one YAML document"),
    ],
)  # fmt: skip
def test_hostile_yaml_is_one_spec_error_naming_the_file(tmp_path, edit, expected):
    path = tmp_path / "m.yaml"
    path.write_text(edit(_good_text()))
    with pytest.raises(SpecError) as caught:
        load_measured(path)
    assert str(caught.value).startswith(str(path)) and expected in str(caught.value), str(caught.value)


def test_a_pipe_or_device_is_refused_without_a_read(tmp_path):
    pipe = tmp_path / "m.yaml"
    os.mkfifo(pipe)
    with pytest.raises(SpecError, match="named pipe"):
        load_measured(pipe)
    with pytest.raises(SpecError, match="character device"):
        load_measured("/dev/zero")


YAMLISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats()
    | st.text(max_size=12)
    | st.datetimes(timezones=st.just(dt.timezone.utc))
    | st.dates(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
FIELDS = ["measuredAt", "referenceSpeed", "links", "nodes", "unreachable", "unmeasured", "kind", "apiVersion"]
ROW_FIELDS = ["from", "to", "name", "bandwidth", "speed", "min", "max", "repeats", "bytes", "backend"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    top=st.dictionaries(st.sampled_from(FIELDS), YAMLISH, max_size=2),
    row=st.dictionaries(st.sampled_from(ROW_FIELDS), YAMLISH, max_size=3),
)
def test_structured_bad_documents_are_a_spec_error_or_a_value_that_dumps(tmp_path, top, row):
    document = yaml.safe_load(_good_text())
    document["links"][0].update(row)
    document.update(top)
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(document))
    try:
        measured = load_measured(path)
    except SpecError as error:
        assert "Traceback" not in str(error)
        return
    dump_measured(measured)  # what loads can be written back


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=400))
def test_arbitrary_text_is_a_spec_error_or_a_value(tmp_path, text):
    path = tmp_path / "m.yaml"
    path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
    try:
        assert isinstance(load_measured(path), MeasuredCluster)
    except SpecError as error:
        assert str(error).startswith(str(path)) and "Traceback" not in str(error)
