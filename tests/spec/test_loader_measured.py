"""cluster.measured: a measured-cluster file fills in what the spec leaves out; the spec's own values win."""

from __future__ import annotations

import datetime as dt
import os

import pytest
import yaml

from seifer_iac.spec import SpecError, load_spec
from seifer_iac.spec.measured import (
    MeasuredCluster,
    MeasuredLink,
    MeasuredSpeed,
    Unreachable,
    dump_measured,
)

WHEN = dt.datetime(2026, 11, 30, 16, 0, tzinfo=dt.timezone.utc)


def write_spec(folder, nodes, bandwidth, measured="cluster.measured.yaml"):
    data = {
        "apiVersion": "seifer.dev/v1alpha1",
        "kind": "Pipeline",
        "metadata": {"name": "measured-test"},
        "model": {"application": "MobileNetV2", "inputShape": [224, 224, 3], "version": "1"},
        "cluster": {"nodes": nodes, "bandwidth": bandwidth, **({"measured": measured} if measured else {})},
        "dispatcher": {"node": nodes[0]["name"]},
        "runtime": {"image": "ghcr.io/x/runtime:1"},
        "planner": {"referenceSpeed": "4GFLOPS"},
    }
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def write_measured(folder, links=(), speeds=(), unreachable=(), reference=4e9):
    m = MeasuredCluster(WHEN, reference, tuple(links), tuple(speeds), tuple(unreachable))
    (folder / "cluster.measured.yaml").write_text(dump_measured(m))


def rate(a, b, bits):
    return MeasuredLink(a, b, bits, bits, bits, 5, 4_000_000)


def fast(node, flops, absolute=False):
    return MeasuredSpeed(node, flops, flops, flops, 5, "litert", "fp32", absolute)


NODES = [
    {"name": "a", "memory": "1Gi"},
    {"name": "b", "memory": "1Gi", "speed": 2.0},
    {"name": "c", "memory": "1Gi"},
]


def test_measured_values_fill_in_and_the_specs_own_win(tmp_path):
    write_measured(
        tmp_path,
        links=[
            rate("a", "b", 30e6),
            rate("b", "a", 31e6),
            rate("a", "c", 7e6),
            rate("c", "a", 9e6),
            rate("b", "c", 5e6),
            rate("x", "a", 1e6),
        ],
        speeds=[fast("a", 6e9), fast("b", 1e9), fast("c", 12e9, absolute=True), fast("x", 1e9)],
        unreachable=[Unreachable("c", "b", "connection refused")],
    )
    bandwidth = {"default": "20Mbps", "links": [{"from": "a", "to": "b", "bandwidth": "80Mbps"}]}
    cluster = load_spec(write_spec(tmp_path, NODES, bandwidth)).cluster
    assert cluster.bandwidth("a", "b") == 80e6 and cluster.bandwidth("b", "a") == 80e6  # listed: both ways
    assert (cluster.bandwidth("a", "c"), cluster.bandwidth("c", "a")) == (7e6, 9e6)  # measured beats default
    assert cluster.bandwidth("b", "c") == 5e6
    assert cluster.bandwidth("c", "b") == 0.0  # measured unreachable: no link, despite the default
    assert cluster.node("a").flops_per_s == 6e9 and not cluster.node("a").speed_absolute
    assert cluster.node("b").flops_per_s == 8e9  # the spec's speed 2.0 wins over the measured 1 GFLOP/s
    assert cluster.node("c").flops_per_s == 12e9 and cluster.node("c").speed_absolute
    assert cluster.node_names == ("a", "b", "c")  # x (no longer in the spec) is ignored


def test_a_listed_link_wins_over_unreachable(tmp_path):
    write_measured(tmp_path, unreachable=[Unreachable("a", "b", "timed out")])
    bandwidth = {"links": [{"from": "a", "to": "b", "bandwidth": "1Mbps"}, {"from": "a", "to": "c",
                 "bandwidth": "1Mbps"}]}  # fmt: skip
    assert load_spec(write_spec(tmp_path, NODES, bandwidth)).cluster.bandwidth("a", "b") == 1e6


def test_relative_speeds_keep_the_reference_they_were_measured_against(tmp_path):
    write_measured(tmp_path, speeds=[fast("a", 6e9)], reference=2e9)  # written as 3.0 x 2 GFLOPS
    assert "speed: 3.0" in (tmp_path / "cluster.measured.yaml").read_text()
    spec = load_spec(write_spec(tmp_path, NODES, {"default": "20Mbps"}))  # the spec says 4 GFLOPS
    assert spec.cluster.node("a").flops_per_s == 6e9


def test_a_node_unreachable_by_measurement_is_a_spec_error(tmp_path):
    lost = [Unreachable(x, "c", "no route to host") for x in ("a", "b")]
    write_measured(tmp_path, unreachable=lost)
    with pytest.raises(SpecError, match='"c" cannot be reached from the dispatcher'):
        load_spec(write_spec(tmp_path, NODES, {"default": "20Mbps"}))


def test_without_a_default_measured_links_make_the_graph(tmp_path):
    write_measured(tmp_path, links=[rate("a", "b", 3e6), rate("b", "c", 2e6)])
    cluster = load_spec(write_spec(tmp_path, NODES, {})).cluster
    assert (cluster.bandwidth("a", "b"), cluster.bandwidth("b", "a"), cluster.bandwidth("b", "c")) == (
        3e6,
        0.0,
        2e6,
    )


def test_errors_in_the_included_file_name_that_file_and_field(tmp_path):
    write_measured(tmp_path, links=[rate("a", "b", 3e6)])
    measured = tmp_path / "cluster.measured.yaml"
    measured.write_text(measured.read_text().replace("bandwidth: 3Mbps", "bandwidth: 3 parsecs"))
    spec = write_spec(tmp_path, NODES, {"default": "20Mbps"})
    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    (line,) = str(caught.value).splitlines()
    assert line.startswith(f"{spec}: cluster.measured: {measured}: links[0].bandwidth: ")
    assert "not a bandwidth" in line


def test_a_missing_file_is_named(tmp_path):
    spec = write_spec(tmp_path, NODES, {"default": "20Mbps"}, measured="nowhere.yaml")
    with pytest.raises(SpecError, match=r"cluster.measured: .*nowhere.yaml: no such file"):
        load_spec(spec)


def test_the_schema_refuses_a_non_string(tmp_path):
    spec = write_spec(tmp_path, NODES, {"default": "20Mbps"}, measured=5)
    with pytest.raises(SpecError, match=r"cluster\.measured: expected string"):
        load_spec(spec)


def test_a_measured_file_outside_the_specs_folder_is_read_like_model_files_are(tmp_path):
    """Allowed on purpose: the spec's author already names files anywhere (model.file, model.profile),
    stacks in one folder may share one measured file beside them, and the read is bounded (a regular file
    of at most 16 MiB, schema-checked); refusing `..` would protect nothing the spec cannot reach anyway."""
    shared = tmp_path / "shared"
    shared.mkdir()
    write_measured(shared, links=[rate("a", "b", 3e6)])
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    spec = write_spec(stacks, NODES, {"default": "20Mbps"}, measured="../shared/cluster.measured.yaml")
    assert load_spec(spec).cluster.bandwidth("a", "b") == 3e6


@pytest.mark.parametrize("kind", ["folder", "pipe", "device"])
def test_a_folder_pipe_or_device_as_the_measured_file_is_one_line_naming_the_field(tmp_path, kind):
    target = {"folder": str(tmp_path), "pipe": str(tmp_path / "m.fifo"), "device": "/dev/zero"}[kind]
    if kind == "pipe":
        os.mkfifo(target)
    spec = write_spec(tmp_path, NODES, {"default": "20Mbps"}, measured=target)
    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    (line,) = str(caught.value).splitlines()
    assert line.startswith(f"{spec}: cluster.measured: {target}: is a")


def test_a_speed_measured_with_another_backend_is_an_error_naming_the_node(tmp_path):
    """A node's speed depends on the backend that ran it: an int8 spec must not plan with fp32 speeds."""
    other = MeasuredSpeed("a", 6e9, 6e9, 6e9, 5, "litert", "int8")
    write_measured(tmp_path, speeds=[other, fast("c", 5e9)])
    with pytest.raises(SpecError) as caught:
        load_spec(write_spec(tmp_path, NODES, {"default": "20Mbps"}))
    lines = str(caught.value).splitlines()
    assert len(lines) == 1 and "cluster.nodes[0]" in lines[0] and "litert int8" in lines[0], lines
    assert "re-run `seifer probe`" in lines[0]
